//! Turns a posted body (snapshots, or a node's report) into what the store
//! keeps, or says exactly what is wrong with it and where. A request is taken
//! whole or not at all.

use chrono::{DateTime, Utc};
use container_info_wire::nodes::NodeReport;
use container_info_wire::{Snapshot, StoredSnapshot};
use serde_json::Value;

use crate::error::ApiError;
use crate::storage::{NewSnapshot, NodeReportRow, timestamp_key};

/// Bodies over this are refused before they are parsed.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a request posted; the client gets back the shape it sent.
pub(crate) struct Posted {
    pub snapshots: Vec<Snapshot>,
    pub as_array: bool,
}

impl Posted {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        // A valid body is read in one pass, straight into snapshots; any other
        // is read again through a JSON value, which tells a malformed body
        // from an invalid snapshot and says where.
        let posted = Self::parse_valid(body).map_or_else(|| Self::parse_checked(body), Ok)?;
        for (index, snapshot) in posted.snapshots.iter().enumerate() {
            if let Some(field) = indexed_field_with_nul(snapshot) {
                return Err(ApiError::InvalidSnapshot {
                    path: if posted.as_array {
                        format!("[{index}].{field}")
                    } else {
                        field
                    },
                    message: NUL_REFUSED.to_owned(),
                });
            }
        }
        Ok(posted)
    }

    fn parse_valid(body: &[u8]) -> Option<Self> {
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace())?;
        let posted = match first {
            b'{' => Self {
                snapshots: vec![serde_json::from_slice(body).ok()?],
                as_array: false,
            },
            b'[' => Self {
                snapshots: serde_json::from_slice(body).ok()?,
                as_array: true,
            },
            _ => return None,
        };
        (!posted.snapshots.is_empty()).then_some(posted)
    }

    fn parse_checked(body: &[u8]) -> Result<Self, ApiError> {
        let value = json_value(body)?;
        match value {
            Value::Object(_) => Ok(Self {
                snapshots: vec![snapshot_at(value, None)?],
                as_array: false,
            }),
            Value::Array(items) if items.is_empty() => Err(ApiError::EmptyBatch),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| snapshot_at(item, Some(index)))
                .collect::<Result<_, _>>()
                .map(|snapshots| Self {
                    snapshots,
                    as_array: true,
                }),
            other => Err(ApiError::NotASnapshot {
                found: json_kind(&other),
            }),
        }
    }

    /// How errors name the snapshot at `index`.
    pub(crate) fn path_of(&self, index: usize) -> String {
        if self.as_array {
            format!("[{index}]")
        } else {
            "the snapshot".to_owned()
        }
    }
}

/// A node's report, as `POST /nodes` takes it.
pub(crate) struct PostedNode(pub NodeReport);

impl PostedNode {
    /// Longer names and versions are no host's and no agent's (characters, as
    /// JSON Schema's `maxLength` counts).
    const MAX_TEXT: usize = 255;
    /// Shorter intervals would have a node stale between two packets; longer
    /// ones would leave a dead node up for days.
    const INTERVAL_MS: std::ops::RangeInclusive<u64> = 100..=86_400_000;

    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let invalid = |path: &str, message: String| ApiError::InvalidNodeReport {
            path: path.to_owned(),
            message,
        };
        let value = json_value(body)?;
        if !value.is_object() {
            return Err(invalid(
                ".",
                format!(
                    "expected a node report (a JSON object), got {}",
                    json_kind(&value)
                ),
            ));
        }
        let report: NodeReport = serde_path_to_error::deserialize(value)
            .map_err(|error| invalid(&error.path().to_string(), error.into_inner().to_string()))?;
        for (field, text) in [
            ("node", &report.node),
            ("agent_version", &report.agent_version),
        ] {
            if text.contains('\0') {
                return Err(invalid(field, NUL_REFUSED.to_owned()));
            }
            let length = text.chars().count();
            if !(1..=Self::MAX_TEXT).contains(&length) {
                return Err(invalid(
                    field,
                    format!("expected 1 to {} characters, got {length}", Self::MAX_TEXT),
                ));
            }
        }
        if !Self::INTERVAL_MS.contains(&report.report_interval_ms) {
            return Err(invalid(
                "report_interval_ms",
                format!(
                    "expected {} to {} (a day), got {}",
                    Self::INTERVAL_MS.start(),
                    Self::INTERVAL_MS.end(),
                    report.report_interval_ms
                ),
            ));
        }
        Ok(Self(report))
    }
}

