//! What `/metrics` reports, in the Prometheus text format.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) request_seconds: HistogramVec,
    pub(crate) engine_up: IntGauge,
    pub(crate) containers: IntGauge,
    pub(crate) engine_losses: IntCounter,
    pub(crate) miss_refreshes: IntCounter,
    pub(crate) caller_rereads: IntCounter,
    pub(crate) reported: IntCounterVec,
    pub(crate) refused: IntCounterVec,
    pub(crate) outbox_dropped: IntCounterVec,
    pub(crate) outbox_bytes: IntGaugeVec,
    pub(crate) node_reports: IntCounterVec,
    pub(crate) node_report_failures: IntCounterVec,
}

impl Metrics {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("container_info_agent".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer, by route")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0,
                ]),
            &["route"],
        )?;
        let engine_up = IntGauge::new("engine_up", "1 while the Docker Engine answers")?;
        let containers = IntGauge::new("containers", "Containers the agent knows on this host")?;
        let engine_losses = IntCounter::new(
            "engine_losses_total",
            "Times the agent lost the Docker Engine and started reconnecting",
        )?;
        let miss_refreshes = IntCounter::new(
            "miss_refreshes_total",
            "Refreshes from the engine because a lookup found nothing",
        )?;
        let caller_rereads = IntCounter::new(
            "caller_rereads_total",
            "Reads from the engine before answering /self, because what the agent held of \
             the caller was incomplete (read before its start, or no stats reading yet)",
        )?;
        let reported = IntCounterVec::new(
            Opts::new(
                "reported_snapshots_total",
                "Snapshots a store acknowledged, by store (fleet mode)",
            ),
            &["store"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "refused_snapshots_total",
                "Snapshots a store refused as invalid and the agent dropped, by store",
            ),
            &["store"],
        )?;
        let outbox_dropped = IntCounterVec::new(
            Opts::new(
                "outbox_dropped_snapshots_total",
                "Snapshots of stats-only resyncs dropped to keep a store's outbox under \
                 --outbox-max-bytes, by store",
            ),
            &["store"],
        )?;
        let outbox_bytes = IntGaugeVec::new(
            Opts::new(
                "outbox_bytes",
                "Bytes waiting in a store's outbox, by store",
            ),
            &["store"],
        )?;
        let node_reports = IntCounterVec::new(
            Opts::new(
                "node_reports_total",
                "Node reports (this node is alive) a store took, by store (fleet mode)",
            ),
            &["store"],
        )?;
        let node_report_failures = IntCounterVec::new(
            Opts::new(
                "node_report_failures_total",
                "Node reports a store did not take (no answer, or a refusal), by store; \
                 they are not sent again",
            ),
            &["store"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(engine_up.clone()))?;
        registry.register(Box::new(containers.clone()))?;
        registry.register(Box::new(engine_losses.clone()))?;
        registry.register(Box::new(miss_refreshes.clone()))?;
        registry.register(Box::new(caller_rereads.clone()))?;
        registry.register(Box::new(reported.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(outbox_dropped.clone()))?;
        registry.register(Box::new(outbox_bytes.clone()))?;
        registry.register(Box::new(node_reports.clone()))?;
        registry.register(Box::new(node_report_failures.clone()))?;
        Ok(Self {
            registry,
            requests,
            request_seconds,
            engine_up,
            containers,
            engine_losses,
            miss_refreshes,
            caller_rereads,
            reported,
            refused,
            outbox_dropped,
            outbox_bytes,
            node_reports,
            node_report_failures,
        })
    }

    pub(crate) fn render(&self) -> Result<String, prometheus::Error> {
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        // The text encoder writes only UTF-8.
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
