use crate::helpers::{ContainerSpec, TestAgent, TestDocker, spawn_agent};

#[tokio::test]
async fn a_container_cannot_read_another_through_any_route() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let network = docker.network("net", "bridge").await;
    let nosy = docker.container(ContainerSpec::named("nosy")).await;
    let neighbour = docker
        .container(ContainerSpec::named("neighbour").on(&network))
        .await;
    let agent = spawn_agent(|_| {}).await;

    let routes = [
        "/containers".to_owned(),
        format!("/containers/{}", neighbour.id),
        format!("/containers/{}", neighbour.short_id()),
        format!("/containers/{}", neighbour.name),
        // Not even its own record by this route: /self is the way for that.
        format!("/containers/{}", nosy.id),
    ];
    for route in &routes {
        let answer = nosy.get(&agent, route).await;
        assert_eq!(answer.status, 403, "{route}: {}", answer.body);
        let body = answer.json();
        assert_eq!(body["detail"]["address"], nosy.ip.as_str(), "{body}");
        assert!(
            !answer.body.contains(&neighbour.id[..12]),
            "{route}: {body}"
        );
    }
    // /self names only the caller.
    let own = nosy.get(&agent, "/self").await.json();
    assert_eq!(own["id"], nosy.id.as_str());

    // The host itself may read everything, by ID, prefix and name.
    let ids = listed_ids(&agent).await;
    assert!(
        ids.contains(&nosy.id) && ids.contains(&neighbour.id),
        "{ids:?}"
    );
    for route in &routes[1..4] {
        let answer = agent.get(route).await;
        assert_eq!(answer.status, 200, "{route}: {}", answer.body);
        assert_eq!(answer.json()["id"], neighbour.id.as_str());
    }
    let missing = agent
        .get(&format!("/containers/{}-nobody", docker.run))
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test]
async fn allow_from_opens_the_containers_routes_to_one_network_only() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let network = docker.network("trusted", "bridge").await;
    let outsider = docker.container(ContainerSpec::named("outsider")).await;
    let trusted = docker
        .container(ContainerSpec::named("trusted").on(&network))
        .await;
    let subnet = format!("{}/16", trusted.gateway);
    let agent = spawn_agent(|config| config.allow_from = vec![subnet.parse().unwrap()]).await;

    let by_name = format!("/containers/{}", outsider.name);
    let answer = trusted.get(&agent, &by_name).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], outsider.id.as_str());
    let answer = trusted.get(&agent, "/containers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let answer = outsider
        .get(&agent, &format!("/containers/{}", trusted.name))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
}

/// The IDs that `/containers` lists to the host.
async fn listed_ids(agent: &TestAgent) -> Vec<String> {
    let all = agent.get("/containers").await;
    assert_eq!(all.status, 200, "{}", all.body);
    all.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// An open proxy in a container must not lend it to outsiders: /self refuses
/// any request that a proxy marked as forwarded, as EC2's metadata service does.
#[tokio::test]
async fn self_refuses_a_request_that_came_through_a_proxy() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let proxy = docker.container(ContainerSpec::named("proxy")).await;
    let agent = spawn_agent(|_| {}).await;

    for header in ["X-Forwarded-For: 203.0.113.7", "Forwarded: for=203.0.113.7"] {
        let answer = proxy
            .request_from(&proxy.gateway, agent.port, "/self", &[header])
            .await;
        assert_eq!(answer.status, 403, "{header}: {}", answer.body);
        let name = header.split(':').next().unwrap().to_ascii_lowercase();
        assert_eq!(
            answer.json()["detail"]["header"],
            name.as_str(),
            "{}",
            answer.body
        );
        assert!(
            !answer.body.contains(&proxy.id),
            "{header}: nothing of the container"
        );
    }
    // The same container, asking for itself, is answered.
    let own = proxy.get(&agent, "/self").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["id"], proxy.id.as_str());
}
