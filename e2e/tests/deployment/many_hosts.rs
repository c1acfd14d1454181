//! Several hosts, for real: exactly what the README's Vagrant section tells
//! users, with the docker provider: `CLIENTS=2 vagrant up --provider docker`
//! makes a server node and two client nodes, each a container with its own
//! Docker Engine (docker_node/), provisioned by provision/*.sh alone (the
//! worker join token passes through the shared folder). Then, on that one
//! cluster: every node's agent reporting the node's containers by itself
//! (fleet mode, the default), what a person does on each client node, the
//! store seen from
//! everywhere, a second provisioning, a rolling update, a client node lost and
//! back, a client node cut off from the server and healed, and every node
//! halted and brought up again. `vagrant destroy -f` ends it, leaving this
//! host as it was, its cgroups and its engine's stats included.
//!
//! As on one host, this kernel has no IPVS, so the provisioning deploys the
//! store with host networking (docker_server/stack.host-network.yml).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

#[test]
fn vagrant_up_with_the_docker_provider_runs_the_system_on_three_nodes() {
    let Some(_engine) = Engine::connect() else {
        return;
    };
    let started = Instant::now();
    let Some(cluster) = Cluster::up(2) else {
        return;
    };
    eprintln!("==> e2e: vagrant up took {:.0?}", started.elapsed());
    let clients = cluster.clients();
    let store = cluster.store();
    let store_url = cluster.store_url();
    assert_replicas_on_the_server_only(&cluster, "after vagrant up");
    let machines = ["server", clients[0].as_str(), clients[1].as_str()];

    // Fleet mode, the deployment's default: every node's agent, the
    // server's too, reports the node's containers without anyone posting
    // (its own container; on the server, the store's replicas), signed, so
    // taken without the token as attested by the node.
    let mut agents = Vec::new();
    for machine in machines {
        let agent = cluster.docker(
            machine,
            &["inspect", "--format", "{{.Id}}", AGENT_CONTAINER],
        );
        let mut inventoried = vec![agent.clone()];
        if machine == "server" {
            inventoried.extend(store_replica_ids(&cluster));
        }
        assert_reported(&store, machine, &inventoried);
        agents.push(agent);
    }
    // `get --node` on each client node shows that node's containers.
    for (client, agent) in clients.iter().zip(&agents[1..]) {
        let shown = cluster.ssh(
            client,
            &format!("container-info get --node {client} --json"),
        );
        assert!(
            shown.status.success(),
            "get --node on {client}: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let listed: Vec<Value> = serde_json::from_slice(&shown.stdout)
            .unwrap_or_else(|error| panic!("get --node --json on {client} ({error}): {shown:?}"));
        assert!(
            listed.iter().any(|record| record["id"] == agent.as_str()),
            "`get --node {client}` shows its agent {agent}: {listed:?}"
        );
        assert!(
            listed
                .iter()
                .all(|record| record["node"] == client.as_str()),
            "`get --node {client}` shows only {client}'s containers: {listed:?}"
        );
    }

    // Each client node: `container-info post` stores the truth about the
    // container it runs in, every time.
    let mut posted = BTreeSet::new();
    for client in &clients {
        for _ in 0..3 {
            let record = post(&cluster, client);
            assert_true_record(&cluster, &record, client);
            posted.insert(id_of(&record));
        }
    }

    // The prompt over `vagrant ssh` on each client node: post, get, exit; the
    // record is the running client container's, with its address on the
    // overlay network.
    for client in &clients {
        posted.insert(post_at_the_prompt(&cluster, client));
    }

    // `get` on the other client node lists what both posted: gone by now
    // (docker run --rm), so as the agents report them, still listed or
    // removed (the default list first: a container only ever moves on to
    // removed, so none falls between the two).
    let mut listed = get(&cluster, &clients[1], "");
    listed.extend(get(&cluster, &clients[1], "--state removed"));
    for id in &posted {
        assert!(listed.contains(id), "`get` on {} lists {id}", clients[1]);
    }

    // Port 5001 on the server's address, from this host and from every node;
    // and the forwarded port on this host's loopback.
    assert_holds(&store, &posted, "after the posts");
    for (machine, agent) in machines.iter().zip(&agents) {
        let answer = cluster.exec(
            machine,
            &[
                "curl",
                "-fsS",
                "--max-time",
                "5",
                &format!("{store_url}/containers?node={machine}"),
            ],
        );
        assert!(
            answer.status.success(),
            "curl of the store from {machine}: {answer:?}"
        );
        let page: Value = serde_json::from_slice(&answer.stdout).unwrap();
        assert!(
            page["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|record| record["id"] == agent.as_str())),
            "from {machine}, the store lists its agent {agent}: {page}"
        );
    }
    let forwarded = Store::on_this_host().request("GET", "/healthz", None);
    assert_eq!(
        forwarded.status, 200,
        "the forwarded port 5001: {forwarded:?}"
    );

    // `ping` from a client node: its agent and every replica of the store,
    // from the replicas' own roll call (host networking: no Swarm DNS of
    // the replicas' addresses would find all three behind one port).
    let ping = cluster.ssh(&clients[0], "container-info ping --json");
    assert!(
        ping.status.success(),
        "ping: {}{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr)
    );
    assert_roll_call(&ping.stdout, 3);

    // A second provisioning changes nothing and duplicates nothing.
    cluster.vagrant(&["provision"]);
    assert_eq!(
        lines(&cluster.docker("server", &["node", "ls", "--format", "{{.Hostname}}"]))
            .into_iter()
            .collect::<BTreeSet<_>>(),
        ["server", "client1", "client2"].map(str::to_owned).into(),
        "the swarm has each node once"
    );
    for machine in machines {
        let agents = cluster.docker(
            machine,
            &[
                "ps",
                "--all",
                "--filter",
                "name=container-info-agent",
                "--format",
                "{{.Names}}",
            ],
        );
        assert_eq!(
            lines(&agents),
            ["container-info-agent"],
            "one agent on {machine}"
        );
    }
    assert_replicas_on_the_server_only(&cluster, "after a second provisioning");
    assert_holds(&store, &posted, "after a second provisioning");

    // A rolling update keeps the replicas on the server node and the data.
    cluster.docker("server", &ROLLING_RESTART);
    assert_replicas_on_the_server_only(&cluster, "after a rolling update");
    eventually("the store to answer", Duration::from_secs(60), || {
        let answer = store.try_request("GET", "/containers?limit=1", None)?;
        (answer.status == 200).then_some(())
    });
    assert_holds(&store, &posted, "after a rolling update");

    // Node loss: a client node stops, engine and all. The store and the other
    // client go on; started again, its agent is back by itself and `post`
    // works without provisioning.
    cluster.vagrant(&["halt", &clients[1]]);
    posted.insert(id_of(&post(&cluster, &clients[0])));
    assert_holds(&store, &posted, "with a client node down");
    cluster.vagrant(&["up", &clients[1]]);
    let back = Instant::now();
    eventually(
        "the agent on the restarted client node",
        Duration::from_secs(60),
        || {
            let answer = cluster.exec(
                &clients[1],
                &[
                    "curl",
                    "-fsS",
                    "--max-time",
                    "2",
                    "http://127.0.0.1:5002/healthz",
                ],
            );
            answer.status.success().then_some(())
        },
    );
    eprintln!(
        "==> e2e: the agent answered {:.0?} after its node was up",
        back.elapsed()
    );
    let record = post(&cluster, &clients[1]);
    assert_true_record(&cluster, &record, &clients[1]);
    posted.insert(id_of(&record));

    // Partition: the first client node cut off from the server node. Its
    // agent still answers; `post` fails within the client's timeout with one
    // line naming the store, and stores nothing; healed, it works again.
    let cut = &clients[0];
    partition(&cluster, cut, "-I");
    let whoami = cluster.ssh(cut, "container-info whoami --json");
    assert!(
        whoami.status.success(),
        "whoami needs only the local agent: {}",
        String::from_utf8_lossy(&whoami.stderr)
    );
    let me: Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(me["node"], cut.as_str());
    let trying = Instant::now();
    let failed = cluster.ssh(cut, "container-info post --json");
    let took = trying.elapsed();
    let errors = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(
        failed.status.code(),
        Some(3),
        "post without the store: not responding (3): {errors}"
    );
    assert!(
        errors.lines().any(|line| line.contains(&store_url)),
        "one line names the store's URL:\n{errors}"
    );
    // 2 s to find the manager unreachable, 2 s to connect, 5 s for an
    // answer, and vagrant's own start.
    assert!(
        took < Duration::from_secs(20),
        "post gave up after {took:?}"
    );
    partition(&cluster, cut, "-D");
    assert_holds(&store, &posted, "after a failed post");
    let healed = Instant::now();
    let record = post_eventually(&cluster, cut, "post to work again once healed");
    eprintln!(
        "==> e2e: post worked again {:.0?} after healing",
        healed.elapsed()
    );
    assert_true_record(&cluster, &record, cut);
    posted.insert(id_of(&record));

    // Every node halted, then up again: the stack and the agents come back by
    // themselves within a minute, with every snapshot.
    cluster.vagrant(&["halt"]);
    cluster.vagrant(&["up"]);
    let up = Instant::now();
    eventually(
        "the store after vagrant halt and up",
        Duration::from_secs(60),
        || {
            let answer = store.try_request("GET", "/containers?limit=1000", None)?;
            (answer.status == 200 && store_replica_names(&cluster).len() == 3).then_some(())
        },
    );
    eprintln!(
        "==> e2e: the store was back {:.0?} after vagrant up",
        up.elapsed()
    );
    assert_holds(&store, &posted, "after vagrant halt and up");
    assert_replicas_on_the_server_only(&cluster, "after vagrant halt and up");
    for client in &clients {
        let record = post_eventually(&cluster, client, "post after vagrant halt and up");
        assert_true_record(&cluster, &record, client);
    }

    // Every node's agent reports its node (POST /nodes): each is `up`,
    // after all of the above, and no other is listed.
    assert_nodes_up(&store, &machines);

    cluster.tear_down();
    eprintln!(
        "==> e2e: the many-hosts test took {:.0?}",
        started.elapsed()
    );
}

/// `container-info`, then `post`, `get` and `exit` at its prompt on `machine`;
/// the ID of the container the prompt ran in.
fn post_at_the_prompt(cluster: &Cluster, machine: &str) -> String {
    let mut prompt = cluster.prompt(machine);
    let running = cluster.docker(machine, &CLIENT_CONTAINERS);
    let shown = prompt.enter("post");
    assert_eq!(
        field(&shown, "ID"),
        Some(running.as_str()),
        "`post` at the prompt on {machine}:\n{shown}"
    );
    assert_eq!(field(&shown, "Node"), Some(machine), "{shown}");
    let overlay_address = cluster.docker(
        machine,
        &[
            "inspect",
            "--format",
            "{{ (index .NetworkSettings.Networks \"container-info-net\").IPAddress }}",
            &running,
        ],
    );
    assert!(
        shown.contains(&format!("container-info-net: {overlay_address}")),
        "`post` shows the overlay address {overlay_address}:\n{shown}"
    );
    let listed = prompt.enter("get");
    assert!(
        listed.contains(&running[..12]),
        "`get` lists {}:\n{listed}",
        &running[..12]
    );
    prompt.exit();
    running
}

/// `container-info post --json` on `machine`: the stored record, or what it
/// said when it failed. Success without a JSON record is a failure of the test.
fn try_post(cluster: &Cluster, machine: &str) -> Result<Value, String> {
    let output = cluster.ssh(machine, "container-info post --json");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!("post --json on {machine} printed no JSON ({error}): {output:?}")
        }),
    )
}

