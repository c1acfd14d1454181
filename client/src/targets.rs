//! Finding the services: the agent and the store, located when a command first
//! needs them.

use reqwest::{Client, Url};

use crate::agent::Agent;
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
    http: Client,
}

impl Targets {
    /// `server` and `agent` as given (flag or environment); the default gateway
    /// stands in for what is not.
    pub(crate) fn new(server: Option<Url>, agent: Option<Url>) -> Result<Self, ClientError> {
        Ok(Self {
            server,
            agent,
            http: http_client()?,
        })
    }

    pub(crate) fn store(&self) -> Result<Store, ClientError> {
        Ok(Store(self.endpoint(Service::Store, self.server.clone())?))
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
