//! The read queries, keyset-paginated as SQLite's (see sqlite/reader.rs): the
//! same cursors, one page costing the same however many rows the tables hold.
//! A node's status is judged by the database's clock.

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use crate::storage::model::{MAX_CANDIDATES, STALE_AFTER_INTERVALS, with_node_status};
use crate::storage::{ContainerFilter, HistoryRange, Listed, Lookup, RowCounts, StorageError};

/// The node status of container row `c` joined with its node `n`, by the
/// database's clock when the statement began: null when no agent reports it.
fn status_sql() -> String {
    format!(
        "CASE WHEN n.name IS NULL THEN NULL \
         WHEN n.last_report_ms + {STALE_AFTER_INTERVALS} * n.interval_ms \
              <= (extract(epoch FROM statement_timestamp()) * 1000)::bigint THEN 'stale' \
         ELSE 'up' END"
    )
}

/// Query text with its parameters, numbered as they are added.
#[derive(Default)]
struct Query {
    sql: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// Appends `clause`, whose `$` marks are numbered in order, and its values.
    fn and(&mut self, clause: &str, values: Vec<Box<dyn ToSql + Sync + Send>>) {
        self.sql.push_str(" AND ");
        let mut parts = clause.split('$');
        self.sql.push_str(parts.next().unwrap_or_default());
        let mut number = self.args.len();
        for part in parts {
            number += 1;
            self.sql.push_str(&format!("${number}{part}"));
        }
        debug_assert_eq!(number, self.args.len() + values.len());
        self.args.extend(values);
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args
            .iter()
            .map(|arg| arg.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

fn text(value: &str) -> Box<dyn ToSql + Sync + Send> {
    Box::new(value.to_owned())
}

pub(super) async fn list_latest(
    pool: &Pool,
    filter: &ContainerFilter,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<Vec<Listed>, StorageError> {
    let status = status_sql();
    let mut query = Query {
        sql: format!(
            "SELECT c.seq, c.observed_at, s.body, {status} FROM containers c
             JOIN snapshots s ON s.seq = c.seq LEFT JOIN nodes n ON n.name = c.node WHERE true"
        ),
        args: Vec::new(),
    };
    if let Some(node) = &filter.node {
        query.and("c.node = $", vec![text(node)]);
    }
    if let Some(image) = &filter.image {
        query.and("c.image = $", vec![text(image)]);
    }
    match filter.state {
        Some(state) => query.and("c.state = $", vec![text(state.as_str())]),
        // A literal, so that the planner knows the partial index applies.
        None => query.and("c.state <> 'removed'", vec![]),
    }
    if let Some(service) = &filter.service {
        query.and("c.service = $", vec![text(service)]);
    }
    if let Some(stack) = &filter.stack {
        query.and("c.stack = $", vec![text(stack)]);
    }
    if let Some(name) = &filter.name_contains {
        query.and("strpos(c.name, $) > 0", vec![text(name)]);
    }
    for (key, value) in &filter.labels {
        query.and(
            "c.labels @> jsonb_build_object($::text, $::text)",
            vec![text(key), text(value)],
        );
    }
    if let Some(node_status) = filter.node_status {
        query.and(&format!("{status} = $"), vec![text(node_status.as_str())]);
    }
    if let Some(seq) = before_seq {
        query.and("c.seq < $", vec![Box::new(seq)]);
    }
    query.sql.push_str(" ORDER BY c.seq DESC LIMIT ");
    query.sql.push_str(&limit.to_string());
    let client = pool.get().await?;
    let statement = client.prepare_cached(&query.sql).await?;
    let rows = client.query(&statement, &query.params()).await?;
    Ok(rows
        .iter()
        .map(|row| Listed {
            seq: row.get(0),
            observed_at: row.get(1),
            body: with_node_status(row.get(2), row.get::<_, Option<&str>>(3)),
        })
        .collect())
}

pub(super) async fn find(pool: &Pool, prefix: &str) -> Result<Lookup, StorageError> {
    let client = pool.get().await?;
    // IDs are hex, and 'g' sorts after every hex digit (byte order: the
    // column is COLLATE "C"): the range holds exactly the IDs with the prefix.
    let statement = client
        .prepare_cached(&format!(
            "SELECT c.id, s.body, {} FROM containers c JOIN snapshots s ON s.seq = c.seq
             LEFT JOIN nodes n ON n.name = c.node
             WHERE c.id >= $1 AND c.id < $1 || 'g' ORDER BY c.id LIMIT $2",
            status_sql()
        ))
        .await?;
    let rows = client
        .query(&statement, &[&prefix, &(MAX_CANDIDATES as i64 + 1)])
        .await?;
    let mut found: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                row.get(0),
                with_node_status(row.get(1), row.get::<_, Option<&str>>(2)),
            )
        })
        .collect();
    Ok(match found.len() {
        0 => Lookup::Missing,
        1 => {
            let (id, body) = found.remove(0);
            Lookup::Found { id, body }
        }
        _ => Lookup::Ambiguous(found.into_iter().map(|(id, _)| id).collect()),
    })
}

pub(super) async fn history(
    pool: &Pool,
    id: &str,
    range: &HistoryRange,
    limit: usize,
) -> Result<Vec<Listed>, StorageError> {
    let mut query = Query {
        sql: "SELECT seq, observed_at, body FROM snapshots WHERE true".to_owned(),
        args: Vec::new(),
    };
    query.and("container_id = $", vec![text(id)]);
    if let Some(since) = &range.since {
        query.and("observed_at >= $", vec![text(since)]);
    }
    if let Some(until) = &range.until {
        query.and("observed_at < $", vec![text(until)]);
    }
    if let Some((observed_at, seq)) = &range.before {
        query.and(
            "(observed_at, seq) < ($, $)",
            vec![text(observed_at), Box::new(*seq)],
        );
    }
    query
        .sql
        .push_str(" ORDER BY observed_at DESC, seq DESC LIMIT ");
    query.sql.push_str(&limit.to_string());
    let client = pool.get().await?;
    let statement = client.prepare_cached(&query.sql).await?;
    let rows = client.query(&statement, &query.params()).await?;
    Ok(rows
        .iter()
        .map(|row| Listed {
            seq: row.get(0),
            observed_at: row.get(1),
            body: row.get(2),
        })
        .collect())
}

pub(super) async fn row_counts(pool: &Pool) -> Result<RowCounts, StorageError> {
    let row = pool
        .get()
        .await?
        .query_one(
            "SELECT (SELECT count(*) FROM containers), (SELECT count(*) FROM snapshots)",
            &[],
        )
        .await?;
    Ok(RowCounts {
        containers: row.get(0),
        snapshots: row.get(1),
    })
}
