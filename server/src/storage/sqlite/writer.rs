//! The one thread per replica that writes, committing many requests at once.
//!
//! Each request hands its snapshots to this thread and waits. The thread takes
//! every request that is waiting, applies each in a savepoint of one `BEGIN
//! IMMEDIATE` transaction, and commits once: one fsync answers them all. A
//! request is answered only after that commit has returned, so a 2xx means the
//! data is on disk; a request that fails inside the transaction rolls back to
//! its savepoint alone and leaves the others' writes standing.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{nodes, replicas};
use crate::storage::{
    Claimed, Fenced, Heartbeat, LeaderWork, NewSnapshot, NodeReportRow, StorageError, Term,
    WriterMetrics, now_ms,
};

/// More than this many requests in one commit only delays the first of them.
const MAX_REQUESTS_PER_COMMIT: usize = 512;

/// How long a replica that found others waiting leaves the turn to them after
/// its commit: long enough for a woken waiter to take the lock first, short
/// beside a commit's fsync; meanwhile this replica's next group grows.
const PASS_THE_TURN: std::time::Duration = std::time::Duration::from_micros(300);

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

pub(super) enum Job {
    Write {
        snapshots: Vec<NewSnapshot>,
        reply: Reply<Vec<String>>,
    },
    Delete {
        id: String,
        reply: Reply<bool>,
    },
    /// Writes one row and commits: proves that a write can reach the disk now
    /// (a full disk or a read-only file refuses it). The row carries 64 KiB,
    /// more than a usual write: on a disk with a few pages left, a tiny probe
    /// would pass while every snapshot is refused.
    Probe {
        reply: Reply<()>,
    },
    /// This replica is alive: its row in the roll call.
    Heartbeat {
        beat: Heartbeat,
        reply: Reply<()>,
    },
    /// This replica stops: out of the roll call.
    Leave {
        id: String,
        reply: Reply<()>,
    },
    /// Gives up a term: the lease expires now.
    Release {
        term: Term,
        reply: Reply<()>,
    },
    /// Renew `held`, or take the lease when it is free or expired.
    Claim {
        id: String,
        held: Option<i64>,
        duration_ms: i64,
        reply: Reply<Option<Claimed>>,
    },
    LeaderWork {
        work: LeaderWork,
        reply: Reply<Fenced>,
    },
    /// A node's agent reports.
    Node {
        report: NodeReportRow,
        reply: Reply<()>,
    },
}

/// A job done inside the open transaction, waiting for the commit: it then
/// answers with what the job did, or with the commit's error when that failed.
/// A job that failed by itself keeps its own error: it is the cause, and the
/// failed commit often only its consequence.
struct Applied(Box<Answer>);

/// Answers one job, given the commit's error if it failed.
type Answer = dyn FnOnce(Option<&Arc<rusqlite::Error>>) + Send;

impl Applied {
    fn new<T: Send + 'static>(reply: Reply<T>, done: Result<T, StorageError>) -> Self {
        Self(Box::new(move |commit_error| {
            let done = match (done, commit_error) {
                (Ok(_), Some(error)) => Err(StorageError::from(Arc::clone(error))),
                (done, _) => done,
            };
            // A requester that went away (the client hung up) needs no answer.
            drop(reply.send(done));
        }))
    }

    fn answer(self, commit_error: Option<&Arc<rusqlite::Error>>) {
        (self.0)(commit_error)
    }
}

impl Job {
    /// Whether a client's request is waiting for it.
    fn is_request(&self) -> bool {
        matches!(
            self,
            Self::Write { .. } | Self::Delete { .. } | Self::Probe { .. } | Self::Node { .. }
        )
    }

    /// For a group whose transaction could not even begin: each job is
    /// answered with the error of the transaction.
    fn not_applied(self) -> Applied {
        match self {
            Self::Write { reply, .. } => Applied::new(reply, Ok(Vec::new())),
            Self::Delete { reply, .. } => Applied::new(reply, Ok(false)),
            Self::Probe { reply }
            | Self::Node { reply, .. }
            | Self::Heartbeat { reply, .. }
            | Self::Leave { reply, .. }
            | Self::Release { reply, .. } => Applied::new(reply, Ok(())),
            Self::Claim { reply, .. } => Applied::new(reply, Ok(None)),
            Self::LeaderWork { reply, .. } => Applied::new(reply, Ok(Fenced::Refused)),
        }
    }
}

pub(super) struct Writer {
    pub conn: Connection,
    pub history_limit: u32,
    pub metrics: WriterMetrics,
    /// Checkpoints run while this writer runs, and stop with it.
    pub checkpoints: super::checkpointer::Checkpoints,
    pub turns: super::turns::WriteTurns,
}

