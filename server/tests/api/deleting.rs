use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Backend, at, both_backends, container_id, expect_error, snapshot_with_id, spawn_store,
};

async fn delete_removes_the_container_and_its_history_only(backend: Backend) {
    let store = spawn_store(backend).await;
    let gone = container_id(1);
    let kept = container_id(2);
    store
        .store(&json!([
            snapshot_with_id(&gone, &at(0)),
            snapshot_with_id(&gone, &at(1)),
            snapshot_with_id(&kept, &at(0))
        ]))
        .await;
    let url = format!("{}/containers/{}", store.url, &gone[..10]);

    let response = store.http.delete(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(store.rows().await, (1, 1));
    expect_error(
        store.get(&format!("/containers/{gone}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        store.http.delete(&url).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    store.get_json(&format!("/containers/{kept}")).await;
}

both_backends!(delete_removes_the_container_and_its_history_only,);