/// `container-info post --json` on `machine`, which must succeed.
fn post(cluster: &Cluster, machine: &str) -> Value {
    try_post(cluster, machine).unwrap_or_else(|errors| panic!("post on {machine}: {errors}"))
}

/// `container-info post --json` on `machine`, tried until it succeeds, for a
/// minute at most.
fn post_eventually(cluster: &Cluster, machine: &str, what: &str) -> Value {
    eventually(what, Duration::from_secs(60), || {
        try_post(cluster, machine).ok()
    })
}

/// `container-info get --json <options>` on `machine`: the IDs it listed.
fn get(cluster: &Cluster, machine: &str, options: &str) -> BTreeSet<String> {
    let output = cluster.ssh(machine, &format!("container-info get --json {options}"));
    assert!(
        output.status.success(),
        "get {options} on {machine}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("get --json on {machine} ({error}): {output:?}"));
    listed.iter().map(id_of).collect()
}

/// A record is the truth about a client container on `machine`: running,
/// with its overlay address and stats, taken by a replica on the server node.
fn assert_true_record(cluster: &Cluster, record: &Value, machine: &str) {
    let id = id_of(record);
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a full container ID: {record}"
    );
    assert_eq!(record["node"], machine, "{record}");
    // Signed by that node's agent, checked by the store with the same key.
    assert_eq!(record["attested_by"], machine, "{record}");
    assert_eq!(record["state"], "running", "{record}");
    let overlay = record["networks"][NETWORK]["ip_address"]
        .as_str()
        .unwrap_or_default();
    assert!(!overlay.is_empty(), "an address on {NETWORK}: {record}");
    let stats = &record["stats"];
    assert!(
        stats["memory_usage_bytes"].as_u64() > Some(0),
        "stats with memory use: {record}"
    );
    assert!(
        stats["pids"].as_u64() > Some(0),
        "stats with pids: {record}"
    );
    let replicas = store_replica_names(cluster);
    let received_by = record["received_by"].as_str().unwrap_or_default();
    assert!(
        replicas.contains(received_by),
        "received by one of the server's replicas {replicas:?}: {record}"
    );
}

