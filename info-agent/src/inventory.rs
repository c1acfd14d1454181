//! The agent's picture of the engine: every container on this host, its addresses and
//! its last two stats samples. Requests read it; the engine watcher keeps it current.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use container_info_wire::{ContainerId, ContainerState, NetworkAddress, Snapshot};
use tokio::sync::Notify;

use crate::address_index::AddressIndex;
use crate::error::AgentError;
use crate::stats::{self, Sample};

/// The network the engine puts an overlay container's way out to the host on. It
/// is not among the container's own networks, so it is read from the network itself.
pub(crate) const GWBRIDGE: &str = "docker_gwbridge";

/// What the engine says a container is, with only what may leave the agent: no
/// environment, command line, mounts or redacted labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    pub(crate) id: ContainerId,
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) image_id: String,
    pub(crate) state: ContainerState,
    pub(crate) created: Option<DateTime<Utc>>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) labels: BTreeMap<String, String>,
    /// Its Swarm service, task and stack, read before labels are redacted.
    pub(crate) swarm: SwarmTask,
    pub(crate) networks: BTreeMap<String, NetworkAddress>,
    /// The container whose network namespace this one runs in (`--network
    /// container:`), as the engine names it: by full ID, to which the engine
    /// resolves a name at create.
    pub(crate) joined_to: Option<String>,
    /// 0 when the container has no memory limit.
    pub(crate) memory_limit_bytes: u64,
    /// When the agent asked the engine.
    pub(crate) read_at: DateTime<Utc>,
}

/// What the engine's labels say of a container that is a Swarm task; all
/// `None` for any other container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SwarmTask {
    pub(crate) service: Option<String>,
    pub(crate) task: Option<String>,
    pub(crate) stack: Option<String>,
}

impl Record {
    /// What a container listing shows as well: if these agree with the listing, the
    /// record needs no fresh inspect.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint::new(
            self.state,
            &self.name,
            self.networks
                .values()
                .map(|network| network.ip_address.as_str()),
        )
    }

    /// Whether the container has resource use to sample.
    pub(crate) fn is_sampled(&self) -> bool {
        matches!(self.state, ContainerState::Running | ContainerState::Paused)
    }

    /// Whether the container is in its network namespace, or will be: it has not
    /// stopped. A joiner counts from its creation on: the agent learns of it at its
    /// `create` event, before it can be started (see [`Inventory::joining`]), while
    /// its `start` event may come after its first request.
    fn in_namespace(&self) -> bool {
        matches!(
            self.state,
            ContainerState::Created
                | ContainerState::Running
                | ContainerState::Paused
                | ContainerState::Restarting
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    state: ContainerState,
    name: String,
    addresses: Vec<String>,
}

impl Fingerprint {
    pub(crate) fn new<'a>(
        state: ContainerState,
        name: &str,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut addresses: Vec<String> = addresses
            .into_iter()
            .filter(|address| !address.is_empty())
            .map(str::to_owned)
            .collect();
        addresses.sort();
        Self {
            state,
            name: name.to_owned(),
            addresses,
        }
    }
}

/// A container in another's network namespace, as a listing shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Joiner {
    pub(crate) name: String,
    /// As in `--network container:<owner>`: the owner's full ID, to which the
    /// engine resolves a name at create.
    pub(crate) owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EngineHealth {
    Up,
    Down(String),
}

/// The `docker_gwbridge` legs, keyed by container, as of one read of that network.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GatewayLegs {
    pub(crate) legs: HashMap<ContainerId, NetworkAddress>,
    pub(crate) read_at: Option<DateTime<Utc>>,
}

/// A container listing and the records read because of it: everything the engine
/// had at `listed_at`.
pub(crate) struct Listing {
    pub(crate) listed_at: DateTime<Utc>,
    pub(crate) present: HashSet<ContainerId>,
    pub(crate) records: Vec<Record>,
    pub(crate) gateway_legs: GatewayLegs,
}

pub(crate) struct Inventory {
    node: String,
    state: RwLock<State>,
    /// Told whenever the picture may have changed, for the reporter of fleet
    /// mode to compare with what it last reported.
    changed: Notify,
}

