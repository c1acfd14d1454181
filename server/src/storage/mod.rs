//! Where the store keeps what it is told: one trait, [`Storage`], that the
//! routes and the replicas' membership use, and one implementation per
//! database behind it: [`sqlite`], one file that every replica on its host
//! shares, and [`postgres`], a server that replicas on any host share. Nothing of a backend (its errors, its connections, its
//! SQL) is seen outside its module; its failures reach the routes as
//! [`StorageError`], which `ApiError` maps to HTTP statuses.

mod error;
mod model;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use prometheus::{Histogram, IntCounter};

pub(crate) use error::StorageError;
pub(crate) use model::{
    ALIVE_WITHIN_MS, Claimed, ContainerFilter, Fenced, Heartbeat, HistoryRange, LeaderWork,
    LeaseRow, Listed, Lookup, NewSnapshot, NodeReportRow, NodeRow, ReplicaRow, RollCall, RowCounts,
    Term, now_ms, timestamp_key,
};

/// What a backend counts of its writes, for /metrics.
pub(crate) struct WriterMetrics {
    /// Requests answered by one commit (SQLite's group commit).
    pub requests_per_commit: Histogram,
    pub snapshots_written: IntCounter,
    /// Leader-only work the database refused: the lease had moved on.
    pub leader_writes_refused: IntCounter,
}

/// Every read and write the store makes. Writes answer once they are durable:
/// a 2xx built on one means the data is on disk. Each backend gives the same
/// answers; the API tests run the same bodies against each.
#[async_trait]
pub(crate) trait Storage: Send + Sync {
    /// Stores the snapshots all together or not at all, and returns each stored
    /// record. A snapshot already stored (same ID and `observed_at`) is not
    /// stored again: the first record is returned, so retries are safe.
    async fn write(&self, snapshots: Vec<NewSnapshot>) -> Result<Vec<String>, StorageError>;

    /// Removes a container and its history; false when there was none.
    async fn delete(&self, id: String) -> Result<bool, StorageError>;

    /// Takes a node's report; a report no later than the last one taken (by
    /// the agent's clock) changes nothing.
    async fn report_node(&self, report: NodeReportRow) -> Result<(), StorageError>;

    /// The latest record of containers, newest first, with their nodes' status.
    async fn list(
        &self,
        filter: ContainerFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError>;

    /// The container whose ID is `prefix` or starts with it.
    async fn find(&self, prefix: &str) -> Result<Lookup, StorageError>;

    /// A container's snapshots, newest observed first.
    async fn history(
        &self,
        id: &str,
        range: &HistoryRange,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError>;

    /// Every node by name, or the one named, and the time their status is
    /// judged at.
    async fn nodes(&self, name: Option<&str>) -> Result<(Vec<NodeRow>, i64), StorageError>;

    async fn row_counts(&self) -> Result<RowCounts, StorageError>;

    /// Succeeds when a read can be made now.
    async fn check_readable(&self) -> Result<(), StorageError>;

    /// Succeeds when a write can reach the disk now.
    async fn check_writable(&self) -> Result<(), StorageError>;

    /// This replica is alive: its row in the roll call.
    async fn heartbeat(&self, beat: Heartbeat) -> Result<(), StorageError>;

    /// Takes replica `id` out of the roll call.
    async fn leave(&self, id: String) -> Result<(), StorageError>;

    /// Every replica the database knows, and the lease.
    async fn roll_call(&self) -> Result<RollCall, StorageError>;

    /// Renews the lease of generation `held`, or takes it when it is free or
    /// expired; the term held afterwards, if any.
    async fn claim(
        &self,
        id: String,
        held: Option<i64>,
        duration: Duration,
    ) -> Result<Option<Claimed>, StorageError>;

    /// Gives up `term` if it is still the lease's, so that another replica
    /// need not wait for it to expire.
    async fn release(&self, term: Term) -> Result<(), StorageError>;

    /// Leader-only work, done only while its term is current (fencing).
    async fn leader_work(&self, work: LeaderWork) -> Result<Fenced, StorageError>;
}
