//! Every way a request can fail, the storage layer's failures among them, and
//! the one place each maps to an HTTP status and a JSON body
//! `{"error": ..., "detail": ...}`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use container_info_wire::ErrorBody;
use container_info_wire::attestation::AttestationError;
use serde_json::{Value, json};

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
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
    #[error("invalid node report at {path}: {message}")]
    InvalidNodeReport { path: String, message: String },
    #[error("no node named {0:?} has reported; GET /nodes lists those that have")]
    NoSuchNode(String),
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

    #[error(
        "{action} needs the store's token: send `Authorization: Bearer <token>` (the client reads it from --token-file)"
    )]
    TokenRequired { action: &'static str },
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is not this store's token")]
    WrongToken,
    #[error("{path} is refused: {reason}")]
    BadSignature {
        path: String,
        reason: AttestationError,
    },

    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ApiError {
    fn detail(&self) -> Option<Value> {
        match self {
            Self::MalformedJson { line, column, .. } => {
                Some(json!({ "line": line, "column": column }))
            }
            Self::UnsupportedMediaType { found } => {
                Some(json!({ "expected": "application/json", "found": found }))
            }
            Self::BodyTooLarge { limit } => Some(json!({ "limit_bytes": limit })),
            Self::InvalidSnapshot { path, .. }
            | Self::InvalidNodeReport { path, .. }
            | Self::BadSignature { path, .. } => Some(json!({ "path": path })),
            Self::BadParameter { parameter, .. } => Some(json!({ "parameter": parameter })),
            Self::AmbiguousPrefix { candidates, .. } => Some(json!({ "candidates": candidates })),
            Self::MethodNotAllowed { allowed, .. } => Some(json!({ "allowed": allowed })),
            _ => None,
        }
    }
}

impl ApiError {
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750).
    fn challenge(&self) -> Option<&'static str> {
        match self {
            Self::TokenRequired { .. } => Some(r#"Bearer realm="container-info""#),
            Self::NotBearer => Some(r#"Bearer realm="container-info", error="invalid_request""#),
            Self::WrongToken => Some(r#"Bearer realm="container-info", error="invalid_token""#),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson { .. }
            | Self::BodyUnreadable(_)
            | Self::BadParameter { .. }
            | Self::BadIdPrefix { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidSnapshot { .. }
            | Self::NotASnapshot { .. }
            | Self::EmptyBatch
            | Self::InvalidNodeReport { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NoSuchContainer(_) | Self::NoSuchNode(_) | Self::NoSuchRoute { .. } => {
                StatusCode::NOT_FOUND
            }
            Self::AmbiguousPrefix { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::TokenRequired { .. } | Self::NotBearer | Self::WrongToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::BadSignature { .. } => StatusCode::FORBIDDEN,
            Self::Storage(error) if error.is_temporary() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds = match self {
                Self::Storage(error) => error.retry_after_seconds(),
                _ => 1,
            };
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        if let Self::MethodNotAllowed { allowed, .. } = self {
            response.insert_header((header::ALLOW, allowed.join(", ")));
        }
        if let Some(challenge) = self.challenge() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.json(ErrorBody {
            error: self.to_string(),
            detail: self.detail(),
        })
    }
}
