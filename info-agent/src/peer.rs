//! Who is calling: the TCP peer address of a request, as a container would own it.

use std::net::IpAddr;

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
