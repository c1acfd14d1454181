use std::time::Duration;

use crate::helpers::{
    ContainerSpec, EngineProxy, TestAgent, TestContainer, TestDocker, engine_socket, eventually,
    spawn_agent,
};

#[tokio::test]
async fn losing_the_engine_answers_503_and_the_agent_recovers() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let Some(engine) = engine_socket() else {
        eprintln!(
            "SKIPPED: the engine is not reached through a Unix socket to put a proxy in front of"
        );
        return;
    };
    let container = docker.container(ContainerSpec::named("patient")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = EngineProxy::start(dir.path().join("docker.sock"), engine);
    let proxy_host = format!("unix://{}", proxy.path.display());
    let agent = spawn_agent(|config| config.docker_host = proxy_host.clone()).await;
    assert_eq!(agent.get("/readyz").await.status, 200);
    assert_eq!(container.get(&agent, "/self").await.status, 200);

    proxy.stop();
    assert_engine_down(&agent, &container, &proxy_host).await;
    proxy.resume();
    assert_recovered(&agent, &container).await;
}

/// The engine is away: not ready, naming the engine; no answers from what the agent
/// held before; the process itself healthy.
async fn assert_engine_down(agent: &TestAgent, container: &TestContainer, proxy_host: &str) {
    let not_ready = eventually(
        Duration::from_secs(5),
        || agent.get("/readyz"),
        |answer| answer.status == 503,
    )
    .await;
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    let error = not_ready.json();
    assert_eq!(error["detail"]["docker_host"], proxy_host, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains(proxy_host),
        "{error}"
    );
    let answer = container.get(agent, "/self").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("keeps retrying"),
        "{}",
        answer.body
    );
    assert_eq!(agent.get("/containers").await.status, 503);
    assert_eq!(
        agent.get("/healthz").await.status,
        200,
        "the process itself is fine"
    );
}

/// The engine is back: ready again, answering, and the loss counted once.
async fn assert_recovered(agent: &TestAgent, container: &TestContainer) {
    let ready = eventually(
        Duration::from_secs(20),
        || agent.get("/readyz"),
        |answer| answer.status == 200,
    )
    .await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let answer = container.get(agent, "/self").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], container.id.as_str());
    let metrics = agent.get("/metrics").await.body;
    assert!(
        metrics.contains("container_info_agent_engine_losses_total 1"),
        "{metrics}"
    );
}
