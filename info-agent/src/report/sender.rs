//! Delivers one store's outbox, oldest batch first, one batch at a time: the
//! order of the outbox is the order the store receives, so a container's
//! reports arrive in order. Each store has a task of its own, so a store that
//! is down or slow holds up only its own outbox.

use std::sync::Arc;
use std::time::Duration;

use container_info_wire::{Page, Snapshot, StoredSnapshot};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::outbox::{Outbox, Pending};
use crate::error::AgentError;
use crate::metrics::Metrics;

/// Long enough for a busy store's fsync'd commit of a large batch.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(250);

pub(crate) struct Sender {
    pub(crate) store: String,
    pub(crate) outbox: Arc<Outbox>,
    /// Told when a batch is pushed to the outbox.
    pub(crate) pushed: Arc<Notify>,
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: Arc<Metrics>,
    /// Retries wait at most this long, so that a store that is back hears from
    /// the agent within about one report interval.
    pub(crate) backoff_cap: Duration,
}

/// One page of the store's latest records, as many as it gives at once.
const CATCH_UP_PAGE: usize = 1000;

/// What a store made of a batch.
enum Outcome {
    Stored,
    /// The store named one item as the one it refuses; the rest may be stored.
    Refused {
        index: usize,
        status: StatusCode,
    },
    /// Anything else: the store is away, overloaded, or refuses the agent as a
    /// whole (a wrong token or URL): the batch waits and is tried again.
    Retry(String),
}

impl Sender {
    pub(crate) async fn run(self) {
        let mut backoff = Backoff::new(self.backoff_cap);
        loop {
            let outbox = self.outbox.clone();
            let pending = match blocking(move || outbox.oldest()).await {
                Ok(Some(pending)) => pending,
                Ok(None) => {
                    self.pushed.notified().await;
                    continue;
                }
                Err(error) => {
                    warn!(
                        store = self.store,
                        error = error.with_causes(),
                        "outbox unreadable"
                    );
                    tokio::time::sleep(backoff.next()).await;
                    continue;
                }
            };
            let settled = match self.post(&pending.body).await {
                Outcome::Stored => {
                    let sequence = pending.sequence;
                    let outbox = self.outbox.clone();
                    self.metrics
                        .reported
                        .with_label_values(&[&self.store])
                        .inc_by(count(&pending.body));
                    if backoff.failing() {
                        info!(store = self.store, "the store takes reports again");
                    }
                    backoff.reset();
                    blocking(move || outbox.acknowledge(sequence)).await
                }
                Outcome::Refused { index, status } => self.drop_item(pending, index, status).await,
                Outcome::Retry(why) => {
                    let wait = backoff.next();
                    if backoff.attempts == 1 {
                        warn!(
                            store = self.store,
                            why, "the store did not take a report; retrying"
                        );
                    } else {
                        debug!(store = self.store, why, ?wait, "retrying");
                    }
                    tokio::time::sleep(wait).await;
                    Ok(())
                }
            };
            self.metrics
                .outbox_bytes
                .with_label_values(&[&self.store])
                .set(i64::try_from(self.outbox.bytes()).unwrap_or(i64::MAX));
            if let Err(error) = settled {
                warn!(
                    store = self.store,
                    error = error.with_causes(),
                    "outbox unwritable"
                );
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }

    /// Containers removed while the agent was down: asks the store which
    /// containers it holds for this node and reports as `removed`, through the
    /// outbox, those the host no longer has. Retried like a post until the
    /// store answers; a store that refuses to be read (a protected one, which
    /// the agent has no token for) is left as it is, with a warning.
    pub(crate) async fn catch_up(&self, catch_up: super::CatchUp) {
        let mut backoff = Backoff::new(self.backoff_cap);
        let held = loop {
            match self.held(catch_up.node()).await {
                Ok(held) => break held,
                Err(Some(why)) => {
                    debug!(
                        store = self.store,
                        why, "cannot ask the store what it holds yet"
                    );
                    tokio::time::sleep(backoff.next()).await;
                }
                Err(None) => {
                    warn!(
                        store = self.store,
                        "the store does not let the agent read what it holds; containers \
                         removed while the agent was down stay listed there as they were"
                    );
                    return;
                }
            }
        };
        let outbox = self.outbox.clone();
        let held = match blocking(move || outbox.waiting()).await {
            Ok(waiting) => held.into_iter().chain(waiting).collect(),
            Err(error) => {
                warn!(
                    store = self.store,
                    error = error.with_causes(),
                    "outbox unreadable"
                );
                held
            }
        };
        for (body, count) in catch_up.removed(held, chrono::Utc::now()) {
            let outbox = self.outbox.clone();
            let pushed =
                blocking(move || outbox.push(super::outbox::Kind::State, &body, count)).await;
            if let Err(error) = pushed {
                warn!(
                    store = self.store,
                    error = error.with_causes(),
                    "outbox unwritable"
                );
            }
        }
    }

    /// The latest record of every container the store holds for `node`; an
    /// error to retry (`Some`), or a refusal to read (`None`).
    async fn held(&self, node: &str) -> Result<Vec<Snapshot>, Option<String>> {
        let mut held = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}/containers", self.store))
                .map_err(|error| Some(error.to_string()))?;
            url.query_pairs_mut()
                .append_pair("node", node)
                .append_pair("limit", &CATCH_UP_PAGE.to_string())
                .extend_pairs(cursor.take().map(|cursor| ("cursor", cursor)));
            let response = self
                .http
                .get(url)
                .timeout(POST_TIMEOUT)
                .send()
                .await
                .map_err(|error| Some(error.to_string()))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(None);
            }
            if !status.is_success() {
                return Err(Some(status.to_string()));
            }
            let page: Page<StoredSnapshot> = response
                .json()
                .await
                .map_err(|error| Some(error.to_string()))?;
            held.extend(page.items.into_iter().map(|stored| stored.snapshot));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(held),
            }
        }
    }

    async fn post(&self, body: &[u8]) -> Outcome {
        let sent = self
            .http
            .post(format!("{}/containers", self.store))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(POST_TIMEOUT)
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Stored;
        }
        let answer = response.text().await.unwrap_or_default();
        // 401, 413 and 429 concern the request as a whole, never one item in it.
        // So does 403, though it names an item: a signature the store cannot
        // verify means its key is not the agent's, which no item can fix, and
        // dropping item after item would lose the host's reports over a setting.
        let whole = [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::TOO_MANY_REQUESTS,
        ];
        if status.is_client_error()
            && !whole.contains(&status)
            && let Some(index) = refused_item(&answer)
        {
            return Outcome::Refused { index, status };
        }
        Outcome::Retry(format!("{status}: {answer}"))
    }

    /// Drops the item the store refused, logged with its ID, and keeps the rest
    /// of the batch in its place, to be sent at once.
    async fn drop_item(
        &self,
        pending: Pending,
        index: usize,
        status: StatusCode,
    ) -> Result<(), AgentError> {
        let Ok(mut items) = serde_json::from_slice::<Vec<Value>>(&pending.body) else {
            // Only the agent writes the outbox; a batch it cannot read again
            // cannot be sent either.
            warn!(
                store = self.store,
                sequence = pending.sequence,
                "dropping an unreadable batch"
            );
            let outbox = self.outbox.clone();
            return blocking(move || outbox.acknowledge(pending.sequence)).await;
        };
        if index >= items.len() {
            return Ok(());
        }
        let refused = items.remove(index);
        warn!(
            store = self.store,
            %status,
            container = refused["id"].as_str().unwrap_or_default(),
            observed_at = refused["observed_at"].as_str().unwrap_or_default(),
            "the store refused this snapshot; dropping it and sending the rest"
        );
        self.metrics.refused.with_label_values(&[&self.store]).inc();
        let body = serde_json::to_vec(&items).expect("JSON values serialize");
        let outbox = self.outbox.clone();
        blocking(move || outbox.replace(pending.sequence, &body)).await
    }
}

