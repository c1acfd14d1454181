//! Node reports: the agent tells each store that its node is alive
//! (`POST /nodes`), at start and every `--report-interval`, so that the store
//! can mark the node, and its containers, stale once the reports stop.
//!
//! Liveness only: a report says "now", and one delivered late says nothing, so
//! it never waits in the outbox; a failed one is counted and the next interval
//! sends a new one. Each store has a task of its own, so one that is slow or
//! down delays no other.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::nodes::NodeReport;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use crate::inventory::{EngineHealth, Inventory};
use crate::metrics::Metrics;

/// A report still unanswered after this is given up; the next interval sends
/// a fresh one.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct NodeReporter {
    pub(crate) store: String,
    pub(crate) http: reqwest::Client,
    pub(crate) inventory: Arc<Inventory>,
    pub(crate) signing_key: Option<Secret>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) interval: Duration,
}

impl NodeReporter {
    pub(crate) async fn run(self) {
        let mut tick = tokio::time::interval(self.interval);
        // A report that took longer than an interval is not followed by a burst
        // of catch-up reports: one now says all they would.
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut failing = false;
        loop {
            tick.tick().await;
            // `up` tells a store's readers that what it holds of this node's
            // containers is kept current; without the engine it is not.
            if let EngineHealth::Down(why) = self.inventory.engine_health() {
                debug!(
                    store = self.store,
                    why, "no node report while the engine is away"
                );
                continue;
            }
            match self.send().await {
                Ok(()) => {
                    self.metrics
                        .node_reports
                        .with_label_values(&[&self.store])
                        .inc();
                    if failing {
                        info!(store = self.store, "the store takes node reports again");
                        failing = false;
                    }
                }
                Err(why) => {
                    self.metrics
                        .node_report_failures
                        .with_label_values(&[&self.store])
                        .inc();
                    // Once per outage, as the sender does, not once per interval.
                    if failing {
                        debug!(store = self.store, why, "node report failed");
                    } else {
                        warn!(
                            store = self.store,
                            why,
                            "the store did not take a node report; it will mark this node \
                             stale after three report intervals without one"
                        );
                        failing = true;
                    }
                }
            }
        }
    }

    async fn send(&self) -> Result<(), String> {
        let mut report = NodeReport {
            node: self.inventory.node().to_owned(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            report_interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            reported_at: Utc::now(),
            attestation: None,
        };
        if let Some(key) = &self.signing_key {
            report.sign(key);
        }
        let response = self
            .http
            .post(format!("{}/nodes", self.store))
            .timeout(POST_TIMEOUT)
            .json(&report)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let answer = response.text().await.unwrap_or_default();
        Err(format!("{status}: {answer}"))
    }
}
