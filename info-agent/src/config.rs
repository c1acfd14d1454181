//! Command line and environment: everything the agent can be told at start.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

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
///
/// With --report-to (fleet mode), it also posts every container of the host to
/// one or more stores, outbound only, keeping what a store has not taken in an
/// outbox on disk.
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

    /// Fleet mode: post every container of this host to the store at URL (its
    /// base, such as http://store:5001), outbound only: at start, whenever a
    /// container changes, and every --report-interval with fresh stats.
    /// Repeatable, for several stores, each fed on its own; the environment
    /// variable takes a comma-separated list. Needs --outbox.
    #[arg(
        long = "report-to",
        value_name = "URL",
        env = "CONTAINER_INFO_REPORT_TO",
        value_delimiter = ',',
        requires = "outbox",
        value_parser = parse_store_url
    )]
    pub report_to: Vec<String>,

    /// How often to report every container again with fresh stats, such as
    /// `30s`, `500ms` or `2m` (from 100ms to a day); also how often the agent tells
    /// each store its node is alive (a store marks the node stale after three
    /// intervals without a word), and the longest wait between retries to a
    /// store that is away.
    #[arg(
        long,
        env = "CONTAINER_INFO_REPORT_INTERVAL",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub report_interval: Duration,

    /// The folder (a volume in the deployment) where reports wait until their
    /// store has acknowledged them, a folder per store, so that a store that is
    /// away, or an agent restarted or killed, loses nothing.
    #[arg(long, env = "CONTAINER_INFO_OUTBOX", value_name = "DIR")]
    pub outbox: Option<PathBuf>,

    /// The most each store's outbox holds. Over it, the oldest stats-only
    /// resyncs are dropped (the metric outbox_dropped_snapshots_total counts
    /// them); a change of state never is.
    #[arg(
        long,
        env = "CONTAINER_INFO_OUTBOX_MAX_BYTES",
        value_name = "BYTES",
        default_value_t = 64 * 1024 * 1024
    )]
    pub outbox_max_bytes: u64,

    /// Fleet mode reports only the containers carrying any of these labels:
    /// KEY, with any value, or KEY=VALUE, with exactly that value (KEY= is the
    /// empty value); without it, every container. Labels are immutable, so a
    /// container is in or out for its whole life; one the stores hold for this
    /// node that is out (the agent restarted with another selection) is
    /// reported `removed` at the agent's start, like a container removed while
    /// it was down. A key that --redact-label hides is refused: the selection
    /// reads what a snapshot shows, so that a store's reader can tell why a
    /// container is there. Repeatable; the environment variable takes a
    /// comma-separated list (a value cannot hold a comma).
    #[arg(
        long = "report-label",
        value_name = "KEY[=VALUE]",
        env = "CONTAINER_INFO_REPORT_LABEL",
        value_delimiter = ',',
        requires = "report_to",
        value_parser = parse_report_label
    )]
    pub report_label: Vec<ReportLabel>,
}

/// A label a container must carry to be reported (`--report-label`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLabel {
    pub key: String,
    /// `None`: any value.
    pub value: Option<String>,
}

impl ReportLabel {
    pub(crate) fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        labels
            .get(&self.key)
            .is_some_and(|value| self.value.as_ref().is_none_or(|wanted| wanted == value))
    }
}

impl Config {
    /// What the binary would run with if given no flags (the environment still
    /// counts); tests start from here and change what they need.
    pub fn with_defaults() -> Self {
        Cli::parse_from(["container-info-agent"]).config
    }
}

/// An http(s) URL, kept as given less a trailing `/`.
fn parse_store_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|error| format!("{raw:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(format!(
            "{raw:?} is not an http:// or https:// URL of a store"
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `KEY` or `KEY=VALUE`, split at the first `=`: a key holds no `=`, a value may.
fn parse_report_label(raw: &str) -> Result<ReportLabel, String> {
    let (key, value) = match raw.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (raw, None),
    };
    if key.trim().is_empty() {
        return Err(format!(
            "{raw:?} has no label key: give KEY or KEY=VALUE, such as com.example.report=yes"
        ));
    }
    Ok(ReportLabel {
        key: key.to_owned(),
        value,
    })
}

/// A number and a unit: `ms`, `s`, `m` or `h`.
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let invalid = || format!("{raw:?} is not a duration such as 30s, 500ms, 2m or 1h");
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => return Err(invalid()),
    };
    // What a store takes as a node report's interval: shorter would have a
    // node stale between two packets, longer says little about it.
    if !(Duration::from_millis(100)..=Duration::from_secs(24 * 3600)).contains(&duration) {
        return Err(format!(
            "{raw:?}: the interval must be from 100ms to a day (24h)"
        ));
    }
    Ok(duration)
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
        assert!(config.report_to.is_empty() && config.report_label.is_empty());
        assert_eq!(config.report_interval, Duration::from_secs(30));
    }

    #[test]
    fn report_to_takes_several_stores_and_needs_an_outbox() {
        let config = Cli::parse_from([
            "agent",
            "--report-to",
            "http://store-a:5001/",
            "--report-to",
            "https://store-b",
            "--outbox",
            "/var/lib/outbox",
            "--report-interval",
            "500ms",
        ])
        .config;
        assert_eq!(config.report_to, ["http://store-a:5001", "https://store-b"]);
        assert_eq!(config.report_interval, Duration::from_millis(500));
        assert!(Cli::try_parse_from(["agent", "--report-to", "http://store:5001"]).is_err());
        assert!(
            Cli::try_parse_from(["agent", "--report-to", "store:5001", "--outbox", "/o"]).is_err()
        );
        for wrong in ["30", "0s", "99ms", "s", "1d", "-1s", "25h", "86400001ms"] {
            assert!(parse_duration(wrong).is_err(), "{wrong}");
        }
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
    }

    #[test]
    fn report_label_takes_keys_and_key_values_and_refuses_an_empty_key() {
        let config = Cli::parse_from([
            "agent",
            "--report-label",
            "com.example.report",
            "--report-label",
            "tier=web=1,team=",
            "--report-to",
            "http://store:5001",
            "--outbox",
            "/o",
        ])
        .config;
        let label = |key: &str, value: Option<&str>| ReportLabel {
            key: key.into(),
            value: value.map(str::to_owned),
        };
        assert_eq!(
            config.report_label,
            [
                label("com.example.report", None),
                label("tier", Some("web=1")),
                label("team", Some("")),
            ]
        );
        for wrong in ["", "=x", " =x", "a,=b"] {
            let refused = Cli::try_parse_from([
                "agent",
                "--report-label",
                wrong,
                "--report-to",
                "http://store:5001",
                "--outbox",
                "/o",
            ])
            .unwrap_err();
            assert!(
                refused.to_string().contains("has no label key"),
                "{wrong:?}: {refused}"
            );
        }
        assert!(Cli::try_parse_from(["agent", "--report-label", "team"]).is_err());
        let labels = [
            ("team".to_owned(), String::new()),
            ("tier".into(), "db".into()),
        ]
        .into();
        assert!(label("team", None).matches(&labels));
        assert!(label("team", Some("")).matches(&labels));
        assert!(!label("tier", Some("web")).matches(&labels));
        assert!(!label("zone", None).matches(&labels));
    }

    #[test]
    fn trust_loopback_is_a_flag() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.config.trust_loopback);
        assert!(parse(&["agent", "--trust-loopback"]).unwrap());
        assert!(!parse(&["agent"]).unwrap());
        assert!(parse(&["agent", "--trust-loopback=yes"]).is_err());
    }
}
