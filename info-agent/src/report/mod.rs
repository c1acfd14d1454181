//! Fleet mode: the agent posts every container of its host to the stores of
//! `--report-to`, outbound only. A full sync at start, a report whenever what a
//! snapshot says changes (the engine's events reach the inventory, which tells
//! the reporter), and a resync with fresh stats every `--report-interval`.
//! Batches go through an [`outbox::Outbox`] per store on disk, which a
//! [`sender::Sender`] per store delivers. Beside them, a [`node::NodeReporter`]
//! per store tells it the node is alive. With `--report-label`, only the
//! containers a [`Selection`] takes are reported.

pub(crate) mod node;
pub(crate) mod outbox;
pub(crate) mod sender;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::{ContainerId, ContainerState, Snapshot};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::warn;

use self::node::NodeReporter;
use self::outbox::{Kind, Outbox};
use self::sender::Sender;
use crate::config::ReportLabel;
use crate::error::AgentError;
use crate::inventory::{EngineHealth, Inventory};
use crate::metrics::Metrics;

/// Changes that come in a burst (a stack deployed, a host's containers
/// restarted) go out as one batch rather than one per event.
const COALESCE: Duration = Duration::from_millis(50);
/// Well under the store's 1 MiB body limit, whatever the labels weigh.
const BATCH_MAX_BYTES: usize = 256 * 1024;
const BATCH_MAX_SNAPSHOTS: usize = 100;

pub(crate) struct Settings<'a> {
    pub(crate) stores: &'a [String],
    pub(crate) interval: Duration,
    pub(crate) outbox: &'a Path,
    pub(crate) outbox_max_bytes: u64,
    pub(crate) selection: Selection,
}

/// Which containers are reported: those carrying any of the labels of
/// `--report-label`, as their snapshot shows them (the agent refuses at start
/// a label that redaction would hide); every container without it.
#[derive(Clone)]
pub(crate) struct Selection(Arc<[ReportLabel]>);

impl Selection {
    pub(crate) fn new(labels: &[ReportLabel]) -> Self {
        Self(labels.into())
    }

    fn takes(&self, snapshot: &Snapshot) -> bool {
        self.0.is_empty() || self.0.iter().any(|label| label.matches(&snapshot.labels))
    }
}

/// The stores' outboxes, fed by one reporter.
struct Destination {
    store: String,
    outbox: Arc<Outbox>,
    pushed: Arc<Notify>,
}

pub(crate) struct Reporter {
    inventory: Arc<Inventory>,
    signing_key: Option<Secret>,
    metrics: Arc<Metrics>,
    interval: Duration,
    selection: Selection,
    destinations: Vec<Destination>,
    /// What each store was last told of each container, stats and time left
    /// out: a snapshot that says something else is a change of state.
    reported: HashMap<ContainerId, Snapshot>,
}

/// Opens an outbox per store (in a folder named after its URL) and starts the
/// reporter, and a sender and a node reporter per store.
pub(crate) fn start(
    settings: Settings<'_>,
    inventory: Arc<Inventory>,
    signing_key: Option<Secret>,
    metrics: Arc<Metrics>,
) -> Result<Vec<JoinHandle<()>>, AgentError> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("container-info-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(AgentError::HttpClient)?;
    let mut tasks = Vec::new();
    let mut destinations = Vec::new();
    for store in settings.stores {
        let outbox = Arc::new(Outbox::open(
            settings.outbox.join(folder_name(store)),
            settings.outbox_max_bytes,
        )?);
        let pushed = Arc::new(Notify::new());
        // What a previous run left waits for no new report.
        pushed.notify_one();
        let sender = Sender {
            store: store.clone(),
            outbox: outbox.clone(),
            pushed: pushed.clone(),
            http: http.clone(),
            metrics: metrics.clone(),
            backoff_cap: settings.interval,
        };
        let catch_up = CatchUp {
            inventory: inventory.clone(),
            signing_key: signing_key.clone(),
            selection: settings.selection.clone(),
        };
        tasks.push(tokio::spawn(async move {
            sender.catch_up(catch_up).await;
            sender.run().await;
        }));
        let node_reporter = NodeReporter {
            store: store.clone(),
            http: http.clone(),
            inventory: inventory.clone(),
            signing_key: signing_key.clone(),
            metrics: metrics.clone(),
            interval: settings.interval,
        };
        tasks.push(tokio::spawn(node_reporter.run()));
        destinations.push(Destination {
            store: store.clone(),
            outbox,
            pushed,
        });
    }
    let reporter = Reporter {
        inventory,
        signing_key,
        metrics,
        interval: settings.interval,
        selection: settings.selection,
        destinations,
        reported: HashMap::new(),
    };
    tasks.push(tokio::spawn(reporter.run()));
    Ok(tasks)
}

