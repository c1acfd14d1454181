//! Every way a one-shot command fails: a non-zero exit code and one line on
//! stderr naming the URL tried and what to set to change it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn agent_down() {
    let store = spawn_store(Backend::Sqlite).await;
    let agent = nothing_listens();

    for command in ["post", "whoami"] {
        let run = client(&store.url, &agent, &[command]).await;
        let message = run.failed_with(3);
        assert!(message.starts_with("container-info: GET "), "{message}");
        assert!(message.contains(&format!("{agent}/self")), "{message}");
        assert!(
            message.contains("the agent is not responding (Connection refused"),
            "{message}"
        );
        assert!(
            message.contains("--agent URL or CONTAINER_INFO_AGENT"),
            "{message}"
        );
        assert_eq!(run.stdout, "");
    }
    assert_eq!(store.containers().await, []);
}

#[tokio::test]
async fn store_down() {
    let agent = spawn_agent_for(20).await;
    let store = nothing_listens();

    let post = client(&store, &agent.url, &["post"]).await;
    let message = post.failed_with(3);
    assert!(
        message.contains(&format!("POST {store}/containers")),
        "{message}"
    );
    assert!(message.contains("the store is not responding"), "{message}");
    assert!(
        message.contains("--server URL or CONTAINER_INFO_SERVER"),
        "{message}"
    );

    for args in [&["get"][..], &["get", "abcd"], &["history", "abcd"]] {
        let run = client(&store, &agent.url, args).await;
        let message = run.failed_with(3);
        assert!(
            message.contains(&format!("GET {store}/containers")),
            "{message}"
        );
        assert!(message.contains("CONTAINER_INFO_SERVER"), "{message}");
    }
}

#[tokio::test]
async fn store_answers_4xx() {
    let store = spawn_store(Backend::Sqlite).await;
    // Two IDs that share their first digits, so a short prefix is ambiguous.
    let mut twin = snapshot(21, &at(0));
    let twin_id = format!("{}{}", &container_id(21)[..8], "0".repeat(56));
    twin["id"] = twin_id.clone().into();
    store.store(&json!([snapshot(21, &at(0)), twin])).await;
    let agent = nothing_listens();

    let missing = client(&store.url, &agent, &["get", "ffffffff"]).await;
    let message = missing.failed_with(4);
    assert!(
        message.contains(&format!("GET {}/containers/ffffffff", store.url)),
        "{message}"
    );
    assert!(
        message.contains(
            "answered 404 Not Found: no container has an id that starts with \"ffffffff\""
        ),
        "{message}"
    );
    assert!(
        message.contains("--server URL or CONTAINER_INFO_SERVER"),
        "{message}"
    );

    let ambiguous = client(&store.url, &agent, &["history", &container_id(21)[..6]]).await;
    let message = ambiguous.failed_with(4);
    assert!(
        message.contains("409 Conflict") && message.contains("give more of the id"),
        "{message}"
    );

    // What a person types stays one path segment, and the store says what is wrong with it.
    let not_hex = client(&store.url, &agent, &["get", "web/1"]).await;
    let message = not_hex.failed_with(4);
    assert!(message.contains("/containers/web%2F1"), "{message}");
    assert!(message.contains("400 Bad Request"), "{message}");
}

#[tokio::test]
async fn agent_answers_an_error() {
    let store = spawn_store(Backend::Sqlite).await;
    let agent = spawn_agent(
        503,
        json!({"error": "the Docker Engine is not answering", "detail": null}),
    )
    .await;

    let run = client(&store.url, &agent.url, &["post"]).await;
    let message = run.failed_with(5);
    assert!(
        message.contains(
            "the agent answered 503 Service Unavailable: the Docker Engine is not answering"
        ),
        "{message}"
    );
    assert!(message.contains("CONTAINER_INFO_AGENT"), "{message}");
    assert_eq!(store.containers().await, []);
}

#[tokio::test]
async fn agent_answers_something_that_is_no_snapshot() {
    let store = spawn_store(Backend::Sqlite).await;
    let agent = spawn_agent(200, json!({"id": "not-an-id"})).await;

    let run = client(&store.url, &agent.url, &["whoami"]).await;
    let message = run.failed_with(3);
    assert!(
        message.contains("the agent sent an answer this client cannot read"),
        "{message}"
    );
    assert!(
        message.contains("is --agent URL or CONTAINER_INFO_AGENT right?"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_usage_is_refused_before_any_request() {
    let agent = nothing_listens();
    let bad_label = client(&nothing_listens(), &agent, &["get", "--label", "novalue"]).await;
    assert_eq!(bad_label.code, Some(2), "{bad_label:?}");
    assert!(
        bad_label.stderr.contains("\"novalue\" is not KEY=VALUE"),
        "{bad_label:?}"
    );

    let bad_url = client("ftp://store", &agent, &["get"]).await;
    assert_eq!(bad_url.code, Some(2), "{bad_url:?}");
    assert!(
        bad_url.stderr.contains("not an http:// or https:// URL"),
        "{bad_url:?}"
    );
}

#[tokio::test]
async fn no_ca_certificates_are_needed_for_plain_http() {
    let store = spawn_store(Backend::Sqlite).await;
    store.store(&snapshot(22, &at(0))).await;
    // As in an image built from scratch without a CA bundle.
    let empty = tempfile::tempdir().unwrap();
    let bundle = empty.path().join("ca-certificates.crt");
    std::fs::write(&bundle, "").unwrap();

    let run = tokio::process::Command::new(CLIENT)
        .args(["get", "--json", "--server", &store.url])
        .env("SSL_CERT_FILE", &bundle)
        .env("SSL_CERT_DIR", empty.path())
        .output()
        .await
        .unwrap();

    let run = Run::from(run);
    let listed: Vec<serde_json::Value> = serde_json::from_str(run.succeeded()).unwrap();
    assert_eq!(listed[0]["id"], container_id(22));
}

#[tokio::test]
async fn store_refuses_a_post_to_a_wrong_address() {
    let (store, agent) = (
        spawn_store(Backend::Sqlite).await,
        spawn_agent_for(23).await,
    );
    let wrong = format!("{}/api", store.url);

    let run = client(&wrong, &agent.url, &["post"]).await;

    let message = run.failed_with(4);
    assert!(
        message.contains(&format!("POST {wrong}/containers")),
        "{message}"
    );
    assert!(
        message.contains("the store answered 404 Not Found: there is no route"),
        "{message}"
    );
    assert!(
        message.contains("--server URL or CONTAINER_INFO_SERVER"),
        "{message}"
    );
    assert_eq!(store.containers().await, []);
}

#[tokio::test]
async fn a_slow_agent_is_given_up_on() {
    let agent = spawn_agent_after(Duration::from_secs(8), 200, snapshot(24, &at(0))).await;
    let started = Instant::now();

    let run = client(&nothing_listens(), &agent.url, &["whoami"]).await;

    let message = run.failed_with(3);
    assert!(
        message.contains("the agent is not responding (no answer within 5 s)"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}
