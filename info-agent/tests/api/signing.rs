//! With a signing key, every snapshot the agent answers carries its signature,
//! and a store holding the same key stores a container's own snapshot without
//! a token, as attested by this node; changed on the way, it is refused.

use container_info_testkit::{Backend, KEY, spawn_guarded_store};
use container_info_wire::Snapshot;
use container_info_wire::attestation::{Secret, Signed};
use serde_json::{Value, json};

use crate::helpers::{ContainerSpec, TestDocker, spawn_agent};

#[tokio::test]
async fn a_containers_own_snapshot_is_signed_and_a_guarded_store_takes_it_without_a_token() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("signed")).await;
    let (store, secrets) = spawn_guarded_store(Backend::Sqlite, |_, _| {}).await;
    let agent = spawn_agent(|config| {
        config.node_name = Some("signing-node".into());
        config.signing_key_file = Some(secrets.key_file());
    })
    .await;

    let answer = container.get(&agent, "/self").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let own: Value = answer.json();
    let snapshot: Snapshot = serde_json::from_value(own.clone()).unwrap();
    let key = Secret::new(KEY.as_bytes()).unwrap();
    assert_eq!(snapshot.verify(&key), Ok(()), "{own}");

    let post = |body: Value| {
        store
            .http
            .post(format!("{}/containers", store.url))
            .json(&body)
            .send()
    };
    let mut forged = own.clone();
    forged["name"] = json!("someone-else");
    assert_eq!(post(forged).await.unwrap().status(), 403);
    assert_eq!(store.rows().await, (0, 0));

    let response = post(own).await.unwrap();
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["attested_by"], "signing-node");
    assert_eq!(stored["id"], container.id.as_str());
}

#[tokio::test]
async fn without_a_key_snapshots_go_out_unsigned() {
    let Some(docker) = TestDocker::connect().await else {
        return;
    };
    let container = docker.container(ContainerSpec::named("unsigned")).await;
    let agent = spawn_agent(|config| config.signing_key_file = None).await;
    let own = container.get(&agent, "/self").await.json();
    assert!(own.get("attestation").is_none(), "{own}");
}