impl Reporter {
    async fn run(mut self) {
        let mut resync = tokio::time::interval_at(Instant::now() + self.interval, self.interval);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The full sync at start: every container is new to the reporter.
        let mut everything = false;
        loop {
            if self.inventory.engine_health() == EngineHealth::Up {
                self.report(everything, Utc::now()).await;
            }
            everything = tokio::select! {
                () = self.inventory.changed().notified() => {
                    tokio::time::sleep(COALESCE).await;
                    false
                }
                _ = resync.tick() => true,
            };
        }
    }

    /// Pushes what changed since the last report as a change of state, and with
    /// `everything`, the other containers too, as a stats-only resync. A
    /// container the reporter told about that the host no longer has is
    /// reported once, as `removed`.
    async fn report(&mut self, everything: bool, now: DateTime<Utc>) {
        let mut current = self.inventory.snapshots();
        current.retain(|snapshot| self.selection.takes(snapshot));
        let mut changed = Vec::new();
        let mut same = Vec::new();
        for snapshot in current.iter() {
            let essence = essence(snapshot);
            if self.reported.get(&snapshot.id) == Some(&essence) {
                if everything {
                    same.push(snapshot.clone());
                }
            } else {
                self.reported.insert(snapshot.id.clone(), essence);
                changed.push(snapshot.clone());
            }
        }
        let present: HashSet<&ContainerId> = current.iter().map(|snapshot| &snapshot.id).collect();
        let gone: Vec<ContainerId> = self
            .reported
            .keys()
            .filter(|id| !present.contains(id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(mut last) = self.reported.remove(&id) {
                last.state = ContainerState::Removed;
                last.observed_at = now;
                changed.push(last);
            }
        }
        self.push(Kind::State, changed).await;
        self.push(Kind::Stats, same).await;
    }

    async fn push(&self, kind: Kind, snapshots: Vec<Snapshot>) {
        for batch in batches(snapshots, self.signing_key.as_ref()) {
            for destination in &self.destinations {
                let outbox = destination.outbox.clone();
                let (body, count) = (batch.body.clone(), batch.count);
                let pushed =
                    tokio::task::spawn_blocking(move || outbox.push(kind, &body, count)).await;
                match pushed {
                    Ok(Ok(pushed)) => {
                        self.metrics
                            .outbox_dropped
                            .with_label_values(&[&destination.store])
                            .inc_by(pushed.dropped_snapshots);
                        if pushed.over_bound {
                            warn!(
                                store = destination.store,
                                "the outbox is over --outbox-max-bytes with changes of state only; \
                                 those are never dropped"
                            );
                        }
                        self.metrics
                            .outbox_bytes
                            .with_label_values(&[&destination.store])
                            .set(i64::try_from(destination.outbox.bytes()).unwrap_or(i64::MAX));
                        destination.pushed.notify_one();
                    }
                    Ok(Err(error)) => warn!(
                        store = destination.store,
                        error = error.with_causes(),
                        "could not keep a report in the outbox; the next resync reports again"
                    ),
                    Err(joined) => std::panic::resume_unwind(joined.into_panic()),
                }
            }
        }
    }
}

/// What a sender needs to find, in its store, the containers removed while
/// the agent was down.
pub(crate) struct CatchUp {
    inventory: Arc<Inventory>,
    signing_key: Option<Secret>,
    selection: Selection,
}

impl CatchUp {
    /// `removed` snapshots, signed and in batches, of what the store holds as
    /// present on this node and the agent no longer reports: the host no
    /// longer has it, or the selection no longer takes it (the agent was
    /// restarted with other `--report-label`s), which a store's reader would
    /// otherwise see as current forever.
    ///
    /// `held` is oldest first: the store's records, then what still waits in
    /// the outbox, which the store will hold once it is delivered.
    pub(crate) fn removed(&self, held: Vec<Snapshot>, now: DateTime<Utc>) -> Vec<(Vec<u8>, u64)> {
        let latest: HashMap<ContainerId, Snapshot> = held
            .into_iter()
            .map(|held| (held.id.clone(), held))
            .collect();
        let gone: Vec<Snapshot> = latest
            .into_values()
            .filter(|held| {
                held.node == self.inventory.node()
                    && held.state != ContainerState::Removed
                    && !self
                        .inventory
                        .snapshot(&held.id)
                        .is_some_and(|present| self.selection.takes(&present))
            })
            .map(|held| Snapshot {
                state: ContainerState::Removed,
                observed_at: now,
                stats: None,
                attestation: None,
                extra: Default::default(),
                ..held
            })
            .collect();
        batches(gone, self.signing_key.as_ref())
            .into_iter()
            .map(|batch| (batch.body, batch.count))
            .collect()
    }

