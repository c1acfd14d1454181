//! From the engine's answers to the agent's own types. Everything that must never
//! leave the agent (environment, command line, mounts, redacted labels) is dropped here.

use std::collections::HashMap;

use bollard::models::{
    ContainerInspectResponse, ContainerStatsResponse, ContainerSummary, EndpointSettings,
    NetworkInspect,
};
use chrono::{DateTime, Datelike, Utc};
use container_info_wire::{ContainerId, ContainerState, NetworkAddress};

use crate::inventory::{Fingerprint, GatewayLegs, Joiner, Record, SwarmTask};
use crate::redaction::LabelRedactor;
use crate::stats::Sample;

/// The engine writes `0001-01-01T00:00:00Z` for "never" (a container not yet started).
fn engine_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(raw?).ok()?;
    (parsed.year() > 1).then(|| parsed.with_timezone(&Utc))
}

fn state(raw: Option<String>) -> Result<ContainerState, String> {
    let raw = raw.unwrap_or_default();
    raw.parse()
        .map_err(|error| format!("container state {raw:?}: {error}"))
}

fn address(endpoint: &EndpointSettings) -> NetworkAddress {
    NetworkAddress {
        ip_address: endpoint.ip_address.clone().unwrap_or_default(),
        ipv6_address: endpoint.global_ipv6_address.clone().unwrap_or_default(),
        gateway: endpoint.gateway.clone().unwrap_or_default(),
    }
}

pub(crate) fn record(
    inspect: ContainerInspectResponse,
    redactor: &LabelRedactor,
    read_at: DateTime<Utc>,
) -> Result<Record, String> {
    let raw_id = inspect.id.unwrap_or_default();
    let id =
        ContainerId::parse(&raw_id).map_err(|error| format!("container id {raw_id:?}: {error}"))?;
    let config = inspect.config.unwrap_or_default();
    let engine_state = inspect.state.unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let swarm = swarm_task(&labels);
    let labels = labels
        .into_iter()
        .filter(|(key, _)| !redactor.is_redacted(key))
        .collect();
    let networks = inspect
        .network_settings
        .and_then(|settings| settings.networks)
        .unwrap_or_default()
        .iter()
        .map(|(name, endpoint)| (name.clone(), address(endpoint)))
        .collect();
    let name = inspect.name.unwrap_or_default();
    let host_config = inspect.host_config.unwrap_or_default();
    Ok(Record {
        name: name.strip_prefix('/').unwrap_or(&name).to_owned(),
        image: config.image.unwrap_or_default(),
        image_id: inspect.image.unwrap_or_default(),
        state: state(engine_state.status.map(|status| status.to_string()))?,
        created: engine_time(inspect.created.as_deref()),
        started_at: engine_time(engine_state.started_at.as_deref()),
        labels,
        swarm,
        networks,
        joined_to: joined_to(host_config.network_mode.as_deref()),
        memory_limit_bytes: host_config
            .memory
            .and_then(|limit| u64::try_from(limit).ok())
            .unwrap_or(0),
        read_at,
        id,
    })
}

/// The labels the engine sets on a Swarm task's container. A container of
/// `docker stack deploy` has the stack's too.
fn swarm_task(labels: &HashMap<String, String>) -> SwarmTask {
    let label = |key: &str| labels.get(key).filter(|value| !value.is_empty()).cloned();
    SwarmTask {
        service: label("com.docker.swarm.service.name"),
        task: label("com.docker.swarm.task.name"),
        stack: label("com.docker.stack.namespace"),
    }
}

/// The container named by a `container:<ID or name>` network mode.
fn joined_to(network_mode: Option<&str>) -> Option<String> {
    network_mode?.strip_prefix("container:").map(str::to_owned)
}

/// A listing entry's own name: legacy links add names such as `/other/alias`; the
/// container's own has one slash.
fn own_name(summary: &ContainerSummary) -> &str {
    summary
        .names
        .iter()
        .flatten()
        .find(|name| name.matches('/').count() == 1)
        .map_or("", |name| name.trim_start_matches('/'))
}

