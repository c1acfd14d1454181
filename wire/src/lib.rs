//! The wire format of container-info: what the agent answers, what the client
//! posts, and what the store returns. Field names are a contract shared by every
//! part (see DESIGN.md); new fields are added, existing ones are never renamed.

pub mod attestation;
pub mod health;
pub mod nodes;
pub mod replicas;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A full Docker container ID: 64 hex digits, lowercased when parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$", example = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d")
)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    pub const LEN: usize = 64;
    /// How many characters the docker CLI shows of an ID.
    pub(crate) const SHORT_LEN: usize = 12;

    pub fn parse(raw: &str) -> Result<Self, InvalidContainerId> {
        if raw.len() != Self::LEN {
            return Err(InvalidContainerId::Length(raw.len()));
        }
        if let Some(bad) = raw.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(InvalidContainerId::NotHex(bad));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, as `docker ps` shows them.
    pub fn short(&self) -> &str {
        &self.0[..Self::SHORT_LEN]
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ContainerId {
    type Err = InvalidContainerId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for ContainerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Why a string is not a container ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidContainerId {
    Length(usize),
    NotHex(char),
}

impl fmt::Display for InvalidContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(len) => write!(
                f,
                "a container id is {} hex digits, this one has {len} characters",
                ContainerId::LEN
            ),
            Self::NotHex(c) => write!(f, "a container id is hex digits only, found {c:?}"),
        }
    }
}

impl std::error::Error for InvalidContainerId {}

/// The engine's states, plus `removed` for a container the agent saw go away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Removed,
}

impl ContainerState {
    /// Every state, in the order of a container's life.
    pub const ALL: [Self; 8] = [
        Self::Created,
        Self::Running,
        Self::Paused,
        Self::Restarting,
        Self::Removing,
        Self::Exited,
        Self::Dead,
        Self::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Removed => "removed",
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContainerState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown state {s:?}, expected one of {}", known.join(", "))
            })
    }
}

/// A container's address on one network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkAddress {
    /// Empty when the container has no IPv4 address on this network.
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub ipv6_address: String,
    #[serde(default)]
    pub gateway: String,
}

/// How the container is doing: resource use at `observed_at`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    /// Share of one CPU over the last sampling interval (100.0 = one full core); 0
    /// while there is only one reading of the container's current run.
    pub cpu_percent: f64,
    #[serde(deserialize_with = "count")]
    pub memory_usage_bytes: u64,
    /// 0 when the engine reports no limit.
    #[serde(deserialize_with = "count")]
    pub memory_limit_bytes: u64,
    #[serde(deserialize_with = "count")]
    pub network_rx_bytes: u64,
    #[serde(deserialize_with = "count")]
    pub network_tx_bytes: u64,
    #[serde(deserialize_with = "count")]
    pub pids: u64,
}

/// A count as the OpenAPI document states it (`int64`, minimum 0): a whole
/// number from 0 to `i64::MAX`, which every JSON reader and SQLite hold
/// exactly. JSON Schema counts `155.0` as a whole number, so it is taken too.
pub(crate) fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    const LIMIT: u64 = i64::MAX as u64;
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..LIMIT as f64).contains(f))
            .map(|f| f as u64)
    });
    match whole {
        Some(count) if count <= LIMIT => Ok(count),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {LIMIT}, got {number}"
        ))),
    }
}

/// What a container is, and how it is doing, at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub id: ContainerId,
    /// Without the leading `/` the engine puts in front of it.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[^\\u0000]*$"))]
    pub name: String,
    /// The image reference the container was created from (`repo:tag` or an ID).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[^\\u0000]*$"))]
    pub image: String,
    /// `sha256:…`
    #[serde(default)]
    pub image_id: String,
    /// Host name of the Docker host (Swarm node) the container runs on.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[^\\u0000]*$"))]
    pub node: String,
    /// The Swarm service of a container that is a Swarm task (its engine label
    /// `com.docker.swarm.service.name`); absent on other containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[^\\u0000]*$"))]
    pub service: Option<String>,
    /// The Swarm task's name, such as `web.1.x3k9…` (`com.docker.swarm.task.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The stack the service was deployed with (`com.docker.stack.namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[^\\u0000]*$"))]
    pub stack: Option<String>,
    pub state: ContainerState,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::nullable_time))]
    pub created: Option<DateTime<Utc>>,
    /// Null for a container that never started.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::nullable_time))]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::labels))]
    pub labels: BTreeMap<String, String>,
    /// Keyed by network name.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkAddress>,
    /// Null when the container is not running, or was started too recently
    /// for the agent to have sampled it (about a second).
    #[serde(default)]
    pub stats: Option<Stats>,
    /// When the agent read it.
    pub observed_at: DateTime<Utc>,
    /// The signature of the agent that read it; absent on a snapshot no agent
    /// signed (see [`attestation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<attestation::Attestation>,
    /// Fields this version does not know. They are kept, so that a newer agent's
    /// data survives a trip through an older client or store.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: Map<String, Value>,
}

/// A snapshot as the store holds it: what was posted, and how it arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredSnapshot {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub received_at: DateTime<Utc>,
    /// The replica that accepted it.
    pub received_by: String,
    /// The TCP peer the store saw; not necessarily the container's own address.
    pub reporter_addr: String,
    /// The `X-Forwarded-For` header, when a proxy set one.
    #[serde(default)]
    pub forwarded_for: Option<String>,
    /// The node whose agent signed the snapshot, when the store checked its
    /// signature; null for a snapshot written with the store's token instead.
    #[serde(default)]
    pub attested_by: Option<String>,
    /// Whether the agent of the container's node still reports (see
    /// `GET /nodes`): in list and detail answers, null when no agent reports
    /// that node; absent from history, which is what was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_status: Option<nodes::NodeStatus>,
}

