use std::time::Duration;

use crate::helpers::{ContainerSpec, TestDocker, eventually, spawn_agent};

#[tokio::test]
async fn a_container_started_later_is_answered_and_one_removed_is_gone() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    docker.image().await;
    let agent = spawn_agent(|_| {}).await;

    // Started after the agent: known from the event stream, or a refresh on the miss.
    let late = docker.container(ContainerSpec::named("late")).await;
    let answer = late.get(&agent, "/self").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], late.id.as_str());
    let path = format!("/containers/{}", late.id);

    late.stop().await;
    let stopped = eventually(
        Duration::from_secs(5),
        || agent.get(&path),
        |answer| answer.json()["state"] == "exited",
    )
    .await;
    let stopped = stopped.json();
    assert_eq!(stopped["state"], "exited", "{stopped}");
    assert!(stopped["stats"].is_null(), "{stopped}");
    assert_eq!(stopped["networks"]["bridge"]["ip_address"], "", "{stopped}");

    // Started again, it is the same container with a new start time.
    late.start().await;
    let restarted = eventually(
        Duration::from_secs(5),
        || agent.get(&path),
        |answer| answer.json()["state"] == "running",
    )
    .await
    .json();
    assert_eq!(restarted["state"], "running", "{restarted}");
    assert!(restarted["started_at"].as_str() > stopped["started_at"].as_str());
    let ip = late.inspect().await["NetworkSettings"]["Networks"]["bridge"]["IPAddress"].clone();
    let answer = late.get(&agent, "/self").await;
    assert_eq!(answer.json()["networks"]["bridge"]["ip_address"], ip);

    late.remove().await;
    let gone = eventually(
        Duration::from_secs(5),
        || agent.get(&path),
        |answer| answer.status == 404,
    )
    .await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let listed = agent.get("/containers").await.body;
    assert!(!listed.contains(&late.id), "{listed}");
}