fn id_of(record: &Value) -> String {
    record["id"]
        .as_str()
        .expect("a record has an id")
        .to_owned()
}

/// The store still has every container that was posted (the agents report
/// them too, and their removal, so the store's lists hold more than that).
fn assert_holds(store: &Store, posted: &BTreeSet<String>, when: &str) {
    for id in posted {
        let answer = store.request("GET", &format!("/containers/{id}"), None);
        assert_eq!(answer.status, 200, "{when}, the store has {id}: {answer:?}");
    }
}

/// Waits until the store lists each of `ids` on `machine`, as its agent
/// reported them: attested by that node.
fn assert_reported(store: &Store, machine: &str, ids: &[String]) {
    let held = eventually(
        &format!("{machine}'s agent to report {ids:?}"),
        Duration::from_secs(60),
        || {
            let held: Vec<Value> = store.containers_where(&format!("node={machine}"));
            ids.iter()
                .all(|id| held.iter().any(|record| record["id"] == id.as_str()))
                .then_some(held)
        },
    );
    for record in held
        .iter()
        .filter(|record| ids.iter().any(|id| record["id"] == id.as_str()))
    {
        assert_eq!(
            record["attested_by"], machine,
            "reported by {machine}'s agent: {record}"
        );
    }
}

/// The full IDs of the store's running containers on the server node.
fn store_replica_ids(cluster: &Cluster) -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={STORE_SERVICE}");
    lines(&cluster.docker(
        "server",
        &[
            "ps",
            "--no-trunc",
            "--filter",
            &filter,
            "--format",
            "{{.ID}}",
        ],
    ))
}

