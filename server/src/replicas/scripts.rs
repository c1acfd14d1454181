//! `--on-leader` and `--on-follower`: commands run at each change of role, one
//! at a time and in order, each under a timeout. A script that fails, hangs or
//! cannot start is logged and counted, and the store goes on.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use prometheus::IntCounterVec;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::config::Config;

/// The output kept for the log, from each of stdout and stderr.
const OUTPUT_KEPT: usize = 4096;

/// How long the output is read after the script's own process ended: a
/// process it left behind (outside its process group) may hold the pipes.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Leader,
    Follower,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Leader => "leader",
            Self::Follower => "follower",
        }
    }
}

/// Hands each change of role to the task that runs the scripts.
pub(crate) struct RoleScripts {
    changes: mpsc::UnboundedSender<(Role, i64)>,
    runner: tokio::task::JoinHandle<()>,
}

struct Runner {
    replica: String,
    on_leader: Option<String>,
    on_follower: Option<String>,
    timeout: Duration,
    outcomes: IntCounterVec,
}

impl RoleScripts {
    pub(crate) fn start(config: &Config, replica: String, outcomes: IntCounterVec) -> Self {
        let runner = Runner {
            replica,
            on_leader: config.on_leader.clone(),
            on_follower: config.on_follower.clone(),
            timeout: config.role_script_timeout,
            outcomes,
        };
        let (changes, mut queue) = mpsc::unbounded_channel();
        let runner = tokio::spawn(async move {
            while let Some((role, generation)) = queue.recv().await {
                runner.run(role, generation).await;
            }
        });
        Self { changes, runner }
    }

    /// This replica's role is now `role`, under lease `generation`.
    pub(crate) fn changed(&self, role: Role, generation: i64) {
        // The runner lives as long as this sender.
        let _ = self.changes.send((role, generation));
    }

    /// Waits for the scripts already queued (each within its timeout).
    pub(crate) async fn finish(self) {
        drop(self.changes);
        // A panic there has been logged; there is nothing left to run.
        let _ = self.runner.await;
    }
}

impl Runner {
    async fn run(&self, role: Role, generation: i64) {
        let command = match role {
            Role::Leader => &self.on_leader,
            Role::Follower => &self.on_follower,
        };
        let Some(command) = command else { return };
        let outcome = self.execute(command, role, generation).await;
        self.outcomes
            .with_label_values(&[role.as_str(), outcome])
            .inc();
    }

    /// Runs one script to its end, or kills it at the timeout; returns the
    /// outcome's label.
    async fn execute(&self, command: &str, role: Role, generation: i64) -> &'static str {
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("CONTAINER_INFO_REPLICA_ID", &self.replica)
            .env("CONTAINER_INFO_ROLE", role.as_str())
            .env("CONTAINER_INFO_LEASE_GENERATION", generation.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout kills whatever it started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(role = role.as_str(), %error, command, "the role script cannot start");
                return "not_started";
            }
        };
        let stdout = tokio::spawn(kept(child.stdout.take()));
        let stderr = tokio::spawn(kept(child.stderr.take()));
        let (status, outcome) = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => (Some(status), "succeeded"),
            Ok(Ok(status)) => (Some(status), "failed"),
            Ok(Err(error)) => {
                tracing::error!(role = role.as_str(), %error, "cannot wait for the role script");
                (None, "failed")
            }
            Err(_) => {
                if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                    // Already gone is fine: then there is nothing to kill.
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                (child.wait().await.ok(), "timed_out")
            }
        };
        let read = |task: tokio::task::JoinHandle<String>| async move {
            tokio::time::timeout(OUTPUT_GRACE, task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        };
        let (stdout, stderr) = (read(stdout).await, read(stderr).await);
        let status = status.map(|status| status.to_string()).unwrap_or_default();
        if outcome == "succeeded" {
            tracing::info!(role = role.as_str(), generation, %status, stdout, stderr, "role script ran");
        } else {
            tracing::warn!(
                role = role.as_str(),
                generation,
                outcome,
                %status,
                timeout = ?self.timeout,
                stdout,
                stderr,
                "role script did not succeed"
            );
        }
        outcome
    }
}

/// Reads a pipe to its end, keeping the first `OUTPUT_KEPT` bytes: the rest is
/// read and dropped, so that a talkative script never blocks on a full pipe.
async fn kept(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut pipe) = pipe else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(read) = pipe.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        let room = OUTPUT_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..read.min(room)]);
    }
    String::from_utf8_lossy(&kept).trim_end().to_owned()
}