struct State {
    engine: EngineHealth,
    containers: HashMap<ContainerId, Entry>,
    gateway_legs: GatewayLegs,
    addresses: AddressIndex,
    /// Containers the agent knows to run in another's network namespace before it
    /// has their record: see [`Inventory::joining`].
    joining: HashMap<ContainerId, Joiner>,
    /// Network namespaces that more than one container is in, by the container
    /// that owns each (its addresses are the namespace's): every container in it,
    /// the owner first.
    shared_namespaces: HashMap<ContainerId, Vec<ContainerId>>,
}

struct Entry {
    record: Record,
    /// Samples of the current run only: a restart starts the counters again.
    previous: Option<Sample>,
    latest: Option<Sample>,
}

impl Inventory {
    pub(crate) fn new(node: String) -> Self {
        Self {
            node,
            state: RwLock::new(State {
                engine: EngineHealth::Up,
                containers: HashMap::new(),
                gateway_legs: GatewayLegs::default(),
                addresses: AddressIndex::default(),
                joining: HashMap::new(),
                shared_namespaces: HashMap::new(),
            }),
            changed: Notify::new(),
        }
    }

    // A panic while holding the lock cannot leave the maps half-updated in a way
    // later reads would misreport, so a poisoned lock is still used.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The node every snapshot names.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    pub(crate) fn engine_health(&self) -> EngineHealth {
        self.read().engine.clone()
    }

    pub(crate) fn set_engine_health(&self, health: EngineHealth) {
        self.write().engine = health;
        self.changed.notify_one();
    }

    /// Notified after every change of containers or engine health (and after
    /// reads that changed nothing, which the reporter finds out).
    pub(crate) fn changed(&self) -> &Notify {
        &self.changed
    }

    pub(crate) fn container_count(&self) -> usize {
        self.read().containers.len()
    }

    /// Takes in what one inspect said, unless a later read already did.
    pub(crate) fn upsert(&self, record: Record) {
        let mut state = self.write();
        state.upsert(record);
        state.reindex();
        self.changed.notify_one();
    }

    pub(crate) fn remove(&self, id: &ContainerId) {
        let mut state = self.write();
        state.containers.remove(id);
        state.joining.remove(id);
        state.reindex();
        self.changed.notify_one();
    }

    /// A new container runs in another's network namespace, as a listing showed at
    /// its `create` event. The engine answers its inspect only once its start is
    /// over, and by then it may have called: until its record comes, it counts as
    /// in that namespace.
    pub(crate) fn joining(&self, id: ContainerId, joiner: Joiner) {
        let mut state = self.write();
        if !state.containers.contains_key(&id) {
            state.joining.insert(id, joiner);
            state.reindex();
        }
    }

    pub(crate) fn set_gateway_legs(&self, legs: GatewayLegs) {
        let mut state = self.write();
        state.set_gateway_legs(legs);
        state.reindex();
        self.changed.notify_one();
    }

    /// Brings the picture in line with a listing. A container the listing lacks is
    /// dropped only if the agent's record of it is older than the listing: one an
    /// event brought in meanwhile was created after the listing was taken.
    pub(crate) fn apply(&self, listing: Listing) {
        let mut state = self.write();
        for record in listing.records {
            state.upsert(record);
        }
        state.containers.retain(|id, entry| {
            listing.present.contains(id) || entry.record.read_at > listing.listed_at
        });
        state.set_gateway_legs(listing.gateway_legs);
        state.reindex();
        self.changed.notify_one();
    }

    /// What the agent knows of each container, to compare with a fresh listing.
    pub(crate) fn fingerprints(&self) -> HashMap<ContainerId, Fingerprint> {
        self.read()
            .containers
            .iter()
            .map(|(id, entry)| (id.clone(), entry.record.fingerprint()))
            .collect()
    }

    /// The containers whose resource use is worth sampling.
    pub(crate) fn sampled(&self) -> Vec<ContainerId> {
        self.read()
            .containers
            .iter()
            .filter(|(_, entry)| entry.record.is_sampled())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether the agent holds a record of `id` that says it runs.
    pub(crate) fn is_running(&self, id: &ContainerId) -> bool {
        self.read()
            .containers
            .get(id)
            .is_some_and(|entry| entry.record.state == ContainerState::Running)
    }

    /// Whether `id` runs and the agent has no stats reading of this run of it yet.
    pub(crate) fn lacks_sample(&self, id: &ContainerId) -> bool {
        self.read()
            .containers
            .get(id)
            .is_some_and(|entry| entry.record.is_sampled() && entry.latest.is_none())
    }

    pub(crate) fn add_sample(&self, id: &ContainerId, sample: Sample) {
        let mut state = self.write();
        let Some(entry) = state.containers.get_mut(id) else {
            return;
        };
        let from_this_run = entry
            .record
            .started_at
            .is_none_or(|started| sample.read_at >= started);
        let newer = entry
            .latest
            .as_ref()
            .is_none_or(|latest| sample.read_at > latest.read_at);
        if entry.record.is_sampled() && from_this_run && newer {
            entry.previous = entry.latest.replace(sample);
        }
    }

    pub(crate) fn owners(&self, ip: IpAddr) -> Vec<ContainerId> {
        self.read().addresses.owners(ip).to_vec()
    }

    /// The names of the containers in `owner`'s network namespace, `owner` first;
    /// empty when it has its namespace to itself.
    pub(crate) fn namespace_sharers(&self, owner: &ContainerId) -> Vec<String> {
        let state = self.read();
        let Some(sharers) = state.shared_namespaces.get(owner) else {
            return Vec::new();
        };
        let name = |id| match state.containers.get(id) {
            Some(entry) => Some(entry.record.name.clone()),
            None => state.joining.get(id).map(|joiner| joiner.name.clone()),
        };
        let mut names: Vec<String> = sharers.iter().filter_map(name).collect();
        names[1..].sort();
        names
    }

    /// A container by full ID, name, or unique ID prefix, in that order, as the
    /// docker CLI looks them up. `None` when nothing matches.
    pub(crate) fn resolve(&self, query: &str) -> Result<Option<ContainerId>, AgentError> {
        let state = self.read();
        let wanted = query.strip_prefix('/').unwrap_or(query);
        if let Ok(id) = ContainerId::parse(wanted)
            && state.containers.contains_key(&id)
        {
            return Ok(Some(id));
        }
        if let Some(id) = state
            .containers
            .values()
            .find(|entry| entry.record.name == wanted)
            .map(|entry| entry.record.id.clone())
        {
            return Ok(Some(id));
        }
        let prefix = wanted.to_ascii_lowercase();
        let mut candidates: Vec<ContainerId> = state
            .containers
            .keys()
            .filter(|id| id.as_str().starts_with(&prefix))
            .cloned()
            .collect();
        match candidates.len() {
            0 => Ok(None),
            1 => Ok(candidates.pop()),
            _ => {
                candidates.sort();
                Err(AgentError::AmbiguousContainer {
                    query: query.to_owned(),
                    candidates,
                })
            }
        }
    }

    pub(crate) fn snapshot(&self, id: &ContainerId) -> Option<Snapshot> {
        let state = self.read();
        state
            .containers
            .get(id)
            .map(|entry| state.snapshot(&self.node, entry))
    }

    /// Every container, by name.
    pub(crate) fn snapshots(&self) -> Vec<Snapshot> {
        let state = self.read();
        let mut all: Vec<Snapshot> = state
            .containers
            .values()
            .map(|entry| state.snapshot(&self.node, entry))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

impl State {
    fn upsert(&mut self, record: Record) {
        match self.containers.get_mut(&record.id) {
            Some(entry) if entry.record.read_at > record.read_at => {}
            Some(entry) => {
                let same_run = entry.record.started_at == record.started_at;
                if !(same_run && record.is_sampled()) {
                    entry.previous = None;
                    entry.latest = None;
                }
                entry.record = record;
            }
            None => {
                self.containers.insert(
                    record.id.clone(),
                    Entry {
                        record,
                        previous: None,
                        latest: None,
                    },
                );
            }
        }
    }

    fn set_gateway_legs(&mut self, legs: GatewayLegs) {
        if legs.read_at >= self.gateway_legs.read_at {
            self.gateway_legs = legs;
        }
    }

    /// A container's networks, with its `docker_gwbridge` leg among them.
    fn networks(&self, entry: &Entry) -> BTreeMap<String, NetworkAddress> {
        let mut networks = entry.record.networks.clone();
        if let Some(leg) = self.gateway_legs.legs.get(&entry.record.id) {
            networks
                .entry(GWBRIDGE.to_owned())
                .or_insert_with(|| leg.clone());
        }
        networks
    }

    fn reindex(&mut self) {
        let networks: Vec<_> = self
            .containers
            .values()
            .map(|entry| (&entry.record.id, self.networks(entry)))
            .collect();
        let index = AddressIndex::build(
            networks
                .iter()
                .map(|(id, networks)| (*id, networks.values())),
        );
        self.addresses = index;
        let containers = &self.containers;
        self.joining.retain(|id, _| !containers.contains_key(id));
        self.shared_namespaces = self.find_shared_namespaces();
    }

    /// What [`State::shared_namespaces`] holds. Every joiner that has not stopped counts,
    /// and every one still [`joining`](Inventory::joining). A joiner may have joined
    /// a joiner: the chain is followed to the owner. A joiner whose owner the agent
    /// does not hold (removed, leaving the joiner without a network) shares no one's
    /// addresses.
    fn find_shared_namespaces(&self) -> HashMap<ContainerId, Vec<ContainerId>> {
        let by_name: HashMap<&str, &ContainerId> = self
            .containers
            .values()
            .map(|entry| (entry.record.name.as_str(), &entry.record.id))
            .collect();
        let resolve = |reference: &str| {
            let id = match ContainerId::parse(reference) {
                Ok(id) => id,
                Err(_) => (*by_name.get(reference)?).clone(),
            };
            self.containers.get(&id).map(|entry| &entry.record)
        };
        let recorded = self
            .containers
            .values()
            .map(|entry| &entry.record)
            .filter(|record| record.in_namespace())
            .filter_map(|record| Some((&record.id, record.joined_to.as_deref()?)));
        let joining = self
            .joining
            .iter()
            .map(|(id, joiner)| (id, joiner.owner.as_str()));
        let mut shared: HashMap<ContainerId, Vec<ContainerId>> = HashMap::new();
        for (joiner, reference) in recorded.chain(joining) {
            let mut owner = resolve(reference);
            // At most one step per container: a loop, which the engine never makes,
            // ends here rather than spinning.
            for _ in 0..self.containers.len() {
                match owner.and_then(|record| record.joined_to.as_deref()) {
                    Some(next) => owner = resolve(next),
                    None => break,
                }
            }
            if let Some(owner) = owner.filter(|record| record.joined_to.is_none()) {
                shared
                    .entry(owner.id.clone())
                    .or_insert_with(|| vec![owner.id.clone()])
                    .push(joiner.clone());
            }
        }
        shared
    }

    fn snapshot(&self, node: &str, entry: &Entry) -> Snapshot {
        let record = &entry.record;
        let stats = entry
            .latest
            .as_ref()
            .filter(|_| record.is_sampled())
            .map(|latest| {
                stats::to_wire(entry.previous.as_ref(), latest, record.memory_limit_bytes)
            });
        let observed_at = entry
            .latest
            .as_ref()
            .map_or(record.read_at, |latest| latest.read_at.max(record.read_at));
        Snapshot {
            id: record.id.clone(),
            name: record.name.clone(),
            image: record.image.clone(),
            image_id: record.image_id.clone(),
            node: node.to_owned(),
            service: record.swarm.service.clone(),
            task: record.swarm.task.clone(),
            stack: record.swarm.stack.clone(),
            state: record.state,
            created: record.created,
            started_at: record.started_at,
            labels: record.labels.clone(),
            networks: self.networks(entry),
            stats,
            observed_at,
            attestation: None,
            extra: Default::default(),
        }
    }
}
