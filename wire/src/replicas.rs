//! `GET /replicas`: the store's replicas as the database knows them, and the
//! lease that makes one of them the leader.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The answer of `GET /replicas`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replicas {
    /// Every replica that sent a heartbeat and was not yet forgotten, by ID.
    pub items: Vec<ReplicaStatus>,
    pub lease: Lease,
}

/// Leader or follower, by the lease in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReplicaRole {
    Leader,
    Follower,
}

/// One replica of the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplicaStatus {
    /// As it answers in `X-Replica` and `received_by`.
    pub id: String,
    /// `leader` while it holds an unexpired lease.
    pub role: ReplicaRole,
    pub last_heartbeat_at: DateTime<Utc>,
    /// A heartbeat within the last 3 seconds (a replica writes one every second).
    pub alive: bool,
    /// `host:port` where others can reach it.
    pub addresses: Vec<String>,
    /// What it is bound to, such as `[::]:5001`.
    pub listen: String,
    /// It shares its port with other replicas (SO_REUSEPORT, host networking):
    /// a connection to one of its addresses may reach another replica.
    pub port_shared: bool,
    pub version: String,
    pub started_at: DateTime<Utc>,
}

/// The lease row, with the fields of a Kubernetes Lease and a generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    /// The replica whose lease has not expired, if any.
    pub holder: Option<String>,
    pub acquired_at: Option<DateTime<Utc>>,
    pub renewed_at: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    /// One more at each acquisition: every leader-only write carries it.
    pub generation: i64,
    /// One more each time the holder changed.
    pub transitions: i64,
}
