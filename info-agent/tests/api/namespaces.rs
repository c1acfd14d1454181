//! Callers the agent cannot tell apart by their address: containers that share a
//! network namespace (`--network container:`), and the host's own namespace
//! (`--network host`). They are refused by `/self`, never answered as someone else.

use std::time::Duration;

use crate::helpers::{
    Answer, ContainerSpec, TestAgent, TestContainer, TestDocker, answer_at_start, ask_at_start,
    eventually, spawn_agent,
};

const SECRET_LABEL: (&str, &str) = ("com.example.owner-only", "owner-label-value");

/// `/self` as asked from inside `container` through `gateway`: a joiner has no
/// gateway of its own, it uses its owner's.
async fn ask_self(container: &TestContainer, gateway: &str, agent: &TestAgent) -> Answer {
    container.get_from(gateway, agent.port, "/self").await
}

/// A refusal for a shared namespace: 409, naming every container in it and the
/// cause, and nothing else of the owner.
fn assert_shared(answer: &Answer, owner: &TestContainer, members: &[&TestContainer]) {
    assert_eq!(answer.status, 409, "{}", answer.body);
    let error = answer.json();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains(&format!("shared by {} containers", members.len()))
            && message.contains("--network container:"),
        "{message}"
    );
    let mut named: Vec<&str> = error["detail"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    named.sort();
    let mut expected: Vec<&str> = members.iter().map(|c| c.name.as_str()).collect();
    expected.sort();
    assert_eq!(named, expected, "{error}");
    for leak in [&owner.id[..12], SECRET_LABEL.1, "image", "labels"] {
        assert!(!answer.body.contains(leak), "{leak} in {error}");
    }
}

/// A container joined to another's namespace used to be answered as that one. Now
/// both are refused while they share it (the agent cannot tell which is calling),
/// a joiner of a joiner too, and the owner is answered again once it is alone.
#[tokio::test]
async fn a_container_in_another_s_namespace_is_not_answered_as_it() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let network = docker.network("net", "bridge").await;
    let labels = [SECRET_LABEL];
    let mut owner_spec = ContainerSpec::named("owner").on(&network);
    owner_spec.labels = &labels;
    let owner = docker.container(owner_spec).await;
    let bystander = docker
        .container(ContainerSpec::named("bystander").on(&network))
        .await;
    let agent = spawn_agent(|_| {}).await;
    let gateway = owner.gateway.clone();
    assert_eq!(ask_self(&owner, &gateway, &agent).await.status, 200);

    let joined_owner = format!("container:{}", owner.id);
    let joiner = docker
        .container(ContainerSpec::named("joiner").on(&joined_owner))
        .await;
    let joined_joiner = format!("container:{}", joiner.id);
    let second = docker
        .container(ContainerSpec::named("second").on(&joined_joiner))
        .await;
    let members = [&owner, &joiner, &second];
    for caller in members {
        let answer = ask_self(caller, &gateway, &agent).await;
        assert_shared(&answer, &owner, &members);
        assert_eq!(answer.json()["detail"]["address"], owner.ip.as_str());
    }
    // A container in a namespace of its own, on the same network, is answered.
    let own = bystander.get(&agent, "/self").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["id"], bystander.id.as_str());

    // Their `die` events leave the owner alone in its namespace: answered again.
    second.stop().await;
    joiner.stop().await;
    let answer = eventually(
        Duration::from_secs(5),
        || ask_self(&owner, &gateway, &agent),
        |answer| answer.status == 200,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["id"], owner.id.as_str());
}

/// A joiner that asks the moment it starts, before the agent can have seen its
/// `start` event, is refused too: the agent knows of it from its `create` event,
/// and counts a joiner from its creation on.
#[tokio::test]
async fn a_joiner_that_asks_as_it_starts_or_is_only_created_is_not_answered_as_the_owner() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let owner = docker.container(ContainerSpec::named("owner")).await;
    let agent = spawn_agent(|_| {}).await;
    let joined_owner = format!("container:{}", owner.id);
    let script = ask_at_start(&owner.gateway, agent.port);

    for round in 0..20 {
        let name = format!("eager-{round}");
        let joiner = docker
            .container(
                ContainerSpec::named(&name)
                    .on(&joined_owner)
                    .running(&script),
            )
            .await;
        let answer = answer_at_start(&joiner).await;
        assert_shared(&answer, &owner, &[&owner, &joiner]);
        joiner.remove().await;
    }

    let created = docker
        .created(ContainerSpec::named("created").on(&joined_owner))
        .await;
    let refused = eventually(
        Duration::from_secs(5),
        || ask_self(&owner, &owner.gateway, &agent),
        |answer| answer.status == 409,
    )
    .await;
    assert_shared(&refused, &owner, &[&owner, &created]);
    created.remove().await;
    let alone = eventually(
        Duration::from_secs(5),
        || ask_self(&owner, &owner.gateway, &agent),
        |answer| answer.status == 200,
    )
    .await;
    assert_eq!(alone.json()["id"], owner.id.as_str(), "{}", alone.body);
}

/// A container started with --network host calls from the host's own addresses:
/// /self refuses it, saying why, and /containers wants the token from it as from
/// the host, whichever of the host's addresses it calls.
#[tokio::test]
async fn a_host_network_container_is_refused_by_self_and_reads_no_neighbour() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let neighbour = docker.container(ContainerSpec::named("neighbour")).await;
    let on_host = docker
        .container(ContainerSpec::named("on-host").on("host"))
        .await;
    let agent = spawn_agent(|_| {}).await;

    for address in ["127.0.0.1", neighbour.gateway.as_str()] {
        let answer = on_host.get_from(address, agent.port, "/self").await;
        assert_eq!(answer.status, 409, "{address}: {}", answer.body);
        let error = answer.json();
        // Docker masquerades what the host sends to a bridge's gateway: that call
        // arrives from the host's main address.
        let seen = error["detail"]["address"].as_str().unwrap();
        if address == "127.0.0.1" {
            assert_eq!(seen, address, "{error}");
        }
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains(seen) && message.contains("--network host"),
            "{message}"
        );
        for route in [
            "/containers".to_owned(),
            format!("/containers/{}", neighbour.id),
            format!("/containers/{}", neighbour.name),
        ] {
            let answer = on_host.get_from(address, agent.port, &route).await;
            assert_eq!(answer.status, 401, "{address}{route}: {}", answer.body);
            assert!(
                !answer.body.contains(&neighbour.id[..12]),
                "{}",
                answer.body
            );
        }
    }
    // Its neighbour, on a network of its own, is answered as always.
    let own = neighbour.get(&agent, "/self").await;
    assert_eq!(own.json()["id"], neighbour.id.as_str(), "{}", own.body);
}
