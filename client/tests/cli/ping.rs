//! The roll call: the agent, then every store replica.

use container_info_client::commands::ping::roll_call;
use container_info_client::service::Service;
use reqwest::Url;

use crate::helpers::*;

/// Three replicas' addresses on one port, each on its own loopback address as
/// Swarm tasks are on theirs: two stores on one database file answer, and
/// nothing runs on the third.
#[tokio::test]
async fn two_replicas_answer_with_their_ids_and_a_stopped_one_does_not() {
    let folder = tempfile::tempdir().unwrap();
    let database = folder.path().join("store.db");
    // The kernel picks the port as replica 1 binds it: a port picked before
    // could be taken by then, by any other test's connection.
    let replica = |listen: String, name: &'static str| {
        let database = database.clone();
        spawn_store_with(move |config| {
            config.listen = listen.parse().unwrap();
            config.replica_id = Some(name.to_owned());
            config.database = database;
        })
    };
    let first = replica("127.0.0.1:0".to_owned(), "replica-1").await;
    let port = Url::parse(&first.url).unwrap().port().unwrap();
    let second = replica(format!("127.0.0.2:{port}"), "replica-2").await;
    let stopped = format!("http://127.0.0.3:{port}");
    let agent = spawn_agent_for(30).await;

    let mut targets = vec![(Service::Agent, Url::parse(&agent.url).unwrap())];
    targets.extend(
        [&first.url, &second.url, &stopped]
            .into_iter()
            .map(|url| (Service::Store, Url::parse(url).unwrap())),
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
