//! Replicas take turns at writing through a lock file beside the database.
//!
//! SQLite's own lock has no queue: a replica that finds it taken sleeps and
//! tries again, and meanwhile the replica that just committed takes it back
//! for its next group. The busiest replica then starves the others. A blocking
//! `flock` wakes a waiting replica as soon as the lock is free, so turns go
//! round; the kernel drops it when a replica dies, even by SIGKILL. SQLite's
//! locking still guards the file itself, against any other writer as well.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::StorageError;

pub(crate) struct WriteTurns(File);

/// This replica's turn; passed on when dropped.
pub(crate) struct Turn<'a> {
    file: Option<&'a File>,
    /// Whether another replica held the turn when this one asked: then others
    /// are writing too, and this replica should let them have the next turn.
    pub contended: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.file {
            // Closing the file would release it too; an error here changes nothing.
            let _ = file.unlock();
        }
    }
}

impl WriteTurns {
    pub(crate) fn open(database: &Path) -> Result<Self, StorageError> {
        let mut path = database.as_os_str().to_owned();
        path.push("-write-turns");
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map(Self)
            .map_err(|source| StorageError::TurnsFile {
                path: path.into(),
                source,
            })
    }

    pub(crate) fn wait_for_turn(&self) -> Turn<'_> {
        let contended = matches!(self.0.try_lock(), Err(std::fs::TryLockError::WouldBlock));
        let locked = if contended { self.0.lock() } else { Ok(()) };
        match locked {
            Ok(()) => Turn {
                file: Some(&self.0),
                contended,
            },
            Err(error) => {
                tracing::warn!(%error, "cannot take a write turn; relying on SQLite's locking alone");
                Turn {
                    file: None,
                    contended,
                }
            }
        }
    }
}
