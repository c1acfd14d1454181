//! Finding the services: the agent and the store, located when a command first
//! needs them.

use std::path::Path;

use container_info_wire::attestation::Secret;
use reqwest::header::HeaderValue;
use reqwest::{Client, Url};

use crate::agent::Agent;
use crate::cli::TargetArgs;
use crate::discovery::locate;
use crate::error::ClientError;
use crate::http::{Endpoint, http_client};
use crate::service::Service;
use crate::store::Store;

/// The agent and the store, found when a command first needs them: `whoami`
/// works without any store address, and `get` without an agent.
pub(crate) struct Targets {
    server: Option<Url>,
    agent: Option<Url>,
    /// `Bearer <token>`, for the store only: the agent never sees the store's token.
    store_authorization: Option<HeaderValue>,
    http: Client,
}

impl Targets {
    /// `server` and `agent` as given (flag or environment); the default gateway
    /// stands in for what is not.
    pub(crate) fn new(given: TargetArgs) -> Result<Self, ClientError> {
        let store_authorization = given.token_file.as_deref().map(bearer).transpose()?;
        Ok(Self {
            server: given.server,
            agent: given.agent,
            store_authorization,
            http: http_client()?,
        })
    }

    pub(crate) fn store(&self) -> Result<Store, ClientError> {
        let endpoint = self.endpoint(Service::Store, self.server.clone())?;
        Ok(Store(endpoint.authorized(self.store_authorization.clone())))
    }

    pub(crate) fn agent(&self) -> Result<Agent, ClientError> {
        Ok(Agent(self.endpoint(Service::Agent, self.agent.clone())?))
    }

    fn endpoint(&self, service: Service, given: Option<Url>) -> Result<Endpoint, ClientError> {
        Ok(Endpoint::new(
            service,
            locate(service, given)?,
            self.http.clone(),
        ))
    }

    pub(crate) fn http(&self) -> &Client {
        &self.http
    }
}

/// The `Authorization` header that carries the token in `path`.
fn bearer(path: &Path) -> Result<HeaderValue, ClientError> {
    let token = Secret::read(path).map_err(|error| ClientError::Usage(error.to_string()))?;
    let mut value =
        HeaderValue::from_bytes(&[b"Bearer ", token.reveal()].concat()).map_err(|_| {
            ClientError::Usage(format!(
                "the token in {} has characters a header cannot carry",
                path.display()
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}
