//! Who may write and read: a store with a token takes unsigned snapshots and
//! deletes only from the token's holder, and snapshots its agents signed from
//! anyone; a signature that does not match is refused, and nothing changes.

use std::path::PathBuf;

use clap::Parser;
use container_info_server::config::Cli;
use container_info_server::startup::Application;
use container_info_wire::Snapshot;
use container_info_wire::attestation::{Secret, Signed};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, KEY, Secrets, TOKEN, TestStore, at, bearer, both_backends, container_id, expect_error,
    signed, snapshot, spawn_guarded_store,
};

async fn post_as(
    store: &TestStore,
    authorization: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = store
        .http
        .post(format!("{}/containers", store.url))
        .json(body);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

async fn an_unsigned_write_needs_the_token_and_a_wrong_one_is_named(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let body = snapshot(1, &at(0));
    let refusals = [
        (None, r#"Bearer realm="container-info""#),
        (Some("Bearer not-the-token"), r#"error="invalid_token""#),
        (Some("Basic dXNlcjpwdw=="), r#"error="invalid_request""#),
    ];
    for (authorization, challenge) in refusals {
        let response = post_as(&store, authorization, &body).await;
        let header = response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.contains(challenge), "{authorization:?}: {header}");
        let error = expect_error(response, StatusCode::UNAUTHORIZED).await;
        assert!(!error.error.contains(TOKEN), "{}", error.error);
    }
    let error = expect_error(post_as(&store, None, &body).await, StatusCode::UNAUTHORIZED).await;
    assert!(
        error.error.contains("Authorization: Bearer"),
        "{}",
        error.error
    );
    assert_eq!(
        store.rows().await,
        (0, 0),
        "a refused write changes nothing"
    );

    let response = post_as(&store, Some(&bearer()), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(
        stored["attested_by"],
        Value::Null,
        "a token attests nothing"
    );
}

async fn deleting_needs_the_token(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    post_as(&store, Some(&bearer()), &snapshot(1, &at(0))).await;
    let url = format!("{}/containers/{}", store.url, container_id(1));

    let response = store.http.delete(&url).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(store.rows().await, (1, 1));

    let response = store
        .http
        .delete(&url)
        .header("Authorization", bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(store.rows().await, (0, 0));
}

async fn a_snapshot_its_agent_signed_needs_no_token_and_is_stored_as_attested(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let response = post_as(&store, None, &signed(snapshot(1, &at(0)), KEY)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["attested_by"], "node-1");
    assert_eq!(stored["attestation"]["alg"], "hmac-sha256");

    // Read back, it still carries the signature a reader with the key can check.
    let read = store
        .get_json(&format!("/containers/{}", container_id(1)))
        .await;
    let snapshot: Snapshot = serde_json::from_value(read).unwrap();
    assert_eq!(
        snapshot.verify(&Secret::new(KEY.as_bytes()).unwrap()),
        Ok(())
    );
}

async fn a_signed_snapshot_with_a_field_changed_is_refused_whole(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let changes: [(&str, Value); 4] = [
        ("name", json!("someone-else")),
        ("node", json!("node-2")),
        ("state", json!("exited")),
        ("labels", json!({"role": "admin"})),
    ];
    for (field, value) in changes {
        let mut forged = signed(snapshot(2, &at(0)), KEY);
        forged[field] = value;
        // Even beside a good one, and even with the token: a bad signature is
        // a forgery, not a missing credential.
        let body = json!([signed(snapshot(1, &at(0)), KEY), forged]);
        for authorization in [None, Some(bearer())] {
            let response = post_as(&store, authorization.as_deref(), &body).await;
            let error = expect_error(response, StatusCode::FORBIDDEN).await;
            assert!(
                error.error.contains("signature does not match"),
                "{field}: {}",
                error.error
            );
            assert_eq!(error.detail.unwrap()["path"], "[1]");
        }
    }
    let other_key = signed(
        snapshot(1, &at(0)),
        "another-key-0123456789abcdef0123456789abcdef",
    );
    let error = expect_error(
        post_as(&store, None, &other_key).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(error.detail.unwrap()["path"], "the snapshot");
    let mut unknown = signed(snapshot(1, &at(0)), KEY);
    unknown["attestation"]["alg"] = json!("none");
    let error = expect_error(post_as(&store, None, &unknown).await, StatusCode::FORBIDDEN).await;
    assert!(
        error.error.contains("unknown signature algorithm"),
        "{}",
        error.error
    );
    assert_eq!(store.rows().await, (0, 0));
}

async fn without_the_agents_key_a_signature_counts_for_nothing(backend: Backend) {
    let (store, _secrets) =
        spawn_guarded_store(backend, |config, _| config.signing_key_file = None).await;
    let response = post_as(&store, None, &signed(snapshot(1, &at(0)), KEY)).await;
    expect_error(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(store.rows().await, (0, 0));
}

async fn protected_reads_need_the_token_and_operations_stay_open(backend: Backend) {
    let (store, _secrets) =
        spawn_guarded_store(backend, |config, _| config.protect_reads = true).await;
    post_as(&store, None, &signed(snapshot(1, &at(0)), KEY)).await;
    let id = container_id(1);
    for path in [
        "/containers".to_owned(),
        format!("/containers/{id}"),
        format!("/containers/{id}/history"),
    ] {
        expect_error(store.get(&path).await, StatusCode::UNAUTHORIZED).await;
        let response = store
            .http
            .get(format!("{}{path}", store.url))
            .header("Authorization", bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(store.get(open).await.status(), StatusCode::OK, "{open}");
    }
}

async fn reads_stay_open_by_default(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    post_as(&store, None, &signed(snapshot(1, &at(0)), KEY)).await;
    assert_eq!(store.containers().await.len(), 1);
}

#[tokio::test]
async fn a_store_will_not_start_with_a_short_or_missing_secret() {
    let secrets = Secrets::new();
    std::fs::write(secrets.path("short"), "hunter2\n").unwrap();
    let start = async |token: PathBuf| {
        let mut config = Cli::parse_from(["container-info-server"]).config;
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.database = secrets.path("store.db").into();
        config.token_file = Some(token);
        match Application::build(config).await {
            Ok(_) => panic!("the store started"),
            Err(error) => error.to_string(),
        }
    };
    let short = start(secrets.path("short")).await;
    assert!(
        short.contains("7 characters") && short.contains("at least 32"),
        "{short}"
    );
    let missing = start(secrets.path("nowhere")).await;
    assert!(missing.contains("cannot read the secret file"), "{missing}");

    let error = Cli::try_parse_from(["container-info-server", "--protect-reads"]).unwrap_err();
    assert!(error.to_string().contains("--token-file"), "{error}");
}

both_backends!(
    an_unsigned_write_needs_the_token_and_a_wrong_one_is_named,
    deleting_needs_the_token,
    a_snapshot_its_agent_signed_needs_no_token_and_is_stored_as_attested,
    a_signed_snapshot_with_a_field_changed_is_refused_whole,
    without_the_agents_key_a_signature_counts_for_nothing,
    protected_reads_need_the_token_and_operations_stay_open,
    reads_stay_open_by_default,
);
