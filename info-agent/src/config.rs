//! Command line and environment: everything the agent can be told at start.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use globset::Glob;
use ipnet::IpNet;

/// Tells each container on this Docker host who it is: `GET /self` answers the
/// calling container's own snapshot, found from the address it calls from.
///
/// `/self` refuses (409) a caller whose address is not its own alone: a container
/// in a network namespace that other containers share (`--network container:`;
/// the owner too, while a joiner has not stopped), and every caller on the host's
/// own addresses (the host, and containers started with `--network host`).
/// `/containers` is the operator's: it needs the token of --token-file.
#[derive(Debug, Parser)]
#[command(name = "container-info-agent", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exit 0 when an agent answers 200 on its /healthz, 1 otherwise (for container HEALTHCHECKs).
    Healthcheck {
        /// The health URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:5002/healthz")]
        url: String,
    },
}

#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Address and port to serve HTTP on. Containers reach the agent at their
    /// network's gateway address, so it must listen on the bridges, not only on loopback.
    #[arg(
        long,
        env = "CONTAINER_INFO_AGENT_LISTEN",
        default_value = "0.0.0.0:5002"
    )]
    pub listen: SocketAddr,

    /// The Docker Engine to read: unix:///path/to/docker.sock, a bare socket path,
    /// or tcp://host:port.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock"
    )]
    pub docker_host: String,

    /// The name reported as every snapshot's `node`. Default: the host name the
    /// engine reports (on a Swarm node, the node's host name).
    #[arg(long, env = "CONTAINER_INFO_AGENT_NODE_NAME")]
    pub node_name: Option<String>,

    /// The operator's token: /containers and /containers/{id} answer only requests
    /// carrying `Authorization: Bearer <the file's content>` (32 characters or more),
    /// from loopback too, since a container started with --network host calls from
    /// there. Without it, those routes are refused to every caller (but see
    /// --trust-loopback).
    #[arg(long, value_name = "PATH", env = "CONTAINER_INFO_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Let loopback callers read /containers without the token, as the agent did
    /// before --token-file. Every container started with --network host is a
    /// loopback caller too, and can then read its neighbours.
    #[arg(
        long,
        env = "CONTAINER_INFO_AGENT_TRUST_LOOPBACK",
        value_parser = BoolishValueParser::new()
    )]
    pub trust_loopback: bool,

    /// Only callers in this network (CIDR, or a single address) may read
    /// /containers, and they need the token as well; loopback is in it only with
    /// --trust-loopback. Without it, the token alone decides. Repeatable; the
    /// environment variable takes a comma-separated list.
    #[arg(
        long = "allow-from",
        value_name = "CIDR",
        env = "CONTAINER_INFO_AGENT_ALLOW_FROM",
        value_delimiter = ',',
        value_parser = parse_network
    )]
    pub allow_from: Vec<IpNet>,

    /// Leave out labels whose key matches this glob (`*`, `?`, `[abc]`, `{a,b}`),
    /// e.g. `com.example.secret.*`. Repeatable; the environment variable takes a
    /// comma-separated list.
    #[arg(
        long = "redact-label",
        value_name = "GLOB",
        env = "CONTAINER_INFO_AGENT_REDACT_LABEL",
        value_delimiter = ',',
        value_parser = Glob::new
    )]
    pub redact_label: Vec<Glob>,

    /// The file holding the key to sign every snapshot with (at least 32
    /// characters; the store's --signing-key-file, a Swarm secret in the
    /// deployment). A store that has it stores what this agent signed without
    /// a token, as attested by this node, and refuses it altered.
    #[arg(
        long,
        env = "CONTAINER_INFO_AGENT_SIGNING_KEY_FILE",
        value_name = "PATH"
    )]
    pub signing_key_file: Option<PathBuf>,
}

impl Config {
    /// What the binary would run with if given no flags (the environment still
    /// counts); tests start from here and change what they need.
    pub fn with_defaults() -> Self {
        Cli::parse_from(["container-info-agent"]).config
    }
}

/// A single address is taken as the network holding only that address.
fn parse_network(raw: &str) -> Result<IpNet, String> {
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is neither a CIDR network (10.0.0.0/8) nor an address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_from_takes_networks_and_single_addresses() {
        let config = Cli::parse_from([
            "agent",
            "--allow-from",
            "10.0.0.0/8",
            "--allow-from",
            "192.0.2.7",
            "--allow-from",
            "fd00::/8",
        ])
        .config;
        let allowed: Vec<String> = config.allow_from.iter().map(|n| n.to_string()).collect();
        assert_eq!(allowed, ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]);
        assert!(Cli::try_parse_from(["agent", "--allow-from", "ten"]).is_err());
    }

    #[test]
    fn defaults_listen_on_5002_and_read_the_local_engine() {
        let config = Config::with_defaults();
        assert_eq!(config.listen, "0.0.0.0:5002".parse().unwrap());
        assert!(config.allow_from.is_empty() && config.redact_label.is_empty());
        assert!(config.token_file.is_none() && !config.trust_loopback);
    }

    #[test]
    fn trust_loopback_is_a_flag() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.config.trust_loopback);
        assert!(parse(&["agent", "--trust-loopback"]).unwrap());
        assert!(!parse(&["agent"]).unwrap());
        assert!(parse(&["agent", "--trust-loopback=yes"]).is_err());
    }
}
