use container_info_wire::REPLICA_HEADER;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Backend, REPLICA, at, both_backends, container_id, snapshot, snapshot_with_id, spawn_store,
};

/// JSON Schema counts 155.0 as a whole number, so the document's integers
/// take it: schemathesis sent such counts, which the store used to refuse.
async fn a_count_written_as_a_whole_float_is_stored_as_an_integer(backend: Backend) {
    let store = spawn_store(backend).await;
    let mut posted = snapshot(1, &at(0));
    posted["stats"]["memory_limit_bytes"] = json!(155.0);
    let stored = store.store(&posted).await;
    assert_eq!(stored["stats"]["memory_limit_bytes"], json!(155));
}

async fn a_posted_snapshot_is_stored_with_how_it_arrived(backend: Backend) {
    let store = spawn_store(backend).await;
    let id = container_id(1);
    let mut posted = snapshot_with_id(&id, &at(0));
    posted["gpu"] = json!({"model": "newer-agent-field"});

    let response = store.post(&posted).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[REPLICA_HEADER], REPLICA);
    assert_eq!(
        response.headers()["location"],
        format!("/containers/{id}").as_str()
    );
    let stored: serde_json::Value = response.json().await.unwrap();

    for (field, value) in posted.as_object().unwrap() {
        if field != "observed_at" && field != "created" && field != "started_at" {
            assert_eq!(&stored[field], value, "field {field}");
        }
    }
    assert_eq!(
        stored["gpu"]["model"], "newer-agent-field",
        "unknown fields are kept"
    );
    assert_eq!(stored["received_by"], REPLICA);
    assert_eq!(stored["reporter_addr"], "127.0.0.1");
    assert_eq!(stored["forwarded_for"], serde_json::Value::Null);
    assert!(stored["received_at"].as_str().unwrap().starts_with("20"));
    // Reading it back adds what the store knows of its node now: no agent
    // reports node-1 here.
    let mut read = store.get_json(&format!("/containers/{id}")).await;
    assert_eq!(read["node_status"], serde_json::Value::Null);
    read.as_object_mut().unwrap().remove("node_status");
    assert_eq!(read, stored);
    assert_eq!(store.rows().await, (1, 1));
}

async fn an_array_is_stored_whole_and_answered_in_order(backend: Backend) {
    let store = spawn_store(backend).await;
    let batch: Vec<_> = (0..5).map(|n| snapshot(n, &at(n as u32))).collect();

    let stored = store.store(&json!(batch)).await;

    let ids: Vec<_> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    let expected: Vec<_> = batch.iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, expected);
    assert_eq!(store.rows().await, (5, 5));
}

async fn a_retried_snapshot_is_stored_once_and_answered_the_same(backend: Backend) {
    let store = spawn_store(backend).await;
    let posted = snapshot(7, "2026-11-24T10:00:00.5+01:00");

    let first = store.store(&posted).await;
    // The same instant written differently is the same snapshot.
    let mut again = posted.clone();
    again["observed_at"] = json!("2026-11-24T09:00:00.500Z");
    let second = store.store(&again).await;

    assert_eq!(first, second, "a retry gets the first answer back");
    assert_eq!(store.rows().await, (1, 1));
    let history = store
        .get_json(&format!("/containers/{}/history", container_id(7)))
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
}

async fn the_newest_observation_is_the_latest_and_a_late_one_only_joins_history(backend: Backend) {
    let store = spawn_store(backend).await;
    let id = container_id(3);
    let mut newer = snapshot_with_id(&id, &at(20));
    newer["state"] = json!("exited");
    store.store(&snapshot_with_id(&id, &at(10))).await;
    store.store(&newer).await;
    store.store(&snapshot_with_id(&id, &at(5))).await;

    let latest = store.get_json(&format!("/containers/{id}")).await;
    assert_eq!(latest["state"], "exited");
    assert_eq!(latest["observed_at"], at(20));
    assert_eq!(store.rows().await, (1, 3));
}

async fn a_proxy_address_is_kept_apart_from_the_peer(backend: Backend) {
    let store = spawn_store(backend).await;
    let stored: serde_json::Value = store
        .http
        .post(format!("{}/containers", store.url))
        .header("X-Forwarded-For", "10.0.0.9, 10.0.0.1")
        .json(&snapshot(4, &at(0)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["forwarded_for"], "10.0.0.9, 10.0.0.1");
    assert_eq!(stored["reporter_addr"], "127.0.0.1");
}

async fn fields_only_the_store_sets_cannot_be_forged(backend: Backend) {
    let store = spawn_store(backend).await;
    let mut posted = snapshot(5, &at(0));
    posted["received_by"] = json!("someone-else");
    posted["reporter_addr"] = json!("8.8.8.8");

    let stored = store.store(&posted).await;

    assert_eq!(stored["received_by"], REPLICA);
    assert_eq!(stored["reporter_addr"], "127.0.0.1");
}

both_backends!(
    a_count_written_as_a_whole_float_is_stored_as_an_integer,
    a_posted_snapshot_is_stored_with_how_it_arrived,
    an_array_is_stored_whole_and_answered_in_order,
    a_retried_snapshot_is_stored_once_and_answered_the_same,
    the_newest_observation_is_the_latest_and_a_late_one_only_joins_history,
    a_proxy_address_is_kept_apart_from_the_peer,
    fields_only_the_store_sets_cannot_be_forged,
);
