//! The read queries. Every list is keyset-paginated: one page costs the same
//! however many rows the tables hold.

use container_info_wire::ContainerState;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

/// What `GET /containers` may be narrowed by; all given conditions must hold.
#[derive(Debug, Default)]
pub(crate) struct ContainerFilter {
    pub node: Option<String>,
    pub image: Option<String>,
    pub state: Option<ContainerState>,
    pub name_contains: Option<String>,
    pub labels: Vec<(String, String)>,
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

fn listed(row: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    Ok(Listed {
        seq: row.get(0)?,
        observed_at: row.get(1)?,
        body: row.get(2)?,
    })
}

pub(crate) fn list_latest(
    conn: &Connection,
    filter: &ContainerFilter,
    before_seq: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<Listed>> {
    let mut sql = String::from(
        "SELECT c.seq, c.observed_at, s.body FROM containers c JOIN snapshots s ON s.seq = c.seq WHERE 1",
    );
    let mut args: Vec<Value> = Vec::new();
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
    if let Some(state) = filter.state {
        condition("c.state = ?", &[state.as_str()]);
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
    if let Some(seq) = before_seq {
        sql.push_str(" AND c.seq < ?");
        args.push(Value::Integer(seq));
    }
    sql.push_str(" ORDER BY c.seq DESC LIMIT ?");
    args.push(Value::Integer(limit as i64));
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(args), listed)?;
    rows.collect()
}

/// Finds the container whose ID is `prefix` or starts with it.
pub(crate) fn find(conn: &Connection, prefix: &str) -> rusqlite::Result<Lookup> {
    // IDs are hex, and 'g' sorts after every hex digit: this range holds exactly
    // the IDs that start with the prefix, and the primary key index walks it.
    let mut statement = conn.prepare_cached(
        "SELECT c.id, s.body FROM containers c JOIN snapshots s ON s.seq = c.seq
         WHERE c.id >= ?1 AND c.id < ?1 || 'g' ORDER BY c.id LIMIT ?2",
    )?;
    let mut found: Vec<(String, String)> = statement
        .query_map(params![prefix, MAX_CANDIDATES as i64 + 1], |row| {
            Ok((row.get(0)?, row.get(1)?))
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