    pub(crate) fn node(&self) -> &str {
        self.inventory.node()
    }
}

/// What a snapshot says, without how the container is doing or when it was read.
fn essence(snapshot: &Snapshot) -> Snapshot {
    Snapshot {
        stats: None,
        observed_at: DateTime::<Utc>::UNIX_EPOCH,
        attestation: None,
        ..snapshot.clone()
    }
}

struct Batch {
    body: Vec<u8>,
    count: u64,
}

/// Signed snapshots as JSON arrays, each under the batch limits.
fn batches(snapshots: Vec<Snapshot>, key: Option<&Secret>) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    let mut close = |items: &mut Vec<Vec<u8>>| {
        if !items.is_empty() {
            let body = format!(
                "[{}]",
                items
                    .iter()
                    .map(|item| String::from_utf8_lossy(item))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            batches.push(Batch {
                body: body.into_bytes(),
                count: items.len() as u64,
            });
            items.clear();
        }
    };
    for mut snapshot in snapshots {
        if let Some(key) = key {
            snapshot.sign(key);
        }
        let item = serde_json::to_vec(&snapshot).expect("a snapshot serializes");
        if items.len() == BATCH_MAX_SNAPSHOTS || size + item.len() > BATCH_MAX_BYTES {
            close(&mut items);
            size = 0;
        }
        size += item.len() + 1;
        items.push(item);
    }
    close(&mut items);
    batches
}

/// A folder name for a store's outbox that an operator can read and that no
/// two URLs share: what is not a letter, digit, `-` or `.` is written `%XX`.
fn folder_name(store: &str) -> String {
    store
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_has_a_folder_of_its_own() {
        assert_eq!(
            folder_name("http://store:5001"),
            "http%3A%2F%2Fstore%3A5001"
        );
        assert_ne!(folder_name("http://a:1/x"), folder_name("http://a_1/x"));
    }

    #[test]
    fn batches_stay_under_the_limits_and_keep_the_order() {
        let one: Snapshot = serde_json::from_value(container_info_testkit::snapshot(
            1,
            &container_info_testkit::at(0),
        ))
        .unwrap();
        let many: Vec<Snapshot> = (0..250).map(|_| one.clone()).collect();
        let made = batches(many, None);
        assert_eq!(made.len(), 3);
        assert_eq!(
            made.iter().map(|batch| batch.count).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        for batch in &made {
            let parsed: Vec<Snapshot> = serde_json::from_slice(&batch.body).unwrap();
            assert_eq!(parsed.len() as u64, batch.count);
            assert!(batch.body.len() <= BATCH_MAX_BYTES);
        }
    }
}
