//! What a running container really runs with: its settings as the engine made
//! them (`docker inspect`), and its process as the kernel sees each of its
//! threads (/proc/<pid>/task/*/status). The kernel's view is the one that
//! counts for no_new_privs, which a Swarm service of Docker Engine 20.10
//! cannot be given and the store sets on itself.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::docker;

#[derive(Debug)]
pub struct Confinement {
    container: String,
    read_only_root: bool,
    memory_limit_bytes: u64,
    nano_cpus: u64,
    /// Every thread of the container's main process.
    threads: Vec<Thread>,
}

/// What the kernel says of one thread.
#[derive(Debug)]
struct Thread {
    id: String,
    no_new_privs: bool,
    /// Real, effective, saved and file-system user IDs.
    uids: Vec<u32>,
    /// The capabilities the thread could ever hold (CapBnd).
    capability_bounding_set: u64,
}

impl Confinement {
    pub fn of(container: &str) -> Self {
        let inspected: Value = serde_json::from_str(&docker([
            "container",
            "inspect",
            "--format",
            "{{json .}}",
            container,
        ]))
        .expect("docker inspect prints JSON");
        let host_config = &inspected["HostConfig"];
        let number = |value: &Value| value.as_u64().unwrap_or_default();
        let pid = number(&inspected["State"]["Pid"]);
        assert!(pid > 0, "{container} runs: {}", inspected["State"]);
        Self {
            container: container.to_owned(),
            read_only_root: host_config["ReadonlyRootfs"] == true,
            memory_limit_bytes: number(&host_config["Memory"]),
            nano_cpus: number(&host_config["NanoCpus"]),
            threads: threads(pid),
        }
    }

    /// A read-only root file system, memory and CPU limits, and on every
    /// thread no_new_privs and no root user ID.
    pub fn assert_hardened(&self) {
        let container = &self.container;
        assert!(
            self.read_only_root,
            "{container} has a read-only root file system: {self:#?}"
        );
        assert!(
            self.memory_limit_bytes > 0,
            "{container} has a memory limit: {self:#?}"
        );
        assert!(self.nano_cpus > 0, "{container} has a CPU limit: {self:#?}");
        for thread in &self.threads {
            let id = &thread.id;
            assert!(
                thread.no_new_privs,
                "thread {id} of {container} has no_new_privs (NoNewPrivs: 1): {self:#?}"
            );
            assert!(
                thread.uids.len() == 4 && !thread.uids.contains(&0),
                "thread {id} of {container} has no root user ID: {self:#?}"
            );
        }
    }

    /// No thread can ever hold a capability (`--cap-drop ALL`).
    pub fn assert_no_capabilities(&self) {
        assert!(
            self.threads
                .iter()
                .all(|thread| thread.capability_bounding_set == 0),
            "{} runs without any capability (CapBnd 0): {self:#?}",
            self.container
        );
    }
}

/// The threads of process `pid` (seen from this host's PID namespace, the
/// engine's). A thread that ends while they are read is left out.
fn threads(pid: u64) -> Vec<Thread> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let entries = fs::read_dir(&tasks)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", tasks.display()));
    let threads: Vec<Thread> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let status = fs::read_to_string(entry.path().join("status")).ok()?;
            Some(Thread::parse(
                entry.file_name().to_string_lossy().into_owned(),
                &status,
            ))
        })
        .collect();
    assert!(!threads.is_empty(), "{} lists no thread", tasks.display());
    threads
}

impl Thread {
    fn parse(id: String, status: &str) -> Self {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {name} in the status of thread {id}:\n{status}"))
        };
        Self {
            no_new_privs: field("NoNewPrivs") == "1",
            uids: field("Uid")
                .split_whitespace()
                .map(|uid| uid.parse().expect("a user ID"))
                .collect(),
            capability_bounding_set: u64::from_str_radix(field("CapBnd"), 16)
                .expect("CapBnd is hexadecimal"),
            id,
        }
    }
}
