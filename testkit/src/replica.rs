//! A `container-info-server` process, for tests that need the store as a
//! process of its own: killed, stopped, or several on one file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

/// How long a replica may take to open its database and listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Killed when dropped, so a failing test leaves no process behind.
pub struct Replica {
    pub child: Child,
    pub url: String,
    log_file: PathBuf,
    /// Its ready file and its log.
    _folder: TempDir,
}

impl Replica {
    /// Returns once the replica listens, as its `--ready-file` says; `listen`
    /// may ask for port 0.
    pub fn start(binary: &Path, listen: &str, name: &str, database: &Path) -> Self {
        Self::start_with(binary, listen, name, database, &[])
    }

    /// The same, with more settings for the store (`--lease 2s`, …).
    pub fn start_with(
        binary: &Path,
        listen: &str,
        name: &str,
        database: &Path,
        settings: &[&str],
    ) -> Self {
        let folder = tempfile::tempdir().expect("a temp folder");
        let ready_file = folder.path().join("ready");
        let log_file = folder.path().join("log");
        let log = std::fs::File::create(&log_file).expect("a log file");
        let mut child = Command::new(binary)
            .args(["--listen", listen, "--replica-id", name, "--database"])
            .arg(database)
            .arg("--ready-file")
            .arg(&ready_file)
            .args(settings)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the store binary starts");
        let started = Instant::now();
        let address = loop {
            if let Ok(line) = std::fs::read_to_string(&ready_file) {
                break line.trim_end().to_owned();
            }
            let exited = child.try_wait().expect("the replica can be waited for");
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let said = std::fs::read_to_string(&log_file).unwrap_or_default();
                panic!("{name} did not listen ({exited:?}):\n{said}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Self {
            child,
            url: format!("http://{address}"),
            log_file,
            _folder: folder,
        }
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// SIGSTOP: frozen, as a process the kernel does not schedule or a
    /// machine that stalls; `resume` continues it.
    pub fn pause(&self) {
        kill(self.pid(), Signal::SIGSTOP).unwrap();
    }

    /// SIGCONT.
    pub fn resume(&self) {
        kill(self.pid(), Signal::SIGCONT).unwrap();
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits an i32"))
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as Swarm stops a task, and how the process ended.
    pub fn terminate(&mut self) -> ExitStatus {
        kill(self.pid(), Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
