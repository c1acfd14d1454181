//! The secret files a guarded store is given, as Swarm secrets would be, and
//! snapshots signed as an agent holding the key signs them.

use std::path::PathBuf;

use container_info_server::config::Config;
use container_info_wire::Snapshot;
use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::nodes::NodeReport;
use serde_json::Value;
use tempfile::TempDir;

use crate::store::{Backend, TestStore, spawn_store_with};

/// The store's token, in the file [`Secrets::token_file`].
pub const TOKEN: &str = "operator-token-0123456789abcdef0123456789";
/// The agents' signing key, in the file [`Secrets::key_file`].
pub const KEY: &str = "signing-key-0123456789abcdef0123456789abcd";

pub struct Secrets {
    folder: TempDir,
}

impl Secrets {
    pub fn new() -> Self {
        let folder = tempfile::tempdir().expect("a temp folder");
        // With the newline an editor or `echo` leaves.
        std::fs::write(folder.path().join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(folder.path().join("key"), KEY).unwrap();
        Self { folder }
    }

    pub fn token_file(&self) -> PathBuf {
        self.path("token")
    }

    pub fn key_file(&self) -> PathBuf {
        self.path("key")
    }

    /// A path in the same folder, for a test's own files.
    pub fn path(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

/// `Bearer <TOKEN>`.
pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// `snapshot` as an agent holding `key` answers it.
pub fn signed(snapshot: Value, key: &str) -> Value {
    let mut snapshot: Snapshot = serde_json::from_value(snapshot).expect("a snapshot");
    snapshot.sign(&Secret::new(key.as_bytes()).expect("a long enough key"));
    serde_json::to_value(snapshot).unwrap()
}

/// A node's report as an agent holding `key` posts it.
pub fn signed_node_report(report: Value, key: &str) -> Value {
    let mut report: NodeReport = serde_json::from_value(report).expect("a node report");
    report.sign(&Secret::new(key.as_bytes()).expect("a long enough key"));
    serde_json::to_value(report).unwrap()
}

/// A store that has a token and the agents' key; `adjust` may change more.
pub async fn spawn_guarded_store(
    backend: Backend,
    adjust: impl FnOnce(&mut Config, &Secrets),
) -> (TestStore, Secrets) {
    let secrets = Secrets::new();
    let store = spawn_store_with(backend, |config| {
        config.token_file = Some(secrets.token_file());
        config.signing_key_file = Some(secrets.key_file());
        adjust(config, &secrets);
    })
    .await;
    (store, secrets)
}
