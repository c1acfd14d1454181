//! Fleet mode against real stores: the agent posts the host's containers to
//! each store of --report-to, keeps what a store has not taken in its outbox,
//! and delivers it once the store is back, also after a SIGKILL; it reports
//! its node alive, and only the containers --report-label selects.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use container_info_testkit::{
    Backend, TestStore, at, container_id, snapshot, spawn_guarded_store, spawn_store,
    spawn_store_with,
};
use container_info_wire::nodes::{Node, NodeStatus, Nodes};
use container_info_wire::{ContainerState, Page, StoredSnapshot};
use serde_json::Value;

use crate::binary::BINARY;
use crate::helpers::{
    ContainerSpec, EngineProxy, TestAgent, TestDocker, engine_socket, spawn_agent,
};

/// Generous for a loaded 2-core machine; every wait ends as soon as its
/// condition holds.
const WITHIN: Duration = Duration::from_secs(30);

/// Waits for `check` to give something, failing with `what` at the deadline.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WITHIN;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {WITHIN:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A loopback port nothing listens on now: a store that is down, until one
/// is started there.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every record the store holds of a container, in the order it received them.
async fn history(store: &TestStore, id: &str) -> Vec<StoredSnapshot> {
    let response = store
        .get(&format!("/containers/{id}/history?limit=1000"))
        .await;
    if response.status() == 404 {
        return Vec::new();
    }
    let page: Page<StoredSnapshot> = response.json().await.unwrap();
    let mut records = page.items;
    records.sort_by_key(|record| (record.received_at, record.snapshot.observed_at));
    records
}

/// Waits until the store's latest record of `id` is in `state`.
async fn wait_for_state(store: &TestStore, id: &str, state: ContainerState) -> Vec<StoredSnapshot> {
    wait_for(
        &format!("{id} {} in {}", state.as_str(), store.url),
        || async {
            let records = history(store, id).await;
            (records.last().map(|record| record.snapshot.state) == Some(state)).then_some(records)
        },
    )
    .await
}

fn states(records: &[StoredSnapshot]) -> Vec<ContainerState> {
    records.iter().map(|record| record.snapshot.state).collect()
}

/// Each record once, in the order the agent read them: nothing doubled, nothing
/// out of order.
fn assert_once_and_in_order(records: &[StoredSnapshot]) {
    let observed: Vec<_> = records.iter().map(|r| r.snapshot.observed_at).collect();
    assert!(observed.is_sorted(), "received out of order: {observed:?}");
    let distinct: HashSet<_> = observed.iter().collect();
    assert_eq!(distinct.len(), observed.len(), "doubled: {observed:?}");
}

