//! The SQLite file that every replica shares: one writer thread per replica for
//! group commits, and a small pool of connections for reads.

mod checkpointer;
mod connection;
mod error;
mod nodes;
mod reader;
mod replicas;
mod schema;
mod turns;
mod writer;

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub(crate) use connection::BUSY_RETRIES;
pub(crate) use error::StorageError;
pub(crate) use nodes::{NodeReportRow, NodeRow};
pub(crate) use reader::{ContainerFilter, HistoryRange, Listed, Lookup, RowCounts};
pub(crate) use replicas::{
    ALIVE_WITHIN_MS, Claimed, Fenced, Heartbeat, LeaderWork, LeaseRow, ReplicaRow, Term, now_ms,
};
pub(crate) use writer::WriterMetrics;
use writer::{Job, Writer};

/// Requests waiting for the writer before new ones wait to be queued.
const WRITE_QUEUE: usize = 4096;

/// One more read connection than actix starts HTTP workers (one per core), and
/// each worker holds one only while a query runs: taking one never waits.
fn read_connections() -> u32 {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(workers).unwrap_or(u32::MAX / 2) + 1
}

/// The stored form of a time: UTC with nine fraction digits, so that comparing
/// the text compares the times.
pub(crate) fn timestamp_key(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// One snapshot, checked and serialized, as the writer stores it.
pub(crate) struct NewSnapshot {
    pub id: String,
    /// UTC with nine fraction digits, so that text order is time order.
    pub observed_at: String,
    pub name: String,
    pub image: String,
    pub node: String,
    pub service: Option<String>,
    pub stack: Option<String>,
    pub state: &'static str,
    /// The labels as a JSON object, for the label filter.
    pub labels: String,
    /// The whole stored record as the API returns it.
    pub body: String,
}

#[derive(Clone)]
pub(crate) struct Store {
    readers: r2d2::Pool<SqliteConnectionManager>,
    jobs: mpsc::Sender<Job>,
}

impl Store {
    /// Opens (creating it and its folder if need be) and migrates the database,
    /// and starts the writer thread, which ends once every `Store` is dropped.
    pub(crate) fn open(
        path: &Path,
        history_limit: u32,
        metrics: WriterMetrics,
    ) -> Result<(Self, JoinHandle<()>), StorageError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StorageError::Folder {
                path: folder.to_owned(),
                source,
            })?;
        }
        let mut conn = connection::open_writer(path)?;
        schema::migrate(&mut conn)?;
        let readers = r2d2::Pool::builder()
            .max_size(read_connections())
            .connection_timeout(Duration::from_secs(5))
            // A local file does not go stale; testing it on every read cost a query.
            .test_on_check_out(false)
            .build(
                SqliteConnectionManager::file(path)
                    .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                    .with_init(connection::configure_reader),
            )?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE);
        let writer = Writer {
            conn,
            history_limit,
            metrics,
            checkpoints: checkpointer::start(path)?,
            turns: turns::WriteTurns::open(path)?,
        };
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|source| StorageError::Thread {
                name: "writer",
                source,
            })?;
        Ok((Self { readers, jobs }, thread))
    }

    /// Stores the snapshots all together or not at all; answers once they are on disk.
    pub(crate) async fn write(
        &self,
        snapshots: Vec<NewSnapshot>,
    ) -> Result<Vec<String>, StorageError> {
        self.submit(|reply| Job::Write { snapshots, reply }).await
    }

    /// Removes a container and its history; false when there was none.
    pub(crate) async fn delete(&self, id: String) -> Result<bool, StorageError> {
        self.submit(|reply| Job::Delete { id, reply }).await
    }

    /// Succeeds when this replica can take the database's write lock now.
    pub(crate) async fn check_writable(&self) -> Result<(), StorageError> {
        self.submit(|reply| Job::Probe { reply }).await
    }

    pub(crate) async fn heartbeat(&self, beat: Heartbeat) -> Result<(), StorageError> {
        self.submit(|reply| Job::Heartbeat { beat, reply }).await
    }

    /// Takes replica `id` out of the roll call.
    pub(crate) async fn leave(&self, id: String) -> Result<(), StorageError> {
        self.submit(|reply| Job::Leave { id, reply }).await
    }

    /// Gives up `term` if it is still the lease's, so that another replica
    /// need not wait for it to expire.
    pub(crate) async fn release(&self, term: Term) -> Result<(), StorageError> {
        self.submit(|reply| Job::Release { term, reply }).await
    }

    /// Renews the lease of generation `held`, or takes it when it is free or
    /// expired; the term held afterwards, if any.
    pub(crate) async fn claim(
        &self,
        id: String,
        held: Option<i64>,
        duration: Duration,
    ) -> Result<Option<Claimed>, StorageError> {
        let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.submit(|reply| Job::Claim {
            id,
            held,
            duration_ms,
            reply,
        })
        .await
    }

    /// Takes a node's report; answers once it is on disk.
    pub(crate) async fn report_node(&self, report: NodeReportRow) -> Result<(), StorageError> {
        self.submit(|reply| Job::Node { report, reply }).await
    }

    /// Leader-only work, done only while its term is current.
    pub(crate) async fn leader_work(&self, work: LeaderWork) -> Result<Fenced, StorageError> {
        self.submit(|reply| Job::LeaderWork { work, reply }).await
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StorageError>>) -> Job,
    ) -> Result<T, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .await
            .map_err(|_| StorageError::WriterStopped)?;
        answer.await.map_err(|_| StorageError::WriterStopped)?
    }

    pub(crate) fn list(
        &self,
        filter: ContainerFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.read(|conn| reader::list_latest(conn, &filter, before_seq, limit, now_ms()))
    }

    pub(crate) fn find(&self, prefix: &str) -> Result<Lookup, StorageError> {
        self.read(|conn| reader::find(conn, prefix, now_ms()))
    }

    pub(crate) fn history(
        &self,
        id: &str,
        range: &HistoryRange,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.read(|conn| reader::history(conn, id, range, limit))
    }

    /// Succeeds when a read transaction can be opened now.
    pub(crate) fn check_readable(&self) -> Result<(), StorageError> {
        self.read(|conn| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
    }

    pub(crate) fn row_counts(&self) -> Result<RowCounts, StorageError> {
        self.read(reader::row_counts)
    }

    /// Every node by name, or the one named.
    pub(crate) fn nodes(&self, name: Option<&str>) -> Result<Vec<NodeRow>, StorageError> {
        self.read(|conn| nodes::list(conn, name))
    }

    /// Every replica the file knows, and the lease.
    pub(crate) fn roll_call(&self) -> Result<(Vec<ReplicaRow>, LeaseRow), StorageError> {
        self.read(replicas::roll_call)
    }

    /// Runs a read on the calling thread, an HTTP worker's, on purpose, which
    /// is why the reads are not `async`: they are index lookups and short scans
    /// that take microseconds, and handing each to a blocking thread and back
    /// cost more than the query (reads by ID lost a quarter of their
    /// throughput; see BENCHMARKS.md). Every worker holds at most one
    /// connection at a time, and the pool has more than there are workers, so
    /// taking one never waits.
    fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        let conn = self.readers.get()?;
        Ok(query(&conn)?)
    }
}
