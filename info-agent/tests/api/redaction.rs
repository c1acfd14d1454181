use crate::helpers::{ContainerSpec, TestDocker, labels, spawn_agent};

#[tokio::test]
async fn redacted_labels_and_environment_never_leave_the_agent() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let secret = format!("{}-hunter2", docker.run);
    let env = [format!("DATABASE_PASSWORD={secret}")];
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let container = docker
        .container(ContainerSpec {
            env: &env,
            labels: &[
                ("com.example.team", "blue"),
                ("com.example.secret.token", &secret),
            ],
            ..ContainerSpec::named("secretive")
        })
        .await;
    assert!(
        container.inspect().await.to_string().contains(&secret),
        "the engine has it"
    );
    let agent = spawn_agent(|config| {
        config.redact_label = vec![globset::Glob::new("com.example.secret.*").unwrap()]
    })
    .await;

    let own = container.get(&agent, "/self").await;
    assert_eq!(own.status, 200, "{}", own.body);
    let own_labels = labels(&own.json());
    assert_eq!(
        own_labels.get("com.example.team").map(String::as_str),
        Some("blue")
    );
    assert!(
        !own_labels.contains_key("com.example.secret.token"),
        "{own_labels:?}"
    );
    let listed = agent.get("/containers").await;
    let by_id = agent.get(&format!("/containers/{}", container.id)).await;
    for body in [&own.body, &listed.body, &by_id.body] {
        assert!(!body.contains(&secret), "{body}");
        assert!(!body.contains("DATABASE_PASSWORD"), "{body}");
        // Nor the command line (`sleep 600`): its number could turn up by
        // chance in an ID or a timestamp, the program's name cannot.
        assert!(!body.contains("sleep"), "{body}");
    }
}
