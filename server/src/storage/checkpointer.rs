//! Copies the write-ahead log back into the database file, on a thread of its
//! own. SQLite would otherwise do it inside a commit now and then, and that
//! commit, with every request waiting on it, would pay for the copy and its
//! fsync. A PASSIVE checkpoint runs beside writers and readers without
//! blocking them.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::connection;
use crate::error::StoreError;

const EVERY: Duration = Duration::from_millis(250);

/// The running checkpointer.
pub struct Checkpoints {
    keep_running: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpoints {
    pub fn stop(self) {
        drop(self.keep_running);
        // A panic there has been logged; nothing is left to clean up.
        let _ = self.thread.join();
    }
}

pub fn start(path: &Path) -> Result<Checkpoints, StoreError> {
    let conn = connection::open_writer(path)?;
    let (keep_running, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(error) = done {
                    // The writer checkpoints by itself past a bound, so a failed
                    // checkpoint here costs speed, never data.
                    tracing::warn!(%error, "checkpoint failed; will try again");
                }
            }
        })
        .map_err(StoreError::WriterThread)?;
    Ok(Checkpoints {
        keep_running,
        thread,
    })
}
