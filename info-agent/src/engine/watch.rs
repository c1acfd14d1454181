//! Keeps the inventory current: the engine's event stream, a light periodic
//! refresh, a stats sampler, and reconnecting with backoff when the engine goes away.
//! What requests ask is answered by [`crate::lookup`], from the inventory this keeps.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use chrono::Utc;
use container_info_wire::ContainerId;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::{Engine, INSPECT_CONCURRENCY};
use crate::error::AgentError;
use crate::inventory::{EngineHealth, Fingerprint, GWBRIDGE, Inventory, Listing};
use crate::metrics::Metrics;
use crate::redaction::LabelRedactor;

/// A safety net under the event stream, which does not tell everything (no event
/// says an overlay container joined `docker_gwbridge`): this often, the listing is
/// compared with what the agent holds.
const PERIODIC_REFRESH: Duration = Duration::from_secs(30);
/// Stats come from one task that asks the engine for a one-shot reading of each
/// running container in turn, rather than one streaming subscription per container:
/// no per-container task or connection to start, end and re-subscribe when the engine
/// comes back, and the cost is bounded by this interval whatever the container count.
/// CPU percent is measured over the interval between two readings.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
const SAMPLE_CONCURRENCY: usize = 8;
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The container events that change what a snapshot says; `destroy` is handled apart.
const CONTAINER_ACTIONS: [&str; 8] = [
    "create", "start", "restart", "die", "pause", "unpause", "rename", "update",
];
/// New containers waiting for their first stats reading; beyond this the periodic
/// round reaches them.
const FIRST_SAMPLE_QUEUE: usize = 256;

pub(crate) struct Watcher {
    engine: Engine,
    inventory: Arc<Inventory>,
    redactor: LabelRedactor,
    metrics: Arc<Metrics>,
    first_samples: mpsc::Sender<ContainerId>,
}

/// Stops the event reader when `follow` returns, so that a reconnection
/// starts from a stream of its own.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hands the stats sampler the containers that have no reading yet.
pub(crate) struct FirstSamples(mpsc::Receiver<ContainerId>);

impl Watcher {
    pub(crate) fn new(
        engine: Engine,
        inventory: Arc<Inventory>,
        redactor: LabelRedactor,
        metrics: Arc<Metrics>,
    ) -> (Arc<Self>, FirstSamples) {
        let (first_samples, receiver) = mpsc::channel(FIRST_SAMPLE_QUEUE);
        let watcher = Self {
            engine,
            inventory,
            redactor,
            metrics,
            first_samples,
        };
        (Arc::new(watcher), FirstSamples(receiver))
    }

    pub(crate) fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads every container afresh: at start, and when the engine is back.
    pub(crate) async fn full_refresh(&self) -> Result<(), AgentError> {
        self.refresh(|_, _| true).await
    }

    /// Reads only the containers whose listing differs from what the agent holds.
    pub(crate) async fn light_refresh(&self) -> Result<(), AgentError> {
        let known = self.inventory.fingerprints();
        self.refresh(|id, fingerprint| known.get(id) != Some(fingerprint))
            .await
    }

    async fn refresh(
        &self,
        stale: impl Fn(&ContainerId, &Fingerprint) -> bool,
    ) -> Result<(), AgentError> {
        let listed_at = Utc::now();
        let listing = self.engine.list().await?;
        let to_read: Vec<ContainerId> = listing
            .iter()
            .filter(|(id, fingerprint)| stale(id, fingerprint))
            .map(|(id, _)| id.clone())
            .collect();
        let records: Vec<_> = stream::iter(to_read)
            .map(|id| async move { self.engine.inspect(id.as_str(), &self.redactor).await })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_filter_map(|record| async move { Ok(record) })
            .try_collect()
            .await?;
        let gateway_legs = self.engine.gateway_legs().await?;
        let started: Vec<ContainerId> = records
            .iter()
            .filter(|record| record.is_sampled())
            .map(|record| record.id.clone())
            .collect();
        self.inventory.apply(Listing {
            listed_at,
            present: listing.into_keys().collect(),
            records,
            gateway_legs,
        });
        started.into_iter().for_each(|id| self.ask_first_sample(id));
        Ok(())
    }

    fn ask_first_sample(&self, id: ContainerId) {
        // A full queue only delays the first reading to the next periodic round.
        let _ = self.first_samples.try_send(id);
    }

    /// Reads one container again, or drops it when the engine no longer has it.
    pub(crate) async fn reread(&self, id: &ContainerId) -> Result<(), AgentError> {
        match self.engine.inspect(id.as_str(), &self.redactor).await? {
            Some(record) => {
                let sampled = record.is_sampled();
                self.inventory.upsert(record);
                if sampled {
                    self.ask_first_sample(id.clone());
                }
            }
            None => self.inventory.remove(id),
        }
        Ok(())
    }

    pub(crate) async fn reread_gateway_legs(&self) -> Result<(), AgentError> {
        self.inventory
            .set_gateway_legs(self.engine.gateway_legs().await?);
        Ok(())
    }

