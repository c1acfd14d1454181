//! Everything that can go wrong while answering, and the HTTP status each one is.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
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

    /// Containers started with `--network container:` share their owner's
    /// addresses, and nothing in a request tells them apart.
    #[error(
        "the address {address} is shared by {} containers ({}): they run in one network \
         namespace, joined with --network container:, and the agent cannot tell which of \
         them is calling; /self answers a container in a network namespace of its own",
        containers.len(),
        containers.join(", ")
    )]
    SharedNamespace {
        address: IpAddr,
        containers: Vec<String>,
    },

    /// The host and every container started with `--network host` share the
    /// host's addresses.
    #[error(
        "{0} is an address of this host itself: the host and every container started \
         with --network host call from the host's addresses, and the agent cannot tell \
         them apart; /self answers a container on a network of its own (a bridge or an \
         overlay), not one started with --network host"
    )]
    HostCaller(IpAddr),

    #[error(
        "{0} is outside the networks given to the agent with --allow-from, so it may not \
         read other containers' records, token or not (loopback is inside them only with \
         --trust-loopback)"
    )]
    NotAllowedFrom(IpAddr),

    #[error(
        "reading other containers' records needs the operator's token: send \
         `Authorization: Bearer <token>`, the token being the content of the file the \
         agent was started with (--token-file)"
    )]
    MissingToken,

    #[error(
        "the bearer token is not the agent's: send the content of the file the agent \
         was started with (--token-file)"
    )]
    InvalidToken,

    #[error("the request carries more than one Authorization header; send one, `Bearer <token>`")]
    SeveralAuthorizations,

    /// Without a token there is no operator to tell apart from a container started
    /// with `--network host`, which calls from loopback too.
    #[error(
        "the agent was started without --token-file, so nobody may read other containers' \
         records; start it with --token-file PATH (CONTAINER_INFO_AGENT_TOKEN_FILE) and \
         send `Authorization: Bearer <token>`, or with --trust-loopback to let loopback \
         callers in without one (every container started with --network host as well)"
    )]
    NoTokenConfigured(IpAddr),

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
            Self::SharedNamespace {
                address,
                containers,
            } => Some(json!({ "address": address, "containers": containers })),
            Self::UnknownCaller(address)
            | Self::HostCaller(address)
            | Self::NotAllowedFrom(address)
            | Self::NoTokenConfigured(address) => Some(json!({ "address": address })),
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
            Self::NoSuchContainer(_)
            | Self::NoPeerAddress
            | Self::NoSuchRoute(_)
            | Self::MissingToken
            | Self::InvalidToken
            | Self::SeveralAuthorizations => None,
        }
    }

    /// The challenge of RFC 6750 that a refusal for want of the right token carries.
    fn www_authenticate(&self) -> Option<String> {
        let challenge = format!("Bearer realm=\"{REALM}\"");
        match self {
            Self::MissingToken => Some(challenge),
            Self::InvalidToken => Some(format!("{challenge}, error=\"invalid_token\"")),
            Self::SeveralAuthorizations => Some(format!("{challenge}, error=\"invalid_request\"")),
            _ => None,
        }
    }
}

const REALM: &str = "container-info-agent";

impl ResponseError for AgentError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Engine { .. } | Self::EngineDown { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::EngineAnswer { .. } => StatusCode::BAD_GATEWAY,
            Self::UnknownCaller(_) | Self::NoSuchContainer(_) | Self::NoSuchRoute(_) => {
                StatusCode::NOT_FOUND
            }
            Self::SharedAddress { .. }
            | Self::SharedNamespace { .. }
            | Self::HostCaller(_)
            | Self::AmbiguousContainer { .. } => StatusCode::CONFLICT,
            Self::NotAllowedFrom(_) | Self::NoTokenConfigured(_) | Self::Proxied { .. } => {
                StatusCode::FORBIDDEN
            }
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::NoPeerAddress | Self::SeveralAuthorizations => StatusCode::BAD_REQUEST,
            Self::Metrics(_) | Self::Outbox { .. } | Self::HttpClient(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = self.www_authenticate() {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        response.json(ErrorBody {
            error: self.to_string(),
            detail: self.detail(),
        })
    }
}
