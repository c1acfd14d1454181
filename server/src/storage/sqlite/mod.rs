//! The SQLite backend: one file that every replica on its host shares, one
//! writer thread per replica for group commits, and a small pool of
//! connections for reads.

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

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub(crate) use connection::BUSY_RETRIES;
use writer::{Job, Writer};

use super::{
    Claimed, ContainerFilter, Fenced, Heartbeat, HistoryRange, LeaderWork, Listed, Lookup,
    NewSnapshot, NodeReportRow, NodeRow, RollCall, RowCounts, Storage, StorageError, Term,
    WriterMetrics, now_ms,
};

/// Requests waiting for the writer before new ones wait to be queued.
const WRITE_QUEUE: usize = 4096;

/// One more read connection than actix starts HTTP workers (one per core), and
/// each worker holds one only while a query runs: taking one never waits.
fn read_connections() -> u32 {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(workers).unwrap_or(u32::MAX / 2) + 1
}

pub(crate) struct SqliteStore {
    readers: r2d2::Pool<SqliteConnectionManager>,
    jobs: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating it and its folder if need be) and migrates the database,
    /// and starts the writer thread, which ends once the store is dropped.
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

    /// Runs a read on the calling thread, an HTTP worker's, on purpose: the
    /// trait's reads are `async` for backends that wait on a network, but these
    /// never yield. They are index lookups and short scans that take
    /// microseconds, and handing each to a blocking thread and back cost more
    /// than the query (reads by ID lost a quarter of their
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

#[async_trait]
impl Storage for SqliteStore {
    async fn write(&self, snapshots: Vec<NewSnapshot>) -> Result<Vec<String>, StorageError> {
        self.submit(|reply| Job::Write { snapshots, reply }).await
    }

    async fn delete(&self, id: String) -> Result<bool, StorageError> {
        self.submit(|reply| Job::Delete { id, reply }).await
    }

    async fn report_node(&self, report: NodeReportRow) -> Result<(), StorageError> {
        self.submit(|reply| Job::Node { report, reply }).await
    }

    async fn list(
        &self,
        filter: ContainerFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.read(|conn| reader::list_latest(conn, &filter, before_seq, limit, now_ms()))
    }

    async fn find(&self, prefix: &str) -> Result<Lookup, StorageError> {
        self.read(|conn| reader::find(conn, prefix, now_ms()))
    }

    async fn history(
        &self,
        id: &str,
        range: &HistoryRange,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.read(|conn| reader::history(conn, id, range, limit))
    }

    async fn nodes(&self, name: Option<&str>) -> Result<(Vec<NodeRow>, i64), StorageError> {
        let now = now_ms();
        Ok((self.read(|conn| nodes::list(conn, name))?, now))
    }

    async fn row_counts(&self) -> Result<RowCounts, StorageError> {
        self.read(reader::row_counts)
    }

    async fn check_readable(&self) -> Result<(), StorageError> {
        self.read(|conn| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
    }

    /// Whether this replica can take the database's write lock now.
    async fn check_writable(&self) -> Result<(), StorageError> {
        self.submit(|reply| Job::Probe { reply }).await
    }

    async fn heartbeat(&self, beat: Heartbeat) -> Result<(), StorageError> {
        self.submit(|reply| Job::Heartbeat { beat, reply }).await
    }

    async fn leave(&self, id: String) -> Result<(), StorageError> {
        self.submit(|reply| Job::Leave { id, reply }).await
    }

    async fn roll_call(&self) -> Result<RollCall, StorageError> {
        let (replicas, lease) = self.read(replicas::roll_call)?;
        Ok(RollCall {
            replicas,
            lease,
            now_ms: now_ms(),
        })
    }

    async fn claim(
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

    async fn release(&self, term: Term) -> Result<(), StorageError> {
        self.submit(|reply| Job::Release { term, reply }).await
    }

    async fn leader_work(&self, work: LeaderWork) -> Result<Fenced, StorageError> {
        self.submit(|reply| Job::LeaderWork { work, reply }).await
    }
}
