//! What the tests of several crates share: snapshots as the agent makes them,
//! a real store in the test's own process, and the store as a process of its
//! own. A dev-dependency only, never linked into a binary.

mod fixtures;
mod postgres;
mod replica;
mod secrets;
mod store;

pub use fixtures::{at, container_id, node_report, snapshot, snapshot_with_id};
pub use postgres::{Cluster, postgres_available, test_database};
pub use replica::{Replica, SharedDatabase};
pub use secrets::{KEY, Secrets, TOKEN, bearer, signed, signed_node_report, spawn_guarded_store};
pub use store::{Backend, REPLICA, TestStore, spawn_store, spawn_store_with};

/// Runs each test body, an `async fn(Backend)`, against each backend: for a
/// body `name`, the tests `name::sqlite` and `name::postgres`. A test
/// attribute first (`#[tokio::test(flavor = "multi_thread")]`) replaces
/// `#[tokio::test]` for both.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::both_backends!(#[tokio::test] $($name),*);
    };
    (#[$test:meta] $($name:ident),* $(,)?) => {$(
        mod $name {
            #[$test]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }

            #[$test]
            async fn postgres() {
                if $crate::postgres_available(concat!(module_path!(), "::postgres")) {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        }
    )*};
}
