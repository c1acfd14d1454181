//! SQLite's errors, sorted into the storage layer's: the faults the operator
//! can fix while the store runs, and a busy file, get their own variants.

use std::sync::Arc;

use rusqlite::ErrorCode;

use crate::storage::StorageError;

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        Self::from(Arc::new(error))
    }
}

impl From<Arc<rusqlite::Error>> for StorageError {
    fn from(error: Arc<rusqlite::Error>) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Self::DiskFull(error),
            Some(ErrorCode::ReadOnly) => Self::Unwritable(error),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy(error),
            _ => Self::Database(error),
        }
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(error: r2d2::Error) -> Self {
        Self::Pool(Arc::new(error))
    }
}
