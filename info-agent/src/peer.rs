//! Who is calling: the TCP peer address of a request, as a container would own it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

use actix_web::HttpRequest;

use crate::error::AgentError;

/// The caller's address as a container would own it. A dual-stack listener sees
/// IPv4 callers as `::ffff:a.b.c.d`, which no container has on its networks.
pub(crate) fn peer_ip(request: &HttpRequest) -> Result<IpAddr, AgentError> {
    let peer = request.peer_addr().ok_or(AgentError::NoPeerAddress)?;
    Ok(unmap(peer.ip()))
}

pub(crate) fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` is an address of the agent's own network namespace: loopback, or
/// one the kernel routes to itself. The kernel is asked by connecting a UDP socket,
/// which sends nothing: for an address of its own it picks that very address as the
/// source. Any such address counts, not only the one called: Docker masquerades
/// what the host sends to a bridge's gateway, so a host process that calls
/// 172.17.0.1 arrives from the host's main address. On a host-network agent, these
/// are the callers on the host itself, every container started with
/// `--network host` among them.
pub(crate) fn is_this_host(ip: IpAddr) -> bool {
    if ip.is_loopback() {
        return true;
    }
    let any: IpAddr = match ip {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    // The discard port; nothing is sent to it.
    UdpSocket::bind((any, 0))
        .and_then(|socket| {
            socket.connect((ip, 9))?;
            socket.local_addr()
        })
        .is_ok_and(|local| local.ip() == ip)
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

    #[test]
    fn the_host_s_own_addresses_are_this_host_and_others_are_not() {
        for own in ["127.0.0.1", "127.0.0.53", "::1"] {
            assert!(is_this_host(own.parse().unwrap()), "{own}");
        }
        // The address the kernel would send from to a documentation network is one
        // of the host's, whichever it is; the destination is not.
        let outward = UdpSocket::bind("0.0.0.0:0")
            .and_then(|socket| {
                socket.connect("198.51.100.1:9")?;
                socket.local_addr()
            })
            .expect("this host has a route out");
        assert!(is_this_host(outward.ip()), "{outward}");
        for other in ["198.51.100.1", "0.0.0.0", "255.255.255.255"] {
            assert!(!is_this_host(other.parse().unwrap()), "{other}");
        }
    }
}
