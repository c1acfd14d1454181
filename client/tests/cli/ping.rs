//! The roll call: the agent, then every store replica.

use std::path::PathBuf;
use std::process::Command;

use container_info_client::commands::ping::roll_call;
use container_info_client::service::Service;
use reqwest::Url;

use crate::helpers::*;

#[path = "../../../server/tests/support/replica.rs"]
mod replica;
use replica::Replica;

/// The store's binary, built beside this test's; built here when this crate's
/// tests run alone (`cargo nextest run -p container-info-client`).
fn store_binary() -> PathBuf {
    let binary = binaries_folder().join("container-info-server");
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "container-info-server",
                "--bin",
                "container-info-server",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the store binary builds");
    }
    assert!(binary.exists(), "no {}", binary.display());
    binary
}

/// Three replicas on one database file and one port, each on its own loopback
/// address as Swarm tasks are on theirs; the third is stopped.
#[tokio::test]
async fn two_replicas_answer_with_their_ids_and_a_stopped_one_does_not() {
    let binary = store_binary();
    let folder = tempfile::tempdir().unwrap();
    let database = folder.path().join("store.db");
    // The kernel picks the port as replica 1 binds it: a port picked before
    // could be taken by then, by any other test's connection.
    let first = Replica::start(&binary, "127.0.0.1:0", "replica-1", &database);
    let port = Url::parse(&first.url).unwrap().port().unwrap();
    let mut replicas = vec![first];
    for n in 2..=3 {
        let listen = format!("127.0.0.{n}:{port}");
        replicas.push(Replica::start(
            &binary,
            &listen,
            &format!("replica-{n}"),
            &database,
        ));
    }
    replicas[2].kill();
    let agent = spawn_agent_for(30).await;

    let mut targets = vec![(Service::Agent, Url::parse(&agent.url).unwrap())];
    targets.extend(
        replicas
            .iter()
            .map(|r| (Service::Store, Url::parse(&r.url).unwrap())),
    );
    let answers = roll_call(&reqwest::Client::new(), &targets).await;

    let said: Vec<(&str, Option<&str>, bool)> = answers
        .iter()
        .map(|a| (a.role.as_str(), a.replica.as_deref(), a.error.is_none()))
        .collect();
    assert_eq!(
        said,
        [
            ("agent", None, true),
            ("store", Some("replica-1"), true),
            ("store", Some("replica-2"), true),
            ("store", None, false),
        ]
    );
    assert_eq!(answers[3].url, format!("http://127.0.0.3:{port}/"));
    assert!(
        answers[3]
            .error
            .as_deref()
            .unwrap()
            .contains("Connection refused"),
        "{answers:?}"
    );
    assert!(
        answers[..3]
            .iter()
            .all(|a| a.latency_ms.is_some_and(|ms| ms > 0.0))
    );
}

#[tokio::test]
async fn ping_prints_one_line_per_target_and_fails_when_one_is_silent() {
    let (store, agent) = (spawn_store().await, spawn_agent_for(31).await);

    // An empty service name: no Swarm DNS, the store's URL alone.
    let run = client(&store.url, &agent.url, &["ping", "--service", ""]).await;
    let lines: Vec<&str> = run.succeeded().lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("WHO"), "{lines:?}");
    assert!(
        lines[1].starts_with("agent") && lines[1].contains(&agent.url) && lines[1].ends_with(" ms")
    );
    assert!(
        lines[2].starts_with(REPLICA) && lines[2].contains(&store.url) && lines[2].ends_with(" ms")
    );

    let silent = nothing_listens();
    let run = client(&store.url, &silent, &["ping", "--service", "", "--json"]).await;
    let message = run.failed_with(6);
    assert!(
        message.contains(&format!("1 of 2 did not answer: {silent}/")),
        "{message}"
    );
    let answers: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answers[0]["role"], "agent");
    assert!(
        answers[0]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused")
    );
    assert_eq!(answers[1]["replica"], REPLICA);
}
