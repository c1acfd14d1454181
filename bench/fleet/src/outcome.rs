//! What a run prints: the lag of each kind of report, and whether every
//! report was acknowledged within one interval of when it was due.

use std::time::Duration;

use serde::Serialize;

use crate::agent::{AgentRun, Kind, Timed};

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub agents: u32,
    pub containers_per_agent: u32,
    pub containers: u64,
    pub interval_ms: u64,
    pub intervals: u32,
    /// Whether every report, of every kind, was acknowledged within one
    /// interval of when it was due.
    pub within_interval: bool,
    pub start: Lags,
    pub resync: Lags,
    pub change: Lags,
    /// Of snapshots, to `POST /containers`.
    pub posts: u64,
    /// To `POST /nodes`, one with the start and with each resync.
    pub node_reports: u64,
    pub snapshots: u64,
    /// Of all the request bodies.
    pub bytes: u64,
    /// Posts tried again after an error (a 5xx, a connection lost).
    pub retries: u64,
    /// From the first report due to the last acknowledged.
    pub seconds: f64,
    pub snapshots_per_second: f64,
}

/// Lags of the reports of one kind, from when each was due until its last
/// batch was acknowledged.
#[derive(Debug, PartialEq, Serialize)]
pub struct Lags {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// How many took longer than one interval.
    pub late: usize,
}

impl Lags {
    pub(crate) fn of(reports: &[Timed], kind: Kind, interval: Duration) -> Self {
        let mut lags: Vec<Duration> = reports
            .iter()
            .filter(|report| report.kind == kind)
            .map(|report| report.lag)
            .collect();
        lags.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // The nearest rank at or below, as bench/cibench's Percentiles picks.
        let pick = |q: f64| {
            lags.get(((q * lags.len() as f64) as usize).min(lags.len().saturating_sub(1)))
                .map_or(0.0, |d| ms(*d))
        };
        Self {
            count: lags.len(),
            p50_ms: pick(0.5),
            p99_ms: pick(0.99),
            max_ms: lags.last().map_or(0.0, |d| ms(*d)),
            late: lags.iter().filter(|lag| **lag > interval).count(),
        }
    }
}

pub(crate) struct Shape {
    pub(crate) agents: u32,
    pub(crate) containers: u32,
    pub(crate) interval: Duration,
    pub(crate) intervals: u32,
}

impl Outcome {
    pub(crate) fn of(shape: Shape, runs: Vec<AgentRun>, elapsed: Duration) -> Self {
        let reports: Vec<Timed> = runs
            .iter()
            .flat_map(|run| run.reports.iter().copied())
            .collect();
        let sum = |field: fn(&AgentRun) -> u64| runs.iter().map(field).sum::<u64>();
        let lags = |kind| Lags::of(&reports, kind, shape.interval);
        let (start, resync, change) = (lags(Kind::Start), lags(Kind::Resync), lags(Kind::Change));
        let snapshots = sum(|run| run.snapshots);
        Self {
            agents: shape.agents,
            containers_per_agent: shape.containers,
            containers: u64::from(shape.agents) * u64::from(shape.containers),
            interval_ms: u64::try_from(shape.interval.as_millis()).unwrap_or(u64::MAX),
            intervals: shape.intervals,
            within_interval: start.late + resync.late + change.late == 0,
            start,
            resync,
            change,
            posts: sum(|run| run.posts),
            node_reports: sum(|run| run.node_reports),
            snapshots,
            bytes: sum(|run| run.bytes),
            retries: sum(|run| run.retries),
            seconds: elapsed.as_secs_f64(),
            snapshots_per_second: snapshots as f64 / elapsed.as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_are_counted_by_kind_and_late_past_one_interval() {
        let ms = Duration::from_millis;
        let mut reports: Vec<Timed> = (1..=100)
            .map(|n| Timed {
                kind: Kind::Resync,
                lag: ms(n),
            })
            .collect();
        reports.push(Timed {
            kind: Kind::Change,
            lag: ms(5000),
        });
        let resync = Lags::of(&reports, Kind::Resync, ms(99));
        assert_eq!(
            resync,
            Lags {
                count: 100,
                p50_ms: 51.0,
                p99_ms: 100.0,
                max_ms: 100.0,
                late: 1
            }
        );
        let none = Lags::of(&reports, Kind::Start, ms(99));
        assert_eq!((none.count, none.max_ms, none.late), (0, 0.0, 0));
    }
}
