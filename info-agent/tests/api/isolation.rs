use container_info_testkit::TOKEN;

use crate::helpers::{Answer, ContainerSpec, TestAgent, TestContainer, TestDocker, spawn_agent};

const CHALLENGE: &str = "Bearer realm=\"container-info-agent\"";

/// `GET path` from inside `container` through its gateway, with `Authorization: Bearer token`.
async fn get_with_token(
    container: &TestContainer,
    agent: &TestAgent,
    path: &str,
    token: &str,
) -> Answer {
    let authorization = format!("Authorization: Bearer {token}");
    container
        .request_from(&container.gateway, agent.port, path, &[&authorization])
        .await
}

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
        assert_eq!(answer.status, 401, "{route}: {}", answer.body);
        assert_eq!(answer.header("www-authenticate"), Some(CHALLENGE));
        assert!(
            !answer.body.contains(&neighbour.id[..12]),
            "{route}: {}",
            answer.body
        );
    }
    // /self names only the caller.
    let own = nosy.get(&agent, "/self").await.json();
    assert_eq!(own["id"], nosy.id.as_str());

    // The operator, with the token, may read everything, by ID, prefix and name.
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

/// Loopback used to be trusted; a container started with --network host is on
/// loopback too, so the host needs the token like everyone else.
#[tokio::test]
async fn loopback_needs_the_token_and_a_wrong_one_is_refused() {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    let agent = spawn_agent(|_| {}).await;

    let without = agent.request("/containers", &[]).await;
    assert_eq!(without.status, 401, "{}", without.body);
    assert_eq!(without.header("www-authenticate"), Some(CHALLENGE));
    let error = without.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("Authorization: Bearer") && error.contains("--token-file"),
        "{error}"
    );
    // Another scheme is no bearer token: refused the same way (RFC 6750, 3.1).
    let basic = agent
        .request(
            "/containers",
            &[("Authorization", "Basic YWRtaW46YWRtaW4=")],
        )
        .await;
    assert_eq!(basic.status, 401, "{}", basic.body);
    assert_eq!(basic.header("www-authenticate"), Some(CHALLENGE));

    let wrong_tokens = [
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[1..]),
        "Bearer".to_owned(),
    ];
    for wrong in &wrong_tokens {
        let answer = agent
            .request("/containers/nothing", &[("Authorization", wrong)])
            .await;
        assert_eq!(answer.status, 401, "{wrong}: {}", answer.body);
        assert_eq!(
            answer.header("www-authenticate"),
            Some(format!("{CHALLENGE}, error=\"invalid_token\"").as_str()),
            "{wrong}"
        );
        assert!(
            answer.json()["error"]
                .as_str()
                .unwrap()
                .contains("--token-file")
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    let twice = agent
        .request(
            "/containers",
            &[("Authorization", &bearer), ("Authorization", &bearer)],
        )
        .await;
    assert_eq!(twice.status, 400, "{}", twice.body);

    // The scheme in any case, as RFC 7235 has it.
    let right = agent
        .request(
            "/containers",
            &[("Authorization", &format!("bearer {TOKEN}"))],
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(agent.get("/containers").await.status, 200);
}

#[tokio::test]
async fn without_a_token_file_nobody_reads_the_containers_routes() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let caller = docker.container(ContainerSpec::named("caller")).await;
    let agent = spawn_agent(|config| config.token_file = None).await;

    let bearer = format!("Bearer {TOKEN}");
    for headers in [vec![], vec![("Authorization", bearer.as_str())]] {
        let answer = agent.request("/containers", &headers).await;
        assert_eq!(answer.status, 403, "{}", answer.body);
        let error = answer.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("--token-file") && error.contains("--trust-loopback"),
            "{error}"
        );
    }
    let from_container = get_with_token(&caller, &agent, "/containers", TOKEN).await;
    assert_eq!(from_container.status, 403, "{}", from_container.body);
    // /self is not the operator's: it works without any token.
    let own = caller.get(&agent, "/self").await;
    assert_eq!(own.status, 200, "{}", own.body);
}

/// `--trust-loopback` is the agent as it was: loopback reads without a token, and
/// only loopback.
#[tokio::test]
async fn trust_loopback_lets_loopback_in_without_the_token() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let caller = docker.container(ContainerSpec::named("caller")).await;
    let path = format!("/containers/{}", caller.id);

    let old_behaviour = spawn_agent(|config| {
        config.token_file = None;
        config.trust_loopback = true;
    })
    .await;
    let answer = old_behaviour.request(&path, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], caller.id.as_str());
    assert_eq!(caller.get(&old_behaviour, &path).await.status, 403);

    let with_token = spawn_agent(|config| config.trust_loopback = true).await;
    assert_eq!(with_token.request(&path, &[]).await.status, 200);
    // A token that is presented is checked, even where none is needed.
    let wrong = with_token
        .request(&path, &[("Authorization", "Bearer not-the-token")])
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(caller.get(&with_token, &path).await.status, 401);
    assert_eq!(
        get_with_token(&caller, &with_token, &path, TOKEN)
            .await
            .status,
        200
    );
}

/// With --allow-from, a caller must come from one of those networks and hold the
/// token; loopback is outside them unless --trust-loopback.
#[tokio::test]
async fn allow_from_and_the_token_are_both_needed() {
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
    let answer = get_with_token(&trusted, &agent, &by_name, TOKEN).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], outsider.id.as_str());
    let answer = get_with_token(&trusted, &agent, "/containers", TOKEN).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = trusted.get(&agent, &by_name).await;
    assert_eq!(answer.status, 401, "{}", answer.body);

    let by_name = format!("/containers/{}", trusted.name);
    let answer = get_with_token(&outsider, &agent, &by_name, TOKEN).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let error = answer.json();
    assert_eq!(error["detail"]["address"], outsider.ip.as_str(), "{error}");
    assert!(!answer.body.contains(&trusted.id), "{error}");
    let from_host = agent.get(&by_name).await;
    assert_eq!(from_host.status, 403, "{}", from_host.body);
    assert!(
        from_host.body.contains("--trust-loopback"),
        "{}",
        from_host.body
    );

    let with_loopback = spawn_agent(|config| {
        config.allow_from = vec![subnet.parse().unwrap()];
        config.trust_loopback = true;
    })
    .await;
    assert_eq!(with_loopback.request(&by_name, &[]).await.status, 200);
}

/// The IDs that `/containers` lists to the operator.
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
