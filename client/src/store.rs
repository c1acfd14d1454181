//! The store's API, as the client uses it.

use container_info_wire::{Page, Snapshot, StoredSnapshot};

use crate::error::ClientError;
use crate::http::Endpoint;

/// What `GET /containers` can be narrowed down by.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub node: Option<String>,
    pub image: Option<String>,
    pub state: Option<String>,
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
        ];
        query.extend(
            single
                .into_iter()
                .filter_map(|(name, value)| Some((name, value.clone()?))),
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
}
