use crate::helpers::{
    Answer, ContainerSpec, TestContainer, TestDocker, answer_at_start, ask_at_start, spawn_agent,
};

/// Checks the parts of a first answer that used to be missing: the running state,
/// an address on each of `networks` that the engine gives the container, and stats.
async fn assert_complete(answer: &Answer, container: &TestContainer, networks: &[&str]) {
    let name = &container.name;
    assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    let snapshot = answer.json();
    assert_eq!(snapshot["id"], container.id.as_str(), "{snapshot}");
    assert_eq!(snapshot["state"], "running", "{name}: {snapshot}");
    let inspect = container.inspect().await;
    for network in networks {
        let engine = inspect["NetworkSettings"]["Networks"][network]["IPAddress"]
            .as_str()
            .unwrap_or_default();
        assert!(!engine.is_empty(), "{name} has no address on {network}");
        assert_eq!(
            snapshot["networks"][network]["ip_address"], engine,
            "{name} on {network}: {snapshot}"
        );
    }
    let stats = &snapshot["stats"];
    assert!(stats.is_object(), "{name}: no stats: {snapshot}");
    assert!(
        stats["memory_usage_bytes"].as_u64() > Some(0),
        "{name}: {snapshot}"
    );
    assert!(stats["pids"].as_u64() >= Some(1), "{name}: {snapshot}");
    let cpu = stats["cpu_percent"].as_f64().unwrap();
    assert!(
        cpu.is_finite() && (0.0..=200.0).contains(&cpu),
        "{name}: {snapshot}"
    );
}

/// A container that asks as it starts used to be answered from what the agent had read
/// before the start was over: without stats every time, and now and then not at all
/// (404), when the container listing had not caught up with the start. It must get its
/// running state, its address and stats every time.
#[tokio::test]
async fn a_container_that_asks_as_it_starts_is_running_with_its_address_and_stats() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    docker.image().await;
    let network = docker.network("net", "bridge").await;
    let gateway = docker.gateway(&network).await;
    let agent = spawn_agent(|_| {}).await;
    let script = ask_at_start(&gateway, agent.port);

    for round in 0..10 {
        let name = format!("eager-{round}");
        let container = docker
            .container(ContainerSpec::named(&name).on(&network).running(&script))
            .await;
        let answer = answer_at_start(&container).await;
        assert_complete(&answer, &container, &[&network]).await;
    }
}

/// The same on an overlay, where the container reaches the agent from its
/// `docker_gwbridge` leg, which the engine adds as it starts the container: the agent
/// used to find the caller by that leg and answer from the record it read at
/// `create` (`created`, no overlay address, no stats).
#[tokio::test]
async fn an_overlay_container_that_asks_as_it_starts_has_its_overlay_and_gwbridge_addresses() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    docker.image().await;
    let overlay = docker.network("overlay", "overlay").await;
    let agent = spawn_agent(|_| {}).await;
    // docker_gwbridge is there once an overlay container runs on the host.
    docker
        .container(ContainerSpec::named("first").on(&overlay))
        .await;
    let script = ask_at_start(&docker.gateway("docker_gwbridge").await, agent.port);

    for round in 0..5 {
        let name = format!("eager-{round}");
        let container = docker
            .container(ContainerSpec::named(&name).on(&overlay).running(&script))
            .await;
        let answer = answer_at_start(&container).await;
        assert_complete(&answer, &container, &[&overlay]).await;
        let gwbridge = docker.gateway_leg(&container.id).await;
        assert_eq!(
            answer.json()["networks"]["docker_gwbridge"]["ip_address"],
            gwbridge.as_str(),
            "{name}: {}",
            answer.body
        );
    }
}
