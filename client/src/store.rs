//! The store's API, as the client uses it.

use container_info_wire::nodes::{Node, NodeStatus, Nodes};
use container_info_wire::{Page, Snapshot, StoredSnapshot};
use reqwest::StatusCode;

use crate::error::ClientError;
use crate::http::Endpoint;

/// What `GET /containers` can be narrowed down by.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub node: Option<String>,
    pub image: Option<String>,
    pub state: Option<String>,
    /// The Swarm service, and the stack it was deployed with.
    pub service: Option<String>,
    pub stack: Option<String>,
    /// Whether the agent of the container's node still reports.
    pub node_status: Option<NodeStatus>,
    /// `key=value` each.
    pub labels: Vec<String>,
}

pub(crate) struct Store(pub Endpoint);

impl Store {
    pub(crate) async fn post(&self, snapshot: &Snapshot) -> Result<StoredSnapshot, ClientError> {
        self.0.post(&["containers"], snapshot).await
    }

    pub(crate) async fn list(
        &self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<StoredSnapshot>, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        let single = [
            ("node", &filter.node),
            ("image", &filter.image),
            ("state", &filter.state),
            ("service", &filter.service),
            ("stack", &filter.stack),
        ];
        query.extend(
            single
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.clone()?))),
        );
        query.extend(
            filter
                .node_status
                .map(|status| ("node_status", status.as_str().to_owned())),
        );
        query.extend(filter.labels.iter().map(|label| ("label", label.clone())));
        query.extend(cursor.map(|cursor| ("cursor", cursor.to_owned())));
        self.0.get(&["containers"], &query).await
    }

    /// One container by its ID or a unique prefix of it.
    pub(crate) async fn get(&self, id: &str) -> Result<StoredSnapshot, ClientError> {
        self.0.get(&["containers", id], &[]).await
    }

    pub(crate) async fn history(
        &self,
        id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<StoredSnapshot>, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(cursor.map(|cursor| ("cursor", cursor.to_owned())));
        self.0.get(&["containers", id, "history"], &query).await
    }

    /// Every node whose agent reports to the store, by name; only those with
    /// `status` when given.
    pub(crate) async fn nodes(&self, status: Option<NodeStatus>) -> Result<Nodes, ClientError> {
        let query: Vec<(&str, String)> = status
            .map(|status| ("status", status.as_str().to_owned()))
            .into_iter()
            .collect();
        self.0.get(&["nodes"], &query).await
    }

    /// One node by its name; a 404 becomes an error that names the node and
    /// says how to list them.
    pub(crate) async fn node(&self, name: &str) -> Result<Node, ClientError> {
        self.0
            .get(&["nodes", name], &[])
            .await
            .map_err(|error| match error {
                ClientError::Refused {
                    status: StatusCode::NOT_FOUND,
                    url,
                    ..
                } => ClientError::NoSuchNode {
                    name: name.to_owned(),
                    url,
                },
                other => other,
            })
    }
}
