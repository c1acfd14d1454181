//! PostgreSQL's errors, sorted into the storage layer's by their SQLSTATE: a
//! server that is away or going away is temporary (503, and the client tries
//! again), as are conflicts between transactions; a full disk and a read-only
//! server get their own variants, as SQLite's do.

use std::sync::Arc;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::storage::StorageError;

impl From<tokio_postgres::Error> for StorageError {
    fn from(error: tokio_postgres::Error) -> Self {
        let code = error.code().cloned();
        // No SQLSTATE: the connection itself failed (refused, reset, closed).
        let connection_lost = error.is_closed()
            || (code.is_none()
                && std::error::Error::source(&error)
                    .is_some_and(|source| source.is::<std::io::Error>()));
        let error = Arc::new(error);
        match code {
            Some(SqlState::DISK_FULL) => Self::DiskFull(error),
            Some(SqlState::READ_ONLY_SQL_TRANSACTION) => Self::Unwritable(error),
            Some(
                SqlState::T_R_SERIALIZATION_FAILURE
                | SqlState::T_R_DEADLOCK_DETECTED
                | SqlState::LOCK_NOT_AVAILABLE
                // statement_timeout: the server was too slow to answer in time.
                | SqlState::QUERY_CANCELED
                | SqlState::TOO_MANY_CONNECTIONS,
            ) => Self::Busy(error),
            Some(
                SqlState::ADMIN_SHUTDOWN
                | SqlState::CRASH_SHUTDOWN
                | SqlState::CANNOT_CONNECT_NOW
                | SqlState::CONNECTION_EXCEPTION
                | SqlState::CONNECTION_DOES_NOT_EXIST
                | SqlState::CONNECTION_FAILURE
                | SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
            ) => Self::Unavailable(error),
            None if connection_lost => Self::Unavailable(error),
            _ => Self::Database(error),
        }
    }
}

impl From<PoolError> for StorageError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            PoolError::Closed => Self::WriterStopped,
            // Waiting for a free connection, or making a new one, took too long:
            // the server is away or overwhelmed.
            PoolError::Timeout(_) => Self::Pool(Arc::new(error)),
            other => Self::Database(Arc::new(other)),
        }
    }
}
