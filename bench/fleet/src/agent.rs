//! One simulated agent: what the agent in fleet mode sends for its host, in
//! the same order and shape (signed JSON arrays, one POST at a time, as its
//! outbox delivers them), each report timed from the moment it was due.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use container_info_wire::Snapshot;
use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::nodes::NodeReport;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use tokio::time::{Instant, sleep, sleep_until};

use crate::error::FleetError;
use crate::host::Host;

/// The agent's batch limits (info-agent/src/report/mod.rs).
const BATCH_MAX_BYTES: usize = 256 * 1024;
const BATCH_MAX_SNAPSHOTS: usize = 100;
/// A store that is busy or restarting gets this many tries, backing off, before
/// the run stops: retries are counted, so a run that needed some says so.
const ATTEMPTS: u32 = 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The agent's own: long enough for a busy store's fsync'd commit of a large batch.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The full sync at the agent's start: every container is new to the store.
    Start,
    /// Every container again with fresh stats, once per interval.
    Resync,
    /// One container's change of state, as an engine event brings it.
    Change,
}

/// How long after it was due a report was acknowledged in full.
#[derive(Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) kind: Kind,
    pub(crate) lag: Duration,
}

#[derive(Default)]
pub(crate) struct AgentRun {
    pub(crate) reports: Vec<Timed>,
    /// Of snapshots, to `POST /containers`.
    pub(crate) posts: u64,
    pub(crate) node_reports: u64,
    pub(crate) snapshots: u64,
    pub(crate) bytes: u64,
    pub(crate) retries: u64,
}

/// When an agent reports: its full sync at `start`, then a resync every
/// `interval`, `intervals` times, with `changes` changes of state at random
/// moments of each interval.
#[derive(Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) start: Instant,
    pub(crate) interval: Duration,
    pub(crate) intervals: u32,
    pub(crate) changes: u32,
}

pub(crate) struct Agent {
    pub(crate) host: Host,
    pub(crate) store: String,
    pub(crate) http: reqwest::Client,
    pub(crate) key: Arc<Secret>,
    pub(crate) interval: Duration,
}

impl Agent {
    /// A report that was due while the previous one was still being posted
    /// waits for it, and its lag counts from when it was due: a store that
    /// falls behind shows as lag that grows, as an agent's outbox would grow.
    pub(crate) async fn run(mut self, plan: Plan, seed: u64) -> Result<AgentRun, FleetError> {
        let mut run = AgentRun::default();
        let mut rng = fastrand::Rng::with_seed(seed);
        sleep_until(plan.start).await;
        let snapshots = self.host.resync(Utc::now());
        self.report(Kind::Start, plan.start, snapshots, &mut run)
            .await?;
        for k in 0..plan.intervals {
            let opened = plan.start + plan.interval * k;
            let mut moments: Vec<Duration> = (0..plan.changes)
                .map(|_| plan.interval.mul_f64(rng.f64()))
                .collect();
            moments.sort_unstable();
            for moment in moments {
                let due = opened + moment;
                sleep_until(due).await;
                let changed = self.host.change(Utc::now());
                self.report(Kind::Change, due, vec![changed], &mut run)
                    .await?;
            }
            let due = opened + plan.interval;
            sleep_until(due).await;
            let snapshots = self.host.resync(Utc::now());
            self.report(Kind::Resync, due, snapshots, &mut run).await?;
        }
        Ok(run)
    }

    /// Posts a report in full; a start or a resync goes with the node's report
    /// first, as the agent says once per interval that its node is alive.
    async fn report(
        &self,
        kind: Kind,
        due: Instant,
        snapshots: Vec<Snapshot>,
        run: &mut AgentRun,
    ) -> Result<(), FleetError> {
        if kind != Kind::Change {
            let mut node = NodeReport {
                node: self.host.node.clone(),
                agent_version: concat!("fleet-sim-", env!("CARGO_PKG_VERSION")).to_owned(),
                report_interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
                reported_at: Utc::now(),
                attestation: None,
            };
            node.sign(&self.key);
            let body = serde_json::to_vec(&node).expect("a node report serializes");
            run.node_reports += 1;
            self.post("nodes", body, run).await?;
        }
        run.snapshots += snapshots.len() as u64;
        for body in batches(snapshots, &self.key) {
            run.bytes += body.len() as u64;
            run.posts += 1;
            self.post("containers", body, run).await?;
        }
        run.reports.push(Timed {
            kind,
            lag: due.elapsed(),
        });
        Ok(())
    }

    /// Posts until the store acknowledges, as the agent's sender retries; a
    /// refusal ends the run. Tries made again are counted.
    async fn post(&self, route: &str, body: Vec<u8>, run: &mut AgentRun) -> Result<(), FleetError> {
        let url = format!("{}/{route}", self.store);
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .http
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .timeout(POST_TIMEOUT)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status();
                    // Read to the end, so that the connection can serve the next post.
                    let answer = response.bytes().await;
                    match answer {
                        Ok(_) if status.is_success() => return Ok(()),
                        Ok(answer) if status.is_client_error() && !transient(status) => {
                            return Err(FleetError::Refused {
                                url,
                                status,
                                answer: String::from_utf8_lossy(&answer).into_owned(),
                            });
                        }
                        Ok(answer) => {
                            last = format!("{status}: {}", String::from_utf8_lossy(&answer));
                        }
                        Err(error) => last = format!("{status}, then {error}"),
                    }
                }
                Err(error) => last = error.to_string(),
            }
            if attempt < ATTEMPTS {
                run.retries += 1;
                sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        Err(FleetError::Unreachable {
            url,
            attempts: ATTEMPTS,
            last,
        })
    }
}

/// A store too busy to read the request in time (408) or asking to slow down
/// (429): the agent tries again, as after a 5xx.
fn transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS
}

/// Signed snapshots as JSON arrays under the agent's batch limits, in order.
fn batches(snapshots: Vec<Snapshot>, key: &Secret) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut body = Vec::with_capacity(BATCH_MAX_BYTES);
    let mut count = 0;
    for mut snapshot in snapshots {
        snapshot.sign(key);
        let item = serde_json::to_vec(&snapshot).expect("a snapshot serializes");
        // The 2 bytes: the comma before it and the closing bracket.
        if count == BATCH_MAX_SNAPSHOTS
            || (count > 0 && body.len() + item.len() + 2 > BATCH_MAX_BYTES)
        {
            body.push(b']');
            bodies.push(std::mem::replace(
                &mut body,
                Vec::with_capacity(BATCH_MAX_BYTES),
            ));
            count = 0;
        }
        body.push(if count == 0 { b'[' } else { b',' });
        body.extend_from_slice(&item);
        count += 1;
    }
    if count > 0 {
        body.push(b']');
        bodies.push(body);
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_100_signed_snapshots_in_order() {
        let now = Utc::now();
        let key = Secret::new(&[9; 32]).unwrap();
        let snapshots = Host::new(1, 250, now).resync(now);
        let bodies = batches(snapshots.clone(), &key);
        let parsed: Vec<Vec<Snapshot>> = bodies
            .iter()
            .map(|body| serde_json::from_slice(body).unwrap())
            .collect();
        assert_eq!(
            parsed.iter().map(Vec::len).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let ids: Vec<_> = parsed.iter().flatten().map(|s| s.id.clone()).collect();
        let expected: Vec<_> = snapshots.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids, expected);
        for snapshot in parsed.iter().flatten() {
            assert_eq!(snapshot.verify(&key), Ok(()));
        }
        assert!(bodies.iter().all(|body| body.len() <= BATCH_MAX_BYTES));
    }
}
