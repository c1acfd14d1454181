//! What `/metrics` reports, in the Prometheus text format.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(engine_up.clone()))?;
        registry.register(Box::new(containers.clone()))?;
        registry.register(Box::new(engine_losses.clone()))?;
        registry.register(Box::new(miss_refreshes.clone()))?;
        registry.register(Box::new(caller_rereads.clone()))?;
        Ok(Self {
            registry,
            requests,
            request_seconds,
            engine_up,
            containers,
            engine_losses,
            miss_refreshes,
            caller_rereads,
        })
    }

    pub(crate) fn render(&self) -> Result<String, prometheus::Error> {
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        // The text encoder writes only UTF-8.
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
