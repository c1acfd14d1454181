//! The database schema, as an ordered list of migrations.
//!
//! Several replicas may start at the same moment on the same file, so migrating
//! happens inside one `BEGIN IMMEDIATE` transaction: the first replica takes the
//! write lock and migrates, the others wait on the busy handler and then find
//! `user_version` already current.

use rusqlite::{Connection, TransactionBehavior};

use super::StorageError;

const MIGRATIONS: &[&str] = &[
    // 1: history of every snapshot, and one row per container pointing at its latest.
    "
    CREATE TABLE snapshots (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        container_id TEXT NOT NULL,
        -- UTC, nine fraction digits: text order is time order.
        observed_at  TEXT NOT NULL,
        -- The stored record exactly as the API returns it.
        body         TEXT NOT NULL,
        UNIQUE (container_id, observed_at)
    );
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        -- The snapshot with the greatest observed_at; its seq orders the list.
        seq         INTEGER NOT NULL,
        name        TEXT NOT NULL,
        image       TEXT NOT NULL,
        node        TEXT NOT NULL,
        state       TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        labels      TEXT NOT NULL,
        -- Rows in snapshots for this container, so that bounding history costs
        -- nothing until the bound is reached.
        history_len INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX containers_by_seq ON containers (seq);
    CREATE INDEX containers_by_node ON containers (node, seq);
    CREATE INDEX containers_by_image ON containers (image, seq);
    CREATE INDEX containers_by_state ON containers (state, seq);
    ",
    // 2: the row /readyz writes, so that "ready" means a write reached the disk.
    "
    CREATE TABLE readiness (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        probed_at TEXT NOT NULL,
        -- Rewritten by each probe: room for a write larger than a usual one.
        margin    BLOB
    );
    ",
    // 3: the replicas' roll call, the leader's lease, and the leader's last
    // round of work. Times are milliseconds since the epoch, so that an expiry
    // is a sum in SQL (see `replicas.rs` for whose clock).
    "
    CREATE TABLE replicas (
        id              TEXT PRIMARY KEY,
        -- A JSON array of `host:port` others can use to reach it.
        addresses       TEXT NOT NULL,
        -- What it is bound to, such as [::]:5001.
        listen          TEXT NOT NULL,
        -- Whether it shares its port with other processes (SO_REUSEPORT):
        -- then a connection to its address may reach another replica.
        port_shared     INTEGER NOT NULL,
        version         TEXT NOT NULL,
        started_at_ms   INTEGER NOT NULL,
        heartbeat_at_ms INTEGER NOT NULL
    );
    -- One row: the fields of a Kubernetes Lease, and a generation that every
    -- leader-only write must still match (fencing).
    CREATE TABLE lease (
        name           TEXT PRIMARY KEY,
        -- The last replica to take it; released or expired, it is nobody's.
        holder         TEXT,
        acquired_at_ms INTEGER NOT NULL,
        renewed_at_ms  INTEGER NOT NULL,
        duration_ms    INTEGER NOT NULL,
        -- One more at each acquisition: one generation, one unbroken leadership.
        generation     INTEGER NOT NULL,
        -- One more each time the holder changes.
        transitions    INTEGER NOT NULL
    );
    INSERT INTO lease VALUES ('leader', NULL, 0, 0, 0, 0, 0);
    -- Written by each round of leader-only work, under the same fence.
    CREATE TABLE leader_work (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        done_at_ms INTEGER NOT NULL,
        done_by    TEXT NOT NULL,
        generation INTEGER NOT NULL
    );
    ",
    // 4: fleet mode. The list leaves removed containers out unless asked for
    // them by state, so its order needs only the others: under churn, removed
    // containers would otherwise pile up between a page's rows. A Swarm task's
    // service and stack, for the list's filters (partial indexes: most
    // containers have neither, and pay nothing). One row per node whose agent
    // reports.
    "
    DROP INDEX containers_by_seq;
    CREATE INDEX containers_current ON containers (seq) WHERE state != 'removed';
    ALTER TABLE containers ADD COLUMN service TEXT;
    ALTER TABLE containers ADD COLUMN stack TEXT;
    CREATE INDEX containers_by_service ON containers (service, seq) WHERE service IS NOT NULL;
    CREATE INDEX containers_by_stack ON containers (stack, seq) WHERE stack IS NOT NULL;
    CREATE TABLE nodes (
        name            TEXT PRIMARY KEY,
        agent_version   TEXT NOT NULL,
        -- The store's clock, when a replica took the first and the last report.
        first_report_ms INTEGER NOT NULL,
        last_report_ms  INTEGER NOT NULL,
        -- The agent's clock, stored timestamp form: a report no later than
        -- this one is a replay and changes nothing.
        reported_at     TEXT NOT NULL,
        -- The node is stale after 3 of these without a report.
        interval_ms     INTEGER NOT NULL,
        reported_from   TEXT NOT NULL,
        attested        INTEGER NOT NULL
    );
    ",
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: MIGRATIONS.len(),
        });
    }
    for migration in &MIGRATIONS[current..] {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()?;
    Ok(())
}