/// The names of the store's running containers on the server node.
fn store_replica_names(cluster: &Cluster) -> BTreeSet<String> {
    let filter = format!("label=com.docker.swarm.service.name={STORE_SERVICE}");
    lines(&cluster.docker(
        "server",
        &["ps", "--filter", &filter, "--format", "{{.Names}}"],
    ))
    .into_iter()
    .collect()
}

/// The store's tasks that should run: three, all on the server node, once
/// the swarm has settled.
fn assert_replicas_on_the_server_only(cluster: &Cluster, when: &str) {
    let nodes = eventually(
        &format!("three running replicas {when}"),
        Duration::from_secs(90),
        || {
            let tasks = cluster.tasks(STORE_SERVICE);
            (tasks.len() == 3 && tasks.iter().all(|task| task.contains(" Running ")))
                .then_some(tasks)
        },
    );
    for task in nodes {
        assert!(
            task.starts_with("server "),
            "{when}, a replica runs off the server node: {task}"
        );
    }
}

/// Cuts `machine` off the server's address (`-I`), or heals it (`-D`), with
/// iptables inside the node: what a firewall between two hosts does, for the
/// node itself (INPUT, OUTPUT) and for its containers (FORWARD).
fn partition(cluster: &Cluster, machine: &str, action: &str) {
    let rules = [
        ["INPUT", "-s"],
        ["OUTPUT", "-d"],
        ["FORWARD", "-s"],
        ["FORWARD", "-d"],
    ];
    for rule in rules {
        let output = cluster.exec(
            machine,
            &[
                "iptables", action, rule[0], rule[1], SERVER_IP, "-j", "DROP",
            ],
        );
        assert!(
            output.status.success(),
            "iptables {action} on {machine}: {output:?}"
        );
    }
}