impl Writer {
    /// Runs until every sender is dropped, which is how the server shuts it down
    /// after the last in-flight request has been answered.
    pub(crate) fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(first) = jobs.blocking_recv() {
            let mut group = vec![first];
            while group.len() < MAX_REQUESTS_PER_COMMIT {
                match jobs.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            // Requests of clients, not this replica's own heartbeats and claims.
            let requests = group.iter().filter(|job| job.is_request()).count();
            if requests > 0 {
                self.metrics.requests_per_commit.observe(requests as f64);
            }
            if self.commit_group(group) {
                std::thread::sleep(PASS_THE_TURN);
            }
        }
        self.checkpoints.stop();
    }

    /// Returns whether other replicas were waiting to write.
    fn commit_group(&mut self, group: Vec<Job>) -> bool {
        let history_limit = self.history_limit;
        let turn = self.turns.wait_for_turn();
        let turn_was_contended = turn.contended;
        let (applied, committed) = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => {
                let applied: Vec<Applied> = group
                    .into_iter()
                    .map(|job| apply(&tx, job, history_limit, &self.metrics))
                    .collect();
                (applied, tx.commit())
            }
            Err(error) => (
                group.into_iter().map(Job::not_applied).collect(),
                Err(error),
            ),
        };
        drop(turn);
        if committed.is_ok() {
            self.checkpoints.log_grew();
        }
        let commit_error = committed.err().map(Arc::new);
        for job in applied {
            job.answer(commit_error.as_ref());
        }
        turn_was_contended
    }
}

fn apply(tx: &Transaction, job: Job, history_limit: u32, metrics: &WriterMetrics) -> Applied {
    match job {
        Job::Write { snapshots, reply } => {
            let result = in_savepoint(tx, || {
                let mut bodies = Vec::with_capacity(snapshots.len());
                let mut new = 0;
                for snapshot in &snapshots {
                    let (body, was_new) = insert_snapshot(tx, snapshot, history_limit)?;
                    bodies.push(body);
                    new += u64::from(was_new);
                }
                Ok((bodies, new))
            });
            let written = metrics.snapshots_written.clone();
            // New snapshots are counted only once their commit stood.
            Applied(Box::new(move |commit_error| {
                let done = match (result, commit_error) {
                    (Ok(_), Some(error)) => Err(StorageError::from(Arc::clone(error))),
                    (Ok((bodies, new)), None) => {
                        written.inc_by(new);
                        Ok(bodies)
                    }
                    (Err(error), _) => Err(error),
                };
                drop(reply.send(done));
            }))
        }
        Job::Delete { id, reply } => {
            let result = in_savepoint(tx, || {
                tx.execute("DELETE FROM snapshots WHERE container_id = ?1", [&id])?;
                Ok(tx.execute("DELETE FROM containers WHERE id = ?1", [&id])? > 0)
            });
            Applied::new(reply, result)
        }
        Job::Probe { reply } => {
            let result = in_savepoint(tx, || {
                tx.execute(
                    "INSERT INTO readiness (id, probed_at, margin)
                     VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), zeroblob(65536))
                     ON CONFLICT (id) DO UPDATE
                     SET probed_at = excluded.probed_at, margin = excluded.margin",
                    [],
                )
                .map(drop)
            });
            Applied::new(reply, result)
        }
        // The clock is read here, with the write lock held, rather than when
        // the job was queued: a job that waited for the lock past the lease's
        // expiry must see that it did.
        Job::Heartbeat { beat, reply } => {
            let result = in_savepoint(tx, || replicas::heartbeat(tx, &beat, now_ms()));
            Applied::new(reply, result)
        }
        Job::Node { report, reply } => {
            let result = in_savepoint(tx, || nodes::record(tx, &report, now_ms()));
            Applied::new(reply, result)
        }
        Job::Leave { id, reply } => {
            let result = in_savepoint(tx, || replicas::leave(tx, &id));
            Applied::new(reply, result)
        }
        Job::Release { term, reply } => {
            let result = in_savepoint(tx, || replicas::release(tx, &term));
            Applied::new(reply, result)
        }
        Job::Claim {
            id,
            held,
            duration_ms,
            reply,
        } => {
            let result = in_savepoint(tx, || replicas::claim(tx, &id, held, duration_ms, now_ms()));
            Applied::new(reply, result)
        }
        Job::LeaderWork { work, reply } => {
            let result = in_savepoint(tx, || replicas::leader_work(tx, &work, now_ms()));
            if let Ok(Fenced::Refused) = result {
                metrics.leader_writes_refused.inc();
                tracing::warn!(
                    generation = work.term.generation,
                    "leader-only work refused by the database: the lease has moved on or expired"
                );
            }
            Applied::new(reply, result)
        }
    }
}

