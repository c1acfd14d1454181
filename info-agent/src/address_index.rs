//! Which containers hold an address: how the agent tells which container is calling.

use std::collections::HashMap;
use std::net::IpAddr;

use container_info_wire::{ContainerId, NetworkAddress};

/// Which containers hold each address, over every network they are on.
#[derive(Debug, Default)]
pub(crate) struct AddressIndex(HashMap<IpAddr, Vec<ContainerId>>);

impl AddressIndex {
    pub(crate) fn build<'a, N>(containers: impl IntoIterator<Item = (&'a ContainerId, N)>) -> Self
    where
        N: IntoIterator<Item = &'a NetworkAddress>,
    {
        let mut index: HashMap<IpAddr, Vec<ContainerId>> = HashMap::new();
        for (id, networks) in containers {
            for network in networks {
                // A stopped container keeps its networks with empty addresses, which
                // parse as nothing and so never match.
                let addresses = [&network.ip_address, &network.ipv6_address]
                    .into_iter()
                    .filter_map(|raw| raw.parse::<IpAddr>().ok());
                for address in addresses {
                    let owners = index.entry(address).or_default();
                    if !owners.contains(id) {
                        owners.push(id.clone());
                    }
                }
            }
        }
        Self(index)
    }

    /// Every container holding `ip`: none, one, or (while the engine reuses the
    /// address of a container the agent has not yet seen go) more than one.
    pub(crate) fn owners(&self, ip: IpAddr) -> &[ContainerId] {
        self.0.get(&ip).map_or(&[], Vec::as_slice)
    }
}
