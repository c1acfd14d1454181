//! What the deployment test needs: the local Docker Engine (or a loud skip), the
//! provisioning scripts run with their settings in the environment, a guard that
//! tears everything down however the test ends, and the store seen from the host.

mod cluster;
mod confinement;
mod host;
mod prompt;
mod store;

pub use cluster::{Cluster, SERVER_IP};
pub use confinement::Confinement;
pub use host::HostCgroups;
pub use prompt::{Prompt, field};
pub use store::{Answer, Store};

use std::ffi::OsStr;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The names the scripts give by default (provision/lib.sh): the test keeps them,
/// as users get them.
pub const STACK: &str = "container-info";
pub const STORE_SERVICE: &str = "container-info_server";
pub const NETWORK: &str = "container-info-net";
pub const AGENT_CONTAINER: &str = "container-info-agent";
pub const STORE_PORT: u16 = 5001;
pub const AGENT_PORT: u16 = 5002;
/// What every object a deployment creates carries (provision/lib.sh), and what
/// the teardown and the leftovers check find them by.
pub const MANAGED_LABEL: &str = "container-info.managed=true";

/// The repository: provision/, scripts/, docker_server/.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is in the repository")
        .to_owned()
}

/// A command without the test's own `CONTAINER_INFO_*` settings (a stray
/// CONTAINER_INFO_SERVER would redirect the wrapper) and without cargo's flags
/// for this test, which would win over the static build's.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CONTAINER_INFO_") {
            command.env_remove(name);
        }
    }
    command.env_remove("CARGO_ENCODED_RUSTFLAGS");
    command
}

