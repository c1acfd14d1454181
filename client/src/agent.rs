//! The agent on this host, as the client uses it.

use container_info_wire::Snapshot;

use crate::error::ClientError;
use crate::http::Endpoint;

pub(crate) struct Agent(pub Endpoint);

impl Agent {
    /// The agent's answer about the container this client runs in, told apart
    /// from its neighbours by the address the request comes from.
    pub(crate) async fn whoami(&self) -> Result<Snapshot, ClientError> {
        self.0.get(&["self"], &[]).await
    }
}
