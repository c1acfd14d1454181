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
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::connection;
use crate::error::StoreError;

/// The pause after a checkpoint: while commits keep coming, the next
/// checkpoint copies what they wrote meanwhile, about 10 ms of writes.
const SPACING: Duration = Duration::from_millis(10);

/// The running checkpointer.
pub struct Checkpoints {
    /// Holds at most one notice: one checkpoint covers every commit before it.
    log_grew: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpoints {
    /// Tells the checkpointer that a commit added to the log. Never blocks.
    pub fn log_grew(&self) {
        // Full means a notice is already waiting, which covers this commit too.
        let _ = self.log_grew.try_send(());
    }

    /// Runs one last checkpoint if a commit is still uncopied, and stops.
    pub fn stop(self) {
        drop(self.log_grew);
        // A panic there has been logged; nothing is left to clean up.
        let _ = self.thread.join();
    }
}

pub fn start(path: &Path) -> Result<Checkpoints, StoreError> {
    let conn = connection::open_writer(path)?;
    let (log_grew, notices) = mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // Idle while nothing is written; ends when the writer drops its sender.
            while notices.recv().is_ok() {
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(error) = done {
                    // The writer checkpoints by itself past a bound, so a failed
                    // checkpoint here costs speed, never data.
                    tracing::warn!(%error, "checkpoint failed; will try again");
                }
                std::thread::sleep(SPACING);
            }
        })
        .map_err(StoreError::WriterThread)?;
    Ok(Checkpoints { log_grew, thread })
}
