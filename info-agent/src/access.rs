//! Who may read containers other than their own.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::error::AgentError;
use crate::peer::peer_ip;

/// Loopback (the host itself) and the `--allow-from` networks; nobody else, so that a
/// container can learn about itself through `/self` but not about its neighbours.
#[derive(Clone, Debug)]
pub(crate) struct AccessPolicy {
    allow_from: Vec<IpNet>,
}

impl AccessPolicy {
    pub(crate) fn new(allow_from: Vec<IpNet>) -> Self {
        Self { allow_from }
    }

    pub(crate) fn permits(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || self.allow_from.iter().any(|network| network.contains(&ip))
    }

    pub(crate) fn check(&self, request: &HttpRequest) -> Result<(), AgentError> {
        let ip = peer_ip(request)?;
        if self.permits(ip) {
            Ok(())
        } else {
            Err(AgentError::Forbidden(ip))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_always_and_allowed_networks_only() {
        let policy = AccessPolicy::new(vec!["10.1.0.0/16".parse().unwrap()]);
        let permits = |ip: &str| policy.permits(ip.parse().unwrap());
        assert!(permits("127.0.0.1") && permits("::1") && permits("10.1.200.3"));
        assert!(!permits("10.2.0.1") && !permits("172.17.0.2") && !permits("fd00::1"));
        assert!(!AccessPolicy::new(Vec::new()).permits("172.17.0.2".parse().unwrap()));
    }
}
