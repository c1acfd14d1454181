//! The nodes whose agents report (fleet mode): one row each, written by the
//! node's reports. Whether a node is up or stale is not written anywhere: it is
//! computed from the last report's time whenever it is read, so a node whose
//! agent died turns stale by the clock alone, with no one to say so and no
//! leader needed to mark it.

use rusqlite::{Connection, Transaction, params};

use crate::storage::model::STALE_AFTER_INTERVALS;
use crate::storage::{NodeReportRow, NodeRow};

/// SQL for the node status of the container row `c` joined with its node `n`
/// at the time bound to `?now` (in milliseconds): null when no agent reports
/// the node.
pub(super) fn status_sql(now: &str) -> String {
    format!(
        "CASE WHEN n.name IS NULL THEN NULL \
         WHEN n.last_report_ms + {STALE_AFTER_INTERVALS} * n.interval_ms <= {now} THEN 'stale' \
         ELSE 'up' END"
    )
}

/// Takes a report, received at `now_ms` by the store's clock. A report no later
/// than the last one taken, by the agent's clock, is a replay or came out of
/// order: it changes nothing, so that replaying an old signed report cannot
/// keep a dead node up.
pub(super) fn record(
    tx: &Transaction,
    report: &NodeReportRow,
    now_ms: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO nodes (name, agent_version, first_report_ms, last_report_ms, reported_at,
                            interval_ms, reported_from, attested)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (name) DO UPDATE SET
             agent_version = excluded.agent_version,
             last_report_ms = excluded.last_report_ms,
             reported_at = excluded.reported_at,
             interval_ms = excluded.interval_ms,
             reported_from = excluded.reported_from,
             attested = excluded.attested
         WHERE excluded.reported_at > nodes.reported_at",
    )?
    .execute(params![
        report.name,
        report.agent_version,
        now_ms,
        report.reported_at,
        report.interval_ms,
        report.reported_from,
        report.attested,
    ])?;
    Ok(())
}

/// Every node by name, or the one named.
pub(super) fn list(conn: &Connection, name: Option<&str>) -> rusqlite::Result<Vec<NodeRow>> {
    let mut statement = conn.prepare_cached(
        "SELECT n.name, n.agent_version, n.first_report_ms, n.last_report_ms, n.interval_ms,
                n.reported_from, n.attested,
                (SELECT count(*) FROM containers c WHERE c.node = n.name AND c.state != 'removed')
         FROM nodes n WHERE ?1 IS NULL OR n.name = ?1 ORDER BY n.name",
    )?;
    let rows = statement.query_map([name], |row| {
        Ok(NodeRow {
            name: row.get(0)?,
            agent_version: row.get(1)?,
            first_report_ms: row.get(2)?,
            last_report_ms: row.get(3)?,
            interval_ms: row.get(4)?,
            reported_from: row.get(5)?,
            attested: row.get(6)?,
            containers: row.get(7)?,
        })
    })?;
    rows.collect()
}
