//! A `container-info-server` process, for the tests that need the store as a
//! process of its own: the server's replica tests, and the client's roll call,
//! which includes this file by its path.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Killed when dropped, so a failing test leaves no process behind.
pub struct Replica {
    pub child: Child,
    pub url: String,
}

impl Replica {
    /// Returns once the replica listens; `listen` may ask for port 0.
    pub fn start(binary: &Path, listen: &str, name: &str, database: &Path) -> Self {
        let mut child = Command::new(binary)
            .args(["--listen", listen, "--replica-id", name, "--database"])
            .arg(database)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the store binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = Vec::new();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .inspect(|line| said.push(line.clone()))
            .find(|line| line.contains("container-info store started"))
            .and_then(|line| {
                line.split_whitespace()
                    .find_map(|field| field.strip_prefix("address=").map(str::to_owned))
            })
            .unwrap_or_else(|| panic!("{name} exited before it listened:\n{}", said.join("\n")));
        // Keep reading its log so that the pipe never fills and blocks it.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            url: format!("http://{address}"),
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
