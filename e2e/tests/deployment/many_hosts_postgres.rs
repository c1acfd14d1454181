//! The PostgreSQL variant on two hosts, as the README tells users:
//! `CONTAINER_INFO_DATABASE=postgres vagrant up --provider docker` makes a
//! server node and a client node, PostgreSQL runs on the server (its data on
//! a volume there) and a replica of the store on each node. A write through
//! either node's replica is read through the other's; the password is in no
//! service's settings; the client node lost, writes through the server's
//! replica keep working, with every acknowledged one, and the lease is the
//! server replica's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

const POSTGRES_SERVICE: &str = "container-info_postgres";
/// The client node's address (the Vagrantfile's second machine).
const CLIENT_IP: &str = "192.168.56.11";

#[test]
fn on_postgres_a_replica_runs_on_every_node_and_writes_outlive_a_lost_one() {
    let Some(_engine) = Engine::connect() else {
        return;
    };
    let started = Instant::now();
    let Some(cluster) = Cluster::up_on(1, "postgres") else {
        return;
    };
    eprintln!(
        "==> e2e: vagrant up (PostgreSQL) took {:.0?}",
        started.elapsed()
    );
    let client = &cluster.clients()[0];

    // A replica of the store on each node, PostgreSQL on the server.
    let replicas = running_tasks(&cluster, STORE_SERVICE, 2);
    assert_eq!(
        replicas.keys().map(String::as_str).collect::<Vec<_>>(),
        ["client", "server"],
        "one replica on each node: {replicas:?}"
    );
    let postgres = running_tasks(&cluster, POSTGRES_SERVICE, 1);
    assert!(
        postgres.contains_key("server"),
        "PostgreSQL on the server node, where its volume is: {postgres:?}"
    );

    // The password reaches both services as a secret only.
    let password =
        std::fs::read_to_string(repository().join(".vagrant/container-info/postgres-password"))
            .expect("the provisioning's PostgreSQL password in the shared folder");
    assert!(password.trim().len() >= 32, "a random password");
    let settings = cluster.docker(
        "server",
        &["service", "inspect", STORE_SERVICE, POSTGRES_SERVICE],
    );
    assert!(
        !settings.contains(password.trim()),
        "the password shows in docker service inspect"
    );

    // A write through each node's replica (host networking: a node's port
    // 5001 is its own replica) is read through the other's: one database.
    let token = cluster.token();
    let server = cluster.store().with_token(&token);
    let on_client = Store::at(&format!("http://{CLIENT_IP}:5001")).with_token(&token);
    let template = template_snapshot(&server);
    let mut acknowledged = Vec::new();
    for (n, (through, other)) in [(&on_client, &server), (&server, &on_client)]
        .into_iter()
        .enumerate()
    {
        let id = snapshot_id(n);
        let written = write(through, &template, &id);
        let read = other.request("GET", &format!("/containers/{id}"), None);
        assert_eq!(
            read.status, 200,
            "{id} read through the other node: {read:?}"
        );
        assert_ne!(
            read.replica, written.replica,
            "the read was answered by the other node's replica"
        );
        assert_eq!(
            read.json()["received_by"].as_str(),
            written.replica.as_deref()
        );
        acknowledged.push(id);
    }

    // Every node's agent reports its node, to PostgreSQL through the server.
    assert_nodes_up(&cluster.store(), &["server", client]);

    // The client node lost: the server's replica takes every write, and
    // holds every acknowledged one; the lease is its own.
    cluster.vagrant(&["halt", client]);
    let lost = Instant::now();
    for n in 2..12 {
        let id = snapshot_id(n);
        write(&server, &template, &id);
        acknowledged.push(id);
    }
    for id in &acknowledged {
        let answer = server.request("GET", &format!("/containers/{id}"), None);
        assert_eq!(
            answer.status, 200,
            "{id} with the client node lost: {answer:?}"
        );
    }
    let server_replica = replicas["server"].clone();
    eventually(
        "the server's replica to hold the lease",
        Duration::from_secs(60),
        || {
            let lease = server.request("GET", "/replicas", None).json()["lease"].clone();
            lease["holder"]
                .as_str()
                .is_some_and(|holder| holder.starts_with(&server_replica))
                .then_some(())
        },
    );
    eprintln!(
        "==> e2e: the server's replica led {:.0?} after the client node was lost",
        lost.elapsed()
    );

    cluster.tear_down();
    eprintln!(
        "==> e2e: the PostgreSQL many-hosts test took {:.0?}",
        started.elapsed()
    );
}

/// Waits until `service` runs `count` tasks; their names by node (the
/// task's name, `<service>.<slot or node ID>`, a prefix of the replica's).
fn running_tasks(cluster: &Cluster, service: &str, count: usize) -> BTreeMap<String, String> {
    eventually(
        &format!("{count} running tasks of {service}"),
        Duration::from_secs(120),
        || {
            let tasks = cluster.tasks(service);
            let running: BTreeMap<String, String> = tasks
                .iter()
                .filter(|task| task.contains(" Running "))
                .filter_map(|task| {
                    let mut fields = task.split_whitespace();
                    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
                })
                .collect();
            (tasks.len() == count && running.len() == count).then_some(running)
        },
    )
}

/// A snapshot as clients post them: one the agents reported, without the
/// store's fields and its signature (a new ID makes it another container's,
/// so it goes with the token).
fn template_snapshot(store: &Store) -> Value {
    let mut snapshot = eventually("a reported snapshot", Duration::from_secs(60), || {
        store.containers_where("node=server").into_iter().next()
    });
    let fields = snapshot.as_object_mut().expect("a snapshot is an object");
    for field in [
        "received_at",
        "received_by",
        "reporter_addr",
        "forwarded_for",
        "attested_by",
        "node_status",
        "attestation",
    ] {
        fields.remove(field);
    }
    snapshot
}

fn snapshot_id(n: usize) -> String {
    format!("{:064x}", 0x00c0_ffee_0000 + n)
}

/// POST /containers of `template` as container `id`, which must be stored.
fn write(store: &Store, template: &Value, id: &str) -> Answer {
    let mut snapshot = template.clone();
    snapshot["id"] = Value::from(id);
    let answer = store.request("POST", "/containers", Some(&snapshot.to_string()));
    assert_eq!(answer.status, 201, "POST of {id}: {answer:?}");
    answer
}
