//! The simulated fleet against a real store with the agents' key: what it
//! says it sent is what the store holds, containers and nodes.

use std::collections::BTreeSet;
use std::time::Duration;

use container_info_fleet_sim::{Config, FleetError, run};
use container_info_testkit::{Backend, KEY, Secrets, spawn_guarded_store};
use container_info_wire::nodes::{NodeStatus, Nodes};
use container_info_wire::{Page, StoredSnapshot};

fn fleet(store: &str, key_file: std::path::PathBuf) -> Config {
    Config {
        stores: vec![store.to_owned()],
        agents: 3,
        // More than one batch of 100 per resync.
        containers: 120,
        interval: Duration::from_millis(400),
        intervals: 2,
        changes: 1,
        signing_key_file: key_file,
    }
}

#[tokio::test]
async fn every_container_of_every_agent_lands_signed_by_its_node() {
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let outcome = run(&fleet(&store.url, secrets.key_file())).await.unwrap();

    // A start and two resyncs of 360 containers, and a change per agent per interval.
    assert_eq!(outcome.containers, 360);
    assert_eq!(outcome.snapshots, 3 * 360 + 6);
    assert_eq!(
        (
            outcome.start.count,
            outcome.resync.count,
            outcome.change.count
        ),
        (3, 6, 6)
    );
    assert_eq!(outcome.posts, 9 * 2 + 6);
    assert_eq!(outcome.node_reports, 9);
    assert_eq!(outcome.retries, 0);
    // Read from the file: one row per container, every snapshot in the history.
    assert_eq!(store.rows().await, (360, 3 * 360 + 6));

    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Page<StoredSnapshot> = serde_json::from_value(
            store
                .get_json(&format!("/containers?limit=1000{cursor}"))
                .await,
        )
        .unwrap();
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(items.len(), 360);
    let nodes: BTreeSet<&str> = items.iter().map(|s| s.snapshot.node.as_str()).collect();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    for stored in &items {
        assert_eq!(
            stored.attested_by.as_deref(),
            Some(stored.snapshot.node.as_str())
        );
        assert_eq!(stored.node_status, Some(NodeStatus::Up));
    }

    let listed: Nodes = serde_json::from_value(store.get_json("/nodes").await).unwrap();
    let names: BTreeSet<&str> = listed.items.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, nodes);
    for node in &listed.items {
        assert_eq!(
            (node.status, node.attested, node.containers),
            (NodeStatus::Up, true, 120)
        );
        assert_eq!(node.report_interval_ms, 400);
    }
}

#[tokio::test]
async fn a_store_with_another_key_refuses_the_first_report_and_the_run_stops() {
    let (store, _) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let other = Secrets::new();
    std::fs::write(other.path("other-key"), KEY.replace('0', "1")).unwrap();
    let error = run(&fleet(&store.url, other.path("other-key")))
        .await
        .unwrap_err();
    match error {
        FleetError::Refused { status, answer, .. } => {
            assert_eq!(status, 403, "{answer}");
            assert!(answer.contains("signature does not match"), "{answer}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(store.rows().await, (0, 0));
    let listed: Nodes = serde_json::from_value(store.get_json("/nodes").await).unwrap();
    assert_eq!(listed.items, []);
}
