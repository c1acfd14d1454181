//! Every way a request or the store can fail, and the one place each maps to an
//! HTTP status and a JSON body `{"error": ..., "detail": ...}`.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use container_info_wire::ErrorBody;
use rusqlite::ErrorCode;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the request body is not valid JSON: {message}")]
    MalformedJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("the request body must be JSON (Content-Type: application/json), not {}", found.as_deref().unwrap_or("untyped"))]
    UnsupportedMediaType { found: Option<String> },
    #[error("the request body is over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("invalid snapshot at {path}: {message}")]
    InvalidSnapshot { path: String, message: String },
    #[error("expected a snapshot (a JSON object) or an array of snapshots, got {found}")]
    NotASnapshot { found: &'static str },
    #[error("the array is empty: there is nothing to store")]
    EmptyBatch,
    #[error("query parameter {parameter:?}: {message}")]
    BadParameter { parameter: String, message: String },
    #[error("{given:?} is not a container id or id prefix: {reason}")]
    BadIdPrefix { given: String, reason: String },
    #[error("no container has an id that starts with {0:?}")]
    NoSuchContainer(String),
    #[error("id prefix {prefix:?} matches more than one container; give more of the id")]
    AmbiguousPrefix {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("there is no route {method} {path}; see /openapi.json")]
    NoSuchRoute { method: String, path: String },
    #[error("{method} is not allowed on {path}; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: Vec<String>,
    },

    #[error("database error: {0}")]
    Database(#[source] Arc<rusqlite::Error>),
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
    #[error("cannot start the database writer thread")]
    WriterThread(#[source] std::io::Error),
    #[error(
        "the database has schema version {found}, newer than this store knows ({known}); run a newer container-info-server"
    )]
    SchemaTooNew { found: usize, known: usize },
    #[error(
        "the database {path} cannot use write-ahead logging (journal mode stayed {mode:?}); put it on a local filesystem"
    )]
    NoWal { path: PathBuf, mode: String },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(Arc::new(error))
    }
}

impl StoreError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Database(error) if matches!(
            error.sqlite_error_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        ))
    }

    fn detail(&self) -> Option<Value> {
        match self {
            Self::MalformedJson { line, column, .. } => {
                Some(json!({ "line": line, "column": column }))
            }
            Self::UnsupportedMediaType { found } => {
                Some(json!({ "expected": "application/json", "found": found }))
            }
            Self::BodyTooLarge { limit } => Some(json!({ "limit_bytes": limit })),
            Self::InvalidSnapshot { path, .. } => Some(json!({ "path": path })),
            Self::BadParameter { parameter, .. } => Some(json!({ "parameter": parameter })),
            Self::AmbiguousPrefix { candidates, .. } => Some(json!({ "candidates": candidates })),
            Self::MethodNotAllowed { allowed, .. } => Some(json!({ "allowed": allowed })),
            _ => None,
        }
    }
}

impl ResponseError for StoreError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson { .. }
            | Self::BodyUnreadable(_)
            | Self::BadParameter { .. }
            | Self::BadIdPrefix { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidSnapshot { .. } | Self::NotASnapshot { .. } | Self::EmptyBatch => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::NoSuchContainer(_) | Self::NoSuchRoute { .. } => StatusCode::NOT_FOUND,
            Self::AmbiguousPrefix { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Pool(_) | Self::WriterStopped => StatusCode::SERVICE_UNAVAILABLE,
            error if error.is_busy() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_)
            | Self::Folder { .. }
            | Self::TurnsFile { .. }
            | Self::WriterThread(_)
            | Self::SchemaTooNew { .. }
            | Self::NoWal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let Self::MethodNotAllowed { allowed, .. } = self {
            response.insert_header((header::ALLOW, allowed.join(", ")));
        }
        response.json(ErrorBody {
            error: self.to_string(),
            detail: self.detail(),
        })
    }
}
