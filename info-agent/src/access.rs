//! Who may read containers other than their own: the operator, who holds the token.
//!
//! No caller is trusted for its address alone: a container started with
//! `--network host` calls from loopback and from the host's own addresses, exactly
//! as the host does. `--allow-from` narrows who may present the token; only
//! `--trust-loopback` lets a caller in without one.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use container_info_wire::attestation::Secret;
use ipnet::IpNet;

use crate::error::AgentError;
use crate::peer::peer_ip;

#[derive(Debug)]
pub(crate) struct AccessPolicy {
    token: Option<Secret>,
    trust_loopback: bool,
    allow_from: Vec<IpNet>,
}

/// What a request presents as its credential.
#[derive(Debug, PartialEq)]
enum Credential<'a> {
    /// No `Authorization` header, or one of another scheme than `Bearer`.
    None,
    Bearer(&'a [u8]),
}

impl AccessPolicy {
    pub(crate) fn new(token: Option<Secret>, trust_loopback: bool, allow_from: Vec<IpNet>) -> Self {
        Self {
            token,
            trust_loopback,
            allow_from,
        }
    }

    pub(crate) fn check(&self, request: &HttpRequest) -> Result<(), AgentError> {
        let ip = peer_ip(request)?;
        self.decide(ip, credential(request)?)
    }

    /// The address first (`--allow-from`), then the credential. A credential that is
    /// presented is always checked, from a trusted loopback caller too, so that a
    /// wrong token never looks right.
    fn decide(&self, ip: IpAddr, credential: Credential<'_>) -> Result<(), AgentError> {
        let trusted_loopback = self.trust_loopback && ip.is_loopback();
        let in_allowed_network = self.allow_from.is_empty()
            || self.allow_from.iter().any(|network| network.contains(&ip));
        if !(in_allowed_network || trusted_loopback) {
            return Err(AgentError::NotAllowedFrom(ip));
        }
        match (&self.token, credential) {
            (Some(token), Credential::Bearer(presented)) if token.matches(presented) => Ok(()),
            (Some(_), Credential::Bearer(_)) => Err(AgentError::InvalidToken),
            _ if trusted_loopback => Ok(()),
            (Some(_), Credential::None) => Err(AgentError::MissingToken),
            (None, _) => Err(AgentError::NoTokenConfigured(ip)),
        }
    }
}

/// The request's `Authorization`, parsed once. Two headers are refused rather than
/// one of them picked.
fn credential(request: &HttpRequest) -> Result<Credential<'_>, AgentError> {
    let mut headers = request.headers().get_all(AUTHORIZATION);
    let Some(header) = headers.next() else {
        return Ok(Credential::None);
    };
    if headers.next().is_some() {
        return Err(AgentError::SeveralAuthorizations);
    }
    Ok(parse_authorization(header.as_bytes()))
}

