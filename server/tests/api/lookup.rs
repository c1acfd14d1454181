use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Backend, TestStore, at, both_backends, expect_error, snapshot_with_id, spawn_store,
};

const A: &str = "abcd1111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "abcd2222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A store holding A and B, which share the prefix `abcd`.
async fn store_a_and_b(backend: Backend) -> TestStore {
    let store = spawn_store(backend).await;
    store
        .store(&json!([
            snapshot_with_id(A, &at(0)),
            snapshot_with_id(B, &at(1))
        ]))
        .await;
    store
}

async fn a_container_is_found_by_its_id_or_a_unique_prefix(backend: Backend) {
    let store = store_a_and_b(backend).await;

    for given in [A, "abcd1", "ABCD1111"] {
        let found = store.get_json(&format!("/containers/{given}")).await;
        assert_eq!(found["id"], A, "{given}");
    }
}

async fn an_ambiguous_prefix_lists_the_candidates(backend: Backend) {
    let store = store_a_and_b(backend).await;

    let error = expect_error(store.get("/containers/abcd").await, StatusCode::CONFLICT).await;

    assert_eq!(error.detail.unwrap()["candidates"], json!([A, B]));
}

async fn unknown_and_malformed_ids_are_told_apart(backend: Backend) {
    let store = spawn_store(backend).await;
    store.store(&snapshot_with_id(A, &at(0))).await;

    let missing = expect_error(store.get("/containers/ffff").await, StatusCode::NOT_FOUND).await;
    assert!(missing.error.contains("ffff"), "{}", missing.error);
    for malformed in ["abc", "abcx", &format!("{A}0")] {
        let error = expect_error(
            store.get(&format!("/containers/{malformed}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            error.error.contains("not a container id"),
            "{}",
            error.error
        );
    }
}

both_backends!(
    a_container_is_found_by_its_id_or_a_unique_prefix,
    an_ambiguous_prefix_lists_the_candidates,
    unknown_and_malformed_ids_are_told_apart,
);
