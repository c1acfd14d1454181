//! The nodes whose agents report to the store (fleet mode): what an agent
//! says of its node, and what `GET /nodes` answers.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attestation::Attestation;

/// What an agent in fleet mode posts to `POST /nodes` at start and once per
/// report interval, signed like its snapshots: its node is alive and how often
/// to expect it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeReport {
    /// Host name of the Docker host, as its snapshots name it.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 255, pattern = "^[^\\u0000]*$")
    )]
    pub node: String,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 255, pattern = "^[^\\u0000]*$")
    )]
    pub agent_version: String,
    /// How often the agent resyncs: the store expects a report at least this
    /// often, and calls the node stale after three intervals without one.
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 86400000))]
    #[serde(deserialize_with = "crate::count")]
    pub report_interval_ms: u64,
    /// When the agent sent it, by the agent's clock. A report no later than the
    /// last one taken is a replay: it is answered as taken and changes nothing.
    pub reported_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

/// `up` while the node's agent reports; `stale` after three of its intervals
/// without a report, whether or not anything said the agent stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    Up,
    Stale,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Stale => "stale",
        }
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "up" => Ok(Self::Up),
            "stale" => Ok(Self::Stale),
            _ => Err(format!("unknown node status {s:?}, expected up or stale")),
        }
    }
}

/// One node, as the store knows it from its agent's reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    pub name: String,
    pub status: NodeStatus,
    pub agent_version: String,
    pub first_report_at: DateTime<Utc>,
    /// When a replica last took a report, by the store's clock.
    pub last_report_at: DateTime<Utc>,
    /// When it turns stale unless a report comes: three intervals after the last.
    pub stale_at: DateTime<Utc>,
    pub report_interval_ms: u64,
    /// The TCP peer the last report came from.
    pub reported_from: String,
    /// Whether the last report was signed by the agent (rather than posted with
    /// the operator's token).
    pub attested: bool,
    /// Containers the store holds for this node, `removed` ones left out.
    pub containers: u64,
}

/// The answer of `GET /nodes`, by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Nodes {
    pub items: Vec<Node>,
}
