//! Everything that can go wrong while answering, and the HTTP status each one is.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use container_info_wire::{ContainerId, ErrorBody};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    #[error("the Docker Engine at {host} failed while {doing}")]
    Engine {
        host: String,
        doing: &'static str,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("the Docker Engine at {host} answered something unexpected while {doing}: {what}")]
    EngineAnswer {
        host: String,
        doing: &'static str,
        what: String,
    },

    /// The agent lost the engine and is reconnecting; answering from what it knew
    /// before would pass stale data off as current.
    #[error("{reason}; the agent keeps retrying and answers again once the engine is back")]
    EngineDown { host: String, reason: String },

    #[error("no container on this host has the address {0} that this request came from")]
    UnknownCaller(IpAddr),

    #[error("the address {address} belongs to more than one container on this host")]
    SharedAddress {
        address: IpAddr,
        containers: Vec<ContainerId>,
    },

    #[error(
        "{0} may not read other containers' records: only loopback and --allow-from networks may"
    )]
    Forbidden(IpAddr),

    #[error("no container on this host has the ID, ID prefix or name {0:?}")]
    NoSuchContainer(String),

    #[error("{query:?} is the start of more than one container ID; give more of it")]
    AmbiguousContainer {
        query: String,
        candidates: Vec<ContainerId>,
    },

    #[error("the connection has no peer address to identify the caller by")]
    NoPeerAddress,

    /// A proxy in the calling container would lend that container's identity
    /// to whoever is behind it; EC2's metadata service refuses such requests
    /// the same way.
    #[error(
        "/self answers a container about itself, not through a proxy: this request carries {header}"
    )]
    Proxied { header: &'static str },

    #[error("no such route: {0}")]
    NoSuchRoute(String),

    #[error("could not render the metrics")]
    Metrics(#[from] prometheus::Error),

    #[error("the outbox at {path} failed while {doing}")]
    Outbox {
        path: std::path::PathBuf,
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("could not make the HTTP client that reports to the stores")]
    HttpClient(#[source] reqwest::Error),
}

impl AgentError {
    /// This error and every cause under it, on one line.
    pub(crate) fn with_causes(&self) -> String {
        let mut line = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            line.push_str(": ");
            line.push_str(&error.to_string());
            cause = error.source();
        }
        line
    }

    fn detail(&self) -> Option<Value> {
        match self {
            Self::Engine { host, source, .. } => {
                Some(json!({ "docker_host": host, "cause": source.to_string() }))
            }
            Self::EngineAnswer { host, .. } | Self::EngineDown { host, .. } => {
                Some(json!({ "docker_host": host }))
            }
            Self::UnknownCaller(address) | Self::Forbidden(address) => {
                Some(json!({ "address": address }))
            }
            Self::SharedAddress {
                address,
                containers,
            } => Some(json!({ "address": address, "containers": containers })),
            Self::AmbiguousContainer { candidates, .. } => {
                Some(json!({ "candidates": candidates }))
            }
            Self::Metrics(error) => Some(json!({ "cause": error.to_string() })),
            Self::Outbox { .. } | Self::HttpClient(_) => None,
            Self::Proxied { header } => Some(json!({ "header": header })),
            Self::NoSuchContainer(_) | Self::NoPeerAddress | Self::NoSuchRoute(_) => None,
        }
    }
}

impl ResponseError for AgentError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Engine { .. } | Self::EngineDown { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::EngineAnswer { .. } => StatusCode::BAD_GATEWAY,
            Self::UnknownCaller(_) | Self::NoSuchContainer(_) | Self::NoSuchRoute(_) => {
                StatusCode::NOT_FOUND
            }
            Self::SharedAddress { .. } | Self::AmbiguousContainer { .. } => StatusCode::CONFLICT,
            Self::Forbidden(_) | Self::Proxied { .. } => StatusCode::FORBIDDEN,
            Self::NoPeerAddress => StatusCode::BAD_REQUEST,
            Self::Metrics(_) | Self::Outbox { .. } | Self::HttpClient(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: self.to_string(),
            detail: self.detail(),
        })
    }
}
