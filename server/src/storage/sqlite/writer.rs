//! The one thread per replica that writes, committing many requests at once.
//!
//! Each request hands its snapshots to this thread and waits. The thread takes
//! every request that is waiting, applies them all in one `BEGIN IMMEDIATE`
//! transaction, and commits once: one fsync answers them all. A request is
//! answered only after that commit has returned, so a 2xx means the data is
//! on disk. A request that fails inside the transaction takes nothing with
//! it: the group is then applied again, each request in a savepoint of its
//! own, so that the failed one rolls back alone and the others' writes stand.

use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
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

/// What a job did inside the open transaction, kept until the commit: the
/// job is then answered with it, or with the commit's error when that failed.
/// A job that failed by itself keeps its own error: it is the cause, and the
/// failed commit often only its consequence.
enum Outcome {
    /// The stored records, and how many of them were new.
    Wrote(Result<(Vec<String>, u64), StorageError>),
    Deleted(Result<bool, StorageError>),
    Done(Result<(), StorageError>),
    Claimed(Result<Option<Claimed>, StorageError>),
    Fenced(Result<Fenced, StorageError>),
}

impl Outcome {
    fn failed(&self) -> bool {
        match self {
            Self::Wrote(done) => done.is_err(),
            Self::Deleted(done) => done.is_err(),
            Self::Done(done) => done.is_err(),
            Self::Claimed(done) => done.is_err(),
            Self::Fenced(done) => done.is_err(),
        }
    }
}

/// A job's own result, unless the commit it waited for failed.
fn settled<T>(
    done: Result<T, StorageError>,
    commit_error: Option<&Arc<rusqlite::Error>>,
) -> Result<T, StorageError> {
    match (done, commit_error) {
        (Ok(_), Some(error)) => Err(StorageError::from(Arc::clone(error))),
        (done, _) => done,
    }
}

/// A requester that went away (the client hung up) needs no answer.
fn send<T>(reply: Reply<T>, done: Result<T, StorageError>) {
    drop(reply.send(done));
}

impl Job {
    /// Whether a client's request is waiting for it.
    fn is_request(&self) -> bool {
        matches!(
            self,
            Self::Write { .. } | Self::Delete { .. } | Self::Probe { .. } | Self::Node { .. }
        )
    }

    /// Answers with what the job did, or with `commit_error` when the commit
    /// (or the transaction's start) failed.
    fn answer(
        self,
        outcome: Outcome,
        commit_error: Option<&Arc<rusqlite::Error>>,
        metrics: &WriterMetrics,
    ) {
        match (self, outcome) {
            (Self::Write { reply, .. }, Outcome::Wrote(done)) => {
                // New snapshots are counted only once their commit stood.
                let done = settled(done, commit_error).map(|(bodies, new)| {
                    metrics.snapshots_written.inc_by(new);
                    bodies
                });
                send(reply, done);
            }
            (Self::Delete { reply, .. }, Outcome::Deleted(done)) => {
                send(reply, settled(done, commit_error));
            }
            (
                Self::Probe { reply }
                | Self::Node { reply, .. }
                | Self::Heartbeat { reply, .. }
                | Self::Leave { reply, .. }
                | Self::Release { reply, .. },
                Outcome::Done(done),
            ) => send(reply, settled(done, commit_error)),
            (Self::Claim { reply, .. }, Outcome::Claimed(done)) => {
                send(reply, settled(done, commit_error));
            }
            (Self::LeaderWork { reply, work }, Outcome::Fenced(done)) => {
                let done = settled(done, commit_error);
                if let Ok(Fenced::Refused) = done {
                    metrics.leader_writes_refused.inc();
                    tracing::warn!(
                        generation = work.term.generation,
                        "leader-only work refused by the database: the lease has moved on or expired"
                    );
                }
                send(reply, done);
            }
            _ => unreachable!("a job is answered with the outcome of its own kind"),
        }
    }

