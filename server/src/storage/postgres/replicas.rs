//! The roll call, the lease and the nodes on PostgreSQL: the statements of
//! sqlite/replicas.rs and sqlite/nodes.rs, with the database's clock in place
//! of a replica's (replicas run on several hosts, whose clocks differ).
//!
//! A claim and leader-only work first lock the lease's row, then read the
//! clock: two claims happen one after the other, each judging expiry at the
//! moment it holds the row; leader-only work holds it (shared) until its
//! commit, so no claim can take the lease between the fence and the work.

use deadpool_postgres::{Pool, Transaction};

use super::CLOCK_MS;
use crate::storage::{
    Claimed, Fenced, Heartbeat, LeaderWork, LeaseRow, NodeReportRow, NodeRow, ReplicaRow, RollCall,
    StorageError, Term,
};

/// The one lease row.
const LEASE: &str = "leader";

pub(super) async fn heartbeat(pool: &Pool, beat: &Heartbeat) -> Result<(), StorageError> {
    let addresses = serde_json::to_string(&beat.addresses).expect("strings serialize");
    pool.get()
        .await?
        .execute(
            &format!(
                "INSERT INTO replicas (id, addresses, listen, port_shared, version, started_at_ms,
                                       heartbeat_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, {CLOCK_MS})
                 ON CONFLICT (id) DO UPDATE SET
                     addresses = excluded.addresses, listen = excluded.listen,
                     port_shared = excluded.port_shared, version = excluded.version,
                     started_at_ms = excluded.started_at_ms,
                     heartbeat_at_ms = excluded.heartbeat_at_ms"
            ),
            &[
                &beat.id,
                &addresses,
                &beat.listen,
                &beat.port_shared,
                &beat.version,
                &beat.started_at_ms,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn leave(pool: &Pool, id: &str) -> Result<(), StorageError> {
    pool.get()
        .await?
        .execute("DELETE FROM replicas WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

pub(super) async fn release(pool: &Pool, term: &Term) -> Result<(), StorageError> {
    pool.get()
        .await?
        .execute(
            "UPDATE lease SET duration_ms = 0 WHERE name = $1 AND holder = $2 AND generation = $3",
            &[&LEASE, &term.holder, &term.generation],
        )
        .await?;
    Ok(())
}

/// Locks the lease's row (`lock`: `FOR UPDATE` or `FOR SHARE`), then reads
/// the database's clock in a statement of its own: a statement that waits for
/// the row keeps the clock it read before waiting (PostgreSQL reads it again
/// only when the row changed meanwhile), and that stale clock would judge a
/// lease that expired during the wait still held.
async fn lock_lease_then_read_clock(tx: &Transaction<'_>, lock: &str) -> Result<i64, StorageError> {
    tx.execute(
        &format!("SELECT 1 FROM lease WHERE name = $1 {lock}"),
        &[&LEASE],
    )
    .await?;
    Ok(tx
        .query_one(&format!("SELECT {CLOCK_MS}"), &[])
        .await?
        .get(0))
}

/// See sqlite/replicas.rs `claim`: the same conditional write.
pub(super) async fn claim(
    pool: &Pool,
    id: &str,
    held: Option<i64>,
    duration_ms: i64,
) -> Result<Option<Claimed>, StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let now = lock_lease_then_read_clock(&tx, "FOR UPDATE").await?;
    let claimed = tx
        .query_opt(
            "UPDATE lease SET
                 generation = CASE
                     WHEN holder = $2 AND generation = $3 AND renewed_at_ms + duration_ms > $4
                     THEN generation ELSE generation + 1 END,
                 acquired_at_ms = CASE
                     WHEN holder = $2 AND generation = $3 AND renewed_at_ms + duration_ms > $4
                     THEN acquired_at_ms ELSE $4 END,
                 transitions = CASE WHEN holder = $2 THEN transitions ELSE transitions + 1 END,
                 holder = $2,
                 renewed_at_ms = $4,
                 duration_ms = $5
             WHERE name = $1
               AND ((holder = $2 AND generation = $3 AND renewed_at_ms + duration_ms > $4)
                    OR holder IS NULL
                    OR renewed_at_ms + duration_ms <= $4)
             RETURNING generation, acquired_at_ms, renewed_at_ms",
            &[&LEASE, &id, &held.unwrap_or(-1), &now, &duration_ms],
        )
        .await?
        .map(|row| Claimed {
            term: Term {
                holder: id.to_owned(),
                generation: row.get(0),
            },
            acquired_at_ms: row.get(1),
            renewed_at_ms: row.get(2),
        });
    tx.commit().await?;
    Ok(claimed)
}

/// Leader-only work, fenced: see sqlite/replicas.rs `leader_work`. PostgreSQL
/// keeps its planner statistics by itself (autovacuum): `optimize` asks
/// nothing more of it.
pub(super) async fn leader_work(pool: &Pool, work: &LeaderWork) -> Result<Fenced, StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let now = lock_lease_then_read_clock(&tx, "FOR SHARE").await?;
    let fenced = tx
        .execute(
            "INSERT INTO leader_work (id, done_at_ms, done_by, generation)
             SELECT 1, $4, holder, generation FROM lease
             WHERE name = $1 AND holder = $2 AND generation = $3
               AND renewed_at_ms + duration_ms > $4
             ON CONFLICT (id) DO UPDATE SET
                 done_at_ms = excluded.done_at_ms, done_by = excluded.done_by,
                 generation = excluded.generation",
            &[&LEASE, &work.term.holder, &work.term.generation, &now],
        )
        .await?;
    if fenced == 0 {
        return Ok(Fenced::Refused);
    }
    let forgotten = tx
        .execute(
            "DELETE FROM replicas WHERE heartbeat_at_ms < $1",
            &[&(now - work.forget_after_ms)],
        )
        .await?;
    tx.commit().await?;
    Ok(Fenced::Done {
        forgotten: usize::try_from(forgotten).unwrap_or(usize::MAX),
    })
}

/// Every replica by ID, the lease, and the database's clock after reading them.
pub(super) async fn roll_call(pool: &Pool) -> Result<RollCall, StorageError> {
    let client = pool.get().await?;
    let replicas = client
        .query(
            "SELECT id, addresses, listen, port_shared, version, started_at_ms, heartbeat_at_ms
             FROM replicas ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|row| ReplicaRow {
            beat: Heartbeat {
                id: row.get(0),
                // Written by `heartbeat` above; anything else reads as none.
                addresses: serde_json::from_str(row.get::<_, &str>(1)).unwrap_or_default(),
                listen: row.get(2),
                port_shared: row.get(3),
                version: row.get(4),
                started_at_ms: row.get(5),
            },
            heartbeat_at_ms: row.get(6),
        })
        .collect();
    let row = client
        .query_one(
            &format!(
                "SELECT holder, acquired_at_ms, renewed_at_ms, duration_ms, generation,
                        transitions, {CLOCK_MS}
                 FROM lease WHERE name = $1"
            ),
            &[&LEASE],
        )
        .await?;
    Ok(RollCall {
        replicas,
        lease: LeaseRow {
            holder: row.get(0),
            acquired_at_ms: row.get(1),
            renewed_at_ms: row.get(2),
            duration_ms: row.get(3),
            generation: row.get(4),
            transitions: row.get(5),
        },
        now_ms: row.get(6),
    })
}

/// See sqlite/nodes.rs `record`: received at the database's clock; a report
/// no later than the last one taken, by the agent's clock, changes nothing.
pub(super) async fn report_node(pool: &Pool, report: &NodeReportRow) -> Result<(), StorageError> {
    pool.get()
        .await?
        .execute(
            &format!(
                "INSERT INTO nodes (name, agent_version, first_report_ms, last_report_ms,
                                    reported_at, interval_ms, reported_from, attested)
                 SELECT $1, $2, clock.now, clock.now, $3, $4, $5, $6
                 FROM (SELECT {CLOCK_MS} AS now) clock
                 ON CONFLICT (name) DO UPDATE SET
                     agent_version = excluded.agent_version,
                     last_report_ms = excluded.last_report_ms,
                     reported_at = excluded.reported_at,
                     interval_ms = excluded.interval_ms,
                     reported_from = excluded.reported_from,
                     attested = excluded.attested
                 WHERE excluded.reported_at > nodes.reported_at"
            ),
            &[
                &report.name,
                &report.agent_version,
                &report.reported_at,
                &report.interval_ms,
                &report.reported_from,
                &report.attested,
            ],
        )
        .await?;
    Ok(())
}

/// Every node by name, or the one named, and the database's clock they are
/// judged at (read even when there is no node).
pub(super) async fn nodes(
    pool: &Pool,
    name: Option<&str>,
) -> Result<(Vec<NodeRow>, i64), StorageError> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT clock.now, n.name, n.agent_version, n.first_report_ms, n.last_report_ms,
                    n.interval_ms, n.reported_from, n.attested,
                    (SELECT count(*) FROM containers c
                     WHERE c.node = n.name AND c.state <> 'removed')
             FROM (SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint AS now) clock
             LEFT JOIN nodes n ON $1::text IS NULL OR n.name = $1
             ORDER BY n.name",
            &[&name],
        )
        .await?;
    let now = rows.first().map_or(0, |row| row.get(0));
    let nodes = rows
        .iter()
        .filter_map(|row| {
            Some(NodeRow {
                name: row.get::<_, Option<String>>(1)?,
                agent_version: row.get(2),
                first_report_ms: row.get(3),
                last_report_ms: row.get(4),
                interval_ms: row.get(5),
                reported_from: row.get(6),
                attested: row.get(7),
                containers: row.get(8),
            })
        })
        .collect();
    Ok((nodes, now))
}