/// `Bearer <token>`, the scheme in any case (RFC 7235); another scheme is no bearer
/// token at all (RFC 6750, 3.1).
fn parse_authorization(value: &[u8]) -> Credential<'_> {
    let (scheme, rest) = match value.iter().position(|&byte| byte == b' ') {
        Some(space) => (&value[..space], &value[space..]),
        None => (value, &value[value.len()..]),
    };
    if scheme.eq_ignore_ascii_case(b"bearer") {
        Credential::Bearer(rest.trim_ascii())
    } else {
        Credential::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn policy(token: bool, trust_loopback: bool, allow_from: &[&str]) -> AccessPolicy {
        AccessPolicy::new(
            token.then(|| Secret::new(TOKEN).unwrap()),
            trust_loopback,
            allow_from.iter().map(|net| net.parse().unwrap()).collect(),
        )
    }

    /// Which refusal, by name, or "ok".
    fn outcome(policy: &AccessPolicy, ip: &str, credential: Credential<'_>) -> &'static str {
        match policy.decide(ip.parse().unwrap(), credential) {
            Ok(()) => "ok",
            Err(AgentError::NotAllowedFrom(_)) => "not allowed from",
            Err(AgentError::MissingToken) => "missing token",
            Err(AgentError::InvalidToken) => "invalid token",
            Err(AgentError::NoTokenConfigured(_)) => "no token configured",
            Err(other) => panic!("unexpected refusal: {other}"),
        }
    }

    const RIGHT: Credential<'static> = Credential::Bearer(TOKEN);
    const WRONG: Credential<'static> = Credential::Bearer(b"0123456789abcdef0123456789abcdeX");

    #[test]
    fn loopback_needs_the_token_like_everyone_else() {
        let policy = policy(true, false, &[]);
        for ip in ["127.0.0.1", "::1", "172.17.0.2", "192.0.2.7"] {
            assert_eq!(
                outcome(&policy, ip, Credential::None),
                "missing token",
                "{ip}"
            );
            assert_eq!(outcome(&policy, ip, WRONG), "invalid token", "{ip}");
            assert_eq!(outcome(&policy, ip, RIGHT), "ok", "{ip}");
        }
        let truncated = Credential::Bearer(&TOKEN[..31]);
        assert_eq!(outcome(&policy, "127.0.0.1", truncated), "invalid token");
    }

    #[test]
    fn without_a_token_file_nobody_reads_unless_loopback_is_trusted() {
        let closed = policy(false, false, &[]);
        for ip in ["127.0.0.1", "172.17.0.2"] {
            assert_eq!(outcome(&closed, ip, RIGHT), "no token configured", "{ip}");
        }
        let old_behaviour = policy(false, true, &[]);
        assert_eq!(outcome(&old_behaviour, "127.0.0.1", Credential::None), "ok");
        assert_eq!(outcome(&old_behaviour, "::1", RIGHT), "ok");
        assert_eq!(
            outcome(&old_behaviour, "172.17.0.2", Credential::None),
            "no token configured"
        );
    }

    #[test]
    fn trusted_loopback_needs_no_token_but_a_wrong_one_is_still_wrong() {
        let policy = policy(true, true, &[]);
        assert_eq!(outcome(&policy, "127.0.0.1", Credential::None), "ok");
        assert_eq!(outcome(&policy, "127.0.0.1", WRONG), "invalid token");
        assert_eq!(
            outcome(&policy, "172.17.0.2", Credential::None),
            "missing token"
        );
    }

    #[test]
    fn allow_from_narrows_who_may_present_the_token() {
        let policy = policy(true, false, &["10.1.0.0/16"]);
        assert_eq!(outcome(&policy, "10.1.200.3", RIGHT), "ok");
        assert_eq!(
            outcome(&policy, "10.1.200.3", Credential::None),
            "missing token"
        );
        for outside in ["10.2.0.1", "127.0.0.1", "fd00::1"] {
            assert_eq!(
                outcome(&policy, outside, RIGHT),
                "not allowed from",
                "{outside}"
            );
        }
        let with_loopback = self::policy(true, true, &["10.1.0.0/16"]);
        assert_eq!(outcome(&with_loopback, "127.0.0.1", Credential::None), "ok");
        assert_eq!(
            outcome(&with_loopback, "10.2.0.1", RIGHT),
            "not allowed from"
        );
    }

    #[test]
    fn authorization_is_a_bearer_token_in_any_case_of_the_scheme() {
        assert_eq!(
            parse_authorization(b"Bearer abc"),
            Credential::Bearer(b"abc")
        );
        assert_eq!(
            parse_authorization(b"bearer   abc "),
            Credential::Bearer(b"abc")
        );
        assert_eq!(parse_authorization(b"Bearer"), Credential::Bearer(b""));
        assert_eq!(parse_authorization(b"Basic YTpi"), Credential::None);
        assert_eq!(parse_authorization(b"Bearerabc"), Credential::None);
    }
}
