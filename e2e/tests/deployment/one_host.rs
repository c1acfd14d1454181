//! The deployment, for real, on this host's Docker Engine: the provisioning
//! scripts run as the Vagrant VMs run them (one node being both server and
//! client), then the agent reporting the node's containers by itself (fleet
//! mode, the deployment's default), a person's session through the installed
//! `container-info` wrapper, the store's three replicas seen from the host,
//! and a rolling restart that must lose nothing. Everything it made is removed at the end,
//! also when it fails.
//!
//! The one difference from a real swarm: this kernel has no IPVS, so the store
//! is deployed with docker_server/stack.host-network.yml over the stack file
//! (host networking and SO_REUSEPORT instead of the ingress routing mesh).

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::helpers::*;

#[test]
fn provisioned_on_one_node_the_whole_system_works() {
    let Some(engine) = Engine::connect() else {
        return;
    };
    engine.refuse_if_in_use();
    let started = Instant::now();
    let deployment = Deployment::provision(&engine);
    eprintln!("==> e2e: provisioned in {:.0?}", started.elapsed());
    let store = Store::on_this_host();
    let replicas = store_replicas();
    assert_eq!(replicas.len(), 3, "three replicas run: {replicas:?}");
    // What the store's replicas and the agent run with, as the engine set
    // them up and as the kernel sees every thread (docker_server/stack.yml,
    // provision/client.sh); the store sets no_new_privs on itself.
    for container in replicas.iter().map(String::as_str).chain([AGENT_CONTAINER]) {
        let confinement = Confinement::of(container);
        confinement.assert_hardened();
        confinement.assert_no_capabilities();
    }
    // With the root file system read-only, the readiness probe still writes
    // its row: the database and everything beside it are on the volume.
    let ready = store.request("GET", "/readyz", None);
    assert_eq!(ready.status, 200, "/readyz: {}", ready.body);

    // Fleet mode, on by default: the agent reports every container of its
    // node, the store's replicas and itself among them, without anyone
    // posting; signed, so the store takes them without the token, as
    // attested by the node.
    let node = node_name();
    // It reports to the server's address on port 5001, and keeps its outbox
    // on the deployment's named volume.
    let reporting = docker([
        "inspect",
        "--format",
        "{{.Id}} {{json .Config.Env}} {{json .Mounts}}",
        AGENT_CONTAINER,
    ]);
    let address = deployment.setting("CONTAINER_INFO_SERVER_IP");
    assert!(
        reporting.contains(&format!("CONTAINER_INFO_REPORT_TO=http://{address}:5001"))
            && reporting.contains("container-info-agent-outbox"),
        "the agent reports to the store and has its outbox's volume: {reporting}"
    );
    let inventoried = replica_and_agent_ids();
    let reported = eventually(
        "the agent to report the replicas and itself",
        Duration::from_secs(60),
        || {
            let held = by_id(store.containers_where(&format!("node={node}")));
            inventoried
                .iter()
                .all(|id| held.contains_key(id))
                .then_some(held)
        },
    );
    for id in &inventoried {
        let record = &reported[id];
        assert_eq!(
            record["attested_by"],
            node.as_str(),
            "reported by the agent: {record}"
        );
        assert!(
            replicas.contains(
                &record["received_by"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            ),
            "taken by a replica {replicas:?}: {record}"
        );
    }

    // A person on the client node: `container-info`, then post, get, exit.
    let mut prompt = Prompt::open(deployment.command(deployment.wrapper()));
    let clients = client_containers();
    let [client] = &clients[..] else {
        panic!("one client container runs while the prompt is open: {clients:?}");
    };
    // The wrapper takes away what would let a container pass for a neighbour.
    let hardening = docker([
        "inspect",
        "--format",
        "{{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}}",
        client,
    ]);
    assert!(
        hardening.contains("NET_RAW") && hardening.contains("no-new-privileges"),
        "the client runs without NET_RAW and with no-new-privileges: {hardening}"
    );
    Confinement::of(client).assert_hardened();
    let posted = prompt.enter("post");
    // The one file the client writes, the prompt's history, has its tmpfs.
    assert!(
        !posted.contains("history not saved"),
        "the prompt keeps its history on a read-only root file system:\n{posted}"
    );
    assert_eq!(
        field(&posted, "ID"),
        Some(client.as_str()),
        "`post` stores the container it runs in:\n{posted}"
    );
    let received_by = field(&posted, "Replica")
        .unwrap_or_else(|| panic!("`post` names the replica that took it:\n{posted}"))
        .to_owned();
    assert!(
        replicas.contains(&received_by),
        "`post` was received by {received_by:?}, which is none of the replicas {replicas:?}"
    );
    let listed = prompt.enter("get");
    assert!(
        listed.contains("CONTAINER ID") && listed.contains(&client[..12]),
        "`get` lists the client container {}:\n{listed}",
        &client[..12]
    );
    prompt.exit();
    eventually(
        "the client container to go (docker run --rm)",
        Duration::from_secs(30),
        || client_containers().is_empty().then_some(()),
    );

    // Anyone on the host: curl on port 5001 has the prompt's post in the
    // container's history, as the replica stored it; the agent signed it, and
    // the store, which has the key, says so.
    let history = store.history(client);
    assert!(
        history
            .iter()
            .any(|record| record["received_by"] == received_by.as_str()
                && record["state"] == "running"
                && record["attested_by"] == node.as_str()),
        "the history of {client} holds the prompt's post, taken by {received_by}, \
         attested by {node}: {history:#?}"
    );
    // The agent reported the client container's removal (docker run --rm)
    // by itself: it leaves the default list and is listed as removed.
    let removed = eventually(
        "the agent to report the client container removed",
        Duration::from_secs(60),
        || {
            store
                .containers_where(&format!("node={node}&state=removed"))
                .into_iter()
                .find(|record| record["id"] == client.as_str())
        },
    );
    assert_eq!(removed["attested_by"], node.as_str(), "{removed}");
    assert!(
        !store
            .containers_where(&format!("node={node}"))
            .iter()
            .any(|record| record["id"] == client.as_str()),
        "a removed container leaves the default list"
    );

    // `ping` through the wrapper lists the three replicas sharing port 5001,
    // from their roll call, with one leader.
    let ping = deployment
        .command(deployment.wrapper())
        .args(["ping", "--json"])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "ping: {}{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );
    let listed: BTreeSet<String> = assert_roll_call(&ping.stdout, 3).into_iter().collect();
    assert_eq!(
        listed,
        replicas.iter().cloned().collect::<BTreeSet<_>>(),
        "ping lists the replicas that run"
    );

    // The kernel spreads new connections over the three replicas sharing port 5001.
    let answered = replicas_answering(&store, 30, 150);
    assert_eq!(
        answered,
        replicas.iter().cloned().collect::<BTreeSet<_>>(),
        "requests from the host are answered by all three replicas"
    );

    // A rolling restart of the store (start-first, one task at a time) loses
    // nothing stored before it: the client's record, 10 more posted one a
    // request as clients post, each on a new connection (so to any replica),
    // and an array of 20 in one request, a transaction big enough that SQLite
    // spills its statement journal: the image has no writable temp folder, so
    // the store must keep it in memory.
    let mut singles = snapshots(30);
    let array = singles.split_off(10);
    // The store has a token: what no agent signed needs it.
    let unsigned = singles[0].to_string();
    let refused = store.request("POST", "/containers", Some(&unsigned));
    assert_eq!(
        refused.status, 401,
        "an unsigned post without the token: {}",
        refused.body
    );
    let unsigned_id = singles[0]["id"].as_str().unwrap();
    let absent = store.request("GET", &format!("/containers/{unsigned_id}"), None);
    assert_eq!(
        absent.status, 404,
        "a refused post stores nothing: {absent:?}"
    );
    let store = store.with_token(&deployment.token());
    for snapshot in singles {
        let answer = store.request("POST", "/containers", Some(&snapshot.to_string()));
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let answer = store.request(
        "POST",
        "/containers",
        Some(&Value::Array(array).to_string()),
    );
    assert_eq!(answer.status, 201, "an array of 20: {}", answer.body);
    // What nobody but the test writes: the 30 of a made-up node, and the
    // client's history (the agent reports on, its containers change, but the
    // client is gone).
    let made_up = format!("node={MADE_UP_NODE}");
    let before = by_id(store.containers_where(&made_up));
    assert_eq!(before.len(), 30, "30 posted with the token");
    let history_before = store.history(client);
    let restarting = Instant::now();
    docker(ROLLING_RESTART);
    eprintln!("==> e2e: rolling restart took {:.0?}", restarting.elapsed());
    let restarted = eventually("three new replicas", Duration::from_secs(120), || {
        let now = store_replicas();
        (now.len() == 3 && now.iter().all(|replica| !replicas.contains(replica))).then_some(now)
    });
    let after = by_id(eventually(
        "the store to answer after the restart",
        Duration::from_secs(60),
        || {
            let answer = store.try_request("GET", "/containers?limit=1000", None)?;
            (answer.status == 200).then(|| store.containers_where(&made_up))
        },
    ));
    for (id, record) in &before {
        assert_eq!(
            after.get(id),
            Some(record),
            "{id} is stored as before the rolling restart"
        );
    }
    assert_eq!(after.len(), before.len(), "nothing new appeared either");
    let history_after = store.history(client);
    for record in &history_before {
        assert!(
            history_after.contains(record),
            "the client's history keeps {record} through the rolling restart"
        );
    }
    let answered = replicas_answering(&store, 30, 150);
    assert_eq!(
        answered,
        restarted.iter().cloned().collect::<BTreeSet<_>>(),
        "after the restart, the three new replicas answer"
    );

    // The agent reports its node too (POST /nodes, signed, once an interval):
    // the store lists it `up`.
    assert_nodes_up(&store, &[node.as_str()]);

    // Reporting turned off (CONTAINER_INFO_REPORT=off) and the node
    // provisioned again: a new agent, without a store to report to or an
    // outbox, which still answers /self through the wrapper.
    deployment.provision_again("provision/client.sh", &[("CONTAINER_INFO_REPORT", "off")]);
    let quiet = docker([
        "inspect",
        "--format",
        "{{.Id}} {{json .Config.Env}} {{json .Mounts}}",
        AGENT_CONTAINER,
    ]);
    assert_ne!(
        quiet.split(' ').next(),
        reporting.split(' ').next(),
        "the agent is replaced when its options change"
    );
    assert!(
        !quiet.contains("CONTAINER_INFO_REPORT_TO")
            && !quiet.contains("container-info-agent-outbox"),
        "the agent reports nothing: {quiet}"
    );
    let whoami = deployment
        .command(deployment.wrapper())
        .args(["whoami", "--json"])
        .output()
        .unwrap();
    assert!(
        whoami.status.success(),
        "whoami with reporting off: {}",
        String::from_utf8_lossy(&whoami.stderr)
    );
    let me: Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(me["node"], node.as_str(), "{me}");

    deployment.tear_down();
    eprintln!("==> e2e: the whole test took {:.0?}", started.elapsed());
}

/// The `X-Replica` of at least `least` requests, each on a new connection, going
/// on (up to `most`) until three distinct replicas have answered.
fn replicas_answering(store: &Store, least: usize, most: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for made in 1..=most {
        // Right after a rolling restart an old task may still be closing: a
        // refused connection is tried again, any answer must be a good one.
        let Some(answer) = store.try_request("GET", "/containers?limit=1", None) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        assert_eq!(answer.status, 200, "{answer:?}");
        seen.insert(answer.replica.expect("every answer names its replica"));
        if made >= least && seen.len() >= 3 {
            break;
        }
    }
    seen
}

/// Records by their container ID.
fn by_id(records: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    records
        .into_iter()
        .map(|record| (record["id"].as_str().expect("an id").to_owned(), record))
        .collect()
}

/// The node of the made-up snapshots, which no agent reports.
const MADE_UP_NODE: &str = "e2e-node";

/// `count` snapshots of made-up containers, unique to this run.
fn snapshots(count: u64) -> Vec<Value> {
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let at = "2026-11-24T10:00:00Z";
    (0..count)
        .map(|n| {
            json!({
                "id": format!("{run:016x}{n:048x}"),
                "name": format!("e2e-{n}"),
                "image": "e2e:latest",
                "node": MADE_UP_NODE,
                "state": "running",
                "observed_at": at,
            })
        })
        .collect()
}