    /// The outcome of a job whose transaction could not even begin: nothing,
    /// answered with the transaction's error.
    fn not_applied(&self) -> Outcome {
        match self {
            Self::Write { .. } => Outcome::Wrote(Ok((Vec::new(), 0))),
            Self::Delete { .. } => Outcome::Deleted(Ok(false)),
            Self::Probe { .. }
            | Self::Node { .. }
            | Self::Heartbeat { .. }
            | Self::Leave { .. }
            | Self::Release { .. } => Outcome::Done(Ok(())),
            Self::Claim { .. } => Outcome::Claimed(Ok(None)),
            Self::LeaderWork { .. } => Outcome::Fenced(Ok(Fenced::Refused)),
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
        let turn = self.turns.wait_for_turn();
        let turn_was_contended = turn.contended;
        // A savepoint per job would let a failed job be undone alone, but
        // while one is open SQLite copies every page the job changes into a
        // statement journal first. Jobs seldom fail, so the group runs without
        // them; when one fails, the transaction is rolled back and the group
        // run again with a savepoint per job, which ends as it always did.
        let (outcomes, committed) = match run_group(
            &mut self.conn,
            &group,
            self.history_limit,
            Isolation::Shared,
        ) {
            Ran::Finished(outcomes, committed) => (outcomes, committed),
            Ran::JobFailed => match run_group(
                &mut self.conn,
                &group,
                self.history_limit,
                Isolation::PerJob,
            ) {
                Ran::Finished(outcomes, committed) => (outcomes, committed),
                Ran::JobFailed => unreachable!("a group with a savepoint per job always finishes"),
            },
        };
        drop(turn);
        if committed.is_ok() {
            self.checkpoints.log_grew();
        }
        let commit_error = committed.err().map(Arc::new);
        for (job, outcome) in group.into_iter().zip(outcomes) {
            job.answer(outcome, commit_error.as_ref(), &self.metrics);
        }
        turn_was_contended
    }
}

/// Applies every job of the group in one transaction and commits it.
fn run_group(
    conn: &mut Connection,
    group: &[Job],
    history_limit: u32,
    isolation: Isolation,
) -> Ran {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            return Ran::Finished(group.iter().map(Job::not_applied).collect(), Err(error));
        }
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let outcome = apply(&tx, job, history_limit, isolation);
        if outcome.failed() && isolation == Isolation::Shared {
            // Dropped, the transaction rolls back.
            return Ran::JobFailed;
        }
        outcomes.push(outcome);
    }
    Ran::Finished(outcomes, tx.commit())
}

/// How the jobs of a group are kept apart inside its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// Not at all: any job's failure ends the transaction.
    Shared,
    /// A savepoint each: a failed job is undone alone.
    PerJob,
}

enum Ran {
    /// Every job's outcome, in the group's order, and the commit's result.
    Finished(Vec<Outcome>, rusqlite::Result<()>),
    /// A job failed in a group without savepoints; nothing was kept.
    JobFailed,
}

fn apply(tx: &Transaction, job: &Job, history_limit: u32, isolation: Isolation) -> Outcome {
    match job {
        Job::Write { snapshots, .. } => Outcome::Wrote(isolated(tx, isolation, || {
            let mut bodies = Vec::with_capacity(snapshots.len());
            let mut new = 0;
            for snapshot in snapshots {
                let (body, was_new) = insert_snapshot(tx, snapshot, history_limit)?;
                bodies.push(body);
                new += u64::from(was_new);
            }
            Ok((bodies, new))
        })),
        Job::Delete { id, .. } => Outcome::Deleted(isolated(tx, isolation, || {
            tx.prepare_cached("DELETE FROM snapshots WHERE container_id = ?1")?
                .execute([id])?;
            Ok(tx
                .prepare_cached("DELETE FROM containers WHERE id = ?1")?
                .execute([id])?
                > 0)
        })),
        Job::Probe { .. } => Outcome::Done(isolated(tx, isolation, || {
            tx.execute(
                "INSERT INTO readiness (id, probed_at, margin)
                 VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), zeroblob(65536))
                 ON CONFLICT (id) DO UPDATE
                 SET probed_at = excluded.probed_at, margin = excluded.margin",
                [],
            )
            .map(drop)
        })),
        // The clock is read here, with the write lock held, rather than when
        // the job was queued: a job that waited for the lock past the lease's
        // expiry must see that it did.
        Job::Heartbeat { beat, .. } => Outcome::Done(isolated(tx, isolation, || {
            replicas::heartbeat(tx, beat, now_ms())
        })),
        Job::Node { report, .. } => Outcome::Done(isolated(tx, isolation, || {
            nodes::record(tx, report, now_ms())
        })),
        Job::Leave { id, .. } => Outcome::Done(isolated(tx, isolation, || replicas::leave(tx, id))),
        Job::Release { term, .. } => {
            Outcome::Done(isolated(tx, isolation, || replicas::release(tx, term)))
        }
        Job::Claim {
            id,
            held,
            duration_ms,
            ..
        } => Outcome::Claimed(isolated(tx, isolation, || {
            replicas::claim(tx, id, *held, *duration_ms, now_ms())
        })),
        Job::LeaderWork { work, .. } => Outcome::Fenced(isolated(tx, isolation, || {
            replicas::leader_work(tx, work, now_ms())
        })),
    }
}

