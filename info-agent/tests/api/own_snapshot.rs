use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    Answer, ContainerSpec, TestAgent, TestContainer, TestDocker, eventually, spawn_agent,
};

/// Checks that `answer` is `container`'s own snapshot, as the engine describes it.
async fn assert_is_own_snapshot(answer: &Answer, container: &TestContainer, image: &str) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let snapshot = answer.json();
    let inspect = container.inspect().await;
    assert_eq!(snapshot["id"], container.id.as_str());
    assert_eq!(snapshot["name"], container.name.as_str());
    assert_eq!(snapshot["image"], image);
    assert_eq!(snapshot["image_id"], inspect["Image"]);
    assert_eq!(snapshot["state"], "running");
    assert_eq!(snapshot["node"], "test-node");
    let networks = snapshot["networks"].as_object().unwrap();
    assert_eq!(
        networks.keys().collect::<Vec<_>>(),
        [&container.network],
        "{snapshot}"
    );
    let network = &networks[&container.network];
    assert_eq!(network["ip_address"], container.ip.as_str());
    assert_eq!(network["gateway"], container.gateway.as_str());
    let started_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(snapshot["started_at"].clone()).unwrap();
    let engine_started: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(inspect["State"]["StartedAt"].clone()).unwrap();
    assert_eq!(started_at, engine_started);
}

fn stats_are_sane(stats: &Value) {
    let cpu = stats["cpu_percent"].as_f64().unwrap();
    // A container that sleeps uses next to no CPU; 2 CPUs on the test machine at most.
    assert!(cpu.is_finite() && (0.0..=200.0).contains(&cpu), "{stats}");
    assert!(stats["memory_usage_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["memory_limit_bytes"], 0, "no limit was set: {stats}");
    assert!(stats["pids"].as_u64().unwrap() >= 1, "{stats}");
    // The requests to the agent went over this interface.
    assert!(stats["network_rx_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["network_tx_bytes"].as_u64().unwrap() > 0, "{stats}");
}

#[tokio::test]
async fn containers_on_the_default_and_a_user_bridge_each_get_their_own_snapshot() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let image = docker.image().await;
    let network = docker.network("net", "bridge").await;
    let on_default = docker.container(ContainerSpec::named("default")).await;
    let on_user = docker
        .container(ContainerSpec::named("user").on(&network))
        .await;
    assert_ne!(on_default.gateway, on_user.gateway);
    let agent = spawn_agent(|config| config.node_name = Some("test-node".into())).await;

    for container in [&on_default, &on_user] {
        let answer = container.get(&agent, "/self").await;
        assert_is_own_snapshot(&answer, container, &image).await;
        // Stats come from the agent's own sampling every few seconds: wait for a
        // reading taken after the container sent its requests to the agent.
        let answer = eventually(
            Duration::from_secs(10),
            || container.get(&agent, "/self"),
            |answer| answer.json()["stats"]["network_tx_bytes"].as_u64() > Some(0),
        )
        .await;
        stats_are_sane(&answer.json()["stats"]);
    }
}

/// What makes /self fast is that it is answered from what the agent already
/// holds, not from a call to the engine per request (the benchmark measures
/// the time): once the container is known, with a stats reading, answers cause
/// no refreshes and no reads.
#[tokio::test]
async fn self_is_answered_from_the_cache_without_asking_the_engine() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("quick")).await;
    let agent = spawn_agent(|_| {}).await;
    assert_eq!(container.get(&agent, "/self").await.status, 200);
    let refreshes_after_first = counter(&agent, "miss_refreshes_total").await;
    let rereads_after_first = counter(&agent, "caller_rereads_total").await;
    for _ in 0..10 {
        assert_eq!(container.get(&agent, "/self").await.status, 200);
    }
    assert_eq!(
        counter(&agent, "miss_refreshes_total").await,
        refreshes_after_first
    );
    assert_eq!(
        counter(&agent, "caller_rereads_total").await,
        rereads_after_first
    );
}

async fn counter(agent: &TestAgent, name: &str) -> f64 {
    let metrics = agent.get("/metrics").await.body;
    let name = format!("container_info_agent_{name} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&name))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name}counter in\n{metrics}"))
}
