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
        spawn_store_with(Backend::Sqlite, move |config| {
            config.listen = listen.parse().unwrap();
            config.replica_id = Some(name.to_owned());
            config.database = database.into();
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
    let (store, agent) = (
        spawn_store(Backend::Sqlite).await,
        spawn_agent_for(31).await,
    );

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

/// Every replica the store's roll call lists is asked at its own address,
/// with no Swarm DNS: two answer, and the third, whose advertised address
/// nobody listens on, is marked.
#[tokio::test]
async fn ping_lists_every_replica_of_the_roll_call_and_marks_the_silent_one() {
    let folder = tempfile::tempdir().unwrap();
    let database = folder.path().join("store.db");
    let replica = |listen: String, name: &'static str, advertise: Option<String>| {
        let database = database.clone();
        spawn_store_with(Backend::Sqlite, move |config| {
            config.listen = listen.parse().unwrap();
            config.replica_id = Some(name.to_owned());
            config.database = database.into();
            config.advertise_address = advertise;
        })
    };
    let first = replica("127.0.0.1:0".to_owned(), "replica-1", None).await;
    let port = Url::parse(&first.url).unwrap().port().unwrap();
    let _second = replica(format!("127.0.0.2:{port}"), "replica-2", None).await;
    let elsewhere = format!("127.0.0.3:{port}");
    let _third = replica(
        format!("127.0.0.4:{port}"),
        "replica-3",
        Some(elsewhere.clone()),
    )
    .await;
    let agent = spawn_agent_for(32).await;
    for _ in 0..100 {
        let listed = first.get_json("/replicas").await["items"]
            .as_array()
            .unwrap()
            .len();
        if listed == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let run = client(&first.url, &agent.url, &["ping", "--service", ""]).await;
    let message = run.failed_with(6);
    assert!(
        message.contains(&format!("1 of 4 did not answer: http://{elsewhere}/")),
        "{message}"
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (line, (name, address)) in lines[2..].iter().zip([
        ("replica-1", format!("127.0.0.1:{port}")),
        ("replica-2", format!("127.0.0.2:{port}")),
        ("replica-3", elsewhere.clone()),
    ]) {
        assert!(line.starts_with(name) && line.contains(&address), "{line}");
    }
    assert!(
        lines[2].ends_with(" ms") && lines[3].ends_with(" ms"),
        "{lines:?}"
    );
    assert!(lines[4].contains("not responding"), "{lines:?}");
    let leaders = lines[2..]
        .iter()
        .filter(|line| line.contains(" leader "))
        .count();
    assert_eq!(leaders, 1, "{lines:?}");
}
