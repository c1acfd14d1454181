//! `nodes` and the node-aware `get` against a real store that has taken node
//! reports, as agents in fleet mode send them (here with the operator's token).

use std::time::Duration;

use container_info_wire::StoredSnapshot;
use container_info_wire::nodes::{Node, NodeStatus, Nodes};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::prompt::on_a_terminal;

/// A report interval long enough that a node stays up for the whole test.
const UP_INTERVAL_MS: u64 = 60_000;
/// The shortest the store takes: the node is stale by the time the client asks.
const STALE_INTERVAL_MS: u64 = 100;

/// A store with a token that knows worker-1 (up, two containers: a task of
/// shop_web and a plain one) and worker-2 (stale, one task of shop_db), and a
/// removed container on worker-1; the containers signed by their agents.
async fn fleet() -> (TestStore, Secrets) {
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    report_node(&store, "worker-1", UP_INTERVAL_MS).await;
    report_node(&store, "worker-2", STALE_INTERVAL_MS).await;
    let on = |n: u64, node: &str| {
        let mut snapshot = snapshot(n, &at(0));
        snapshot["node"] = node.into();
        snapshot
    };
    let signed = |snapshot: Value| signed(snapshot, KEY);
    let task = |n: u64, node: &str, service: &str| {
        let mut snapshot = on(n, node);
        snapshot["service"] = format!("shop_{service}").into();
        snapshot["task"] = format!("shop_{service}.1.x3k9{n}").into();
        snapshot["stack"] = "shop".into();
        snapshot
    };
    let mut removed = on(4, "worker-1");
    removed["state"] = "removed".into();
    removed["stats"] = Value::Null;
    store
        .store(&json!([
            signed(task(1, "worker-1", "web")),
            signed(on(2, "worker-1")),
            signed(task(3, "worker-2", "db")),
            signed(removed)
        ]))
        .await;
    // Past three of worker-2's intervals.
    tokio::time::sleep(Duration::from_millis(4 * STALE_INTERVAL_MS)).await;
    (store, secrets)
}

async fn nodes_of(store: &TestStore) -> Vec<Node> {
    let nodes: Nodes = serde_json::from_value(store.get_json("/nodes").await).unwrap();
    nodes.items
}

/// The cells of a table's line, split where the columns are.
fn cells(line: &str) -> Vec<&str> {
    line.split("   ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

/// The value of a detail view's line `key`, as in `Node   worker-1`.
fn field<'a>(shown: &'a str, key: &str) -> Option<&'a str> {
    shown.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        rest.starts_with("  ").then(|| rest.trim())
    })
}

