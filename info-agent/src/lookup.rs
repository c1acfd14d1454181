//! What requests ask, answered from the inventory: the calling container, and
//! containers by ID, prefix or name. Requests reach the engine only on a miss, or
//! for a caller that the agent holds an incomplete picture of (a new container).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::{ContainerId, Snapshot};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::address_index::AddressIndex;
use crate::engine::watch::Watcher;
use crate::error::AgentError;
use crate::inventory::{EngineHealth, Inventory};
use crate::metrics::Metrics;

/// Refreshes for lookup misses start at least this far apart. The event stream brings
/// in new containers within milliseconds anyway; the refresh covers its lag, and this
/// bounds what a stream of callers that are no container (each one a miss) costs the
/// engine to a few listings a second.
const MISS_REFRESH_FLOOR: Duration = Duration::from_millis(250);

pub(crate) struct Lookup {
    watcher: Arc<Watcher>,
    metrics: Arc<Metrics>,
    /// Every answer is signed with it, so that a store believes what this agent saw.
    signing_key: Option<Secret>,
    /// Held while a refresh for a lookup miss runs, so that a burst of misses costs
    /// one refresh.
    miss_refreshes: Mutex<MissRefreshes>,
}

#[derive(Default)]
struct MissRefreshes {
    last_started: Option<Instant>,
    /// When the last refresh that succeeded started, and the networks' endpoints it read.
    last_done: Option<(Instant, Arc<AddressIndex>)>,
}

impl Lookup {
    pub(crate) fn new(
        watcher: Arc<Watcher>,
        metrics: Arc<Metrics>,
        signing_key: Option<Secret>,
    ) -> Self {
        Self {
            watcher,
            metrics,
            signing_key,
            miss_refreshes: Mutex::default(),
        }
    }

    fn signed(&self, mut snapshot: Snapshot) -> Snapshot {
        if let Some(key) = &self.signing_key {
            snapshot.sign(key);
        }
        snapshot
    }

    pub(crate) fn inventory(&self) -> &Inventory {
        self.watcher.inventory()
    }

    /// Whether the engine answers and the inventory is current.
    pub(crate) fn ready(&self) -> Result<(), AgentError> {
        match self.inventory().engine_health() {
            EngineHealth::Up => Ok(()),
            EngineHealth::Down(reason) => Err(AgentError::EngineDown {
                host: self.watcher.engine().host().to_owned(),
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
        self.watcher.light_refresh().await?;
        let endpoints = Arc::new(self.watcher.engine().endpoints().await?);
        refreshes.last_done = Some((started, endpoints.clone()));
        Ok(endpoints)
    }

    /// The snapshot of the container that owns `ip`, from what the agent holds when
    /// that is complete, as it is for every container past its first moments.
    /// Refused while other containers run in its network namespace: any of them
    /// could be calling.
    pub(crate) async fn caller(&self, ip: IpAddr) -> Result<Snapshot, AgentError> {
        self.ready()?;
        let missed_at = Instant::now();
        let id = match self.inventory().owners(ip).as_slice() {
            [id] => id.clone(),
            _ => self.find_caller(ip, missed_at).await?,
        };
        let sharers = self.inventory().namespace_sharers(&id);
        if !sharers.is_empty() {
            return Err(AgentError::SharedNamespace {
                address: ip,
                containers: sharers,
            });
        }
        self.complete(&id).await?;
        self.inventory()
            .snapshot(&id)
            .map(|snapshot| self.signed(snapshot))
            .ok_or(AgentError::UnknownCaller(ip))
    }

    /// The container that owns `ip`, which the agent knew no single owner of.
    async fn find_caller(&self, ip: IpAddr, missed_at: Instant) -> Result<ContainerId, AgentError> {
        let endpoints = self.refresh_after_miss(missed_at).await?;
        if self.inventory().owners(ip).is_empty() {
            // Listed as not running yet, though it runs: it called. Its network names
            // it, and an inspect answers once the engine has finished starting it.
            for id in endpoints.owners(ip) {
                self.watcher.reread(id).await?;
            }
        }
        match self.inventory().owners(ip).as_slice() {
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
        if !self.inventory().is_running(id) {
            self.metrics.caller_rereads.inc();
            tokio::try_join!(self.watcher.reread(id), self.watcher.reread_gateway_legs())?;
        }
        if self.inventory().lacks_sample(id) {
            self.metrics.caller_rereads.inc();
            if let Some(sample) = self.watcher.engine().sample(id).await? {
                self.inventory().add_sample(id, sample);
            }
        }
        Ok(())
    }

    /// A container by ID, ID prefix or name.
    pub(crate) async fn container(&self, query: &str) -> Result<Snapshot, AgentError> {
        self.ready()?;
        let missed_at = Instant::now();
        let found = match self.inventory().resolve(query)? {
            Some(id) => Some(id),
            None => {
                self.refresh_after_miss(missed_at).await?;
                self.inventory().resolve(query)?
            }
        };
        found
            .and_then(|id| self.inventory().snapshot(&id))
            .map(|snapshot| self.signed(snapshot))
            .ok_or_else(|| AgentError::NoSuchContainer(query.to_owned()))
    }

    pub(crate) fn containers(&self) -> Result<Vec<Snapshot>, AgentError> {
        self.ready()?;
        Ok(self
            .inventory()
            .snapshots()
            .into_iter()
            .map(|snapshot| self.signed(snapshot))
            .collect())
    }
}
