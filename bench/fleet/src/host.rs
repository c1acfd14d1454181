//! A simulated Docker host: Swarm tasks shaped as the agent reads them from
//! the engine (a task's labels, one or two overlay networks, stats), and what
//! changes between two resyncs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use container_info_wire::{ContainerId, ContainerState, NetworkAddress, Snapshot, Stats};

/// Services per stack: the containers of a host are tasks of these.
const SERVICES: u32 = 12;
const STACK: &str = "shop";

pub(crate) struct Host {
    pub(crate) node: String,
    containers: Vec<Snapshot>,
    rng: fastrand::Rng,
}

impl Host {
    /// Host `index` of the fleet, its containers all running.
    pub(crate) fn new(index: u32, containers: u32, now: DateTime<Utc>) -> Self {
        let node = format!("fleet-node-{index:05}");
        let node_id = swarm_id(u64::from(index));
        let containers = (0..containers)
            .map(|n| task(&node, &node_id, index, n, now))
            .collect();
        Self {
            node,
            containers,
            rng: fastrand::Rng::with_seed(u64::from(index)),
        }
    }

    /// Every container as a resync reports it: read now, with fresh stats for
    /// those that run.
    pub(crate) fn resync(&mut self, now: DateTime<Utc>) -> Vec<Snapshot> {
        let mut out = Vec::with_capacity(self.containers.len());
        for snapshot in &self.containers {
            let mut fresh = snapshot.clone();
            fresh.observed_at = now;
            if fresh.state == ContainerState::Running {
                fresh.stats = Some(stats(&mut self.rng));
            }
            out.push(fresh);
        }
        out
    }

    /// One change of state, as an engine event brings it: a running container
    /// exits, or an exited one starts again.
    pub(crate) fn change(&mut self, now: DateTime<Utc>) -> Snapshot {
        let n = self.rng.usize(..self.containers.len());
        let snapshot = &mut self.containers[n];
        if snapshot.state == ContainerState::Running {
            snapshot.state = ContainerState::Exited;
            snapshot.stats = None;
        } else {
            snapshot.state = ContainerState::Running;
            snapshot.started_at = Some(now);
            snapshot.stats = Some(stats(&mut self.rng));
        }
        snapshot.observed_at = now;
        snapshot.clone()
    }
}

/// Container `n` of host `host`: a task of one of the stack's services, with
/// the labels Swarm puts on a task and an image's own labels.
fn task(node: &str, node_id: &str, host: u32, n: u32, now: DateTime<Utc>) -> Snapshot {
    let seed = (u64::from(host) << 32) | u64::from(n);
    let id = ContainerId::parse(&(0..4).map(|k| hex16(seed * 4 + k)).collect::<String>())
        .expect("64 hex digits");
    let service_number = n % SERVICES;
    let service = format!("{STACK}_svc{service_number}");
    let slot = n / SERVICES + 1;
    let task_id = swarm_id(seed ^ 0x5eed);
    let task_name = format!("{service}.{slot}.{task_id}");
    let image = format!("registry.example.com/{STACK}/svc{service_number}:1.4.{n}");
    let labels = BTreeMap::from([
        ("com.docker.stack.namespace".into(), STACK.into()),
        ("com.docker.swarm.node.id".into(), node_id.into()),
        (
            "com.docker.swarm.service.id".into(),
            swarm_id(u64::from(service_number)),
        ),
        ("com.docker.swarm.service.name".into(), service.clone()),
        ("com.docker.swarm.task".into(), String::new()),
        ("com.docker.swarm.task.id".into(), task_id),
        ("com.docker.swarm.task.name".into(), task_name.clone()),
        (
            "org.opencontainers.image.created".into(),
            "2026-11-20T08:12:44Z".into(),
        ),
        (
            "org.opencontainers.image.revision".into(),
            // A git commit: 40 hex digits.
            (hex16(u64::from(service_number)) + &hex16(7) + &hex16(8))[..40].to_owned(),
        ),
        (
            "org.opencontainers.image.source".into(),
            format!("https://git.example.com/{STACK}/svc{service_number}"),
        ),
        (
            "org.opencontainers.image.version".into(),
            format!("1.4.{n}"),
        ),
    ]);
    let mut networks = BTreeMap::from([(
        format!("{STACK}_default"),
        NetworkAddress {
            ip_address: format!("10.0.{}.{}", host % 250, n % 250 + 2),
            ipv6_address: String::new(),
            gateway: String::new(),
        },
    )]);
    // Services that publish a port are on the ingress network too.
    if service_number < 3 {
        networks.insert(
            "ingress".into(),
            NetworkAddress {
                ip_address: format!("10.255.{}.{}", host % 250, n % 250 + 2),
                ipv6_address: String::new(),
                gateway: String::new(),
            },
        );
    }
    Snapshot {
        id,
        name: task_name.clone(),
        image,
        image_id: format!(
            "sha256:{}",
            (0..4).map(|k| hex16(seed + k)).collect::<String>()
        ),
        node: node.to_owned(),
        service: Some(service),
        task: Some(task_name),
        stack: Some(STACK.into()),
        state: ContainerState::Running,
        created: Some(now),
        started_at: Some(now),
        labels,
        networks,
        stats: None,
        observed_at: now,
        attestation: None,
        extra: Default::default(),
    }
}

/// How a running container is doing, with the spread of real readings.
fn stats(rng: &mut fastrand::Rng) -> Stats {
    Stats {
        cpu_percent: rng.f64() * 40.0,
        memory_usage_bytes: rng.u64(20_000_000..900_000_000),
        memory_limit_bytes: 1_073_741_824,
        network_rx_bytes: rng.u64(1_000..50_000_000_000),
        network_tx_bytes: rng.u64(1_000..50_000_000_000),
        pids: rng.u64(1..64),
    }
}

/// 16 hex digits, spread so that neighbouring numbers differ everywhere.
fn hex16(n: u64) -> String {
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", x ^ (x >> 31))
}

/// A Swarm object ID: 25 characters of lowercase letters and digits.
fn swarm_id(n: u64) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = fastrand::Rng::with_seed(n);
    (0..25)
        .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_of_the_fleet_has_an_id_of_its_own() {
        let now = Utc::now();
        let mut ids = std::collections::HashSet::new();
        for host in 0..20 {
            for snapshot in Host::new(host, 60, now).resync(now) {
                assert!(ids.insert(snapshot.id.clone()), "{}", snapshot.id);
            }
        }
    }

    #[test]
    fn a_change_stops_or_starts_one_container_and_the_resync_says_so() {
        let now = Utc::now();
        let mut host = Host::new(3, 5, now);
        let changed = host.change(now);
        assert_eq!(changed.state, ContainerState::Exited);
        assert_eq!(changed.stats, None);
        let resync = host.resync(now);
        let same = resync.iter().find(|s| s.id == changed.id).unwrap();
        assert_eq!(same.state, ContainerState::Exited);
        assert_eq!(resync.iter().filter(|s| s.stats.is_some()).count(), 4);
    }
}
