//! What the server and its storage say to each other, whichever database is
//! behind it: rows as the routes read them, and what the writes take.

use chrono::{DateTime, Utc};
use container_info_wire::ContainerState;
use container_info_wire::nodes::NodeStatus;

/// The stored form of a time: UTC with nine fraction digits, so that comparing
/// the text compares the times.
pub(crate) fn timestamp_key(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// One snapshot, checked and serialized, as the writer stores it.
pub(crate) struct NewSnapshot {
    pub id: String,
    /// UTC with nine fraction digits, so that text order is time order.
    pub observed_at: String,
    pub name: String,
    pub image: String,
    pub node: String,
    pub service: Option<String>,
    pub stack: Option<String>,
    pub state: &'static str,
    /// The labels as a JSON object, for the label filter.
    pub labels: String,
    /// The whole stored record as the API returns it.
    pub body: String,
}

/// What `GET /containers` may be narrowed by; all given conditions must hold.
#[derive(Debug, Default)]
pub(crate) struct ContainerFilter {
    pub node: Option<String>,
    pub image: Option<String>,
    /// None lists every state but `removed`: the list is of current containers.
    pub state: Option<ContainerState>,
    pub name_contains: Option<String>,
    pub labels: Vec<(String, String)>,
    pub service: Option<String>,
    pub stack: Option<String>,
    pub node_status: Option<NodeStatus>,
}

/// `since` inclusive, `until` exclusive; both in the stored timestamp form.
#[derive(Debug, Default)]
pub(crate) struct HistoryRange {
    pub since: Option<String>,
    pub until: Option<String>,
    /// Continue after this (observed_at, seq), from a cursor.
    pub before: Option<(String, i64)>,
}

/// A stored record and the keys that place it in its list.
#[derive(Debug)]
pub(crate) struct Listed {
    pub seq: i64,
    pub observed_at: String,
    pub body: String,
}

pub(crate) enum Lookup {
    Found {
        id: String,
        body: String,
    },
    Missing,
    /// More than one container starts with the prefix: these, at most `MAX_CANDIDATES`.
    Ambiguous(Vec<String>),
}

pub(crate) const MAX_CANDIDATES: usize = 10;

pub(crate) struct RowCounts {
    pub containers: i64,
    pub snapshots: i64,
}

/// A heartbeat within this long means the replica is alive.
pub(crate) const ALIVE_WITHIN_MS: i64 = 3_000;

/// Now, in milliseconds since the epoch, on this host's wall clock: the clock
/// of the SQLite backend, whose replicas all run on the one host that holds
/// the file (WAL needs it).
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a replica says about itself every second.
#[derive(Clone, Debug)]
pub(crate) struct Heartbeat {
    pub id: String,
    /// `host:port` others can use to reach it.
    pub addresses: Vec<String>,
    pub listen: String,
    pub port_shared: bool,
    pub version: String,
    pub started_at_ms: i64,
}

/// One unbroken leadership: its holder and its generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    pub holder: String,
    pub generation: i64,
}

/// A term as a claim of the lease returns it.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub term: Term,
    /// When this term began, on the clock the claims read.
    pub acquired_at_ms: i64,
    /// When this claim landed: the lease runs from here.
    pub renewed_at_ms: i64,
}

/// One round of leader-only work, done only while `term` is current.
#[derive(Debug)]
pub(crate) struct LeaderWork {
    pub term: Term,
    /// Replicas whose last heartbeat is older than this, by the database's
    /// clock, are forgotten.
    pub forget_after_ms: i64,
    /// Whether to let SQLite refresh its planner statistics (`PRAGMA optimize`);
    /// PostgreSQL's autovacuum does that by itself.
    pub optimize: bool,
}

/// What the database did with leader-only work.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fenced {
    Done {
        forgotten: usize,
    },
    /// The term was no longer current, or the lease had expired: nothing done.
    Refused,
}

/// A replica's row, as read back.
#[derive(Debug)]
pub(crate) struct ReplicaRow {
    pub beat: Heartbeat,
    pub heartbeat_at_ms: i64,
}

/// Every replica the database knows, by ID, the lease, and the time, by the
/// database's clock, that `alive` and the lease's holder are judged at.
#[derive(Debug)]
pub(crate) struct RollCall {
    pub replicas: Vec<ReplicaRow>,
    pub lease: LeaseRow,
    pub now_ms: i64,
}

/// The lease row, as read back.
#[derive(Debug)]
pub(crate) struct LeaseRow {
    pub holder: Option<String>,
    pub acquired_at_ms: i64,
    pub renewed_at_ms: i64,
    pub duration_ms: i64,
    pub generation: i64,
    pub transitions: i64,
}

impl LeaseRow {
    pub(crate) fn expires_at_ms(&self) -> i64 {
        self.renewed_at_ms + self.duration_ms
    }

    /// Who holds the lease at `now`, if anyone: a released or expired lease
    /// names its last holder but is nobody's.
    pub(crate) fn holder_at(&self, now: i64) -> Option<&str> {
        self.holder
            .as_deref()
            .filter(|_| now < self.expires_at_ms())
    }
}

/// A node is stale once this many of its report intervals pass without a report.
pub(crate) const STALE_AFTER_INTERVALS: i64 = 3;

/// What one report says, with how and when it arrived.
#[derive(Debug)]
pub(crate) struct NodeReportRow {
    pub name: String,
    pub agent_version: String,
    pub interval_ms: i64,
    /// The agent's clock, in the stored timestamp form: orders its reports.
    pub reported_at: String,
    pub reported_from: String,
    pub attested: bool,
}

/// A node as read back.
#[derive(Debug)]
pub(crate) struct NodeRow {
    pub name: String,
    pub agent_version: String,
    pub first_report_ms: i64,
    pub last_report_ms: i64,
    pub interval_ms: i64,
    pub reported_from: String,
    pub attested: bool,
    /// Its containers that are not `removed`.
    pub containers: i64,
}

impl NodeRow {
    pub(crate) fn stale_at_ms(&self) -> i64 {
        self.last_report_ms
            .saturating_add(self.interval_ms.saturating_mul(STALE_AFTER_INTERVALS))
    }
}

/// The stored record is a JSON object the store wrote, without `node_status`
/// (a posted one is dropped as a store field): the field goes before its end.
pub(crate) fn with_node_status(mut body: String, status: Option<&str>) -> String {
    debug_assert!(body.ends_with('}') && body.len() > 2);
    body.pop();
    match status {
        Some(status) => {
            body.push_str(",\"node_status\":\"");
            body.push_str(status);
            body.push_str("\"}");
        }
        None => body.push_str(",\"node_status\":null}"),
    }
    body
}
