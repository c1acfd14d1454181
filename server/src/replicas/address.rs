//! Where others can reach this replica: what it records in the roll call.
//!
//! A replica listening on `[::]:5001` cannot be reached at `[::]`. In a Swarm
//! task it has an address on each of its networks (the overlay, which clients
//! on container-info-net use, and docker_gwbridge), and no setting can tell it
//! which: the stack's templates know the task's name, not its address. So by
//! default it records every address of its interfaces but loopback and
//! link-local, and the client asks them all and takes the first that answers
//! with this replica's ID. With host networking those are the host's
//! addresses, shared by every replica on the host (SO_REUSEPORT): the roll call
//! says so (`port_shared`), and the client does not take an answer there for
//! this replica's. `--advertise-address` overrides all of it.

use std::net::{IpAddr, SocketAddr};

/// The addresses to record: the given one; else the bound address when it
/// names one; else every usable address of this host's interfaces, on the
/// bound port.
pub(crate) fn advertised_addresses(given: Option<&str>, bound: SocketAddr) -> Vec<String> {
    if let Some(given) = given {
        return vec![given.to_owned()];
    }
    if !bound.ip().is_unspecified() {
        return vec![bound.to_string()];
    }
    let mut addresses: Vec<String> = interface_addresses()
        .into_iter()
        // An IPv4 socket ([0.0.0.0]) cannot be reached over IPv6; a dual-stack one can.
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .filter(|ip| !ip.is_loopback() && !is_link_local(ip))
        .map(|ip| SocketAddr::new(ip, bound.port()).to_string())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_link_local(),
        IpAddr::V6(ip) => ip.is_unicast_link_local(),
    }
}

/// Every IP address of this host's (or container's) interfaces; none when the
/// kernel will not say.
fn interface_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        tracing::warn!("cannot list this host's addresses; set --advertise-address");
        return Vec::new();
    };
    interfaces
        .filter_map(|interface| {
            let address = interface.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_address_wins_and_a_named_one_is_kept() {
        let bound: SocketAddr = "127.0.0.2:5001".parse().unwrap();
        assert_eq!(
            advertised_addresses(Some("store-1:5001"), bound),
            ["store-1:5001"]
        );
        assert_eq!(advertised_addresses(None, bound), ["127.0.0.2:5001"]);
    }

    #[test]
    fn an_unspecified_address_gives_this_hosts_addresses_but_loopback() {
        let addresses = advertised_addresses(None, "0.0.0.0:5001".parse().unwrap());
        for address in &addresses {
            let address: SocketAddr = address.parse().unwrap();
            assert!(
                address.is_ipv4() && !address.ip().is_loopback(),
                "{address}"
            );
            assert_eq!(address.port(), 5001);
        }
        // Every host that runs the tests has a non-loopback IPv4 address.
        assert!(!addresses.is_empty(), "{:?}", interface_addresses());
    }
}