/// Runs `work`; with a savepoint per job, so that if it fails, nothing it
/// wrote stays in the transaction.
fn isolated<T>(
    tx: &Transaction,
    isolation: Isolation,
    work: impl FnOnce() -> rusqlite::Result<T>,
) -> Result<T, StorageError> {
    match isolation {
        Isolation::Shared => Ok(work()?),
        Isolation::PerJob => in_savepoint(tx, work),
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
/// The seq is read back rather than with RETURNING: a statement with
/// RETURNING keeps a statement journal, a copy of every page it changes.
fn add_to_history(tx: &Transaction, snapshot: &NewSnapshot) -> rusqlite::Result<Option<i64>> {
    let added = tx
        .prepare_cached(
            "INSERT INTO snapshots (container_id, observed_at, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (container_id, observed_at) DO NOTHING",
        )?
        .execute(params![snapshot.id, snapshot.observed_at, snapshot.body])?;
    Ok((added > 0).then(|| tx.last_insert_rowid()))
}

fn body_stored_before(tx: &Transaction, snapshot: &NewSnapshot) -> rusqlite::Result<String> {
    tx.prepare_cached("SELECT body FROM snapshots WHERE container_id = ?1 AND observed_at = ?2")?
        .query_row(params![snapshot.id, snapshot.observed_at], |row| row.get(0))
}

/// Counts the new history row in the container's record, and makes the
/// snapshot its latest unless a newer one is held; returns the history's
/// length, read back rather than with RETURNING (see `add_to_history`).
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
             observed_at = max(excluded.observed_at, observed_at)",
    )?
    .execute(params![
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
    ])?;
    tx.prepare_cached("SELECT history_len FROM containers WHERE id = ?1")?
        .query_row([&snapshot.id], |row| row.get(0))
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

#[cfg(test)]
mod tests {
    use super::super::{checkpointer, connection, schema, turns};
    use super::*;
    use prometheus::{Histogram, HistogramOpts, IntCounter};

    fn snapshot(id: &str) -> NewSnapshot {
        NewSnapshot {
            id: id.to_owned(),
            observed_at: "2026-11-24T10:00:00.000000000Z".to_owned(),
            name: "web".to_owned(),
            image: "nginx".to_owned(),
            node: "n1".to_owned(),
            state: "running",
            labels: "{}".to_owned(),
            service: None,
            stack: None,
            body: format!(r#"{{"id":"{id}"}}"#),
        }
    }

    /// Groups run without savepoints until a job fails; then the failed job
    /// must still fail alone, with the jobs before and after it stored.
    #[test]
    fn a_job_that_fails_in_a_group_fails_alone() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("store.db");
        let mut conn = connection::open_writer(&path).unwrap();
        schema::migrate(&mut conn).unwrap();
        // A real failure inside the transaction, for one container only.
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON snapshots WHEN NEW.container_id = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
        let mut writer = Writer {
            conn,
            history_limit: 100,
            metrics: WriterMetrics {
                requests_per_commit: Histogram::with_opts(HistogramOpts::new("g", "g")).unwrap(),
                snapshots_written: IntCounter::new("w", "w").unwrap(),
                leader_writes_refused: IntCounter::new("r", "r").unwrap(),
            },
            checkpoints: checkpointer::start(&path).unwrap(),
            turns: turns::WriteTurns::open(&path).unwrap(),
        };
        let mut answers = Vec::new();
        // The failing request's first snapshot is stored before its second
        // fails: all or nothing, it must not stay.
        let group = [vec!["good-1"], vec!["beside-bad", "bad"], vec!["good-2"]]
            .into_iter()
            .map(|ids| {
                let (reply, answer) = oneshot::channel();
                answers.push(answer);
                Job::Write {
                    snapshots: ids.into_iter().map(snapshot).collect(),
                    reply,
                }
            })
            .collect();
        writer.commit_group(group);
        let answers: Vec<_> = answers
            .into_iter()
            .map(|mut answer| answer.try_recv().unwrap())
            .collect();
        assert!(answers[0].is_ok(), "{:?}", answers[0]);
        assert!(
            matches!(&answers[1], Err(error) if error.to_string().contains("refused by the test")),
            "{:?}",
            answers[1]
        );
        assert!(answers[2].is_ok(), "{:?}", answers[2]);
        let stored: Vec<String> = writer
            .conn
            .prepare("SELECT container_id FROM snapshots ORDER BY container_id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, ["good-1", "good-2"]);
        assert_eq!(writer.metrics.snapshots_written.get(), 2);
        writer.checkpoints.stop();
    }
}
