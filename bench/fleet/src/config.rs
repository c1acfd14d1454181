//! The fleet to simulate, from the command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "container-info-fleet-sim",
    version,
    about = "Runs a simulated fleet against the store: N agents of M containers each, each \
             reporting as the agent in fleet mode does (a full sync at its start, changes of \
             state, and a signed resync of every container with fresh stats each interval, one \
             POST at a time), and prints the lag of every kind of report as JSON."
)]
pub struct Config {
    /// A store replica's URL; repeat it for several replicas. Agent i reports
    /// to replica i mod their number, as a load balancer would spread them.
    #[arg(long = "store", value_name = "URL", required = true)]
    pub stores: Vec<String>,

    /// Simulated agents (hosts), each a task of its own with its own node name.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub agents: u32,

    /// Containers on each host.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub containers: u32,

    /// How often each agent resyncs every container, such as `5s` or `500ms`
    /// (the agent's --report-interval).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Resyncs per agent after the full sync at its start.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub intervals: u32,

    /// Changes of state per agent per interval (a container stops, or starts
    /// again), each at a random moment between two resyncs.
    #[arg(long, default_value_t = 1)]
    pub changes: u32,

    /// The key the agents sign with, as the store's --signing-key-file.
    #[arg(long, value_name = "PATH")]
    pub signing_key_file: PathBuf,
}

/// A duration as the agent's --report-interval takes it: `30s`, `500ms`, `2m`.
fn parse_duration(raw: &str) -> Result<Duration, String> {
    let invalid = || format!("{raw:?} is not a duration such as 5s, 500ms or 2m");
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number * 60),
        _ => return Err(invalid()),
    };
    if duration.is_zero() {
        return Err(format!("{raw:?}: the interval must be longer than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_are_checked() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for wrong in ["5", "0s", "s", "1h", "-1s"] {
            assert!(parse_duration(wrong).is_err(), "{wrong}");
        }
        let args = |more: &[&str]| {
            let mut all = vec!["sim", "--signing-key-file", "/k"];
            all.extend_from_slice(more);
            Config::try_parse_from(all)
        };
        assert!(args(&[]).is_err(), "a store is required");
        assert!(args(&["--store", "http://a", "--agents", "0"]).is_err());
        let config = args(&["--store", "http://a", "--store", "http://b"]).unwrap();
        assert_eq!(config.stores, ["http://a", "http://b"]);
        assert_eq!(config.interval, Duration::from_secs(5));
    }
}
