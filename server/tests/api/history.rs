use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Backend, at, both_backends, container_id, expect_error, snapshot, snapshot_with_id,
    spawn_store, spawn_store_with,
};

fn observed(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["observed_at"].as_str().unwrap().to_owned())
        .collect()
}

async fn history_is_newest_observed_first_and_pages_through(backend: Backend) {
    let store = spawn_store(backend).await;
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

async fn since_is_inclusive_and_until_exclusive(backend: Backend) {
    let store = spawn_store(backend).await;
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

/// The OpenAPI document can say that both are RFC 3339 times, not that one
/// comes after the other: a range that holds nothing is an empty page, as
/// any other empty range is, rather than a refusal schemathesis flagged.
async fn an_until_at_or_before_since_gives_an_empty_page(backend: Backend) {
    let store = spawn_store(backend).await;
    let id = container_id(1);
    for second in 0..3 {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    for (since, until) in [(at(2), at(0)), (at(1), at(1))] {
        let page = store
            .get_json(&format!(
                "/containers/{id}/history?since={since}&until={until}"
            ))
            .await;
        assert_eq!(observed(&page), Vec::<String>::new(), "{since}..{until}");
        assert_eq!(page["next_cursor"], Value::Null);
    }
}

/// Any text of a history cursor's documented shape is a position in the
/// history, whether this store handed it out or not.
async fn any_cursor_of_the_documented_shape_is_a_position(backend: Backend) {
    let store = spawn_store(backend).await;
    let id = container_id(1);
    for second in 0..3 {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    let path = |cursor: &str| format!("/containers/{id}/history?cursor={cursor}");
    let page = store
        .get_json(&path(&format!(
            "h{}_9999-99-99T99:99:99.999999999Z",
            "9".repeat(30)
        )))
        .await;
    assert_eq!(observed(&page), [at(2), at(1), at(0)]);
    let page = store
        .get_json(&path("h0_2026-11-24T10:00:01.000000000Z"))
        .await;
    assert_eq!(observed(&page), [at(0)]);
}

async fn history_keeps_only_the_newest_up_to_its_limit(backend: Backend) {
    let store = spawn_store_with(backend, |config| config.history_limit = 3).await;
    let id = container_id(1);
    for second in 0..8 {
        store.store(&snapshot_with_id(&id, &at(second))).await;
    }
    store.store(&snapshot(2, &at(0))).await;

    let page = store.get_json(&format!("/containers/{id}/history")).await;

    assert_eq!(observed(&page), [at(7), at(6), at(5)]);
    assert_eq!(
        store.rows().await,
        (2, 4),
        "the other container's history is untouched"
    );
    let latest = store.get_json(&format!("/containers/{id}")).await;
    assert_eq!(latest["observed_at"], at(7));
}

async fn history_of_an_unknown_container_is_404(backend: Backend) {
    let store = spawn_store(backend).await;
    expect_error(
        store
            .get(&format!("/containers/{}/history", container_id(1)))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

both_backends!(
    history_is_newest_observed_first_and_pages_through,
    since_is_inclusive_and_until_exclusive,
    an_until_at_or_before_since_gives_an_empty_page,
    any_cursor_of_the_documented_shape_is_a_position,
    history_keeps_only_the_newest_up_to_its_limit,
    history_of_an_unknown_container_is_404,
);
