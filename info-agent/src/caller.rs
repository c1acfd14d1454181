//! Who is calling: from a TCP peer address to the container that owns it.

use std::collections::HashMap;
use std::net::IpAddr;

use actix_web::HttpRequest;
use container_info_wire::{ContainerId, NetworkAddress};

use crate::error::AgentError;

/// The caller's address as a container would own it. A dual-stack listener sees
/// IPv4 callers as `::ffff:a.b.c.d`, which no container has on its networks.
pub fn peer_ip(request: &HttpRequest) -> Result<IpAddr, AgentError> {
    let peer = request.peer_addr().ok_or(AgentError::NoPeerAddress)?;
    Ok(unmap(peer.ip()))
}

pub fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Which containers hold each address, over every network they are on.
#[derive(Debug, Default)]
pub struct AddressIndex(HashMap<IpAddr, Vec<ContainerId>>);

impl AddressIndex {
    pub fn build<'a, N>(containers: impl IntoIterator<Item = (&'a ContainerId, N)>) -> Self
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
    pub fn owners(&self, ip: IpAddr) -> &[ContainerId] {
        self.0.get(&ip).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn ipv4_mapped_peers_are_unmapped_and_others_left_alone() {
        let mapped = IpAddr::V6(Ipv4Addr::new(172, 17, 0, 2).to_ipv6_mapped());
        assert_eq!(unmap(mapped), IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2)));
        let v6: IpAddr = "fd00::2".parse().unwrap();
        assert_eq!(unmap(v6), v6);
        assert_eq!(
            unmap(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "::1".parse::<IpAddr>().unwrap()
        );
    }
}