async fn metric(agent: &TestAgent, name: &str) -> f64 {
    let text = agent.get("/metrics").await.body;
    text.lines()
        .filter(|line| line.starts_with(&format!("container_info_agent_{name}")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn two_stores_follow_the_hosts_containers_and_a_removed_one_arrives_once_as_removed() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let kept = docker.container(ContainerSpec::named("fleet-kept")).await;
    let gone = docker.container(ContainerSpec::named("fleet-gone")).await;
    let open = spawn_store(Backend::Sqlite).await;
    // This one takes writes only with a token or an agent's signature.
    let (guarded, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let outbox = tempfile::tempdir().unwrap();
    let _agent = spawn_agent(|config| {
        config.node_name = Some("fleet-node".into());
        config.signing_key_file = Some(secrets.key_file());
        config.report_to = vec![open.url.clone(), guarded.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
        config.report_interval = Duration::from_secs(1);
    })
    .await;

    for store in [&open, &guarded] {
        wait_for_state(store, &kept.id, ContainerState::Running).await;
        wait_for_state(store, &gone.id, ContainerState::Running).await;
    }
    // Taken without a token because the agent signed it.
    let records = history(&guarded, &gone.id).await;
    assert_eq!(records[0].attested_by.as_deref(), Some("fleet-node"));
    kept.stop().await;
    gone.remove().await;
    for store in [&open, &guarded] {
        wait_for_state(store, &kept.id, ContainerState::Exited).await;
        wait_for_state(store, &gone.id, ContainerState::Removed).await;
    }
    // Two resyncs later, the removal has been reported once, and the stopped
    // container's stop too, however many resyncs followed it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for store in [&open, &guarded] {
        let gone = history(store, &gone.id).await;
        let removals = states(&gone)
            .into_iter()
            .filter(|state| *state == ContainerState::Removed)
            .count();
        assert_eq!(removals, 1, "{:?}", states(&gone));
        assert_eq!(states(&gone).last(), Some(&ContainerState::Removed));
        let kept = history(store, &kept.id).await;
        assert!(kept.iter().all(|r| r.snapshot.node == "fleet-node"));
        assert_once_and_in_order(&kept);
        assert_once_and_in_order(&gone);
    }
}

#[tokio::test]
async fn a_store_that_is_down_gets_everything_once_back_and_the_other_is_not_held_up() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    // Worse than refusing: it takes connections and never answers, so each
    // post to it waits for its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let up = spawn_store(Backend::Sqlite).await;
    let outbox = tempfile::tempdir().unwrap();
    let _agent = spawn_agent(|config| {
        config.report_to = vec![format!("http://127.0.0.1:{port}"), up.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
        config.report_interval = Duration::from_secs(1);
    })
    .await;

    let container = docker.container(ContainerSpec::named("fleet-away")).await;
    wait_for_state(&up, &container.id, ContainerState::Running).await;
    container.stop().await;
    let stopped = Instant::now();
    wait_for_state(&up, &container.id, ContainerState::Exited).await;
    // Waiting on the silent store would take its 10 s post timeout.
    assert!(
        stopped.elapsed() < Duration::from_secs(8),
        "the store that answers heard of the stop only after {:?}",
        stopped.elapsed()
    );
    container.start().await;
    let seen = wait_for_state(&up, &container.id, ContainerState::Running).await;

    drop(silent);
    let back = spawn_store_with(Backend::Sqlite, |config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    let wanted: HashSet<_> = seen.iter().map(|r| r.snapshot.observed_at).collect();
    let delivered = wait_for(
        "everything the other store had, in the store that came back",
        || async {
            let records = history(&back, &container.id).await;
            let has: HashSet<_> = records.iter().map(|r| r.snapshot.observed_at).collect();
            has.is_superset(&wanted).then_some(records)
        },
    )
    .await;
    assert_once_and_in_order(&delivered);
    // Whether its `created` goes out on its own depends on how soon the start
    // follows the create event; what follows is the order of the changes.
    let changes: Vec<_> = states(&delivered)
        .into_iter()
        .skip_while(|state| *state == ContainerState::Created)
        .fold(Vec::new(), |mut changes, state| {
            if changes.last() != Some(&state) {
                changes.push(state);
            }
            changes
        });
    assert_eq!(
        changes,
        [
            ContainerState::Running,
            ContainerState::Exited,
            ContainerState::Running
        ]
    );
}

/// The snapshots waiting in an outbox folder (a folder per store inside it).
fn waiting(outbox: &Path) -> Vec<Value> {
    let mut snapshots = Vec::new();
    for store in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
        for batch in std::fs::read_dir(store.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if batch.path().extension().is_some_and(|ext| ext == "json") {
                let body = std::fs::read(batch.path()).unwrap_or_default();
                let items: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
                snapshots.extend(items);
            }
        }
    }
    snapshots
}

/// The agent's binary reporting to the store on `store_port`, with `args`
/// added. Without `--report-interval` among them, it reports only the start
/// and changes of state while it runs: no stats resyncs.
fn start_agent_process(store_port: u16, outbox: &Path, args: &[&str]) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--report-to", &format!("http://127.0.0.1:{store_port}")])
        .arg("--outbox")
        .arg(outbox)
        .args(args);
    if !args.contains(&"--report-interval") {
        command.args(["--report-interval", "1h"]);
    }
    command
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_sigkilled_agent_delivers_its_outbox_after_its_restart_exactly_once() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("fleet-killed")).await;
    let store_port = free_port();
    let outbox = tempfile::tempdir().unwrap();
    let mut agent = start_agent_process(store_port, outbox.path(), &[]);
    let has = |state: &'static str| {
        let id = container.id.clone();
        let outbox = outbox.path().to_owned();
        move || {
            let id = id.clone();
            let outbox = outbox.clone();
            async move {
                waiting(&outbox)
                    .into_iter()
                    .any(|s| s["id"] == id.as_str() && s["state"] == state)
                    .then_some(())
            }
        }
    };
    wait_for("the full sync in the outbox", has("running")).await;
    container.stop().await;
    wait_for("the stop in the outbox", has("exited")).await;
    agent.start_kill().unwrap();
    agent.wait().await.unwrap();
    let before: HashSet<DateTime<Utc>> = waiting(outbox.path())
        .into_iter()
        .filter(|s| s["id"] == container.id.as_str())
        .map(|s| s["observed_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(before.len() >= 2, "{before:?}");
    // Removed while the agent is down, and known to no store yet: only its
    // outbox says it was there.
    container.remove().await;

    let store = spawn_store_with(Backend::Sqlite, |config| {
        config.listen = format!("127.0.0.1:{store_port}").parse().unwrap();
    })
    .await;
    let _agent = start_agent_process(store_port, outbox.path(), &[]);
    let delivered = wait_for("the outbox delivered", || async {
        let records = history(&store, &container.id).await;
        let has: HashSet<_> = records.iter().map(|r| r.snapshot.observed_at).collect();
        (has.is_superset(&before) && waiting(outbox.path()).is_empty()).then_some(records)
    })
    .await;
    assert_once_and_in_order(&delivered);
    let delivered = wait_for_state(&store, &container.id, ContainerState::Removed).await;
    assert_once_and_in_order(&delivered);
    assert_eq!(
        states(&delivered),
        [
            ContainerState::Running,
            ContainerState::Exited,
            ContainerState::Removed
        ]
    );
}

#[tokio::test]
async fn over_its_bound_the_outbox_drops_stats_resyncs_and_keeps_changes_of_state() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("fleet-bound")).await;
    let port = free_port();
    let outbox = tempfile::tempdir().unwrap();
    let agent = spawn_agent(|config| {
        config.report_to = vec![format!("http://127.0.0.1:{port}")];
        config.outbox = Some(outbox.path().to_owned());
        config.report_interval = Duration::from_millis(300);
        // Smaller than any batch: only changes of state may stay.
        config.outbox_max_bytes = 1;
    })
    .await;
    wait_for("stats resyncs dropped", || async {
        (metric(&agent, "outbox_dropped_snapshots_total").await > 0.0).then_some(())
    })
    .await;
    container.stop().await;
    wait_for("the stop in the outbox", || async {
        waiting(outbox.path())
            .iter()
            .any(|s| s["id"] == container.id.as_str() && s["state"] == "exited")
            .then_some(())
    })
    .await;
    let dropped = metric(&agent, "outbox_dropped_snapshots_total").await;

    let store = spawn_store_with(Backend::Sqlite, |config| {
        config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    wait_for_state(&store, &container.id, ContainerState::Exited).await;
    // Several resyncs later, still only the full sync and the stop: every
    // resync was dropped, before the store came back and after.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let delivered = history(&store, &container.id).await;
    assert_eq!(
        states(&delivered),
        [ContainerState::Running, ContainerState::Exited]
    );
    assert!(metric(&agent, "outbox_dropped_snapshots_total").await > dropped);
}

#[tokio::test]
async fn a_snapshot_the_store_refuses_is_dropped_and_the_rest_of_its_batch_delivered() {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    let store = spawn_store(Backend::Sqlite).await;
    let outbox = tempfile::tempdir().unwrap();
    // A batch a previous run left (the outbox's documented format: a folder
    // per store named after its URL, a file per batch), with an item in the
    // middle that no store takes.
    let folder: String = store
        .url
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect();
    let mut invalid = snapshot(2, &at(0));
    invalid["id"] = serde_json::json!("not-a-container-id");
    let batch = serde_json::json!([snapshot(1, &at(0)), invalid, snapshot(3, &at(0))]);
    std::fs::create_dir_all(outbox.path().join(&folder)).unwrap();
    std::fs::write(
        outbox
            .path()
            .join(&folder)
            .join("00000000000000000000.state.json"),
        serde_json::to_vec(&batch).unwrap(),
    )
    .unwrap();

    let agent = spawn_agent(|config| {
        config.report_to = vec![store.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
    })
    .await;
    for n in [1, 3] {
        wait_for_state(&store, &container_id(n), ContainerState::Running).await;
    }
    wait_for("the refused item counted", || async {
        (metric(&agent, "refused_snapshots_total").await == 1.0).then_some(())
    })
    .await;
    // The store may answer before the agent has read its answer.
    wait_for(
        "the batch out of the outbox once the rest is stored",
        || async {
            let left = std::fs::read_dir(outbox.path().join(&folder))
                .unwrap()
                .count();
            (left == 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_container_removed_while_the_agent_was_down_is_reported_removed_at_its_next_start() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("fleet-missed")).await;
    let store = spawn_store(Backend::Sqlite).await;
    let store_port: u16 = store.url.rsplit(':').next().unwrap().parse().unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mut agent = start_agent_process(store_port, outbox.path(), &[]);
    wait_for_state(&store, &container.id, ContainerState::Running).await;
    agent.start_kill().unwrap();
    agent.wait().await.unwrap();

    // No agent sees this go.
    container.remove().await;
    let _agent = start_agent_process(store_port, outbox.path(), &[]);
    let records = wait_for_state(&store, &container.id, ContainerState::Removed).await;
    assert_eq!(
        states(&records),
        [ContainerState::Running, ContainerState::Removed]
    );
}

/// How long the store waits for a container's change, from the engine's
/// answer to the change, until its latest record shows it.
async fn followed(
    store: &TestStore,
    id: &str,
    what: &str,
    shows: impl Fn(&StoredSnapshot) -> bool,
) {
    let since = Instant::now();
    wait_for(&format!("{id}: {what} in the store"), || async {
        history(store, id)
            .await
            .last()
            .filter(|last| shows(last))
            .map(|_| ())
    })
    .await;
    let took = since.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "{what} reached the store after {took:?}"
    );
}

#[tokio::test]
async fn a_start_a_rename_a_stop_and_a_removal_each_reach_the_store_within_a_second() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let store = spawn_store(Backend::Sqlite).await;
    let outbox = tempfile::tempdir().unwrap();
    let _agent = spawn_agent(|config| {
        config.report_to = vec![store.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
    })
    .await;
    let mut container = docker.created(ContainerSpec::named("fleet-quick")).await;
    let id = container.id.clone();
    let first_name = container.name.clone();
    followed(&store, &id, "created", |last| {
        last.snapshot.state == ContainerState::Created
    })
    .await;

    container.start().await;
    followed(&store, &id, "started", |last| {
        last.snapshot.state == ContainerState::Running
    })
    .await;
    let renamed = format!("{}-fleet-renamed", docker.run);
    container.rename(renamed.clone()).await;
    followed(&store, &id, "renamed", |last| last.snapshot.name == renamed).await;
    container.stop().await;
    followed(&store, &id, "stopped", |last| {
        last.snapshot.state == ContainerState::Exited && last.snapshot.name == renamed
    })
    .await;
    container.remove().await;
    followed(&store, &id, "removed", |last| {
        last.snapshot.state == ContainerState::Removed
    })
    .await;

    let records = history(&store, &id).await;
    assert_once_and_in_order(&records);
    let names: Vec<_> = records.iter().map(|r| r.snapshot.name.as_str()).collect();
    assert_eq!(names.first(), Some(&first_name.as_str()));
    assert!(names.is_sorted_by_key(|name| *name == renamed), "{names:?}");
}

/// The IDs of what the store lists (its default list) for `node`.
async fn listed(store: &TestStore, node: &str) -> HashSet<String> {
    let page: Page<StoredSnapshot> = store
        .get(&format!("/containers?node={node}&limit=1000"))
        .await
        .json()
        .await
        .unwrap();
    page.items
        .into_iter()
        .map(|record| record.snapshot.id.to_string())
        .collect()
}

#[tokio::test]
async fn only_containers_with_a_report_label_reach_the_store_and_one_left_out_at_a_restart_ends_removed()
 {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let with_labels = |name, labels| ContainerSpec {
        labels,
        ..ContainerSpec::named(name)
    };
    let chosen = docker
        .container(with_labels("fleet-chosen", &[("ci.report", "yes")]))
        .await;
    let team = docker
        .container(with_labels("fleet-team", &[("ci.team", "")]))
        .await;
    let other_value = docker
        .container(with_labels("fleet-no", &[("ci.report", "no")]))
        .await;
    let bare = docker.container(ContainerSpec::named("fleet-bare")).await;
    let store = spawn_store(Backend::Sqlite).await;
    let store_port: u16 = store.url.rsplit(':').next().unwrap().parse().unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let node = format!("{}-labels", docker.run);
    let mut agent = start_agent_process(
        store_port,
        outbox.path(),
        &[
            "--node-name",
            &node,
            "--report-label",
            "ci.report=yes",
            "--report-label",
            "ci.team",
        ],
    );
    wait_for_state(&store, &chosen.id, ContainerState::Running).await;
    wait_for_state(&store, &team.id, ContainerState::Running).await;
    // A store receives one agent's reports in the order it made them: once
    // the chosen container's stop is in, the others' would be too.
    other_value.stop().await;
    bare.stop().await;
    chosen.stop().await;
    wait_for_state(&store, &chosen.id, ContainerState::Exited).await;
    assert_eq!(
        listed(&store, &node).await,
        HashSet::from([chosen.id.clone(), team.id.clone()])
    );
    assert!(history(&store, &other_value.id).await.is_empty());
    assert!(history(&store, &bare.id).await.is_empty());

    // Restarted with a narrower selection: what the store holds of this node
    // and the agent no longer reports would otherwise look current forever.
    agent.start_kill().unwrap();
    agent.wait().await.unwrap();
    let _agent = start_agent_process(
        store_port,
        outbox.path(),
        &["--node-name", &node, "--report-label", "ci.team"],
    );
    let records = wait_for_state(&store, &chosen.id, ContainerState::Removed).await;
    assert_eq!(
        states(&records),
        [
            ContainerState::Running,
            ContainerState::Exited,
            ContainerState::Removed
        ]
    );
    // Still on the host: `removed` says the agent no longer reports it. It
    // leaves the store's default list for the removed ones.
    assert_eq!(chosen.inspect().await["State"]["Status"], "exited");
    assert_eq!(
        listed(&store, &node).await,
        HashSet::from([team.id.clone()])
    );
    assert_eq!(
        listed(&store, &format!("{node}&state=removed")).await,
        HashSet::from([chosen.id.clone()])
    );
    assert_eq!(
        states(&history(&store, &team.id).await).last(),
        Some(&ContainerState::Running)
    );
}

#[tokio::test]
async fn a_report_label_without_a_key_or_one_that_redaction_hides_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let start = |args: &[&str]| {
        std::process::Command::new(BINARY)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--report-to",
                "http://127.0.0.1:9",
            ])
            .arg("--outbox")
            .arg(&outbox)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    for empty in ["=yes", ""] {
        let refused = start(&["--report-label", empty]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("has no label key"), "{stderr}");
    }
    let refused = start(&[
        "--report-label",
        "com.example.secret.db=main",
        "--redact-label",
        "com.example.secret.*",
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--report-label com.example.secret.db: --redact-label hides"),
        "{stderr}"
    );
    // Refused before anything was made.
    assert!(!outbox.exists());
}

/// The store's record of `node`, if it has one.
async fn node_record(store: &TestStore, node: &str) -> Option<Node> {
    let response = store.get(&format!("/nodes/{node}")).await;
    if response.status() == 404 {
        return None;
    }
    assert_eq!(response.status(), 200);
    Some(response.json().await.unwrap())
}

async fn wait_for_node(store: &TestStore, node: &str, status: NodeStatus) -> Node {
    wait_for(&format!("{node} {status} in {}", store.url), || async {
        node_record(store, node)
            .await
            .filter(|record| record.status == status)
    })
    .await
}

/// The names `GET /nodes` lists, with a query.
async fn node_names(store: &TestStore, query: &str) -> Vec<String> {
    let nodes: Nodes = store
        .get(&format!("/nodes{query}"))
        .await
        .json()
        .await
        .unwrap();
    nodes.items.into_iter().map(|node| node.name).collect()
}

/// `node_status` of every container the store lists for `node`, and of `id`'s
/// own record.
async fn node_statuses(store: &TestStore, node: &str, id: &str) -> Vec<Option<NodeStatus>> {
    let page: Page<StoredSnapshot> = store
        .get(&format!("/containers?node={node}"))
        .await
        .json()
        .await
        .unwrap();
    let one: StoredSnapshot = store
        .get(&format!("/containers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    page.items
        .into_iter()
        .chain([one])
        .map(|record| record.node_status)
        .collect()
}

#[tokio::test]
async fn a_node_is_up_while_its_agent_reports_stale_three_intervals_after_its_last_report_and_up_again_at_its_next()
 {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("fleet-alive")).await;
    // It takes node reports only signed by its key (or with the token).
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let store_port: u16 = store.url.rsplit(':').next().unwrap().parse().unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let node = format!("{}-alive", docker.run);
    let key = secrets.key_file();
    let key = key.to_str().unwrap();
    let interval = chrono::Duration::seconds(1);
    let args = [
        "--node-name",
        &node,
        "--signing-key-file",
        key,
        "--report-interval",
        "1s",
    ];
    let mut agent = start_agent_process(store_port, outbox.path(), &args);

    let up = wait_for_node(&store, &node, NodeStatus::Up).await;
    assert_eq!(up.agent_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(up.report_interval_ms, 1000);
    assert!(up.attested, "{up:?}");
    assert!(node_names(&store, "?status=up").await.contains(&node));
    wait_for_state(&store, &container.id, ContainerState::Running).await;
    assert!(
        node_statuses(&store, &node, &container.id)
            .await
            .iter()
            .all(|status| *status == Some(NodeStatus::Up))
    );

    agent.start_kill().unwrap();
    agent.wait().await.unwrap();
    let mut last = node_record(&store, &node).await.unwrap();
    assert_eq!(last.stale_at, last.last_report_at + interval * 3);
    let mut seen_up = false;
    let stale = loop {
        let before = Utc::now();
        let record = node_record(&store, &node).await.unwrap();
        let after = Utc::now();
        if record.last_report_at != last.last_report_at {
            // A report the agent sent as it died, which the store took since.
            last = record;
            continue;
        }
        match record.status {
            NodeStatus::Up => {
                assert!(
                    before <= last.stale_at,
                    "still up at {before}, three intervals after its last report at {}",
                    last.last_report_at
                );
                seen_up = true;
            }
            NodeStatus::Stale => {
                assert!(
                    after >= last.stale_at,
                    "stale at {after}, before three intervals since its last report at {}",
                    last.last_report_at
                );
                break record;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(seen_up, "stale as soon as its agent died: {stale:?}");
    assert!(node_names(&store, "?status=stale").await.contains(&node));
    assert!(!node_names(&store, "?status=up").await.contains(&node));
    // Its containers stay listed, marked.
    assert!(
        node_statuses(&store, &node, &container.id)
            .await
            .iter()
            .all(|status| *status == Some(NodeStatus::Stale))
    );
    let page: Page<StoredSnapshot> = store
        .get(&format!("/containers?node_status=stale&node={node}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);

    let _agent = start_agent_process(store_port, outbox.path(), &args);
    let again = wait_for_node(&store, &node, NodeStatus::Up).await;
    assert!(again.last_report_at > last.last_report_at);
    assert_eq!(again.first_report_at, up.first_report_at);
    assert!(
        node_statuses(&store, &node, &container.id)
            .await
            .iter()
            .all(|status| *status == Some(NodeStatus::Up))
    );
}

#[tokio::test]
async fn a_store_that_is_silent_or_down_delays_no_other_store_s_node_reports_and_its_failures_are_counted()
 {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    // Takes connections and never answers: each report to it waits for its
    // timeout, ten intervals.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let down = format!("http://127.0.0.1:{}", free_port());
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let outbox = tempfile::tempdir().unwrap();
    let agent = spawn_agent(|config| {
        config.node_name = Some("fleet-beside".into());
        config.signing_key_file = Some(secrets.key_file());
        config.report_to = vec![silent.clone(), down.clone(), store.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
        config.report_interval = Duration::from_secs(1);
    })
    .await;
    let first = wait_for_node(&store, "fleet-beside", NodeStatus::Up).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = node_record(&store, "fleet-beside").await.unwrap();
    assert_eq!(later.status, NodeStatus::Up);
    // Two more reports in 2.5 s, one a second; waiting on the silent store
    // would have taken its 10 s timeout.
    assert!(
        later.last_report_at - first.last_report_at >= chrono::Duration::milliseconds(1500),
        "{first:?} then {later:?}"
    );
    let metrics = agent.get("/metrics").await.body;
    let value = |name: &str, store: &str| -> f64 {
        let prefix = format!("container_info_agent_{name}{{store=\"{store}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(value("node_reports_total", &store.url) >= 3.0, "{metrics}");
    assert!(
        value("node_report_failures_total", &down) >= 3.0,
        "{metrics}"
    );
    assert_eq!(value("node_reports_total", &down), 0.0, "{metrics}");
    assert_eq!(value("node_reports_total", &silent), 0.0, "{metrics}");
    drop(listener);
}

#[tokio::test]
async fn a_node_whose_agent_lost_its_engine_turns_stale_and_up_again_once_the_engine_is_back() {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    let Some(engine) = engine_socket() else {
        eprintln!(
            "SKIPPED: the engine is not reached through a Unix socket to put a proxy in front of"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = EngineProxy::start(dir.path().join("docker.sock"), engine);
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let outbox = tempfile::tempdir().unwrap();
    let _agent = spawn_agent(|config| {
        config.docker_host = format!("unix://{}", proxy.path.display());
        config.node_name = Some("fleet-engineless".into());
        config.signing_key_file = Some(secrets.key_file());
        config.report_to = vec![store.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
        config.report_interval = Duration::from_secs(1);
    })
    .await;
    wait_for_node(&store, "fleet-engineless", NodeStatus::Up).await;
    // The agent runs on, but what the store holds of the node's containers is
    // no longer kept current.
    proxy.stop();
    wait_for_node(&store, "fleet-engineless", NodeStatus::Stale).await;
    proxy.resume();
    wait_for_node(&store, "fleet-engineless", NodeStatus::Up).await;
}