impl Receipt {
    /// The row a node's report writes; `attested` when its agent signed it.
    pub(crate) fn node_row(&self, report: &NodeReport, attested: bool) -> NodeReportRow {
        NodeReportRow {
            name: report.node.clone(),
            agent_version: report.agent_version.clone(),
            interval_ms: i64::try_from(report.report_interval_ms).unwrap_or(i64::MAX),
            reported_at: timestamp_key(report.reported_at),
            reported_from: self.reporter_addr.clone(),
            attested,
        }
    }
}

/// PostgreSQL can keep no NUL character in text, and the store keeps the
/// fields it filters on, and a node's report, as text (the whole snapshot is
/// kept as JSON, where a NUL is an escape, so anywhere else one is kept). No
/// engine gives one, and both backends refuse one there alike; the OpenAPI
/// document's patterns say so.
const NUL_REFUSED: &str = "a NUL character (\\u0000) is in no container's or node's field, and the store cannot keep one here";

/// The first field the store filters on that holds a NUL character, by its
/// path (`name`, `labels.<key>`).
fn indexed_field_with_nul(snapshot: &Snapshot) -> Option<String> {
    let texts = [
        ("name", Some(&snapshot.name)),
        ("image", Some(&snapshot.image)),
        ("node", Some(&snapshot.node)),
        ("service", snapshot.service.as_ref()),
        ("stack", snapshot.stack.as_ref()),
    ];
    if let Some((field, _)) = texts
        .iter()
        .find(|(_, text)| text.is_some_and(|text| text.contains('\0')))
    {
        return Some((*field).to_owned());
    }
    snapshot
        .labels
        .iter()
        .find(|(key, value)| key.contains('\0') || value.contains('\0'))
        .map(|(key, _)| format!("labels.{}", key.replace('\0', "\\u0000")))
}

fn json_value(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::MalformedJson {
        message: error.to_string(),
        line: error.line(),
        column: error.column(),
    })
}

