use crate::helpers::{ContainerSpec, TestDocker, spawn_agent};

/// An overlay container reaches the host through `docker_gwbridge`, an address its
/// own inspect does not show; the agent finds it from the network's side.
#[tokio::test]
async fn an_overlay_container_is_known_by_its_docker_gwbridge_address() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    docker.image().await;
    let overlay = docker.network("overlay", "overlay").await;
    let agent = spawn_agent(|_| {}).await;
    let container = docker
        .container(ContainerSpec::named("overlaid").on(&overlay))
        .await;
    let leg_ip = docker.gateway_leg(&container.id).await;
    let host = docker.gateway("docker_gwbridge").await;

    // The engine sends no event for the docker_gwbridge leg; the agent must still
    // learn it from the start event, well within this pause, not from a miss.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let answer = container.get_from(&host, agent.port, "/self").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let metrics = agent.get("/metrics").await.body;
    assert!(
        metrics.contains("container_info_agent_miss_refreshes_total 0"),
        "{metrics}"
    );
    let snapshot = answer.json();
    assert_eq!(snapshot["id"], container.id.as_str());
    assert_eq!(
        snapshot["networks"]["docker_gwbridge"]["ip_address"],
        leg_ip.as_str()
    );
    assert_eq!(
        snapshot["networks"][&overlay]["ip_address"],
        container.ip.as_str()
    );
}
