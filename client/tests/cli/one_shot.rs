//! Each command run once from the command line: table and JSON output, and
//! what reached the store.

use container_info_wire::{Snapshot, StoredSnapshot};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn post_stores_what_the_agent_says_and_names_the_replica() {
    let (store, agent) = (spawn_store(Backend::Sqlite).await, spawn_agent_for(1).await);

    let run = client(&store.url, &agent.url, &["post"]).await;

    let shown = run.succeeded();
    assert!(shown.contains(&container_id(1)), "{shown}");
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("Replica") && line.ends_with(REPLICA)),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("From") && line.ends_with("127.0.0.1"))
    );
    assert!(shown.contains("50.0 MiB of 1024.0 MiB"), "{shown}");
    let stored = store.containers().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].snapshot.id.as_str(), container_id(1));
    assert_eq!(stored[0].snapshot.name, "web-1");
    assert_eq!(stored[0].received_by, REPLICA);
}

#[tokio::test]
async fn post_json_prints_the_stored_record() {
    let (store, agent) = (spawn_store(Backend::Sqlite).await, spawn_agent_for(2).await);

    let run = client(&store.url, &agent.url, &["post", "--json"]).await;

    let printed: StoredSnapshot = serde_json::from_str(run.succeeded()).unwrap();
    let expected: Snapshot = serde_json::from_value(snapshot(2, &at(0))).unwrap();
    assert_eq!(printed.snapshot, expected);
    assert_eq!(printed.received_by, REPLICA);
    assert_eq!(store.containers().await, [printed]);
}

#[tokio::test]
async fn get_shows_a_table_with_short_ids_mib_and_relative_times() {
    let store = spawn_store(Backend::Sqlite).await;
    let mut exited = snapshot(4, &at(5));
    exited["state"] = "exited".into();
    exited["stats"] = Value::Null;
    store
        .store(&Value::Array(vec![snapshot(3, &at(0)), exited]))
        .await;

    let run = client(&store.url, &nothing_listens(), &["get"]).await;

    let lines: Vec<&str> = run.succeeded().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour into a pipe: {lines:?}"
    );
    let header: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    assert_eq!(
        header.join(","),
        "CONTAINER ID,NAME,IMAGE,NODE,STATE,CPU,MEMORY,OBSERVED,REPLICA"
    );
    // The most recently updated first, as the store lists them.
    assert!(lines[1].starts_with(&container_id(4)[..12]), "{lines:?}");
    assert!(
        !lines[1].contains(&container_id(4)[..13]),
        "IDs are shortened: {lines:?}"
    );
    assert!(
        lines[1].contains("exited") && lines[1].contains(" - "),
        "{lines:?}"
    );
    assert!(lines[2].starts_with(&container_id(3)[..12]), "{lines:?}");
    for expected in ["web-3", "running", "3.2%", "50.0 MiB", " ago", REPLICA] {
        assert!(lines[2].contains(expected), "{expected} missing: {lines:?}");
    }
    // Columns line up: every row's NAME starts where the header's does.
    let name_column = lines[0].find("NAME").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|line| line[name_column..].starts_with("web-"))
    );
}

#[tokio::test]
async fn get_json_reads_every_page_and_stops_at_the_limit() {
    let store = spawn_store(Backend::Sqlite).await;
    // More than one page of the client's (100) and of the store's default.
    let many: Vec<Value> = (0..130).map(|n| snapshot(n, &at(0))).collect();
    store.store(&Value::Array(many)).await;

    let all = client(&store.url, &nothing_listens(), &["get", "--json"]).await;
    let listed: Vec<StoredSnapshot> = serde_json::from_str(all.succeeded()).unwrap();
    let mut ids: Vec<String> = listed.iter().map(|s| s.snapshot.id.to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 130);

    let limited = client(
        &store.url,
        &nothing_listens(),
        &["get", "--json", "--limit", "105"],
    )
    .await;
    let listed: Vec<StoredSnapshot> = serde_json::from_str(limited.succeeded()).unwrap();
    assert_eq!(listed.len(), 105);

    let table = client(&store.url, &nothing_listens(), &["get", "--limit", "7"]).await;
    assert_eq!(table.succeeded().lines().count(), 1 + 7);
}

#[tokio::test]
async fn get_filters_by_node_image_state_and_labels() {
    let store = spawn_store(Backend::Sqlite).await;
    let mut other_node = snapshot(5, &at(0));
    other_node["node"] = "node-2".into();
    let mut paused = snapshot(6, &at(0));
    paused["state"] = "paused".into();
    paused["labels"]["tier"] = "db".into();
    paused["image"] = "postgres:17".into();
    store
        .store(&Value::Array(vec![snapshot(7, &at(0)), other_node, paused]))
        .await;
    let ids = |run: Run| -> Vec<String> {
        let listed: Vec<StoredSnapshot> = serde_json::from_str(run.succeeded()).unwrap();
        listed
            .into_iter()
            .map(|s| s.snapshot.id.to_string())
            .collect()
    };
    let agent = nothing_listens();

    let on_node_2 = client(&store.url, &agent, &["get", "--json", "--node", "node-2"]).await;
    assert_eq!(ids(on_node_2), [container_id(5)]);
    let paused = client(&store.url, &agent, &["get", "--json", "--state", "paused"]).await;
    assert_eq!(ids(paused), [container_id(6)]);
    let db = client(
        &store.url,
        &agent,
        &[
            "get",
            "--json",
            "--label",
            "tier=db",
            "--image",
            "postgres:17",
        ],
    )
    .await;
    assert_eq!(ids(db), [container_id(6)]);
    let none = client(&store.url, &agent, &["get", "--label", "tier=web"]).await;
    assert_eq!(none.succeeded(), "no containers\n");
}

