//! Keeps the inventory current: the engine's event stream, a light periodic
//! refresh, a stats sampler, and reconnecting with backoff when the engine goes away.
//! Requests are answered from the inventory; they reach the engine only on a miss,
//! or for a caller that the agent holds an incomplete picture of (a new container).

use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use chrono::Utc;
use container_info_wire::{ContainerId, Snapshot};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::{Engine, INSPECT_CONCURRENCY};
use crate::address_index::AddressIndex;
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
/// Refreshes for lookup misses start at least this far apart. The event stream brings
/// in new containers within milliseconds anyway; the refresh covers its lag, and this
/// bounds what a stream of callers that are no container (each one a miss) costs the
/// engine to a few listings a second.
const MISS_REFRESH_FLOOR: Duration = Duration::from_millis(250);
/// New containers waiting for their first stats reading; beyond this the periodic
/// round reaches them.
const FIRST_SAMPLE_QUEUE: usize = 256;

pub struct Watcher {
    engine: Engine,
    inventory: Arc<Inventory>,
    redactor: LabelRedactor,
    metrics: Arc<Metrics>,
    /// Held while a refresh for a lookup miss runs, so that a burst of misses costs
    /// one refresh.
    miss_refreshes: Mutex<MissRefreshes>,
    first_samples: mpsc::Sender<ContainerId>,
}

#[derive(Default)]
struct MissRefreshes {
    last_started: Option<Instant>,
    /// When the last refresh that succeeded started, and the networks' endpoints it read.
    last_done: Option<(Instant, Arc<AddressIndex>)>,
}

/// Hands the stats sampler the containers that have no reading yet.
pub struct FirstSamples(mpsc::Receiver<ContainerId>);

impl Watcher {
    pub fn new(
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
            miss_refreshes: Mutex::default(),
            first_samples,
        };
        (Arc::new(watcher), FirstSamples(receiver))
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// Reads every container afresh: at start, and when the engine is back.
    pub async fn full_refresh(&self) -> Result<(), AgentError> {
        self.refresh(|_, _| true).await
    }

    /// Reads only the containers whose listing differs from what the agent holds.
    async fn light_refresh(&self) -> Result<(), AgentError> {
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

    async fn reread(&self, id: &ContainerId) -> Result<(), AgentError> {
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

    async fn reread_gateway_legs(&self) -> Result<(), AgentError> {
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
    pub async fn supervise(self: Arc<Self>, mut since: i64) {
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
    async fn follow(&self, since: i64) -> AgentError {
        let mut events = pin!(self.engine.events(since));
        let mut refresh =
            tokio::time::interval_at(Instant::now() + PERIODIC_REFRESH, PERIODIC_REFRESH);
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                event = events.next() => match event {
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

    /// Keeps the latest two stats readings of every running container.
    pub async fn sample_forever(self: Arc<Self>, FirstSamples(mut first): FirstSamples) {
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

    /// Whether the engine answers and the inventory is current.
    pub fn ready(&self) -> Result<(), AgentError> {
        match self.inventory.engine_health() {
            EngineHealth::Up => Ok(()),
            EngineHealth::Down(reason) => Err(AgentError::EngineDown {
                host: self.engine.host().to_owned(),
                reason,
            }),
        }
    }

    /// Brings in containers the agent has not heard of yet, and returns the networks'
    /// endpoints, both read after `missed_at`. One refresh at a time, each shared by
    /// every miss that happened before it started; a miss never takes the word of a
    /// refresh that started before it, which may have been too early to see the
    /// caller. Refreshes start at least [`MISS_REFRESH_FLOOR`] apart.
    async fn refresh_after_miss(
        &self,
        missed_at: Instant,
    ) -> Result<Arc<AddressIndex>, AgentError> {
        let mut refreshes = self.miss_refreshes.lock().await;
        if let Some((started, endpoints)) = &refreshes.last_done
            && *started >= missed_at
        {
            return Ok(endpoints.clone());
        }
        if let Some(last) = refreshes.last_started {
            tokio::time::sleep_until(last + MISS_REFRESH_FLOOR).await;
        }
        let started = Instant::now();
        refreshes.last_started = Some(started);
        self.metrics.miss_refreshes.inc();
        self.light_refresh().await?;
        let endpoints = Arc::new(self.engine.endpoints().await?);
        refreshes.last_done = Some((started, endpoints.clone()));
        Ok(endpoints)
    }

    /// The snapshot of the container that owns `ip`, from what the agent holds when
    /// that is complete, as it is for every container past its first moments.
    pub async fn caller(&self, ip: IpAddr) -> Result<Snapshot, AgentError> {
        self.ready()?;
        let missed_at = Instant::now();
        let id = match self.inventory.owners(ip).as_slice() {
            [id] => id.clone(),
            _ => self.find_caller(ip, missed_at).await?,
        };
        self.complete(&id).await?;
        self.inventory
            .snapshot(&id)
            .ok_or(AgentError::UnknownCaller(ip))
    }

    /// The container that owns `ip`, which the agent knew no single owner of.
    async fn find_caller(&self, ip: IpAddr, missed_at: Instant) -> Result<ContainerId, AgentError> {
        let endpoints = self.refresh_after_miss(missed_at).await?;
        if self.inventory.owners(ip).is_empty() {
            // Listed as not running yet, though it runs: it called. Its network names
            // it, and an inspect answers once the engine has finished starting it.
            for id in endpoints.owners(ip) {
                self.reread(id).await?;
            }
        }
        match self.inventory.owners(ip).as_slice() {
            [id] => Ok(id.clone()),
            [] => Err(AgentError::UnknownCaller(ip)),
            owners => Err(AgentError::SharedAddress {
                address: ip,
                containers: owners.to_vec(),
            }),
        }
    }

    /// Reads from the engine what the agent lacks of a caller before answering it.
    /// A caller runs (it called), so a record that says otherwise was read before the
    /// engine had finished starting it, on its `create` or network `connect` event,
    /// while the `docker_gwbridge` leg that found the caller was read after. Such a
    /// record lacks the addresses too: it is read again, with the legs, and the
    /// engine answers that inspect only once the start is over. A container the
    /// sampler has not reached yet gets a one-shot stats reading now, so that its
    /// first answer has stats; its `cpu_percent` reads 0 until a second reading gives
    /// an interval to measure over.
    async fn complete(&self, id: &ContainerId) -> Result<(), AgentError> {
        if !self.inventory.is_running(id) {
            self.metrics.caller_rereads.inc();
            tokio::try_join!(self.reread(id), self.reread_gateway_legs())?;
        }
        if self.inventory.lacks_sample(id) {
            self.metrics.caller_rereads.inc();
            if let Some(sample) = self.engine.sample(id).await? {
                self.inventory.add_sample(id, sample);
            }
        }
        Ok(())
    }

    /// A container by ID, ID prefix or name.
    pub async fn container(&self, query: &str) -> Result<Snapshot, AgentError> {
        self.ready()?;
        let missed_at = Instant::now();
        let found = match self.inventory.resolve(query)? {
            Some(id) => Some(id),
            None => {
                self.refresh_after_miss(missed_at).await?;
                self.inventory.resolve(query)?
            }
        };
        found
            .and_then(|id| self.inventory.snapshot(&id))
            .ok_or_else(|| AgentError::NoSuchContainer(query.to_owned()))
    }

    pub fn containers(&self) -> Result<Vec<Snapshot>, AgentError> {
        self.ready()?;
        Ok(self.inventory.snapshots())
    }
}
