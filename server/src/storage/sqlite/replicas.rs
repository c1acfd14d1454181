//! The replicas' heartbeats and the leader's lease: every statement about them,
//! in one place, in plain SQL (UPDATE … WHERE … RETURNING) that another
//! backend can run as it is.
//!
//! The database is the only arbiter. A lease is taken or renewed by one
//! conditional UPDATE: it lands only when the lease is this replica's current
//! generation, free, or expired, and the database's write lock makes two such
//! writes happen one after the other, never together. Leader-only work checks
//! the lease inside its own transaction (fencing), so a leader that lost its
//! lease while it slept cannot act on waking.
//!
//! Times are milliseconds of the replica's wall clock. Every replica of a
//! SQLite store runs on the one host that holds the file (WAL needs it), so
//! they all read the same clock; PostgreSQL's replicas, on several hosts, read
//! the database's clock instead (see `postgres::replicas`).

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::storage::{Claimed, Fenced, Heartbeat, LeaderWork, LeaseRow, ReplicaRow, Term};

/// The one lease row.
const LEASE: &str = "leader";

pub(crate) fn heartbeat(tx: &Transaction, beat: &Heartbeat, now: i64) -> rusqlite::Result<()> {
    let addresses = serde_json::to_string(&beat.addresses).expect("strings serialize");
    tx.prepare_cached(
        "INSERT INTO replicas (id, addresses, listen, port_shared, version, started_at_ms, heartbeat_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET
             addresses = excluded.addresses, listen = excluded.listen,
             port_shared = excluded.port_shared, version = excluded.version,
             started_at_ms = excluded.started_at_ms, heartbeat_at_ms = excluded.heartbeat_at_ms",
    )?
    .execute(params![
        beat.id,
        addresses,
        beat.listen,
        beat.port_shared,
        beat.version,
        beat.started_at_ms,
        now
    ])?;
    Ok(())
}

/// A replica that stops cleanly leaves the roll call at once.
pub(crate) fn leave(tx: &Transaction, id: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM replicas WHERE id = ?1", [id])?;
    Ok(())
}

/// Gives up `term` if it is still the lease's: the lease expires now, so that
/// another replica takes it without waiting. Its holder stays, as the last
/// one, so that the transitions count holder changes only.
pub(crate) fn release(tx: &Transaction, term: &Term) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE lease SET duration_ms = 0 WHERE name = ?1 AND holder = ?2 AND generation = ?3",
        params![LEASE, term.holder, term.generation],
    )?;
    Ok(())
}

/// Renews `held` (this replica's current term), or takes the lease when it is
/// free or expired: one conditional write. Returns the term this replica now
/// holds, or none when another replica's lease stands.
///
/// A renewal keeps the generation; any other acquisition starts a new one,
/// even by the same replica (after it stepped down, say), so that a
/// generation is one unbroken leadership and fencing by it is exact.
pub(crate) fn claim(
    tx: &Transaction,
    id: &str,
    held: Option<i64>,
    duration_ms: i64,
    now: i64,
) -> rusqlite::Result<Option<Claimed>> {
    // -1 matches no generation: a replica that holds none can only take a
    // free or expired lease. SET expressions all read the old row.
    tx.prepare_cached(
        "UPDATE lease SET
             generation = CASE
                 WHEN holder = ?2 AND generation = ?3 AND renewed_at_ms + duration_ms > ?4
                 THEN generation ELSE generation + 1 END,
             acquired_at_ms = CASE
                 WHEN holder = ?2 AND generation = ?3 AND renewed_at_ms + duration_ms > ?4
                 THEN acquired_at_ms ELSE ?4 END,
             transitions = CASE WHEN holder = ?2 THEN transitions ELSE transitions + 1 END,
             holder = ?2,
             renewed_at_ms = ?4,
             duration_ms = ?5
         WHERE name = ?1
           AND ((holder = ?2 AND generation = ?3 AND renewed_at_ms + duration_ms > ?4)
                OR holder IS NULL
                OR renewed_at_ms + duration_ms <= ?4)
         RETURNING generation, acquired_at_ms, renewed_at_ms",
    )?
    .query_row(
        params![LEASE, id, held.unwrap_or(-1), now, duration_ms],
        |row| {
            Ok(Claimed {
                term: Term {
                    holder: id.to_owned(),
                    generation: row.get(0)?,
                },
                acquired_at_ms: row.get(1)?,
                renewed_at_ms: row.get(2)?,
            })
        },
    )
    .optional()
}

/// Does a round of leader-only work, inside the caller's transaction, only if
/// `work.term` is still the lease's current, unexpired generation. The check
/// is a write in the same transaction as the work, so no other replica can
/// take the lease between them.
pub(crate) fn leader_work(
    tx: &Transaction,
    work: &LeaderWork,
    now: i64,
) -> rusqlite::Result<Fenced> {
    let fenced = tx
        .prepare_cached(
            "INSERT INTO leader_work (id, done_at_ms, done_by, generation)
             SELECT 1, ?4, holder, generation FROM lease
             WHERE name = ?1 AND holder = ?2 AND generation = ?3
               AND renewed_at_ms + duration_ms > ?4
             ON CONFLICT (id) DO UPDATE SET
                 done_at_ms = excluded.done_at_ms, done_by = excluded.done_by,
                 generation = excluded.generation",
        )?
        .execute(params![LEASE, work.term.holder, work.term.generation, now])?;
    if fenced == 0 {
        return Ok(Fenced::Refused);
    }
    let forgotten = tx
        .prepare_cached("DELETE FROM replicas WHERE heartbeat_at_ms < ?1")?
        .execute([now - work.forget_after_ms])?;
    if work.optimize {
        tx.execute_batch("PRAGMA optimize")?;
    }
    Ok(Fenced::Done { forgotten })
}

/// Every replica the file knows, by ID, and the lease.
pub(crate) fn roll_call(conn: &Connection) -> rusqlite::Result<(Vec<ReplicaRow>, LeaseRow)> {
    let mut statement = conn.prepare_cached(
        "SELECT id, addresses, listen, port_shared, version, started_at_ms, heartbeat_at_ms
         FROM replicas ORDER BY id",
    )?;
    let replicas = statement
        .query_map([], |row| {
            let addresses: String = row.get(1)?;
            Ok(ReplicaRow {
                beat: Heartbeat {
                    id: row.get(0)?,
                    // Written by `heartbeat` above; anything else reads as none.
                    addresses: serde_json::from_str(&addresses).unwrap_or_default(),
                    listen: row.get(2)?,
                    port_shared: row.get(3)?,
                    version: row.get(4)?,
                    started_at_ms: row.get(5)?,
                },
                heartbeat_at_ms: row.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let lease = conn.query_row(
        "SELECT holder, acquired_at_ms, renewed_at_ms, duration_ms, generation, transitions
         FROM lease WHERE name = ?1",
        [LEASE],
        |row| {
            Ok(LeaseRow {
                holder: row.get(0)?,
                acquired_at_ms: row.get(1)?,
                renewed_at_ms: row.get(2)?,
                duration_ms: row.get(3)?,
                generation: row.get(4)?,
                transitions: row.get(5)?,
            })
        },
    )?;
    Ok((replicas, lease))
}
