//! Who may write, and read: the store's bearer token, and the signatures of the
//! agents that saw what is posted. A snapshot signed by an agent needs no
//! token (a container can post what its agent said about it, and nothing
//! else); anything else does, once the store has a token.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web;
use actix_web::{FromRequest, HttpRequest};
use container_info_wire::attestation::{Secret, Signed};
use container_info_wire::nodes::NodeReport;
use futures_util::future::{Ready, ready};

use crate::error::ApiError;
use crate::ingest::Posted;

/// The secrets the store was started with.
pub(crate) struct Trust {
    /// Without one, anyone who reaches the port may write.
    pub token: Option<Secret>,
    /// Without one, signatures cannot be checked and count for nothing.
    pub signing_key: Option<Secret>,
    /// Reads need the token too.
    pub protect_reads: bool,
}

impl Trust {
    /// For each posted snapshot, the node that attests it; a snapshot that no
    /// agent's valid signature covers needs the token. All or nothing: one
    /// refused snapshot refuses the request.
    pub(crate) fn attest(
        &self,
        posted: &Posted,
        credential: Credential,
    ) -> Result<Vec<Option<String>>, ApiError> {
        posted
            .snapshots
            .iter()
            .enumerate()
            .map(|(index, snapshot)| {
                let attested = self.check(
                    snapshot,
                    credential,
                    || posted.path_of(index),
                    "writing a snapshot that no agent signed (an agent-signed one needs none)",
                )?;
                Ok(attested.then(|| snapshot.node.clone()))
            })
            .collect()
    }

    /// Whether an agent's valid signature covers the node's report; one that
    /// none covers needs the token.
    pub(crate) fn attest_node(
        &self,
        report: &NodeReport,
        credential: Credential,
    ) -> Result<bool, ApiError> {
        self.check(
            report,
            credential,
            || "the node report".to_owned(),
            "reporting a node without an agent's signature (a signed report needs none)",
        )
    }

    /// A signed record is taken on its signature alone, and refused if the
    /// signature does not match, token or not; an unsigned one (or any, when
    /// the store has no key to check with) needs the token.
    fn check(
        &self,
        record: &impl Signed,
        credential: Credential,
        path: impl FnOnce() -> String,
        unsigned: &'static str,
    ) -> Result<bool, ApiError> {
        match (record.attestation(), &self.signing_key) {
            (Some(_), Some(key)) => {
                record
                    .verify(key)
                    .map(|()| true)
                    .map_err(|reason| ApiError::BadSignature {
                        path: path(),
                        reason,
                    })
            }
            _ => credential.require(unsigned).map(|()| false),
        }
    }
}

/// What a request's `Authorization` header proves. A wrong token is refused
/// before the handler runs; no header at all is left for the handler to judge,
/// since a signed snapshot needs none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Credential {
    /// The right token, or a store that has none.
    Operator,
    Anonymous,
}

impl Credential {
    pub(crate) fn require(self, action: &'static str) -> Result<(), ApiError> {
        match self {
            Self::Operator => Ok(()),
            Self::Anonymous => Err(ApiError::TokenRequired { action }),
        }
    }

    fn of(request: &HttpRequest) -> Result<Self, ApiError> {
        let trust = request
            .app_data::<web::Data<Trust>>()
            .expect("the app is given its trust settings");
        let Some(token) = &trust.token else {
            return Ok(Self::Operator);
        };
        let Some(value) = request.headers().get(header::AUTHORIZATION) else {
            return Ok(Self::Anonymous);
        };
        let presented = value
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or(ApiError::NotBearer)?;
        if token.matches(presented.trim_ascii()) {
            Ok(Self::Operator)
        } else {
            Err(ApiError::WrongToken)
        }
    }
}

impl FromRequest for Credential {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(request))
    }
}

/// Permission to read containers: anyone's, or with `--protect-reads` the
/// token's holder's.
pub(crate) struct Reader;

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let protected = request
            .app_data::<web::Data<Trust>>()
            .is_some_and(|trust| trust.protect_reads);
        ready(if protected {
            Credential::of(request)
                .and_then(|credential| {
                    credential
                        .require("reading the containers and nodes of a store with --protect-reads")
                })
                .map(|()| Self)
        } else {
            Ok(Self)
        })
    }
}