/// Runs `work` so that, if it fails, nothing it wrote stays in the transaction.
fn in_savepoint<T>(
    tx: &Transaction,
    work: impl FnOnce() -> rusqlite::Result<T>,
) -> Result<T, StorageError> {
    tx.execute_batch("SAVEPOINT job")?;
    match work() {
        Ok(value) => {
            tx.execute_batch("RELEASE job")?;
            Ok(value)
        }
        Err(error) => {
            // Some errors (I/O, a full disk) roll the whole transaction back
            // themselves, and the savepoint is gone with it; the error that
            // caused it is the one to report.
            if let Err(rollback) = tx.execute_batch("ROLLBACK TO job; RELEASE job") {
                tracing::error!(%error, %rollback, "a failed write took its transaction with it");
            }
            Err(error.into())
        }
    }
}

/// Stores one snapshot and returns the stored record, and whether it was new.
/// A snapshot already stored (same container, same `observed_at`) is not
/// stored again: the first record is returned, so a retried request gets the
/// answer it missed.
fn insert_snapshot(
    tx: &Transaction,
    snapshot: &NewSnapshot,
    history_limit: u32,
) -> rusqlite::Result<(String, bool)> {
    let Some(seq) = add_to_history(tx, snapshot)? else {
        return Ok((body_stored_before(tx, snapshot)?, false));
    };
    let history_len = update_latest(tx, snapshot, seq)?;
    if history_len > history_limit {
        trim_history(tx, &snapshot.id, history_len - history_limit, history_limit)?;
    }
    Ok((snapshot.body.clone(), true))
}

/// The new history row's `seq`; none when this snapshot is stored already.
fn add_to_history(tx: &Transaction, snapshot: &NewSnapshot) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached(
        "INSERT INTO snapshots (container_id, observed_at, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (container_id, observed_at) DO NOTHING RETURNING seq",
    )?
    .query_row(
        params![snapshot.id, snapshot.observed_at, snapshot.body],
        |row| row.get(0),
    )
    .optional()
}

fn body_stored_before(tx: &Transaction, snapshot: &NewSnapshot) -> rusqlite::Result<String> {
    tx.prepare_cached("SELECT body FROM snapshots WHERE container_id = ?1 AND observed_at = ?2")?
        .query_row(params![snapshot.id, snapshot.observed_at], |row| row.get(0))
}

/// Counts the new history row in the container's record, and makes the
/// snapshot its latest unless a newer one is held; returns the history's length.
fn update_latest(tx: &Transaction, snapshot: &NewSnapshot, seq: i64) -> rusqlite::Result<u32> {
    // A snapshot that arrives late (older than the one held) joins the history
    // but does not replace the latest. SET expressions all read the old row.
    tx.prepare_cached(
        "INSERT INTO containers
             (id, seq, name, image, node, state, observed_at, labels, service, stack, history_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)
         ON CONFLICT (id) DO UPDATE SET
             history_len = history_len + 1,
             seq = iif(excluded.observed_at > observed_at, excluded.seq, seq),
             name = iif(excluded.observed_at > observed_at, excluded.name, name),
             image = iif(excluded.observed_at > observed_at, excluded.image, image),
             node = iif(excluded.observed_at > observed_at, excluded.node, node),
             state = iif(excluded.observed_at > observed_at, excluded.state, state),
             labels = iif(excluded.observed_at > observed_at, excluded.labels, labels),
             service = iif(excluded.observed_at > observed_at, excluded.service, service),
             stack = iif(excluded.observed_at > observed_at, excluded.stack, stack),
             observed_at = max(excluded.observed_at, observed_at)
         RETURNING history_len",
    )?
    .query_row(
        params![
            snapshot.id,
            seq,
            snapshot.name,
            snapshot.image,
            snapshot.node,
            snapshot.state,
            snapshot.observed_at,
            snapshot.labels,
            snapshot.service,
            snapshot.stack,
        ],
        |row| row.get(0),
    )
}

/// Removes the container's `excess` oldest snapshots, leaving `kept`.
fn trim_history(tx: &Transaction, id: &str, excess: u32, kept: u32) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "DELETE FROM snapshots WHERE seq IN (
             SELECT seq FROM snapshots WHERE container_id = ?1
             ORDER BY observed_at, seq LIMIT ?2)",
    )?
    .execute(params![id, excess])?;
    tx.prepare_cached("UPDATE containers SET history_len = ?2 WHERE id = ?1")?
        .execute(params![id, kept])?;
    Ok(())
}