/// A listing entry of a container in another's network namespace.
pub(crate) fn joiner(summary: &ContainerSummary) -> Option<Joiner> {
    let mode = summary.host_config.as_ref()?.network_mode.as_deref();
    Some(Joiner {
        name: own_name(summary).to_owned(),
        owner: joined_to(mode)?,
    })
}

/// The part of a listing entry to compare with a held [`Record`].
pub(crate) fn fingerprint(
    summary: &ContainerSummary,
) -> Result<(ContainerId, Fingerprint), String> {
    let raw_id = summary.id.as_deref().unwrap_or_default();
    let id =
        ContainerId::parse(raw_id).map_err(|error| format!("container id {raw_id:?}: {error}"))?;
    let name = own_name(summary);
    let networks = summary
        .network_settings
        .as_ref()
        .and_then(|settings| settings.networks.as_ref());
    let addresses = networks
        .into_iter()
        .flatten()
        .filter_map(|(_, endpoint)| endpoint.ip_address.as_deref());
    let state = state(summary.state.map(|state| state.to_string()))?;
    Ok((id, Fingerprint::new(state, name, addresses)))
}

/// The `docker_gwbridge` network's endpoints that belong to containers.
pub(crate) fn gateway_legs(network: NetworkInspect, read_at: DateTime<Utc>) -> GatewayLegs {
    GatewayLegs {
        legs: endpoints(network),
        read_at: Some(read_at),
    }
}

/// A network's endpoints that belong to containers, by container. A network also
/// lists sandboxes that are no container (`ingress-sbox`, `lb-…`); those are skipped.
pub(crate) fn endpoints(network: NetworkInspect) -> HashMap<ContainerId, NetworkAddress> {
    let gateway = network
        .ipam
        .and_then(|ipam| ipam.config)
        .into_iter()
        .flatten()
        .find_map(|config| config.gateway.filter(|gateway| !gateway.is_empty()))
        .unwrap_or_default();
    let without_prefix = |cidr: Option<String>| {
        let cidr = cidr.unwrap_or_default();
        cidr.split_once('/')
            .map_or(cidr.clone(), |(address, _)| address.to_owned())
    };
    network
        .containers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, endpoint)| {
            let id = ContainerId::parse(&key).ok()?;
            Some((
                id,
                NetworkAddress {
                    ip_address: without_prefix(endpoint.ipv4_address),
                    ipv6_address: without_prefix(endpoint.ipv6_address),
                    gateway: gateway.clone(),
                },
            ))
        })
        .collect()
}

/// One stats reading; `None` when the engine had nothing to read (a container that
/// stopped meanwhile is reported with the zero time).
pub(crate) fn sample(stats: ContainerStatsResponse) -> Option<Sample> {
    let read_at = engine_time(stats.read.as_deref())?;
    let cpu = stats.cpu_stats.unwrap_or_default();
    let usage = cpu.cpu_usage.unwrap_or_default();
    // Engines before API 1.27 do not send online_cpus; the per-CPU list has one entry each.
    let online_cpus = cpu.online_cpus.filter(|&n| n > 0).unwrap_or_else(|| {
        usage.percpu_usage.as_ref().map_or(0, |per_cpu| {
            u32::try_from(per_cpu.len()).unwrap_or(u32::MAX)
        })
    });
    let memory = stats.memory_stats.unwrap_or_default();
    let networks = stats.networks.unwrap_or_default();
    Some(Sample {
        read_at,
        cpu_total_ns: usage.total_usage.unwrap_or(0),
        system_total_ns: cpu.system_cpu_usage.unwrap_or(0),
        online_cpus,
        memory_usage_bytes: memory_in_use(
            memory.usage.unwrap_or(0),
            memory.stats.as_ref().unwrap_or(&HashMap::new()),
        ),
        network_rx_bytes: networks.values().filter_map(|n| n.rx_bytes).sum(),
        network_tx_bytes: networks.values().filter_map(|n| n.tx_bytes).sum(),
        pids: stats.pids_stats.and_then(|pids| pids.current).unwrap_or(0),
    })
}