#[tokio::test]
async fn get_id_shows_one_container_by_a_prefix() {
    let store = spawn_store(Backend::Sqlite).await;
    store
        .store(&Value::Array(vec![
            snapshot(8, &at(0)),
            snapshot(9, &at(0)),
        ]))
        .await;
    let prefix = &container_id(9)[..6];

    let run = client(&store.url, &nothing_listens(), &["get", prefix]).await;
    let shown = run.succeeded();
    assert!(
        shown.lines().next().unwrap().ends_with(&container_id(9)),
        "{shown}"
    );
    assert!(
        shown.contains("web-9") && !shown.contains("web-8"),
        "{shown}"
    );

    let run = client(&store.url, &nothing_listens(), &["get", prefix, "--json"]).await;
    let found: StoredSnapshot = serde_json::from_str(run.succeeded()).unwrap();
    assert_eq!(found.snapshot.id.as_str(), container_id(9));
}

#[tokio::test]
async fn history_lists_a_containers_snapshots_newest_first() {
    let store = spawn_store(Backend::Sqlite).await;
    let snapshots: Vec<Value> = [10, 30, 20].iter().map(|s| snapshot(11, &at(*s))).collect();
    store.store(&Value::Array(snapshots)).await;
    let prefix = &container_id(11)[..8];

    let run = client(
        &store.url,
        &nothing_listens(),
        &["history", prefix, "--json"],
    )
    .await;
    let listed: Vec<StoredSnapshot> = serde_json::from_str(run.succeeded()).unwrap();
    let observed: Vec<String> = listed
        .iter()
        .map(|s| s.snapshot.observed_at.to_rfc3339())
        .collect();
    assert_eq!(
        observed,
        [
            "2026-11-24T10:00:30+00:00",
            "2026-11-24T10:00:20+00:00",
            "2026-11-24T10:00:10+00:00"
        ]
    );

    let run = client(&store.url, &nothing_listens(), &["history", prefix]).await;
    let lines: Vec<&str> = run.succeeded().lines().collect();
    assert!(
        lines[0].starts_with("OBSERVED") && lines[0].ends_with("FROM"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[1..]
            .iter()
            .all(|line| line.contains(REPLICA) && line.ends_with("127.0.0.1"))
    );
}

#[tokio::test]
async fn whoami_shows_the_agent_answer_and_posts_nothing() {
    let (store, agent) = (
        spawn_store(Backend::Sqlite).await,
        spawn_agent_for(12).await,
    );

    let table = client(&store.url, &agent.url, &["whoami"]).await;
    let shown = table.succeeded();
    assert!(
        shown.contains(&container_id(12)) && shown.contains("web-12"),
        "{shown}"
    );
    assert!(!shown.contains("Replica"), "nothing was stored: {shown}");

    // Global flags are accepted after the subcommand too; the wrong environment is overridden.
    let json = client(
        &nothing_listens(),
        &nothing_listens(),
        &["whoami", "--json", "--agent", &agent.url],
    )
    .await;
    let answered: Snapshot = serde_json::from_str(json.succeeded()).unwrap();
    assert_eq!(answered.id.as_str(), container_id(12));

    assert_eq!(store.containers().await, []);
}

#[tokio::test]
async fn help_describes_every_command() {
    let run = client(&nothing_listens(), &nothing_listens(), &["--help"]).await;
    let help = run.succeeded();
    for expected in [
        "post",
        "get",
        "history",
        "nodes",
        "whoami",
        "ping",
        "CONTAINER_INFO_SERVER",
        "CONTAINER_INFO_AGENT",
        "Exit codes",
    ] {
        assert!(help.contains(expected), "{expected} missing:\n{help}");
    }
    let run = client(&nothing_listens(), &nothing_listens(), &["help", "get"]).await;
    let help = run.succeeded();
    for expected in [
        "--node",
        "--node-status",
        "--service",
        "--stack",
        "--image",
        "--state",
        "--label",
        "--limit",
        "--json",
        "--server",
        "The store leaves removed containers out of the list: `--state removed` lists them.",
    ] {
        assert!(help.contains(expected), "{expected} missing:\n{help}");
    }
    let run = client(&nothing_listens(), &nothing_listens(), &["help", "nodes"]).await;
    let help = run.succeeded();
    for expected in [
        "[NAME]",
        "--status",
        "values: up, stale",
        "--json",
        "stale after three",
    ] {
        assert!(help.contains(expected), "{expected} missing:\n{help}");
    }
}