/// The item a store's error names, from `detail.path` (`[3]`, `[3].stats.pids`).
fn refused_item(answer: &str) -> Option<usize> {
    let answer: Value = serde_json::from_str(answer).ok()?;
    let path = answer["detail"]["path"].as_str()?;
    let (index, _) = path.strip_prefix('[')?.split_once(']')?;
    index.parse().ok()
}

fn count(body: &[u8]) -> u64 {
    serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body).map_or(0, |items| items.len() as u64)
}

/// The outbox's file work, off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, AgentError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|joined| std::panic::resume_unwind(joined.into_panic()))
}

/// Exponential, with full jitter so that a fleet's agents do not all return to
/// a store that comes back in the same instant, and capped.
struct Backoff {
    cap: Duration,
    attempts: u32,
}

impl Backoff {
    fn new(cap: Duration) -> Self {
        Self { cap, attempts: 0 }
    }

    fn next(&mut self) -> Duration {
        let ceiling = BACKOFF_FIRST
            .saturating_mul(2u32.saturating_pow(self.attempts.min(16)))
            .min(self.cap.max(BACKOFF_FIRST));
        self.attempts += 1;
        ceiling.mul_f64(fastrand::f64().max(0.1))
    }

    fn failing(&self) -> bool {
        self.attempts > 0
    }

    fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refused_item_is_read_from_the_stores_detail_path() {
        let answer = r#"{"error":"invalid","detail":{"path":"[3].stats.pids"}}"#;
        assert_eq!(refused_item(answer), Some(3));
        assert_eq!(refused_item(r#"{"detail":{"path":"[12]"}}"#), Some(12));
        assert_eq!(refused_item(r#"{"detail":{"path":"id"}}"#), None);
        assert_eq!(refused_item("not json"), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_starts_over_after_a_success() {
        let cap = Duration::from_secs(2);
        let mut backoff = Backoff::new(cap);
        let waits: Vec<Duration> = (0..12).map(|_| backoff.next()).collect();
        assert!(waits.iter().all(|wait| *wait <= cap), "{waits:?}");
        assert!(waits[0] <= BACKOFF_FIRST, "{waits:?}");
        assert!(backoff.failing());
        backoff.reset();
        assert!(backoff.next() <= BACKOFF_FIRST);
    }
}