/// Runs the docker CLI; `None` when it fails.
pub fn docker_try<I, S>(args: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new("docker").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs the docker CLI, and panics with its error when it fails.
pub fn docker<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let shown: Vec<String> = args
        .iter()
        .map(|arg| arg.as_ref().to_string_lossy().into_owned())
        .collect();
    let output = Command::new("docker")
        .args(&args)
        .output()
        .unwrap_or_else(|error| panic!("running docker {}: {error}", shown.join(" ")));
    assert!(
        output.status.success(),
        "docker {} failed: {}",
        shown.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Lines of a CLI's output, without empty ones.
/// Checks what `container-info ping --json` printed: the agent and every one
/// of `replicas` answered, each listed once, exactly one of them the leader.
/// Returns the replicas it listed.
pub fn assert_roll_call(printed: &[u8], replicas: usize) -> Vec<String> {
    let answers: Vec<serde_json::Value> = serde_json::from_slice(printed).unwrap_or_else(|error| {
        panic!(
            "ping --json ({error}): {}",
            String::from_utf8_lossy(printed)
        )
    });
    let shown = || serde_json::to_string_pretty(&answers).unwrap();
    assert!(
        answers.iter().all(|answer| answer["error"].is_null()),
        "everyone answers: {}",
        shown()
    );
    assert!(
        answers.iter().any(|answer| answer["role"] == "agent"),
        "the agent is asked: {}",
        shown()
    );
    let listed: Vec<String> = answers
        .iter()
        .filter_map(|answer| answer["replica"].as_str().map(str::to_owned))
        .collect();
    let distinct: std::collections::BTreeSet<_> = listed.iter().collect();
    assert!(
        listed.len() == replicas && distinct.len() == replicas,
        "ping lists each of the {replicas} replicas once: {}",
        shown()
    );
    let leaders = answers
        .iter()
        .filter(|answer| answer["replica_role"] == "leader")
        .count();
    assert_eq!(leaders, 1, "exactly one leader: {}", shown());
    listed
}

pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Retries `probe` every half second until it gives `Some`, at most `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn swarm_state() -> String {
    docker(["info", "--format", "{{.Swarm.LocalNodeState}}"])
}

/// The local engine, reached through the docker CLI as the scripts reach it.
pub struct Engine {
    before: Before,
}

/// What the engine had before the test, which the teardown must leave as it was.
#[derive(Clone, Debug)]
pub struct Before {
    /// `inactive` or `active`.
    swarm: String,
    /// Networks: swarm init makes `docker_gwbridge` and `ingress`.
    networks: Vec<String>,
}

impl Engine {
    /// `None`, after saying so loudly, when no engine answers, unless
    /// `CONTAINER_INFO_REQUIRE_DOCKER=1`, which makes a missing engine a failure.
    pub fn connect() -> Option<Self> {
        let answer = Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output();
        let problem = match answer {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
            Err(error) => Some(format!("cannot run the docker CLI: {error}")),
        };
        let Some(problem) = problem else {
            return Some(Self {
                before: Before {
                    swarm: swarm_state(),
                    networks: lines(&docker(["network", "ls", "--format", "{{.Name}}"])),
                },
            });
        };
        if std::env::var("CONTAINER_INFO_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("CONTAINER_INFO_REQUIRE_DOCKER=1 but no Docker Engine answers: {problem}");
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED: no Docker Engine answers ({problem}).\n\
             !!!!!!!! The deployment test needs one; set CONTAINER_INFO_REQUIRE_DOCKER=1 to fail instead.\n"
        );
        None
    }

    /// Refuses (panics, saying why) to deploy over something that is there
    /// already: the teardown would remove it, or the ports would be shared.
    pub fn refuse_if_in_use(&self) {
        match self.before.swarm.as_str() {
            "inactive" => {}
            "active" => {
                let manager = docker(["info", "--format", "{{.Swarm.ControlAvailable}}"]);
                assert_eq!(
                    manager, "true",
                    "this engine is a swarm worker; the deployment test needs a manager or no swarm"
                );
                let stacks = lines(&docker(["stack", "ls", "--format", "{{.Name}}"]));
                assert!(
                    !stacks.iter().any(|stack| stack == STACK),
                    "a `{STACK}` stack runs on this engine already; the deployment test would \
                     replace and then remove it. Remove it first (scripts/one-host-down), or run \
                     the test on another machine."
                );
            }
            other => panic!(
                "the swarm of this engine is {other:?}; fix it (docker swarm leave) before the deployment test"
            ),
        }
        assert!(
            docker_try(["container", "inspect", AGENT_CONTAINER]).is_none(),
            "a container `{AGENT_CONTAINER}` exists on this engine already; the deployment test \
             would replace and then remove it. Remove it first (scripts/one-host-down)."
        );
        for port in [STORE_PORT, AGENT_PORT] {
            assert!(
                port_is_free(port),
                "port {port} of this host is taken; the deployment test runs the store on 5001 \
                 and the agent on 5002 with host networking. Stop whatever listens there first."
            );
        }
    }
}

fn port_is_free(port: u16) -> bool {
    let in_use = |result: std::io::Result<TcpListener>| matches!(result, Err(error) if error.kind() == std::io::ErrorKind::AddrInUse);
    !in_use(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)))
        && !in_use(TcpListener::bind(("::", port)))
}

/// This host's address, which containers reach too (127.0.0.1 would be their
/// own loopback): the source address of the route out, as scripts/one-host-up
/// picks it. No packet is sent.
fn host_address() -> String {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    socket
        .connect((Ipv4Addr::new(1, 1, 1, 1), 53))
        .and_then(|()| socket.local_addr())
        .map(|address| address.ip().to_string())
        .expect("this host has a route out, whose source address the swarm advertises")
}

/// The deployment the provisioning scripts made. Dropping it runs the teardown
/// (scripts/one-host-down, with the same settings), also when the test fails.
pub struct Deployment {
    root: PathBuf,
    /// The shared folder, the wrapper; removed last.
    scratch: TempDir,
    settings: Vec<(&'static str, String)>,
    before: Before,
    torn_down: bool,
}

impl Deployment {
    /// Runs provision/common.sh, server.sh and client.sh, as the Vagrantfile runs
    /// them on the two VMs, with this host as both: the server's address is this
    /// host's, the shared folder and the wrapper are in a temp folder, images are
    /// built from static binaries made here (no pull), and the stack gets the
    /// host-network override (no IPVS here, so no ingress routing mesh).
    pub fn provision(engine: &Engine) -> Self {
        let root = repository();
        let scratch = tempfile::Builder::new()
            .prefix("container-info-e2e-")
            .tempdir()
            .unwrap();
        let address = host_address();
        let path = |relative: &str| scratch.path().join(relative).display().to_string();
        let settings = vec![
            ("CONTAINER_INFO_SOURCE_DIR", root.display().to_string()),
            ("CONTAINER_INFO_SERVER_IP", address.clone()),
            ("CONTAINER_INFO_NODE_IP", address),
            ("CONTAINER_INFO_SHARED_DIR", path("shared")),
            // The node's copy of the signing key, which would go to /var/lib.
            ("CONTAINER_INFO_AGENT_KEY", path("agent/signing-key")),
            ("CONTAINER_INFO_WRAPPER", path("bin/container-info")),
            ("CONTAINER_INFO_BUILD", "prebuilt".to_owned()),
            (
                "CONTAINER_INFO_STACK_OVERRIDE",
                root.join("docker_server/stack.host-network.yml")
                    .display()
                    .to_string(),
            ),
            // No VM user to let into the docker group.
            ("CONTAINER_INFO_DOCKER_USER", String::new()),
            ("CONTAINER_INFO_WAIT", "180".to_owned()),
        ];
        // From here on, whatever happens, the guard tears down what was made.
        let deployment = Self {
            root,
            scratch,
            settings,
            before: engine.before.clone(),
            torn_down: false,
        };
        for script in [
            "provision/common.sh",
            "provision/server.sh",
            "provision/client.sh",
        ] {
            deployment.run_script(script, &[], &[]);
        }
        deployment
    }

    /// A command with the deployment's settings and no other `CONTAINER_INFO_*`
    /// of the test's own environment (a stray CONTAINER_INFO_SERVER would
    /// redirect the wrapper).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = clean_command(program);
        command.envs(self.settings.iter().map(|(name, value)| (name, value)));
        command
    }

    /// The value of one of the deployment's settings, e.g. CONTAINER_INFO_SERVER_IP.
    pub fn setting(&self, name: &str) -> &str {
        self.settings
            .iter()
            .find(|(given, _)| *given == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("the deployment sets no {name}"))
    }

    /// Runs `script` again with `settings` over the deployment's, as a user
    /// provisions a node again with a setting changed; panics when it fails.
    pub fn provision_again(&self, script: &str, settings: &[(&str, &str)]) {
        self.run_script(script, &[], settings);
    }

    fn run_script(&self, script: &str, args: &[&str], settings: &[(&str, &str)]) -> Output {
        eprintln!("\n==> e2e: {script} {}", args.join(" "));
        let started = Instant::now();
        let output = self
            .command(self.root.join(script))
            .args(args)
            .envs(settings.iter().copied())
            .output()
            .unwrap_or_else(|error| panic!("running {script}: {error}"));
        // What the script printed goes to the test's output, shown when it fails.
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        eprintln!(
            "==> e2e: {script} exited with {} after {:.0?}",
            output.status,
            started.elapsed()
        );
        assert!(
            output.status.success(),
            "{script} failed (its output is above)"
        );
        output
    }

    /// The `container-info` wrapper provision/client.sh installed.
    /// The store's token, as provision/server.sh made it.
    pub fn token(&self) -> String {
        let file = self.scratch.path().join("shared/store-token");
        std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()))
    }

    pub fn wrapper(&self) -> PathBuf {
        self.scratch.path().join("bin/container-info")
    }

    /// Runs scripts/one-host-down with the deployment's settings, then checks
    /// that nothing of the deployment is left on the engine.
    pub fn tear_down(mut self) {
        self.torn_down = true;
        self.run_script("scripts/one-host-down", &[], &[]);
        let left = leftovers(&self.before);
        assert!(
            left.is_empty(),
            "the teardown left these behind:\n  {}",
            left.join("\n  ")
        );
        assert!(
            !self.wrapper().exists(),
            "the teardown left the wrapper {}",
            self.wrapper().display()
        );
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        // What the store and the agent said, before the teardown takes it away.
        let logs: [(&str, &[&str]); 2] = [
            (
                "the store",
                &["service", "logs", "--tail", "60", STORE_SERVICE],
            ),
            ("the agent", &["logs", "--tail", "30", AGENT_CONTAINER]),
        ];
        for (what, args) in logs {
            if let Ok(output) = Command::new("docker").args(args).output() {
                eprintln!("\n==> e2e: the last lines of {what}'s log:");
                eprint!("{}", String::from_utf8_lossy(&output.stdout));
                eprint!("{}", String::from_utf8_lossy(&output.stderr));
            }
        }
        eprintln!("\n==> e2e: the test ended early: tearing down (scripts/one-host-down)");
        match self
            .command(self.root.join("scripts/one-host-down"))
            .output()
        {
            Ok(output) => {
                eprint!("{}", String::from_utf8_lossy(&output.stderr));
                if !output.status.success() {
                    eprintln!("==> e2e: the teardown failed ({})", output.status);
                }
            }
            Err(error) => eprintln!("==> e2e: cannot run scripts/one-host-down: {error}"),
        }
        let left = leftovers(&self.before);
        if !left.is_empty() {
            eprintln!(
                "==> e2e: left behind on the engine:\n  {}",
                left.join("\n  ")
            );
        }
    }
}

/// Everything of the deployment still on the engine: what carries its label,
/// the build stages' images, the stack's services, and the swarm when the
/// test initialised it.
pub fn leftovers(before: &Before) -> Vec<String> {
    let label = format!("label={MANAGED_LABEL}");
    let listed = |args: &[&str]| lines(&docker_try(args).unwrap_or_default());
    let mut left = Vec::new();
    let kinds: [(&str, &[&str]); 4] = [
        (
            "container",
            &["ps", "--all", "--filter", &label, "--format", "{{.Names}}"],
        ),
        (
            "network",
            &["network", "ls", "--filter", &label, "--format", "{{.Name}}"],
        ),
        (
            "volume",
            &["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
        ),
        (
            "image",
            &[
                "images",
                "--all",
                "--filter",
                &label,
                "--format",
                "{{.ID}} {{.Repository}}:{{.Tag}}",
            ],
        ),
    ];
    for (kind, args) in kinds {
        left.extend(
            listed(args)
                .into_iter()
                .map(|name| format!("{kind} {name}")),
        );
    }
    let stages = listed(&[
        "images",
        "--all",
        "--quiet",
        "--filter",
        "label=container-info.stage=build",
    ]);
    left.extend(
        stages
            .into_iter()
            .map(|id| format!("build-stage image {id}")),
    );
    let swarm_now =
        docker_try(["info", "--format", "{{.Swarm.LocalNodeState}}"]).unwrap_or_default();
    if swarm_now != before.swarm {
        left.push(format!(
            "the swarm: {swarm_now} (it was {} before the test)",
            before.swarm
        ));
    }
    if swarm_now == "active" {
        let services = listed(&["service", "ls", "--format", "{{.Name}}"]);
        left.extend(
            services
                .into_iter()
                .filter(|service| service.starts_with(&format!("{STACK}_")))
                .map(|service| format!("service {service}")),
        );
    }
    // Swarm mode's own networks, when the test's swarm init made them.
    for network in listed(&["network", "ls", "--format", "{{.Name}}"]) {
        if ["docker_gwbridge", "ingress"].contains(&network.as_str())
            && !before.networks.contains(&network)
        {
            left.push(format!("network {network}"));
        }
    }
    left.sort();
    left.dedup();
    left
}

/// The store's containers now: their names, which are the task names the
/// replicas answer with (`X-Replica`, `received_by`).
pub fn store_replicas() -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={STORE_SERVICE}");
    let mut names = lines(&docker([
        "ps",
        "--filter",
        &filter,
        "--filter",
        "status=running",
        "--format",
        "{{.Names}}",
    ]));
    names.sort();
    names
}

/// `docker` arguments listing the full IDs of the running containers the
/// wrapper started.
pub const CLIENT_CONTAINERS: [&str; 6] = [
    "ps",
    "--no-trunc",
    "--filter",
    "label=container-info.role=client",
    "--format",
    "{{.ID}}",
];

/// `docker` arguments of a rolling restart of the store, waiting for its end.
pub const ROLLING_RESTART: [&str; 7] = [
    "service",
    "update",
    "--force",
    "--no-resolve-image",
    "--detach=false",
    "--quiet",
    STORE_SERVICE,
];

/// This engine's host name: what its agent reports as every container's
/// `node` (and as the node of its own reports).
pub fn node_name() -> String {
    docker(["info", "--format", "{{.Name}}"])
}

/// The full IDs of this engine's running store replicas and its agent: the
/// containers every deployment has on the store's node, which nobody posts.
pub fn replica_and_agent_ids() -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={STORE_SERVICE}");
    let mut ids = lines(&docker([
        "ps",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{.ID}}",
    ]));
    ids.push(docker(["inspect", "--format", "{{.Id}}", AGENT_CONTAINER]));
    ids
}

/// Waits until `GET /nodes` lists exactly `nodes`, each `up` and attested
/// (its report signed by its agent), for a minute at most.
pub fn assert_nodes_up(store: &Store, nodes: &[&str]) {
    let mut expected: Vec<&str> = nodes.to_vec();
    expected.sort_unstable();
    let listed = eventually(
        "GET /nodes to list every node up",
        Duration::from_secs(60),
        || {
            let listed = store.nodes();
            let mut names: Vec<&str> = listed
                .iter()
                .filter_map(|node| node["name"].as_str())
                .collect();
            names.sort_unstable();
            let all_up = listed.iter().all(|node| node["status"] == "up");
            (names == expected && all_up).then_some(listed.clone())
        },
    );
    for node in &listed {
        assert_eq!(
            node["attested"], true,
            "a node report signed by its agent: {node}"
        );
    }
}

/// The full IDs of the running containers the wrapper started on this host.
pub fn client_containers() -> Vec<String> {
    lines(&docker(CLIENT_CONTAINERS))
}