fn snapshot_at(value: Value, index: Option<usize>) -> Result<Snapshot, ApiError> {
    if !value.is_object() {
        return Err(ApiError::InvalidSnapshot {
            path: index.map_or_else(String::new, |i| format!("[{i}]")),
            message: format!("expected a snapshot object, got {}", json_kind(&value)),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let path = match (index, field.as_str()) {
            (None, ".") => "the snapshot".to_owned(),
            (None, _) => field,
            (Some(i), ".") => format!("[{i}]"),
            (Some(i), _) => format!("[{i}].{field}"),
        };
        ApiError::InvalidSnapshot {
            path,
            message: error.into_inner().to_string(),
        }
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How a request reached this replica; stored beside what it reported.
pub(crate) struct Receipt {
    pub received_at: DateTime<Utc>,
    pub received_by: String,
    pub reporter_addr: String,
    pub forwarded_for: Option<String>,
}

impl Receipt {
    /// `attested_by`: the node whose agent's signature the store checked.
    pub(crate) fn record(
        &self,
        mut snapshot: Snapshot,
        attested_by: Option<String>,
    ) -> NewSnapshot {
        for field in StoredSnapshot::STORE_FIELDS {
            snapshot.extra.remove(field);
        }
        let stored = StoredSnapshot {
            snapshot,
            received_at: self.received_at,
            received_by: self.received_by.clone(),
            reporter_addr: self.reporter_addr.clone(),
            forwarded_for: self.forwarded_for.clone(),
            attested_by,
            node_status: None,
        };
        let snapshot = &stored.snapshot;
        NewSnapshot {
            id: snapshot.id.to_string(),
            observed_at: timestamp_key(snapshot.observed_at),
            name: snapshot.name.clone(),
            image: snapshot.image.clone(),
            node: snapshot.node.clone(),
            service: snapshot.service.clone(),
            stack: snapshot.stack.clone(),
            state: snapshot.state.as_str(),
            labels: serde_json::to_string(&snapshot.labels)
                .expect("a map of strings always serializes"),
            body: serde_json::to_string(&stored).expect("a parsed snapshot always serializes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

    fn snapshot(id: &str) -> Value {
        serde_json::json!({
            "id": id, "name": "web", "image": "nginx", "node": "n1",
            "state": "running", "observed_at": "2026-11-24T10:00:00Z",
            "stats": {"cpu_percent": 1.5, "memory_usage_bytes": 1, "memory_limit_bytes": 2,
                      "network_rx_bytes": 3, "network_tx_bytes": 4, "pids": 5}
        })
    }

    fn error_of(body: Value) -> ApiError {
        match Posted::parse(body.to_string().as_bytes()) {
            Ok(_) => panic!("{body} was accepted"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_bad_field_deep_in_an_array_is_named_by_its_path() {
        let mut bad = snapshot(ID);
        bad["stats"]["pids"] = "many".into();
        let error = error_of(serde_json::json!([snapshot(ID), bad]));
        assert!(
            matches!(&error, ApiError::InvalidSnapshot { path, .. } if path == "[1].stats.pids"),
            "{error:?}"
        );
    }

    #[test]
    fn a_malformed_id_is_refused_with_its_reason() {
        let error = error_of(snapshot("xyz"));
        let ApiError::InvalidSnapshot { path, message } = error else {
            panic!("{error:?}")
        };
        assert_eq!(path, "id");
        assert!(message.contains("64 hex digits"), "{message}");
    }

    #[test]
    fn a_missing_id_is_refused() {
        let mut body = snapshot(ID);
        body.as_object_mut().unwrap().remove("id");
        let error = error_of(body);
        assert!(error.to_string().contains("missing field `id`"), "{error}");
    }

    /// A valid body is read in one pass; a body that pass refuses is read as
    /// it always was. A field given twice is one such: taken, the last one
    /// counting, as before the one-pass reading.
    #[test]
    fn a_field_given_twice_is_taken_with_its_last_value() {
        let body = snapshot(ID).to_string();
        let twice = body.replacen("\"name\":\"web\"", "\"name\":\"old\",\"name\":\"web\"", 1);
        assert_ne!(twice, body);
        for posted in [twice.clone(), format!("[{twice},{body}]")] {
            let parsed = Posted::parse(posted.as_bytes()).unwrap();
            assert!(parsed.snapshots.iter().all(|s| s.name == "web"));
        }
    }

    #[test]
    fn unknown_fields_are_kept_by_either_reading() {
        let mut body = snapshot(ID);
        body["from_a_newer_agent"] = serde_json::json!({"gpu": [1, 2.5, null]});
        let mut twice = body.to_string();
        twice.insert_str(1, "\"name\":\"old\",");
        for posted in [body.to_string(), twice, format!("  [{body}]\n")] {
            let parsed = Posted::parse(posted.as_bytes()).unwrap();
            assert_eq!(
                parsed.snapshots[0].extra["from_a_newer_agent"], body["from_a_newer_agent"],
                "{posted}"
            );
        }
    }

    #[test]
    fn store_fields_in_a_post_are_replaced_not_kept() {
        let mut body = snapshot(ID);
        body["received_by"] = "forged".into();
        let parsed = Posted::parse(body.to_string().as_bytes())
            .unwrap()
            .snapshots
            .remove(0);
        let receipt = Receipt {
            received_at: Utc::now(),
            received_by: "replica-1".into(),
            reporter_addr: "127.0.0.1".into(),
            forwarded_for: None,
        };
        let stored: Value = serde_json::from_str(&receipt.record(parsed, None).body).unwrap();
        assert_eq!(stored["received_by"], "replica-1");
    }
}
