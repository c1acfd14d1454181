use crate::helpers::{TestDocker, spawn_agent};
use container_info_agent::config::Config;
use container_info_agent::startup::Application;

#[tokio::test]
async fn health_metrics_and_the_host_asking_self() {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    let agent = spawn_agent(|_| {}).await;
    assert_eq!(agent.get("/healthz").await.status, 200);
    assert_eq!(agent.get("/readyz").await.status, 200);

    // The host is no container, and cannot be told from one started with
    // --network host: 409, naming the address the agent saw, before any lookup.
    let answer = agent.get("/self").await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    let error = answer.json();
    assert_eq!(error["detail"]["address"], "127.0.0.1", "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("127.0.0.1"),
        "{error}"
    );

    let unknown = agent.get("/nothing/here").await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap()
            .contains("/nothing/here")
    );

    let metrics = agent.get("/metrics").await.body;
    for expected in [
        "container_info_agent_engine_up 1",
        "container_info_agent_http_requests_total{route=\"/self\",status=\"409\"} 1",
        "container_info_agent_miss_refreshes_total 0",
    ] {
        assert!(metrics.contains(expected), "no {expected} in\n{metrics}");
    }
}

#[tokio::test]
async fn an_unreachable_engine_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-engine.sock");
    let mut config = Config::with_defaults();
    config.docker_host = format!("unix://{}", socket.display());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let Err(error) = Application::build(config, listener).await else {
        panic!("the agent started without an engine");
    };
    let message = format!("{error:#}");
    assert!(message.contains(&socket.display().to_string()), "{message}");
    assert!(
        message.contains("--docker-host") && message.contains("DOCKER_HOST"),
        "{message}"
    );
}

#[tokio::test]
async fn a_token_file_that_cannot_be_used_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "hunter2\n").unwrap();
    let absent = dir.path().join("absent");
    for (path, why) in [(short, "at least 32"), (absent, "cannot read")] {
        let mut config = Config::with_defaults();
        config.token_file = Some(path.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let Err(error) = Application::build(config, listener).await else {
            panic!("the agent started with the token file {}", path.display());
        };
        let message = format!("{error:#}");
        assert!(
            message.contains("--token-file") && message.contains(why),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(!message.contains("hunter2"), "the secret itself: {message}");
    }
}