/// Memory in use as `docker stats` shows it: page cache that the kernel can drop at
/// once (inactive files) does not count.
fn memory_in_use(usage: u64, details: &HashMap<String, u64>) -> u64 {
    // cgroup v1 names it total_inactive_file, cgroup v2 inactive_file.
    let inactive = details
        .get("total_inactive_file")
        .or_else(|| details.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    if inactive < usage {
        usage - inactive
    } else {
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, Listing};
    use crate::stats::cpu_percent;
    use std::net::IpAddr;

    // Recorded on this project's test machine (Docker 20.10, API 1.41, cgroup v1):
    // fx-a on the default bridge with an env secret and two labels, fx-b on a
    // user-defined bridge, fx-c created and never started, fx-o on an attachable
    // overlay of a one-node swarm, and docker_gwbridge with fx-o's leg on it.
    const FX_A: &str = include_str!("../../tests/fixtures/inspect_fx-a.json");
    const FX_B: &str = include_str!("../../tests/fixtures/inspect_fx-b.json");
    const FX_C: &str = include_str!("../../tests/fixtures/inspect_fx-c.json");
    const FX_O: &str = include_str!("../../tests/fixtures/inspect_fx-o.json");
    const GWBRIDGE: &str = include_str!("../../tests/fixtures/network_docker_gwbridge.json");
    // Two one-shot samples, a second apart, of a container running a busy loop.
    const BUSY_FIRST: &str = include_str!("../../tests/fixtures/stats_busy_first.json");
    const BUSY_SECOND: &str = include_str!("../../tests/fixtures/stats_busy_second.json");

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn no_redaction() -> LabelRedactor {
        LabelRedactor::new(&[]).unwrap()
    }

    fn recorded(json: &str) -> Record {
        record(serde_json::from_str(json).unwrap(), &no_redaction(), now()).unwrap()
    }

    fn recorded_sample(json: &str) -> Sample {
        sample(serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn inspect_gives_name_image_state_and_networks_without_env() {
        let a = recorded(FX_A);
        assert_eq!(
            a.id.as_str(),
            "c8c05549a72eb7b31ba1113a61cea7c8c5d54fe472f6b7202c1109e9449c74df"
        );
        assert_eq!(a.name, "fx-a");
        assert_eq!(a.image, "ci-fixture-probe:1");
        assert!(a.image_id.starts_with("sha256:3352d3019cab"));
        assert_eq!(a.state, ContainerState::Running);
        assert_eq!(
            a.started_at.unwrap().to_rfc3339(),
            "2026-11-24T11:51:50.256894080+00:00"
        );
        assert_eq!(a.memory_limit_bytes, 0);
        let bridge = &a.networks["bridge"];
        assert_eq!(
            (bridge.ip_address.as_str(), bridge.gateway.as_str()),
            ("172.17.0.2", "172.17.0.1")
        );
        assert_eq!(a.labels.len(), 2);
        let everything = format!("{a:?}");
        assert!(FX_A.contains("SECRET_TOKEN=hunter2"));
        assert!(!everything.contains("hunter2") && !everything.contains("SECRET_TOKEN"));
    }

    #[test]
    fn a_container_never_started_has_no_start_time() {
        let c = recorded(FX_C);
        assert_eq!(c.state, ContainerState::Created);
        assert_eq!(c.started_at, None);
        assert!(c.created.is_some());
        assert_eq!(c.networks["bridge"].ip_address, "");
    }

    #[test]
    fn redacted_labels_are_dropped_at_the_door() {
        let patterns = [globset::Glob::new("secret.*").unwrap()];
        let redactor = LabelRedactor::new(&patterns).unwrap();
        let a = record(serde_json::from_str(FX_A).unwrap(), &redactor, now()).unwrap();
        assert_eq!(a.labels.keys().collect::<Vec<_>>(), ["com.example.team"]);
    }

    #[test]
    fn cpu_percent_of_a_busy_loop_is_one_core() {
        let first = recorded_sample(BUSY_FIRST);
        let second = recorded_sample(BUSY_SECOND);
        // From the fixtures: container 3054405389 - 2040703552 = 1013701837 ns over
        // system 1470630000000 - 1468600000000 = 2030000000 ns, on 2 CPUs.
        let expected = 1013701837.0 / 2030000000.0 * 2.0 * 100.0;
        assert!((cpu_percent(&first, &second) - expected).abs() < 1e-9);
        assert!((99.0..=101.0).contains(&expected));
        // Reversed samples are a restart between them, not a negative load.
        assert_eq!(cpu_percent(&second, &first), 0.0);
        assert_eq!(cpu_percent(&second, &second), 0.0);
    }

    #[test]
    fn stats_sample_takes_memory_without_inactive_cache_and_sums_interfaces() {
        let second = recorded_sample(BUSY_SECOND);
        assert_eq!(second.memory_usage_bytes, 2183168 - 1601536);
        assert_eq!(second.network_rx_bytes, 516);
        assert_eq!(second.network_tx_bytes, 0);
        assert_eq!(second.pids, 1);
        assert_eq!(second.online_cpus, 2);
    }

    #[test]
    fn stats_of_a_stopped_container_are_no_sample() {
        let mut stopped: serde_json::Value = serde_json::from_str(BUSY_SECOND).unwrap();
        stopped["read"] = "0001-01-01T00:00:00Z".into();
        assert_eq!(sample(serde_json::from_value(stopped).unwrap()), None);
    }

    #[test]
    fn gwbridge_legs_are_keyed_by_container_and_skip_sandboxes() {
        let legs = gateway_legs(serde_json::from_str(GWBRIDGE).unwrap(), now());
        assert_eq!(legs.legs.len(), 1, "{:?}", legs.legs);
        let o = recorded(FX_O);
        let leg = &legs.legs[&o.id];
        assert_eq!(
            (leg.ip_address.as_str(), leg.gateway.as_str()),
            ("172.19.0.3", "172.19.0.1")
        );
    }

    /// The whole match, as `/self` does it, over recorded containers and gwbridge.
    #[test]
    fn each_address_finds_its_own_container_including_the_gwbridge_leg() {
        let containers = [
            recorded(FX_A),
            recorded(FX_B),
            recorded(FX_C),
            recorded(FX_O),
        ];
        let [a, b, _, o] = containers.clone().map(|record| record.id);
        let inventory = Inventory::new("node".into());
        inventory.apply(Listing {
            listed_at: now(),
            present: containers.iter().map(|c| c.id.clone()).collect(),
            records: containers.to_vec(),
            gateway_legs: gateway_legs(serde_json::from_str(GWBRIDGE).unwrap(), now()),
        });
        let owners = |ip: &str| inventory.owners(crate::peer::unmap(ip.parse::<IpAddr>().unwrap()));
        assert_eq!(owners("172.17.0.2"), [a]);
        assert_eq!(owners("::ffff:172.18.0.2"), [b]);
        assert_eq!(owners("172.19.0.3"), std::slice::from_ref(&o));
        assert_eq!(owners("10.0.1.2"), std::slice::from_ref(&o));
        // Gateways are the host, the ingress sandbox is no container, and fx-c has no address.
        for nobody in ["172.17.0.1", "172.19.0.1", "172.19.0.2", "127.0.0.1"] {
            assert!(owners(nobody).is_empty(), "{nobody}");
        }
        let snapshot = inventory.snapshot(&o).unwrap();
        assert_eq!(
            snapshot.networks["docker_gwbridge"].ip_address,
            "172.19.0.3"
        );
        assert_eq!(snapshot.networks["fx-overlay"].ip_address, "10.0.1.2");
    }

    /// What `/self` reads again rather than answer from: a record from before the
    /// container's start, and a running container without a stats reading.
    #[test]
    fn a_record_from_before_the_start_or_without_a_reading_is_incomplete() {
        let inventory = Inventory::new("node".into());
        let created = recorded(FX_C);
        inventory.upsert(created.clone());
        assert!(!inventory.is_running(&created.id));
        assert!(
            !inventory.lacks_sample(&created.id),
            "nothing to sample yet"
        );
        let running = recorded(FX_A);
        inventory.upsert(running.clone());
        assert!(inventory.is_running(&running.id));
        assert!(inventory.lacks_sample(&running.id));
        inventory.add_sample(&running.id, recorded_sample(BUSY_FIRST));
        assert!(!inventory.lacks_sample(&running.id));
        let stats = inventory.snapshot(&running.id).unwrap().stats.unwrap();
        assert!(stats.memory_usage_bytes > 0);
        assert_eq!(stats.cpu_percent, 0.0, "one reading measures no interval");
    }

    /// `--network container:` as the engine records it, the owner by full ID.
    fn joined(fixture: &str, owner: &ContainerId) -> Record {
        let mut inspect: serde_json::Value = serde_json::from_str(fixture).unwrap();
        inspect["HostConfig"]["NetworkMode"] = format!("container:{owner}").into();
        inspect["NetworkSettings"]["Networks"] = serde_json::json!({});
        record(
            serde_json::from_value(inspect).unwrap(),
            &no_redaction(),
            now(),
        )
        .unwrap()
    }

    #[test]
    fn a_namespace_is_shared_with_every_joiner_that_has_not_stopped() {
        let owner = recorded(FX_A);
        assert_eq!(owner.joined_to, None);
        let running = joined(FX_B, &owner.id);
        assert_eq!(running.joined_to.as_deref(), Some(owner.id.as_str()));
        // Created, not started yet, and joined to the joiner rather than the owner.
        let created = joined(FX_C, &running.id);
        let mut stopped = joined(FX_O, &owner.id);
        stopped.state = ContainerState::Exited;
        let inventory = Inventory::new("node".into());
        inventory.upsert(owner.clone());
        // Known from the listing at its `create` event, before its inspect answers.
        let listed = Joiner {
            name: "fx-b".into(),
            owner: owner.id.to_string(),
        };
        inventory.joining(running.id.clone(), listed);
        assert_eq!(inventory.namespace_sharers(&owner.id), ["fx-a", "fx-b"]);
        for record in [&running, &created, &stopped] {
            inventory.upsert(record.clone());
        }
        assert_eq!(
            inventory.namespace_sharers(&owner.id),
            ["fx-a", "fx-b", "fx-c"]
        );
        // The joiners have no addresses: a call from the namespace finds its owner.
        assert_eq!(
            inventory.owners("172.17.0.2".parse().unwrap()),
            std::slice::from_ref(&owner.id)
        );

        inventory.remove(&running.id);
        // fx-c's way to the owner went with fx-b: it shares no one's addresses now.
        assert!(inventory.namespace_sharers(&owner.id).is_empty());
        inventory.remove(&created.id);
        inventory.upsert(joined(FX_B, &owner.id));
        assert_eq!(inventory.namespace_sharers(&owner.id), ["fx-a", "fx-b"]);
        // Its `die`: the owner has its namespace to itself again.
        let mut exited = joined(FX_B, &owner.id);
        exited.state = ContainerState::Exited;
        inventory.upsert(exited);
        assert!(inventory.namespace_sharers(&owner.id).is_empty());
    }

    #[test]
    fn an_address_claimed_twice_has_both_owners() {
        let a = recorded(FX_A);
        let mut reused: serde_json::Value = serde_json::from_str(FX_B).unwrap();
        reused["NetworkSettings"]["Networks"]["fx-net"]["IPAddress"] = "172.17.0.2".into();
        let b = record(
            serde_json::from_value(reused).unwrap(),
            &no_redaction(),
            now(),
        )
        .unwrap();
        let inventory = Inventory::new("node".into());
        inventory.upsert(a.clone());
        inventory.upsert(b.clone());
        let mut owners = inventory.owners("172.17.0.2".parse().unwrap());
        owners.sort();
        let mut expected = [a.id, b.id];
        expected.sort();
        assert_eq!(owners, expected);
    }
}