fn ids(run: &Run) -> Vec<String> {
    let listed: Vec<StoredSnapshot> = serde_json::from_str(run.succeeded()).unwrap();
    let mut ids: Vec<String> = listed
        .into_iter()
        .map(|stored| stored.snapshot.id.to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn nodes_lists_each_node_with_its_status_and_containers() {
    let (store, _secrets) = fleet().await;

    let run = client(&store.url, &nothing_listens(), &["nodes"]).await;

    let lines: Vec<&str> = run.succeeded().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        cells(lines[0]),
        [
            "NAME",
            "STATUS",
            "CONTAINERS",
            "LAST REPORT",
            "AGENT",
            "INTERVAL"
        ]
    );
    assert_eq!(
        cells(lines[1]),
        ["worker-1", "up", "2", "just now", AGENT_VERSION, "1 min"],
        "removed containers are not counted: {lines:?}"
    );
    assert_eq!(
        cells(lines[2]),
        [
            "worker-2",
            "stale",
            "1",
            "just now",
            AGENT_VERSION,
            "100 ms"
        ],
        "{lines:?}"
    );
    assert!(!run.stdout.contains('\x1b'), "no colour into a pipe");
}

#[tokio::test]
async fn nodes_json_is_what_the_store_holds() {
    let (store, _secrets) = fleet().await;

    let run = client(&store.url, &nothing_listens(), &["nodes", "--json"]).await;

    let printed: Vec<Node> = serde_json::from_str(run.succeeded()).unwrap();
    assert_eq!(printed, nodes_of(&store).await);
    let names: Vec<(&str, NodeStatus)> = printed
        .iter()
        .map(|node| (node.name.as_str(), node.status))
        .collect();
    assert_eq!(
        names,
        [
            ("worker-1", NodeStatus::Up),
            ("worker-2", NodeStatus::Stale)
        ]
    );
}

#[tokio::test]
async fn nodes_status_keeps_the_up_or_the_stale_ones() {
    let (store, _secrets) = fleet().await;
    let names = |run: Run| -> Vec<String> {
        let nodes: Vec<Node> = serde_json::from_str(run.succeeded()).unwrap();
        nodes.into_iter().map(|node| node.name).collect()
    };
    let agent = nothing_listens();

    let stale = client(
        &store.url,
        &agent,
        &["nodes", "--status", "stale", "--json"],
    )
    .await;
    assert_eq!(names(stale), ["worker-2"]);
    let up = client(&store.url, &agent, &["nodes", "--status", "up", "--json"]).await;
    assert_eq!(names(up), ["worker-1"]);
    let table = client(&store.url, &agent, &["nodes", "--status", "stale"]).await;
    let lines: Vec<&str> = table.succeeded().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("worker-2"), "{lines:?}");

    let (empty, _secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    report_node(&empty, "worker-1", UP_INTERVAL_MS).await;
    let none = client(&empty.url, &agent, &["nodes", "--status", "stale"]).await;
    assert_eq!(none.succeeded(), "no stale nodes\n");
}

#[tokio::test]
async fn a_store_without_nodes_says_how_nodes_come() {
    let store = spawn_store(Backend::Sqlite).await;

    let run = client(&store.url, &nothing_listens(), &["nodes"]).await;

    assert_eq!(
        run.succeeded(),
        "no nodes: no agent reports to this store (an agent does with --report-to)\n"
    );
    let json = client(&store.url, &nothing_listens(), &["nodes", "--json"]).await;
    assert_eq!(json.succeeded(), "[]\n");
}

#[tokio::test]
async fn one_node_by_name() {
    let (store, _secrets) = fleet().await;

    let run = client(&store.url, &nothing_listens(), &["nodes", "worker-2"]).await;

    let shown = run.succeeded();
    let field = |key| field(shown, key).unwrap_or_else(|| panic!("{key} missing:\n{shown}"));
    assert_eq!(field("Name"), "worker-2");
    assert!(
        field("Status").starts_with("stale: no report for three intervals"),
        "{shown}"
    );
    assert_eq!(field("Containers"), "1 (removed ones not counted)");
    assert_eq!(field("Agent"), AGENT_VERSION);
    assert_eq!(field("Interval"), "100 ms");
    assert!(field("Last report").starts_with("just now ("), "{shown}");
    assert!(field("Stale since").starts_with("just now ("), "{shown}");
    assert!(field("From").starts_with("127.0.0.1"), "{shown}");
    assert_eq!(
        field("Signed"),
        "no: posted as the operator, not by its agent"
    );

    let run = client(
        &store.url,
        &nothing_listens(),
        &["nodes", "worker-1", "--json"],
    )
    .await;
    let printed: Node = serde_json::from_str(run.succeeded()).unwrap();
    assert_eq!(printed, nodes_of(&store).await[0]);
    assert_eq!(printed.name, "worker-1");
}

#[tokio::test]
async fn a_node_the_store_does_not_know_is_named_with_how_to_list_them() {
    let (store, _secrets) = fleet().await;
    let before = nodes_of(&store).await;

    for args in [&["nodes", "ghost"][..], &["nodes", "ghost", "--json"]] {
        let run = client(&store.url, &nothing_listens(), args).await;
        let message = run.failed_with(4);
        assert_eq!(
            message,
            format!(
                "container-info: GET {}/nodes/ghost: no node \"ghost\" has reported to the \
                 store (404 Not Found); `nodes` lists those that have",
                store.url
            )
        );
        assert_eq!(run.stdout, "");
    }
    // What a person types stays one path segment.
    let run = client(&store.url, &nothing_listens(), &["nodes", "worker-1/x"]).await;
    assert!(
        run.failed_with(4).contains("/nodes/worker-1%2Fx"),
        "{run:?}"
    );
    assert_eq!(nodes_of(&store).await, before);
}

#[tokio::test]
async fn a_wrong_status_is_refused_before_any_request() {
    // Nothing listens: a request would fail with exit code 3, not 2.
    let store = nothing_listens();
    for args in [
        &["nodes", "--status", "down"][..],
        &["get", "--node-status", "down"],
        &["nodes", "worker-1", "--status", "up"],
    ] {
        let run = client(&store, &store, args).await;
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr.contains("possible values: up, stale")
                || run.stderr.contains("cannot be used with"),
            "{run:?}"
        );
        assert_eq!(run.stdout, "");
    }
}

