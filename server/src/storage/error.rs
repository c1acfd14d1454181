//! Every way the storage layer fails. It knows nothing of HTTP: `ApiError`
//! maps these to statuses, in the one place where every error becomes an answer.

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("database error: {0}")]
    Database(#[source] Arc<rusqlite::Error>),
    /// SQLite's SQLITE_FULL: the file system ran out of space (ENOSPC).
    #[error(
        "the disk that holds the database is full: nothing was stored; free some space and \
         writes work again by themselves"
    )]
    DiskFull(#[source] Arc<rusqlite::Error>),
    /// The file, its folder or the file system became read-only.
    #[error(
        "the database file cannot be written (read-only file or file system): nothing was \
         stored; make it writable again and writes work again by themselves"
    )]
    Unwritable(#[source] Arc<rusqlite::Error>),
    #[error("no database connection came free in time: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the store is shutting down")]
    WriterStopped,
    #[error("cannot create the database folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {path}, the lock file replicas take turns at writing with")]
    TurnsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The writer's thread or the checkpointer's.
    #[error("cannot start the database's {name} thread")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database has schema version {found}, newer than this store knows ({known}); run a newer container-info-server"
    )]
    SchemaTooNew { found: usize, known: usize },
    #[error(
        "the database {path} cannot use write-ahead logging (journal mode stayed {mode:?}); put it on a local filesystem"
    )]
    NoWal { path: PathBuf, mode: String },
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        Self::from(Arc::new(error))
    }
}

impl From<Arc<rusqlite::Error>> for StorageError {
    /// The storage faults the operator can fix while the store runs get their
    /// own variant, with what to do; anything else stays a database error.
    fn from(error: Arc<rusqlite::Error>) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Self::DiskFull(error),
            Some(ErrorCode::ReadOnly) => Self::Unwritable(error),
            _ => Self::Database(error),
        }
    }
}

impl StorageError {
    /// Whether trying again shortly may succeed: the database or this replica is
    /// busy, or going away, rather than broken.
    pub(crate) fn is_temporary(&self) -> bool {
        match self {
            Self::Pool(_) | Self::WriterStopped | Self::DiskFull(_) | Self::Unwritable(_) => true,
            Self::Database(error) => matches!(
                error.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    /// How long a client should wait before trying again, in seconds: a busy
    /// file frees in moments, a full disk waits for its operator.
    pub(crate) fn retry_after_seconds(&self) -> u32 {
        match self {
            Self::DiskFull(_) | Self::Unwritable(_) => 30,
            _ => 1,
        }
    }
}
