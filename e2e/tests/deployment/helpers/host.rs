//! The host's own cgroups and its engine's stats, which node containers must
//! leave as they found them: a node that mounted a cgroup v1 hierarchy the host
//! has not mounted made the host's engine blind to every container's stats, for
//! good (docker_node/node-init).

use std::path::Path;
use std::time::Duration;

use super::{docker, docker_try, eventually};

/// Each controller of the kernel and the hierarchy it is mounted in (0: none).
#[derive(Debug, PartialEq, Eq)]
pub struct HostCgroups(Vec<(String, String)>);

impl HostCgroups {
    pub fn now() -> Self {
        let table = std::fs::read_to_string("/proc/cgroups").expect("/proc/cgroups is readable");
        Self(
            table
                .lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| {
                    let mut fields = line.split_whitespace();
                    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
                })
                .collect(),
        )
    }

    /// Panics unless the hierarchies are as they were and the host's engine
    /// reads the stats of a container started now.
    pub fn assert_unchanged_since(&self, what: &str) {
        assert_eq!(
            &Self::now(),
            self,
            "after {what}, the host's cgroup hierarchies (/proc/cgroups) changed"
        );
        engine_reads_stats(what);
    }
}

const PROBE_IMAGE: &str = "container-info-e2e-stats-probe:latest";
const PROBE_CONTAINER: &str = "container-info-e2e-stats-probe";

/// Waits until the host's engine reports a memory use above 0 for a container
/// it has just started (a static busybox in an image of its own); panics,
/// naming `what` came before, when it does not.
fn engine_reads_stats(what: &str) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "the stats check runs Debian's static busybox: apt-get install busybox-static"
    );
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(busybox, context.path().join("busybox")).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /busybox\nENTRYPOINT [\"/busybox\"]\n",
    )
    .unwrap();
    let context = context.path().display().to_string();
    docker(["build", "--quiet", "--tag", PROBE_IMAGE, &context]);
    let _removed = Removal;
    docker([
        "run",
        "--detach",
        "--name",
        PROBE_CONTAINER,
        PROBE_IMAGE,
        "sleep",
        "60",
    ]);
    eventually(
        &format!("the host's engine to read a new container's stats after {what}"),
        Duration::from_secs(20),
        || {
            let usage = docker_try([
                "stats",
                "--no-stream",
                "--format",
                "{{.MemUsage}}",
                PROBE_CONTAINER,
            ])?;
            let used = bytes(usage.split('/').next()?.trim())?;
            (used > 0).then_some(())
        },
    );
}

/// Removes the probe and its image however the check ends.
struct Removal;

impl Drop for Removal {
    fn drop(&mut self) {
        let _ = docker_try(["rm", "--force", PROBE_CONTAINER]);
        let _ = docker_try(["rmi", PROBE_IMAGE]);
    }
}

/// `320KiB`, `1.5MiB`, `0B` as bytes.
fn bytes(text: &str) -> Option<u64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number.parse::<f64>().ok()? * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn docker_stats_sizes_are_read_as_bytes() {
        assert_eq!(bytes("0B"), Some(0));
        assert_eq!(bytes("320KiB"), Some(320 * 1024));
        assert_eq!(bytes("1.5MiB"), Some(1_572_864));
        assert_eq!(bytes("lots"), None);
    }
}
