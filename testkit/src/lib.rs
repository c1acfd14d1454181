//! What the tests of several crates share: snapshots as the agent makes them,
//! a real store in the test's own process, and the store as a process of its
//! own. A dev-dependency only, never linked into a binary.

mod fixtures;
mod replica;
mod secrets;
mod store;

pub use fixtures::{at, container_id, node_report, snapshot, snapshot_with_id};
pub use replica::Replica;
pub use secrets::{KEY, Secrets, TOKEN, bearer, signed, signed_node_report, spawn_guarded_store};
pub use store::{REPLICA, TestStore, spawn_store, spawn_store_with};
