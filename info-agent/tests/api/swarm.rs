use std::time::{Duration, Instant};

use container_info_testkit::{Backend, spawn_store};
use serde_json::Value;

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

/// A Swarm task's snapshot names its service, task and stack (from the labels
/// the engine and `docker stack deploy` give its container), and a store
/// finds it by them.
#[tokio::test]
async fn a_swarm_task_names_its_service_task_and_stack_and_the_store_filters_by_them() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    // `docker stack deploy` needs the CLI's stack files; the label it puts on
    // every container of the stack stands for it.
    let stack = format!("{}-stack", docker.run);
    let (service, task_container) = docker
        .service("svc", &[("com.docker.stack.namespace", stack.as_str())])
        .await;
    let plain = docker.container(ContainerSpec::named("not-a-task")).await;
    let store = spawn_store(Backend::Sqlite).await;
    let outbox = tempfile::tempdir().unwrap();
    let agent = spawn_agent(|config| {
        config.report_to = vec![store.url.clone()];
        config.outbox = Some(outbox.path().to_owned());
    })
    .await;

    let task = agent.get(&format!("/containers/{task_container}")).await;
    assert_eq!(task.status, 200, "{}", task.body);
    let task = task.json();
    assert_eq!(task["service"], service.as_str());
    assert_eq!(task["stack"], stack.as_str());
    let task_name = task["task"].as_str().unwrap_or_default();
    assert!(
        task_name.starts_with(&format!("{service}.1.")),
        "{task_name:?}"
    );
    let not_a_task = agent.get(&format!("/containers/{}", plain.id)).await.json();
    for field in ["service", "task", "stack"] {
        assert!(not_a_task.get(field).is_none(), "{not_a_task}");
    }

    let ids = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids(store.get_json("/containers?limit=1000").await).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the store has not both containers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for filter in [format!("service={service}"), format!("stack={stack}")] {
        let found = store.get_json(&format!("/containers?{filter}")).await;
        assert_eq!(
            ids(found.clone()),
            std::slice::from_ref(&task_container),
            "{filter}"
        );
        assert_eq!(found["items"][0]["task"], task_name, "{filter}");
    }
    for filter in [format!("service={service}x"), format!("stack={stack}x")] {
        let found = store.get_json(&format!("/containers?{filter}")).await;
        assert_eq!(ids(found), Vec::<String>::new(), "{filter}");
    }
}
