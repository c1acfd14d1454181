//! Where the agent and the store are: a flag, else an environment variable (both
//! handled by clap), else the default gateway of this container with the
//! service's well-known port. On a Swarm node the gateway is the host, which runs
//! the agent and reaches the store through the routing mesh.

use std::net::Ipv4Addr;

use reqwest::Url;

use crate::error::ClientError;
use crate::service::Service;

/// Linux's routing table, as text.
const ROUTE_TABLE: &str = "/proc/net/route";
/// `RTF_GATEWAY` from linux/route.h: the route goes through a gateway.
const RTF_GATEWAY: u32 = 0x2;

/// A base URL as a person types it: `http://host:port`, or just `host:port`.
pub(crate) fn parse_base_url(given: &str) -> Result<Url, String> {
    let with_scheme = if given.contains("://") {
        given.to_owned()
    } else {
        format!("http://{given}")
    };
    let url =
        Url::parse(&with_scheme).map_err(|error| format!("{given:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "{given:?} is not an http:// or https:// URL with a host"
        ));
    }
    Ok(url)
}

/// The given URL, or the default gateway with the service's port.
pub(crate) fn locate(service: Service, given: Option<Url>) -> Result<Url, ClientError> {
    if let Some(url) = given {
        return Ok(url);
    }
    let routes = std::fs::read_to_string(ROUTE_TABLE).map_err(|error| ClientError::NoAddress {
        service,
        reason: format!("cannot read {ROUTE_TABLE} for the default gateway ({error})"),
    })?;
    let gateway = default_gateway(&routes).ok_or_else(|| ClientError::NoAddress {
        service,
        reason: format!("{ROUTE_TABLE} has no default route"),
    })?;
    Ok(Url::parse(&format!("http://{gateway}:{}", service.port()))
        .expect("an IPv4 address and a port make a URL"))
}

/// The gateway of the default route in the text of `/proc/net/route`, where
/// addresses are hex in the kernel's (little-endian) byte order.
pub(crate) fn default_gateway(routes: &str) -> Option<Ipv4Addr> {
    routes.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_iface, destination, gateway, flags, ..] = fields[..] else {
            return None;
        };
        let flags = u32::from_str_radix(flags, 16).ok()?;
        if destination != "00000000" || flags & RTF_GATEWAY == 0 {
            return None;
        }
        let gateway = u32::from_str_radix(gateway, 16).ok()?;
        Some(Ipv4Addr::from(gateway.to_le_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded in a container on a Swarm overlay network: eth0 is the overlay
    /// (no default route), eth1 the docker_gwbridge leg with the host at .1.
    const SWARM_CONTAINER: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
";

    #[test]
    fn the_default_route_gives_the_gateway() {
        assert_eq!(
            default_gateway(SWARM_CONTAINER),
            Some(Ipv4Addr::new(172, 18, 0, 1))
        );
    }

    #[test]
    fn no_default_route_no_gateway() {
        let without_default: String = SWARM_CONTAINER
            .lines()
            .filter(|line| !line.contains("010012AC"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(default_gateway(&without_default), None);
        // A default route without the gateway flag (a point-to-point link) has no gateway.
        let direct = SWARM_CONTAINER.replace("010012AC\t0003", "00000000\t0001");
        assert_eq!(default_gateway(&direct), None);
    }

    #[test]
    fn base_urls_may_leave_out_the_scheme() {
        assert_eq!(
            parse_base_url("10.0.0.1:5001").unwrap().as_str(),
            "http://10.0.0.1:5001/"
        );
        assert_eq!(
            parse_base_url("https://store.example/api")
                .unwrap()
                .as_str(),
            "https://store.example/api"
        );
        assert!(parse_base_url("ftp://store").is_err());
        assert!(parse_base_url("http://").is_err());
    }

    #[test]
    fn a_given_url_wins_over_the_gateway() {
        let given = Url::parse("http://store.test:9000").unwrap();
        assert_eq!(locate(Service::Store, Some(given.clone())).unwrap(), given);
    }
}