#[tokio::test]
async fn get_filters_by_service_stack_and_node_status() {
    let (store, _secrets) = fleet().await;
    let agent = nothing_listens();
    let get = async |args: &[&str]| {
        let mut all = vec!["get", "--json"];
        all.extend(args);
        ids(&client(&store.url, &agent, &all).await)
    };

    assert_eq!(get(&["--service", "shop_web"]).await, [container_id(1)]);
    assert_eq!(
        get(&["--stack", "shop"]).await,
        sorted(vec![container_id(1), container_id(3)])
    );
    assert_eq!(get(&["--node-status", "stale"]).await, [container_id(3)]);
    assert_eq!(
        get(&["--node-status", "up"]).await,
        sorted(vec![container_id(1), container_id(2)])
    );
    assert_eq!(
        get(&["--service", "shop_db", "--node-status", "up"]).await,
        Vec::<String>::new()
    );
    let none = client(&store.url, &agent, &["get", "--service", "nothing"]).await;
    assert_eq!(none.succeeded(), "no containers\n");
}

#[tokio::test]
async fn removed_containers_only_with_state_removed() {
    let (store, _secrets) = fleet().await;
    let agent = nothing_listens();

    let listed = client(&store.url, &agent, &["get", "--json"]).await;
    assert_eq!(
        ids(&listed),
        sorted(vec![container_id(1), container_id(2), container_id(3)])
    );
    let removed = client(&store.url, &agent, &["get", "--json", "--state", "removed"]).await;
    assert_eq!(ids(&removed), [container_id(4)]);
    let table = client(&store.url, &agent, &["get", "--state", "removed"]).await;
    let lines: Vec<&str> = table.succeeded().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("removed"), "{lines:?}");
}

#[tokio::test]
async fn get_marks_the_containers_of_a_stale_node() {
    let (store, _secrets) = fleet().await;
    let agent = nothing_listens();

    let table = client(&store.url, &agent, &["get"]).await;

    let lines: Vec<&str> = table.succeeded().lines().collect();
    let row = |n: u64| {
        *lines
            .iter()
            .find(|line| line.starts_with(&container_id(n)[..12]))
            .unwrap_or_else(|| panic!("container {n} missing: {lines:?}"))
    };
    assert_eq!(cells(row(3))[3], "worker-2 (stale)", "{lines:?}");
    assert_eq!(cells(row(1))[3], "worker-1", "{lines:?}");
    assert_eq!(cells(row(2))[3], "worker-1", "{lines:?}");
}

#[tokio::test]
async fn get_id_shows_the_swarm_task_and_the_nodes_status() {
    let (store, _secrets) = fleet().await;
    let agent = nothing_listens();

    let task = client(&store.url, &agent, &["get", &container_id(3)[..8]]).await;
    let shown = task.succeeded();
    assert_eq!(field(shown, "Node"), Some("worker-2"), "{shown}");
    assert_eq!(
        field(shown, "Node status"),
        Some("stale: its agent stopped reporting; this may be out of date"),
        "{shown}"
    );
    assert_eq!(field(shown, "Service"), Some("shop_db"), "{shown}");
    assert_eq!(field(shown, "Task"), Some("shop_db.1.x3k93"), "{shown}");
    assert_eq!(field(shown, "Stack"), Some("shop"), "{shown}");

    let plain = client(&store.url, &agent, &["get", &container_id(2)[..8]]).await;
    let shown = plain.succeeded();
    assert_eq!(
        field(shown, "Node status"),
        Some("up: its agent reports"),
        "{shown}"
    );
    for absent in ["Service", "Task", "Stack"] {
        assert_eq!(field(shown, absent), None, "{shown}");
    }

    // On a node no agent reports (posted by a client): no status to show.
    store.store(&signed(snapshot(5, &at(0)), KEY)).await;
    let unreported = client(&store.url, &agent, &["get", &container_id(5)[..8]]).await;
    let shown = unreported.succeeded();
    assert_eq!(field(shown, "Node"), Some("node-1"), "{shown}");
    assert_eq!(field(shown, "Node status"), None, "{shown}");

    let json = client(
        &store.url,
        &agent,
        &["get", &container_id(3)[..8], "--json"],
    )
    .await;
    let stored: StoredSnapshot = serde_json::from_str(json.succeeded()).unwrap();
    assert_eq!(stored.node_status, Some(NodeStatus::Stale));
    assert_eq!(stored.snapshot.service.as_deref(), Some("shop_db"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_node_is_red_on_a_terminal() {
    let (store, _secrets) = fleet().await;
    let url = store.url.clone();

    let (nodes, containers, plain) = tokio::task::spawn_blocking(move || {
        (
            on_a_terminal(&url, &["nodes"], None),
            on_a_terminal(&url, &["get"], None),
            on_a_terminal(&url, &["nodes"], Some("1")),
        )
    })
    .await
    .unwrap();

    assert!(nodes.contains("\x1b[31mstale\x1b[0m"), "{nodes:?}");
    assert!(nodes.contains("\x1b[32mup\x1b[0m"), "{nodes:?}");
    assert!(
        containers.contains("\x1b[31mworker-2 (stale)\x1b[0m"),
        "{containers:?}"
    );
    assert!(
        plain.contains("stale") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}
