//! Snapshots and deletions: each request one transaction, all or nothing, with
//! the same rules as SQLite's writer (see sqlite/writer.rs): a snapshot stored
//! before is not stored again and its first record is returned, a late one
//! joins the history without replacing the latest, and history is bounded.

use deadpool_postgres::{Pool, Transaction};

use crate::storage::{NewSnapshot, StorageError};

/// Stores the snapshots all together or not at all; returns each stored record
/// in the order given, and how many were new.
pub(super) async fn write(
    pool: &Pool,
    snapshots: &[NewSnapshot],
    history_limit: u32,
) -> Result<(Vec<String>, u64), StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // In the order given, as SQLite stores them: it is the order of their
    // `seq`, which orders the list. Two requests that lock the same containers
    // in opposite orders may deadlock; PostgreSQL then aborts one, which
    // answers 503 (Busy) and is safe to retry.
    let mut bodies = Vec::with_capacity(snapshots.len());
    let mut new = 0;
    for snapshot in snapshots {
        let (body, was_new) = insert_snapshot(&tx, snapshot, history_limit).await?;
        bodies.push(body);
        new += u64::from(was_new);
    }
    tx.commit().await?;
    Ok((bodies, new))
}

async fn insert_snapshot(
    tx: &Transaction<'_>,
    snapshot: &NewSnapshot,
    history_limit: u32,
) -> Result<(String, bool), StorageError> {
    // A concurrent transaction inserting the same snapshot makes this one wait
    // for its end on the unique index; then this one finds it stored.
    let added = tx
        .prepare_cached(
            "INSERT INTO snapshots (container_id, observed_at, body) VALUES ($1, $2, $3)
             ON CONFLICT (container_id, observed_at) DO NOTHING RETURNING seq",
        )
        .await?;
    let Some(row) = tx
        .query_opt(
            &added,
            &[&snapshot.id, &snapshot.observed_at, &snapshot.body],
        )
        .await?
    else {
        let before = tx
            .prepare_cached(
                "SELECT body FROM snapshots WHERE container_id = $1 AND observed_at = $2",
            )
            .await?;
        let row = tx
            .query_one(&before, &[&snapshot.id, &snapshot.observed_at])
            .await?;
        return Ok((row.get(0), false));
    };
    let seq: i64 = row.get(0);
    // A snapshot that arrives late (older than the one held) joins the history
    // but does not replace the latest. SET expressions all read the old row.
    let latest = tx
        .prepare_cached(
            "INSERT INTO containers AS c
                 (id, seq, name, image, node, state, observed_at, labels, service, stack,
                  history_len)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9, $10, 1)
             ON CONFLICT (id) DO UPDATE SET
                 history_len = c.history_len + 1,
                 seq = CASE WHEN excluded.observed_at > c.observed_at
                       THEN excluded.seq ELSE c.seq END,
                 name = CASE WHEN excluded.observed_at > c.observed_at
                        THEN excluded.name ELSE c.name END,
                 image = CASE WHEN excluded.observed_at > c.observed_at
                         THEN excluded.image ELSE c.image END,
                 node = CASE WHEN excluded.observed_at > c.observed_at
                        THEN excluded.node ELSE c.node END,
                 state = CASE WHEN excluded.observed_at > c.observed_at
                         THEN excluded.state ELSE c.state END,
                 labels = CASE WHEN excluded.observed_at > c.observed_at
                          THEN excluded.labels ELSE c.labels END,
                 service = CASE WHEN excluded.observed_at > c.observed_at
                           THEN excluded.service ELSE c.service END,
                 stack = CASE WHEN excluded.observed_at > c.observed_at
                         THEN excluded.stack ELSE c.stack END,
                 observed_at = GREATEST(excluded.observed_at, c.observed_at)
             RETURNING history_len",
        )
        .await?;
    let history_len: i32 = tx
        .query_one(
            &latest,
            &[
                &snapshot.id,
                &seq,
                &snapshot.name,
                &snapshot.image,
                &snapshot.node,
                &snapshot.state,
                &snapshot.observed_at,
                &snapshot.labels,
                &snapshot.service,
                &snapshot.stack,
            ],
        )
        .await?
        .get(0);
    let kept = i64::from(history_limit);
    if i64::from(history_len) > kept {
        let trim = tx
            .prepare_cached(
                "DELETE FROM snapshots WHERE seq IN (
                     SELECT seq FROM snapshots WHERE container_id = $1
                     ORDER BY observed_at, seq LIMIT $2)",
            )
            .await?;
        tx.execute(&trim, &[&snapshot.id, &(i64::from(history_len) - kept)])
            .await?;
        let count = tx
            .prepare_cached("UPDATE containers SET history_len = $2 WHERE id = $1")
            .await?;
        let kept = i32::try_from(kept).unwrap_or(i32::MAX);
        tx.execute(&count, &[&snapshot.id, &kept]).await?;
    }
    Ok((snapshot.body.clone(), true))
}

/// Removes a container and its history; false when there was none.
pub(super) async fn delete(pool: &Pool, id: &str) -> Result<bool, StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("DELETE FROM snapshots WHERE container_id = $1", &[&id])
        .await?;
    let deleted = tx
        .execute("DELETE FROM containers WHERE id = $1", &[&id])
        .await?;
    tx.commit().await?;
    Ok(deleted > 0)
}