impl StoredSnapshot {
    /// Fields only the store sets; a posted snapshot that carries them (say, one
    /// copied from another store) has them replaced, never trusted.
    pub const STORE_FIELDS: [&'static str; 6] = [
        "received_at",
        "received_by",
        "reporter_addr",
        "forwarded_for",
        "attested_by",
        "node_status",
    ];
}

/// One page of a list. `next_cursor` is null on the last page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The body of every error answer of the store and the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// One sentence: what is wrong.
    pub error: String,
    /// Where and what exactly, when there is more to say (a field path, candidates).
    #[serde(default)]
    pub detail: Option<Value>,
}

#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};

    /// Text without a NUL character, which the store cannot filter on (and
    /// PostgreSQL cannot keep as text).
    pub(crate) const WITHOUT_NUL: &str = "^[^\\u0000]*$";

    /// The labels: text keys and values, neither with a NUL character.
    pub(crate) fn labels() -> ObjectBuilder {
        let text = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(WITHOUT_NUL))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("The container's labels, as the engine has them."))
            .property_names(Some(text()))
            .additional_properties(Some(text()))
    }

    /// An RFC 3339 time or null, as `oneOf` rather than utoipa's
    /// `"type": ["string", "null"]`: schemathesis generates `""` for the latter
    /// as if the format did not apply, and the store rightly refuses it.
    /// (A schema made here drops the field's doc comment, hence the
    /// description.)
    pub(crate) fn nullable_time() -> OneOfBuilder {
        OneOfBuilder::new()
            .description(Some(
                "From the engine; null when it has none (`started_at` of a container that never started).",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
    }
}

/// The header every store response carries, naming the replica that answered.
pub const REPLICA_HEADER: &str = "X-Replica";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

    #[test]
    fn container_id_accepts_64_hex_and_lowercases() {
        let id = ContainerId::parse(&ID.to_uppercase()).unwrap();
        assert_eq!(id.as_str(), ID);
        assert_eq!(id.short(), "4f1c2d3e5a6b");
    }

    #[test]
    fn container_id_rejects_wrong_length_and_non_hex() {
        assert_eq!(
            ContainerId::parse("abc"),
            Err(InvalidContainerId::Length(3))
        );
        let bad = format!("{}g", &ID[..63]);
        assert_eq!(
            ContainerId::parse(&bad),
            Err(InvalidContainerId::NotHex('g'))
        );
    }

    #[test]
    fn snapshot_keeps_unknown_fields_through_a_round_trip() {
        let posted = json!({
            "id": ID, "name": "web", "image": "nginx:1", "node": "n1", "state": "running",
            "observed_at": "2026-11-24T10:00:00.5Z",
            "gpu": {"count": 2}, "zone": "eu"
        });
        let snapshot: Snapshot = serde_json::from_value(posted).unwrap();
        assert_eq!(snapshot.extra["gpu"], json!({"count": 2}));
        let back = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(back["zone"], "eu");
        assert_eq!(back["gpu"]["count"], 2);
        assert_eq!(back["labels"], json!({}));
        assert_eq!(back["stats"], Value::Null);
    }

    #[test]
    fn stored_snapshot_reads_back_what_the_store_writes() {
        let stored = json!({
            "id": ID, "name": "web", "image": "nginx:1", "node": "n1", "state": "exited",
            "observed_at": "2026-11-24T10:00:00Z", "extra_field": true,
            "received_at": "2026-11-24T10:00:01Z", "received_by": "replica-2",
            "reporter_addr": "10.0.0.7:50312", "forwarded_for": null,
            "attested_by": "n1"
        });
        let parsed: StoredSnapshot = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(parsed.received_by, "replica-2");
        assert_eq!(parsed.snapshot.state, ContainerState::Exited);
        assert_eq!(
            parsed.snapshot.extra.len(),
            1,
            "{:?}",
            parsed.snapshot.extra
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), {
            let mut expected = stored;
            expected["image_id"] = json!("");
            for empty in ["created", "started_at", "stats"] {
                expected[empty] = Value::Null;
            }
            expected["labels"] = json!({});
            expected["networks"] = json!({});
            expected
        });
    }

    #[test]
    fn counts_are_whole_numbers_from_zero_to_the_int64_maximum() {
        let stats = |pids: Value| {
            serde_json::from_value::<Stats>(json!({
                "cpu_percent": 1.5, "memory_usage_bytes": 1, "memory_limit_bytes": 0,
                "network_rx_bytes": 3, "network_tx_bytes": 4, "pids": pids
            }))
            .map(|stats| stats.pids)
        };
        assert_eq!(stats(json!(155.0)).unwrap(), 155);
        assert_eq!(stats(json!(i64::MAX)).unwrap(), i64::MAX as u64);
        for refused in [
            json!(1u64 << 63),
            json!(-1),
            json!(1.5),
            json!(1e19),
            json!("5"),
        ] {
            assert!(stats(refused.clone()).is_err(), "{refused}");
        }
    }

    #[test]
    fn state_parses_every_name_it_prints() {
        for state in ContainerState::ALL {
            assert_eq!(state.as_str().parse::<ContainerState>(), Ok(state));
        }
        assert!("sleeping".parse::<ContainerState>().is_err());
    }
}