    async fn handle(&self, event: EventMessage) -> Result<(), AgentError> {
        let action = event.action.unwrap_or_default();
        let actor = event.actor.unwrap_or_default();
        match event.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                let Some(id) = actor.id.and_then(|id| ContainerId::parse(&id).ok()) else {
                    return Ok(());
                };
                if action == "destroy" {
                    self.inventory.remove(&id);
                } else if CONTAINER_ACTIONS.contains(&action.as_str()) {
                    self.reread(&id).await?;
                }
                // The engine sends no event for a container joining or leaving
                // docker_gwbridge; it happens as an overlay container starts or stops.
                if action == "start" || action == "die" {
                    self.reread_gateway_legs().await?;
                }
            }
            Some(EventMessageTypeEnum::NETWORK)
                if action == "connect" || action == "disconnect" =>
            {
                let attributes = actor.attributes.unwrap_or_default();
                let overlay = attributes.get("type").map(String::as_str) == Some("overlay");
                if overlay || attributes.get("name").map(String::as_str) == Some(GWBRIDGE) {
                    self.reread_gateway_legs().await?;
                }
                if let Some(id) = attributes
                    .get("container")
                    .and_then(|id| ContainerId::parse(id).ok())
                {
                    self.reread(&id).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Follows the engine until it fails, then reconnects with backoff, forever.
    /// `since` is when the picture the agent holds was read (Unix seconds).
    pub(crate) async fn supervise(self: Arc<Self>, mut since: i64) {
        loop {
            let lost = self.follow(since).await;
            let lost = lost.with_causes();
            warn!(error = lost, "lost the Docker Engine; reconnecting");
            self.metrics.engine_losses.inc();
            self.inventory.set_engine_health(EngineHealth::Down(lost));
            let mut backoff = BACKOFF_FIRST;
            loop {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                // A second back, because `since` counts whole seconds.
                since = Utc::now().timestamp() - 1;
                match self.full_refresh().await {
                    Ok(()) => {
                        info!(
                            docker_host = self.engine.host(),
                            "the Docker Engine is back"
                        );
                        self.inventory.set_engine_health(EngineHealth::Up);
                        break;
                    }
                    Err(error) => {
                        let error = error.with_causes();
                        debug!(error, ?backoff, "the Docker Engine is still away");
                        self.inventory.set_engine_health(EngineHealth::Down(error));
                    }
                }
            }
        }
    }

    /// Applies events and periodic refreshes until one of them fails; returns why.
    async fn follow(self: &Arc<Self>, since: i64) -> AgentError {
        let (sender, mut events) = mpsc::unbounded_channel();
        let _reader = AbortOnDrop(tokio::spawn(self.clone().read_events(since, sender)));
        let mut refresh =
            tokio::time::interval_at(Instant::now() + PERIODIC_REFRESH, PERIODIC_REFRESH);
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                event = events.recv() => match event {
                    Some(Ok(event)) => self.handle(event).await,
                    Some(Err(error)) => Err(error),
                    None => Err(AgentError::EngineDown {
                        host: self.engine.host().to_owned(),
                        reason: format!(
                            "the Docker Engine at {} closed its event stream",
                            self.engine.host()
                        ),
                    }),
                },
                _ = refresh.tick() => self.light_refresh().await,
            };
            if let Err(error) = step {
                return error;
            }
        }
    }

    /// Reads the event stream on a task of its own and hands each event on in
    /// order. A new container is checked at once for a joined network
    /// namespace (`--network container:X`), which a listing answers at once:
    /// the handler may be waiting on an inspect that the engine holds back
    /// until some container's start is over, and a joiner that called X's
    /// address meanwhile must not be answered as X.
    async fn read_events(
        self: Arc<Self>,
        since: i64,
        handler: mpsc::UnboundedSender<Result<EventMessage, AgentError>>,
    ) {
        let mut events = pin!(self.engine.events(since));
        while let Some(event) = events.next().await {
            if let Ok(event) = &event
                && event.typ == Some(EventMessageTypeEnum::CONTAINER)
                && event.action.as_deref() == Some("create")
                && let Some(id) = event.actor.as_ref().and_then(|actor| actor.id.as_deref())
                && let Ok(id) = ContainerId::parse(id)
            {
                let this = self.clone();
                tokio::spawn(async move {
                    match this.engine.joiner(&id).await {
                        Ok(Some(joiner)) => this.inventory.joining(id, joiner),
                        Ok(None) => {}
                        Err(error) => warn!(
                            error = error.with_causes(),
                            "could not list a new container to see whose namespace it joins"
                        ),
                    }
                });
            }
            if handler.send(event).is_err() {
                return;
            }
        }
    }

    /// Keeps the latest two stats readings of every running container.
    pub(crate) async fn sample_forever(self: Arc<Self>, FirstSamples(mut first): FirstSamples) {
        let this = &*self;
        let mut round = tokio::time::interval(SAMPLE_EVERY);
        round.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let due = tokio::select! {
                _ = round.tick() => self.inventory.sampled(),
                Some(id) = first.recv() => vec![id],
            };
            if self.inventory.engine_health() != EngineHealth::Up {
                continue;
            }
            stream::iter(due)
                .for_each_concurrent(SAMPLE_CONCURRENCY, |id| async move {
                    match this.engine.sample(&id).await {
                        Ok(Some(sample)) => this.inventory.add_sample(&id, sample),
                        Ok(None) => {}
                        Err(error) => debug!(
                            error = error.with_causes(),
                            container = id.short(),
                            "no stats reading"
                        ),
                    }
                })
                .await;
        }
    }
}
