//! Every way the storage layer fails, whichever database is behind it. It
//! knows nothing of HTTP: `ApiError` maps these to statuses, in the one place
//! where every error becomes an answer. A backend sorts its own errors into
//! these variants (see `sqlite::error`, `postgres::error`), so that a busy database, a full disk
//! and a broken one are told apart the same way for every backend.

use std::path::PathBuf;
use std::sync::Arc;

/// A backend's own error, kept as the cause.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("database error: {0}")]
    Database(#[source] Cause),
    /// Another writer holds the database: trying again shortly will do.
    #[error("the database is busy: {0}")]
    Busy(#[source] Cause),
    /// The file system ran out of space (ENOSPC; PostgreSQL's 53100).
    #[error(
        "the disk that holds the database is full: nothing was stored; free some space and \
         writes work again by themselves"
    )]
    DiskFull(#[source] Cause),
    /// The file, its folder or the file system became read-only; or the
    /// PostgreSQL server or database refuses writes (read-only transactions).
    #[error(
        "the database cannot be written (a read-only file, file system or database server): \
         nothing was stored; make it writable again and writes work again by themselves"
    )]
    Unwritable(#[source] Cause),
    /// The database server cannot be reached now: refused, closed, shutting
    /// down, or not answering in time.
    #[error("the database cannot be reached now: {0}")]
    Unavailable(#[source] Cause),
    #[error("no database connection came free in time: {0}")]
    Pool(#[source] Cause),
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
    #[error("cannot use the CA file {path} (--database-ca-file): {message}")]
    CaFile { path: PathBuf, message: String },
    #[error(
        "--database-ca-file is used only with sslmode=require (which verifies the server's \
         certificate), and the URL's sslmode is {0}: add sslmode=require to the URL"
    )]
    CaFileUnused(&'static str),
    #[error(
        "sslmode=require verifies the PostgreSQL server's certificate, but this system has no \
         CA certificates (none in SSL_CERT_FILE, SSL_CERT_DIR or /etc/ssl): give the CA that signed it \
         with --database-ca-file"
    )]
    NoRoots,
    #[error(
        "TLS with the PostgreSQL server failed: {0}. With sslmode=require its certificate must \
         be valid for the host the URL names and signed by one of the system's CAs or by the \
         --database-ca-file"
    )]
    Handshake(rustls::Error),
}

impl StorageError {
    /// Whether trying again shortly may succeed: the database or this replica is
    /// busy, or going away, rather than broken.
    pub(crate) fn is_temporary(&self) -> bool {
        matches!(
            self,
            Self::Busy(_)
                | Self::Unavailable(_)
                | Self::Pool(_)
                | Self::WriterStopped
                | Self::DiskFull(_)
                | Self::Unwritable(_)
        )
    }

    /// How long a client should wait before trying again, in seconds: a busy
    /// database frees in moments, a full disk waits for its operator.
    pub(crate) fn retry_after_seconds(&self) -> u32 {
        match self {
            Self::DiskFull(_) | Self::Unwritable(_) => 30,
            _ => 1,
        }
    }
}
