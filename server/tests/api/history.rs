use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    at, container_id, expect_error, snapshot, snapshot_with_id, spawn_store, spawn_store_with,
};

fn observed(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["observed_at"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn history_is_newest_observed_first_and_pages_through() {
    let store = spawn_store().await;
    let id = container_id(1);
    // Posted out of order: history follows observation time, not arrival.
    for second in [3, 1, 4, 0, 2] {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    store.store(&snapshot(2, &at(9))).await;

    let first = store
        .get_json(&format!("/containers/{id}/history?limit=2"))
        .await;
    assert_eq!(observed(&first), [at(4), at(3)]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = store
        .get_json(&format!("/containers/{id}/history?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(observed(&second), [at(2), at(1)]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let last = store
        .get_json(&format!("/containers/{id}/history?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(observed(&last), [at(0)]);
    assert_eq!(last["next_cursor"], Value::Null);
}

#[tokio::test]
async fn since_is_inclusive_and_until_exclusive() {
    let store = spawn_store().await;
    let id = container_id(1);
    for second in 0..6 {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    let page = store
        .get_json(&format!(
            "/containers/{}/history?since={}&until={}",
            &id[..8],
            at(1),
            // The same instant in another zone.
            "2026-11-24T11:00:04%2B01:00"
        ))
        .await;
    assert_eq!(observed(&page), [at(3), at(2), at(1)]);
}

#[tokio::test]
async fn history_keeps_only_the_newest_up_to_its_limit() {
    let store = spawn_store_with(|config| config.history_limit = 3).await;
    let id = container_id(1);
    for second in 0..8 {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    store.store(&snapshot(2, &at(0))).await;

    let page = store.get_json(&format!("/containers/{id}/history")).await;

    assert_eq!(observed(&page), [at(7), at(6), at(5)]);
    assert_eq!(
        store.rows(),
        (2, 4),
        "the other container's history is untouched"
    );
    let latest = store.get_json(&format!("/containers/{id}")).await;
    assert_eq!(latest["observed_at"], at(7));
}

#[tokio::test]
async fn history_of_an_unknown_container_is_404() {
    let store = spawn_store().await;
    expect_error(
        store
            .get(&format!("/containers/{}/history", container_id(1)))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
