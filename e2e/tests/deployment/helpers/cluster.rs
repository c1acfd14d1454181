//! Several hosts made as the README tells users: `vagrant up --provider docker`
//! in the repository, one node container (docker_node/) per machine, each with
//! its own Docker Engine, provisioned by provision/*.sh over vagrant's ssh.
//! Dropping the cluster destroys it, also when the test fails, and the test
//! checks that nothing of it is left on this host.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use super::{HostCgroups, Prompt, Store, clean_command, docker_try, lines, repository};

/// The server machine's private address (the Vagrantfile's default prefix).
pub const SERVER_IP: &str = "192.168.56.10";
/// What the Vagrantfile names the node image, and labels node containers.
const NODE_IMAGE: &str = "container-info-node:latest";
const NODE_LABEL: &str = "container-info.role=node";

/// What this host had before the cluster, which the teardown must leave so.
struct Before {
    cgroups: HostCgroups,
    node_image: bool,
    vagrant_folder: bool,
    volumes: Vec<String>,
}

pub struct Cluster {
    root: PathBuf,
    clients: usize,
    /// The store's database, as CONTAINER_INFO_DATABASE tells the Vagrantfile.
    database: &'static str,
    before: Before,
    torn_down: bool,
}

impl Cluster {
    /// `CLIENTS=<clients> vagrant up --provider docker`, after checking that no
    /// machine of this repository exists (the teardown destroys them all).
    /// `None`, saying so loudly, without vagrant, unless
    /// `CONTAINER_INFO_REQUIRE_TOOLS=1`.
    pub fn up(clients: usize) -> Option<Self> {
        Self::up_on(clients, "sqlite")
    }

    /// The same, with the store on `database` (`sqlite` or `postgres`).
    pub fn up_on(clients: usize, database: &'static str) -> Option<Self> {
        if Command::new("vagrant").arg("--version").output().is_err() {
            assert_ne!(
                std::env::var("CONTAINER_INFO_REQUIRE_TOOLS").as_deref(),
                Ok("1"),
                "CONTAINER_INFO_REQUIRE_TOOLS=1 but vagrant is not installed (apt-get install vagrant)"
            );
            eprintln!(
                "\n!!!!!!!! SKIPPED: vagrant is not installed; the many-hosts test needs it.\n"
            );
            return None;
        }
        let root = repository();
        let existing = machines_created(&root);
        assert!(
            existing.is_empty(),
            "vagrant machines of this repository exist already ({}); the test would destroy \
             them. Run `vagrant destroy -f` first.",
            existing.join(", ")
        );
        assert!(
            node_containers().is_empty(),
            "node containers ({NODE_LABEL}) exist on this engine already; remove them first"
        );
        let before = Before {
            cgroups: HostCgroups::now(),
            node_image: docker_try(["image", "inspect", NODE_IMAGE]).is_some(),
            vagrant_folder: root.join(".vagrant").exists(),
            volumes: volumes(),
        };
        let cluster = Self {
            root,
            clients,
            database,
            before,
            torn_down: false,
        };
        cluster.vagrant(&["up", "--provider", "docker"]);
        Some(cluster)
    }

    /// The client machines' names, as the Vagrantfile gives them.
    pub fn clients(&self) -> Vec<String> {
        if self.clients == 1 {
            return vec!["client".to_owned()];
        }
        (1..=self.clients).map(|n| format!("client{n}")).collect()
    }

    /// `vagrant ARGS` in the repository, with this cluster's CLIENTS, its output
    /// shown in the test's; panics when it fails.
    pub fn vagrant(&self, args: &[&str]) -> Output {
        let output = self.vagrant_try(args);
        assert!(
            output.status.success(),
            "vagrant {} failed (its output is above)",
            args.join(" ")
        );
        output
    }

