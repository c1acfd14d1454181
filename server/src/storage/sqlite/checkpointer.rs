//! Copies the write-ahead log back into the database file, on a thread of its
//! own and a little at a time. SQLite would otherwise do it inside a commit now
//! and then, and that commit, with every request waiting on it, would pay for
//! the copy and its fsync. A PASSIVE checkpoint runs beside writers and readers
//! without blocking them.
//!
//! Small and often, because the disk is shared: on a disk with a write-back
//! cache every fsync flushes all that was written before it, so a commit whose
//! fsync follows a large checkpoint waits for the whole copy. In a database of
//! a million snapshots, checkpoints every 250 ms made the write p99 93 ms;
//! after commits, at most every 10 ms, 26 ms (BENCHMARKS.md).

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StorageError;
use super::connection;

/// The pause after a checkpoint: while commits keep coming, the next
/// checkpoint copies what they wrote meanwhile, about 10 ms of writes.
const SPACING: Duration = Duration::from_millis(10);

/// When a checkpoint could not copy the whole log (a reader still on an older
/// snapshot, or another replica checkpointing), the next try comes after this
/// even if no commit prompts it: otherwise, once writes stop, readers would
/// keep searching the log until the next write.
const RETRY: Duration = Duration::from_millis(100);

/// The running checkpointer.
pub(crate) struct Checkpoints {
    /// Holds at most one notice: one checkpoint covers every commit before it.
    log_grew: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpoints {
    /// Tells the checkpointer that a commit added to the log. Never blocks.
    pub(crate) fn log_grew(&self) {
        // Full means a notice is already waiting, which covers this commit too.
        let _ = self.log_grew.try_send(());
    }

    /// Runs one last checkpoint if a commit is still uncopied, and stops.
    pub(crate) fn stop(self) {
        drop(self.log_grew);
        // A panic there has been logged; nothing is left to clean up.
        let _ = self.thread.join();
    }
}

pub(crate) fn start(path: &Path) -> Result<Checkpoints, StorageError> {
    let conn = connection::open_writer(path)?;
    let (log_grew, notices) = mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut whole_log_copied = true;
            loop {
                // Idle while nothing is written and nothing is left to copy.
                let prompt = if whole_log_copied {
                    notices.recv().map_err(|_| RecvTimeoutError::Disconnected)
                } else {
                    notices.recv_timeout(RETRY)
                };
                // Ends when the writer drops its sender, after any last notice.
                if prompt == Err(RecvTimeoutError::Disconnected) {
                    break;
                }
                whole_log_copied = checkpoint(&conn);
                std::thread::sleep(SPACING);
            }
        })
        .map_err(|source| StorageError::Thread {
            name: "checkpoint",
            source,
        })?;
    Ok(Checkpoints { log_grew, thread })
}

/// Copies what it can of the log; true when all of it is in the database file.
fn checkpoint(conn: &Connection) -> bool {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match outcome {
        Ok((busy, log_frames, copied_frames)) => busy == 0 && log_frames == copied_frames,
        Err(error) => {
            // The writer checkpoints by itself past a bound, so a failed
            // checkpoint here costs speed, never data.
            tracing::warn!(%error, "checkpoint failed; will try again");
            false
        }
    }
}
