//! The read queries. Every list is keyset-paginated: one page costs the same
//! however many rows the tables hold.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::nodes;
use crate::storage::model::{MAX_CANDIDATES, with_node_status};
use crate::storage::{ContainerFilter, HistoryRange, Listed, Lookup, RowCounts};

fn listed(row: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    Ok(Listed {
        seq: row.get(0)?,
        observed_at: row.get(1)?,
        body: row.get(2)?,
    })
}

/// A container's latest record, with its node's status as the store sees it
/// now (a field no stored record carries: it is not what was received).
fn latest(row: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    let status: Option<String> = row.get(3)?;
    let body: String = row.get(2)?;
    Ok(Listed {
        seq: row.get(0)?,
        observed_at: row.get(1)?,
        body: with_node_status(body, status.as_deref()),
    })
}

/// The latest records of containers, with their nodes' status at `now_ms`.
pub(crate) fn list_latest(
    conn: &Connection,
    filter: &ContainerFilter,
    before_seq: Option<i64>,
    limit: usize,
    now_ms: i64,
) -> rusqlite::Result<Vec<Listed>> {
    let status = nodes::status_sql("?");
    let mut sql = format!(
        "SELECT c.seq, c.observed_at, s.body, {status} FROM containers c
         JOIN snapshots s ON s.seq = c.seq LEFT JOIN nodes n ON n.name = c.node WHERE 1"
    );
    let mut args: Vec<Value> = vec![Value::Integer(now_ms)];
    let mut condition = |clause: &str, values: &[&str]| {
        sql.push_str(" AND ");
        sql.push_str(clause);
        args.extend(values.iter().map(|v| Value::Text((*v).to_owned())));
    };
    if let Some(node) = &filter.node {
        condition("c.node = ?", &[node]);
    }
    if let Some(image) = &filter.image {
        condition("c.image = ?", &[image]);
    }
    match filter.state {
        Some(state) => condition("c.state = ?", &[state.as_str()]),
        // A literal, not a parameter: only then does SQLite know that the
        // partial index of current containers applies.
        None => condition("c.state != 'removed'", &[]),
    }
    if let Some(service) = &filter.service {
        condition("c.service = ?", &[service]);
    }
    if let Some(stack) = &filter.stack {
        condition("c.stack = ?", &[stack]);
    }
    if let Some(name) = &filter.name_contains {
        condition("instr(c.name, ?) > 0", &[name]);
    }
    for (key, value) in &filter.labels {
        condition(
            "EXISTS (SELECT 1 FROM json_each(c.labels) l WHERE l.key = ? AND l.value = ?)",
            &[key, value],
        );
    }
    if let Some(node_status) = filter.node_status {
        sql.push_str(&format!(" AND {} = ?", nodes::status_sql("?")));
        args.push(Value::Integer(now_ms));
        args.push(Value::Text(node_status.as_str().to_owned()));
    }
    if let Some(seq) = before_seq {
        sql.push_str(" AND c.seq < ?");
        args.push(Value::Integer(seq));
    }
    sql.push_str(" ORDER BY c.seq DESC LIMIT ?");
    args.push(Value::Integer(limit as i64));
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(args), latest)?;
    rows.collect()
}

/// Finds the container whose ID is `prefix` or starts with it; its latest
/// record carries its node's status at `now_ms`.
pub(crate) fn find(conn: &Connection, prefix: &str, now_ms: i64) -> rusqlite::Result<Lookup> {
    // IDs are hex, and 'g' sorts after every hex digit: this range holds exactly
    // the IDs that start with the prefix, and the primary key index walks it.
    let mut statement = conn.prepare_cached(&format!(
        "SELECT c.id, s.body, {} FROM containers c JOIN snapshots s ON s.seq = c.seq
         LEFT JOIN nodes n ON n.name = c.node
         WHERE c.id >= ?1 AND c.id < ?1 || 'g' ORDER BY c.id LIMIT ?2",
        nodes::status_sql("?3")
    ))?;
    let mut found: Vec<(String, String)> = statement
        .query_map(params![prefix, MAX_CANDIDATES as i64 + 1, now_ms], |row| {
            let status: Option<String> = row.get(2)?;
            Ok((
                row.get(0)?,
                with_node_status(row.get(1)?, status.as_deref()),
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match found.len() {
        0 => Lookup::Missing,
        1 => {
            let (id, body) = found.remove(0);
            Lookup::Found { id, body }
        }
        _ => Lookup::Ambiguous(found.into_iter().map(|(id, _)| id).collect()),
    })
}

pub(crate) fn history(
    conn: &Connection,
    id: &str,
    range: &HistoryRange,
    limit: usize,
) -> rusqlite::Result<Vec<Listed>> {
    let mut sql =
        String::from("SELECT seq, observed_at, body FROM snapshots WHERE container_id = ?");
    let mut args = vec![Value::Text(id.to_owned())];
    if let Some(since) = &range.since {
        sql.push_str(" AND observed_at >= ?");
        args.push(Value::Text(since.clone()));
    }
    if let Some(until) = &range.until {
        sql.push_str(" AND observed_at < ?");
        args.push(Value::Text(until.clone()));
    }
    if let Some((observed_at, seq)) = &range.before {
        sql.push_str(" AND (observed_at, seq) < (?, ?)");
        args.push(Value::Text(observed_at.clone()));
        args.push(Value::Integer(*seq));
    }
    sql.push_str(" ORDER BY observed_at DESC, seq DESC LIMIT ?");
    args.push(Value::Integer(limit as i64));
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(args), listed)?;
    rows.collect()
}

pub(crate) fn row_counts(conn: &Connection) -> rusqlite::Result<RowCounts> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM containers), (SELECT count(*) FROM snapshots)",
        [],
        |row| {
            Ok(RowCounts {
                containers: row.get(0)?,
                snapshots: row.get(1)?,
            })
        },
    )
}
