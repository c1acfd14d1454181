//! What `/metrics` reports, in the Prometheus text format.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::storage::RowCounts;
use crate::storage::sqlite::BUSY_RETRIES;

pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub snapshots_written: IntCounter,
    pub requests_per_commit: Histogram,
    containers: IntGauge,
    snapshots: IntGauge,
    pub leader: IntGauge,
    pub role_changes: IntCounterVec,
    pub heartbeat_failures: IntCounter,
    pub leader_writes_refused: IntCounter,
    pub role_scripts: IntCounterVec,
}

/// Seconds, from half a millisecond (a read from the page cache) to 2.5 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Up to the writer's most requests per commit.
const GROUP_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

impl Metrics {
    pub(crate) fn new() -> prometheus::Result<Self> {
        let metrics = Self {
            registry: Registry::new(),
            requests: IntCounterVec::new(
                Opts::new(
                    "container_info_http_requests_total",
                    "HTTP requests answered, by route, method and status",
                ),
                &["route", "method", "status"],
            )?,
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "container_info_http_request_duration_seconds",
                    "Time from request to response, by route",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )?,
            snapshots_written: IntCounter::new(
                "container_info_snapshots_written_total",
                "Snapshots this replica has stored (retries of a stored one not counted)",
            )?,
            requests_per_commit: Histogram::with_opts(
                HistogramOpts::new(
                    "container_info_requests_per_commit",
                    "Write requests that shared one transaction and one fsync",
                )
                .buckets(GROUP_BUCKETS.to_vec()),
            )?,
            containers: IntGauge::new(
                "container_info_containers",
                "Containers in the store (all replicas)",
            )?,
            snapshots: IntGauge::new(
                "container_info_snapshots",
                "Snapshots kept in history (all replicas)",
            )?,
            leader: IntGauge::new(
                "container_info_leader",
                "1 while this replica holds the lease and leads, 0 while it follows",
            )?,
            role_changes: IntCounterVec::new(
                Opts::new(
                    "container_info_role_changes_total",
                    "Times this replica became the leader or a follower (its lease transitions)",
                ),
                &["role"],
            )?,
            heartbeat_failures: IntCounter::new(
                "container_info_heartbeat_failures_total",
                "Heartbeats this replica could not write",
            )?,
            leader_writes_refused: IntCounter::new(
                "container_info_leader_writes_refused_total",
                "Leader-only work the database refused because the lease had moved on or expired",
            )?,
            role_scripts: IntCounterVec::new(
                Opts::new(
                    "container_info_role_scripts_total",
                    "--on-leader and --on-follower runs, by role and outcome \
                     (succeeded, failed, timed_out, not_started)",
                ),
                &["role", "outcome"],
            )?,
        };
        metrics.register()?;
        Ok(metrics)
    }

    fn register(&self) -> prometheus::Result<()> {
        let collectors: [Box<dyn Collector>; 11] = [
            Box::new(self.requests.clone()),
            Box::new(self.latency.clone()),
            Box::new(self.snapshots_written.clone()),
            Box::new(self.requests_per_commit.clone()),
            Box::new(self.containers.clone()),
            Box::new(self.snapshots.clone()),
            Box::new(self.leader.clone()),
            Box::new(self.role_changes.clone()),
            Box::new(self.heartbeat_failures.clone()),
            Box::new(self.leader_writes_refused.clone()),
            Box::new(self.role_scripts.clone()),
        ];
        collectors
            .into_iter()
            .try_for_each(|collector| self.registry.register(collector))
    }

    /// SQLite's busy waits: exported by a store on SQLite only, where they
    /// can happen.
    pub(crate) fn register_sqlite(&self) -> prometheus::Result<()> {
        self.registry.register(Box::new(BUSY_RETRIES.clone()))
    }

    pub(crate) fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    pub(crate) fn render(&self, rows: RowCounts) -> String {
        self.containers.set(rows.containers);
        self.snapshots.set(rows.snapshots);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("the text encoder writes to memory");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}
