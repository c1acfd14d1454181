//! Every way the client fails, each as one line for a person, and the one place
//! a failure becomes an exit code.

use std::io;
use std::process::ExitCode;

use reqwest::{Method, StatusCode};

use crate::service::Service;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("cannot tell where the {service} is: {reason}; set {}", service.setting())]
    NoAddress { service: Service, reason: String },
    #[error("{method} {url}: the {service} is not responding ({reason}); set {} to use another", service.setting())]
    Unreachable {
        service: Service,
        method: Method,
        url: String,
        reason: String,
    },
    #[error("{method} {url}: the {service} answered {status}: {message} (the {service} is set by {})", service.setting())]
    Refused {
        service: Service,
        method: Method,
        url: String,
        status: StatusCode,
        message: String,
    },
    #[error("{method} {url}: the {service} sent an answer this client cannot read ({reason}); is {} right?", service.setting())]
    BadAnswer {
        service: Service,
        method: Method,
        url: String,
        reason: String,
    },
    /// A 404 for one node: said with the name, and how to find the right one.
    #[error(
        "GET {url}: no node {name:?} has reported to the store (404 Not Found); `nodes` lists those that have"
    )]
    NoSuchNode { name: String, url: String },
    #[error("{0}")]
    Usage(String),
    #[error("{missing} of {total} did not answer: {}", urls.join(", "))]
    NotAllAnswered {
        missing: usize,
        total: usize,
        urls: Vec<String>,
    },
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    #[error("the terminal failed: {0}")]
    Terminal(String),
    #[error("cannot start: {0}")]
    Runtime(String),
}

impl ClientError {
    /// Documented in `container-info --help`, so scripts can tell the cases apart.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Output(_) | Self::Terminal(_) | Self::Runtime(_) => 1,
            Self::Usage(_) | Self::NoAddress { .. } => 2,
            Self::Unreachable { .. } | Self::BadAnswer { .. } => 3,
            Self::NoSuchNode { .. } => 4,
            Self::Refused { status, .. } if status.is_client_error() => 4,
            Self::Refused { .. } => 5,
            Self::NotAllAnswered { .. } => 6,
        }
    }

    /// Prints the one-line message on stderr and gives the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        // A reader that went away (`container-info get | head`) is not a failure.
        if let Self::Output(error) = self
            && error.kind() == io::ErrorKind::BrokenPipe
        {
            return ExitCode::SUCCESS;
        }
        eprintln!("container-info: {self}");
        ExitCode::from(self.exit_code())
    }
}

/// The innermost cause of a transport error: "Connection refused (os error 111)"
/// says more than the layers of "error sending request" around it.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