    fn vagrant_try(&self, args: &[&str]) -> Output {
        eprintln!("\n==> e2e: vagrant {}", args.join(" "));
        let started = Instant::now();
        let output = self
            .command("vagrant")
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("running vagrant: {error}"));
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        eprintln!(
            "==> e2e: vagrant {} exited with {} after {:.0?}",
            args.join(" "),
            output.status,
            started.elapsed()
        );
        output
    }

    /// A command run in the repository with this cluster's settings only.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = clean_command(program);
        command
            .current_dir(&self.root)
            .env("CLIENTS", self.clients.to_string())
            .env("CONTAINER_INFO_DATABASE", self.database);
        command
    }

    /// `vagrant ssh MACHINE -c COMMAND`, as a user types it; its output as it
    /// came (not shown: callers check it).
    pub fn ssh(&self, machine: &str, command: &str) -> Output {
        self.command("vagrant")
            .args(["ssh", machine, "-c", command])
            .output()
            .unwrap_or_else(|error| panic!("running vagrant ssh: {error}"))
    }

    /// The client's prompt on `machine`, over `vagrant ssh` in a pseudo-terminal.
    pub fn prompt(&self, machine: &str) -> Prompt {
        let mut command = self.command("vagrant");
        command.args(["ssh", machine, "--", "-t", "container-info"]);
        Prompt::open(command)
    }

    /// The node container of `machine` on this host's engine.
    pub fn node(&self, machine: &str) -> String {
        let id = machine_id(&self.root, machine)
            .unwrap_or_else(|| panic!("vagrant has no container for {machine}"));
        id.trim().to_owned()
    }

    /// `docker exec` in `machine`'s node container, as root: what the test
    /// looks at or changes inside a node without going through vagrant.
    pub fn exec(&self, machine: &str, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["exec", &self.node(machine)])
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("running docker exec: {error}"))
    }

    /// The node's own engine: `docker ARGS` inside `machine`; panics when it fails.
    pub fn docker(&self, machine: &str, args: &[&str]) -> String {
        let mut full = vec!["docker"];
        full.extend_from_slice(args);
        let output = self.exec(machine, &full);
        assert!(
            output.status.success(),
            "docker {} on {machine} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The tasks of `service` that should run, as the manager (the server
    /// node) lists them: `<node> <task name> <current state>`, one a line.
    pub fn tasks(&self, service: &str) -> Vec<String> {
        lines(&self.docker(
            "server",
            &[
                "service",
                "ps",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.Name}} {{.CurrentState}}",
                service,
            ],
        ))
    }

    /// The store's URL on the server's private address, as the wrapper on a
    /// client node is told it.
    pub fn store_url(&self) -> String {
        format!("http://{SERVER_IP}:5001")
    }

    /// The store on the server's private address, from this host.
    pub fn store(&self) -> Store {
        Store::at(&self.store_url())
    }

    /// The store's token, where the provisioning keeps it: the shared folder.
    pub fn token(&self) -> String {
        let path = self.root.join(".vagrant/container-info/store-token");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("the store's token in {}: {error}", path.display()))
    }

    /// `vagrant destroy -f`, then checks that nothing of the cluster is left
    /// and that the host's cgroups and engine are as they were.
    pub fn tear_down(mut self) {
        self.torn_down = true;
        self.vagrant(&["destroy", "--force"]);
        self.remove_what_vagrant_leaves();
        let left = self.leftovers();
        assert!(
            left.is_empty(),
            "vagrant destroy left these behind:\n  {}",
            left.join("\n  ")
        );
        self.before
            .cgroups
            .assert_unchanged_since("the node containers");
    }

    /// The node image (when the test made it) and the shared folder: vagrant
    /// destroys machines, not what the Vagrantfile's trigger and the
    /// provisioning made beside them.
    fn remove_what_vagrant_leaves(&self) {
        if !self.before.node_image {
            let _ = docker_try(["rmi", NODE_IMAGE]);
        }
        let folder = self.root.join(".vagrant");
        let _ = std::fs::remove_dir_all(folder.join("container-info"));
        if !self.before.vagrant_folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }

    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        left.extend(
            node_containers()
                .into_iter()
                .map(|name| format!("node container {name}")),
        );
        let networks = docker_try(["network", "ls", "--format", "{{.Name}}"]).unwrap_or_default();
        left.extend(
            lines(&networks)
                .into_iter()
                .filter(|name| name.starts_with("vagrant_network"))
                .map(|name| format!("network {name}")),
        );
        left.extend(
            volumes()
                .into_iter()
                .filter(|volume| !self.before.volumes.contains(volume))
                .map(|volume| format!("volume {volume}")),
        );
        if !self.before.node_image && docker_try(["image", "inspect", NODE_IMAGE]).is_some() {
            left.push(format!("image {NODE_IMAGE}"));
        }
        left.extend(
            machines_created(&self.root)
                .into_iter()
                .map(|machine| format!("vagrant machine {machine}")),
        );
        left
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        eprintln!("\n==> e2e: the test ended early: vagrant destroy --force");
        let output = self.vagrant_try(&["destroy", "--force"]);
        if !output.status.success() {
            // Whatever vagrant could not remove, by the label every node carries.
            for node in node_containers() {
                let _ = docker_try(["rm", "--force", "--volumes", &node]);
            }
        }
        self.remove_what_vagrant_leaves();
        let left = self.leftovers();
        if !left.is_empty() {
            eprintln!("==> e2e: left behind:\n  {}", left.join("\n  "));
        }
    }
}

/// The machines of the repository's vagrant environment that have a container.
fn machines_created(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join(".vagrant/machines")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| machine_id(root, name).is_some())
        .collect();
    names.sort();
    names
}

fn machine_id(root: &Path, machine: &str) -> Option<String> {
    std::fs::read_to_string(
        root.join(".vagrant/machines")
            .join(machine)
            .join("docker/id"),
    )
    .ok()
    .filter(|id| !id.trim().is_empty())
}

/// The names of the node containers on this host's engine, by their label.
fn node_containers() -> Vec<String> {
    let filter = format!("label={NODE_LABEL}");
    lines(
        &docker_try(["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"])
            .unwrap_or_default(),
    )
}

fn volumes() -> Vec<String> {
    lines(&docker_try(["volume", "ls", "--quiet"]).unwrap_or_default())
}
