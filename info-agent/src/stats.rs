//! Resource samples as the engine reports them, and the numbers derived from two of them.

use chrono::{DateTime, Utc};
use container_info_wire::Stats;

/// One reading of a container's counters, taken from the engine's stats endpoint.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) read_at: DateTime<Utc>,
    /// Nanoseconds of CPU the container has used since it started.
    pub(crate) cpu_total_ns: u64,
    /// Nanoseconds of CPU the whole host has used since it booted.
    pub(crate) system_total_ns: u64,
    pub(crate) online_cpus: u32,
    pub(crate) memory_usage_bytes: u64,
    pub(crate) network_rx_bytes: u64,
    pub(crate) network_tx_bytes: u64,
    pub(crate) pids: u64,
}

/// CPU use between two samples, as `docker stats` computes it: the container's share of
/// the host's CPU time scaled by the number of CPUs, so one busy core reads 100.
///
/// Zero when the counters went backwards (the container restarted between samples) or
/// the host clock did not move, rather than a negative or infinite percentage.
pub(crate) fn cpu_percent(previous: &Sample, latest: &Sample) -> f64 {
    let container = latest.cpu_total_ns.checked_sub(previous.cpu_total_ns);
    let system = latest.system_total_ns.checked_sub(previous.system_total_ns);
    match (container, system) {
        (Some(container), Some(system)) if system > 0 => {
            container as f64 / system as f64 * f64::from(latest.online_cpus) * 100.0
        }
        _ => 0.0,
    }
}

/// What the wire reports from the samples held. With one sample only there is no
/// interval to measure CPU over yet, so it reads 0 until the next sample arrives.
pub(crate) fn to_wire(
    previous: Option<&Sample>,
    latest: &Sample,
    memory_limit_bytes: u64,
) -> Stats {
    Stats {
        cpu_percent: previous.map_or(0.0, |previous| cpu_percent(previous, latest)),
        memory_usage_bytes: latest.memory_usage_bytes,
        memory_limit_bytes,
        network_rx_bytes: latest.network_rx_bytes,
        network_tx_bytes: latest.network_tx_bytes,
        pids: latest.pids,
    }
}
