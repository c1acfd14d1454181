//! The client against a store that has a token: `post` of what the agent
//! signed needs nothing, anything else needs --token-file, and a token that
//! cannot be read is a usage error.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn post_of_a_signed_snapshot_needs_no_token() {
    let (store, _secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let agent = spawn_agent(200, signed(snapshot(1, &at(0)), KEY)).await;

    let run = client(&store.url, &agent.url, &["post", "--json"]).await;

    let stored: Value = serde_json::from_str(run.succeeded()).unwrap();
    assert_eq!(stored["attested_by"], "node-1");
    assert_eq!(store.containers().await.len(), 1);
}

#[tokio::test]
async fn an_unsigned_post_needs_the_token_file() {
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let agent = spawn_agent_for(1).await;

    let refused = client(&store.url, &agent.url, &["post"]).await;
    let message = refused.failed_with(4);
    assert!(message.contains("401 Unauthorized"), "{message}");
    assert!(message.contains("--token-file"), "{message}");
    assert_eq!(store.rows().await, (0, 0));

    let token = secrets.token_file();
    let args = ["post", "--json", "--token-file", token.to_str().unwrap()];
    let stored: Value =
        serde_json::from_str(client(&store.url, &agent.url, &args).await.succeeded()).unwrap();
    assert_eq!(stored["attested_by"], Value::Null);
}

#[tokio::test]
async fn protected_reads_need_the_token_file() {
    let (store, secrets) =
        spawn_guarded_store(Backend::Sqlite, |config, _| config.protect_reads = true).await;
    let agent = spawn_agent(200, signed(snapshot(1, &at(0)), KEY)).await;
    client(&store.url, &agent.url, &["post"]).await.succeeded();

    let refused = client(&store.url, &agent.url, &["get"]).await;
    assert!(
        refused
            .failed_with(4)
            .contains("with --protect-reads needs the store's token")
    );

    let token = secrets.token_file();
    let listed = client(
        &store.url,
        &agent.url,
        &["get", "--token-file", token.to_str().unwrap()],
    )
    .await;
    assert!(listed.succeeded().contains(&container_id(1)[..12]));

    // Nodes are read the same way.
    report_node(&store, "worker-1", 60_000).await;
    let refused = client(&store.url, &agent.url, &["nodes"]).await;
    assert!(
        refused.failed_with(4).contains("needs the store's token"),
        "{refused:?}"
    );
    let nodes = client(
        &store.url,
        &agent.url,
        &["nodes", "--token-file", token.to_str().unwrap()],
    )
    .await;
    assert!(
        nodes
            .succeeded()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("worker-1"),
        "{nodes:?}"
    );
}

#[tokio::test]
async fn a_token_file_that_cannot_be_used_is_a_usage_error() {
    let (store, agent) = (spawn_store(Backend::Sqlite).await, spawn_agent_for(1).await);
    let secrets = Secrets::new();
    std::fs::write(secrets.path("short"), "abc").unwrap();
    for (file, says) in [
        ("missing", "cannot read the secret file"),
        ("short", "at least 32"),
    ] {
        let path = secrets.path(file);
        let run = client(
            &store.url,
            &agent.url,
            &["get", "--token-file", path.to_str().unwrap()],
        )
        .await;
        assert!(run.failed_with(2).contains(says), "{run:?}");
    }
    assert_eq!(store.rows().await, (0, 0));
}
