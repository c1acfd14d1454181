//! The PostgreSQL schema, as an ordered list of migrations, and the version
//! the database is at in a table of its own.
//!
//! Several replicas may start at the same moment against the same database,
//! so migrating happens in one transaction that first takes a transaction-
//! level advisory lock: the first replica migrates, the others wait for its
//! commit and then find the version already current. A migration that fails
//! rolls back with everything before it in the same run.
//!
//! Text that is compared or ordered (IDs, the stored timestamps) is `COLLATE
//! "C"`: byte order, as SQLite compares, whatever the database's locale; the
//! prefix lookup and the timestamps' text order rely on it.

use deadpool_postgres::Pool;

use crate::storage::StorageError;

/// The advisory lock's key: any number that no other program on the same
/// database takes; this one spells "cinf".
const MIGRATION_LOCK: i64 = 0x63_69_6e_66;

const MIGRATIONS: &[&str] = &[
    // 1: the same tables as SQLite's schema 4 (see sqlite/schema.rs for what
    // each column is), in PostgreSQL's types.
    r#"
    CREATE TABLE snapshots (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        container_id TEXT COLLATE "C" NOT NULL,
        observed_at  TEXT COLLATE "C" NOT NULL,
        body         TEXT NOT NULL,
        UNIQUE (container_id, observed_at)
    );
    CREATE TABLE containers (
        id          TEXT COLLATE "C" PRIMARY KEY,
        seq         BIGINT NOT NULL,
        name        TEXT NOT NULL,
        image       TEXT NOT NULL,
        node        TEXT NOT NULL,
        state       TEXT NOT NULL,
        observed_at TEXT COLLATE "C" NOT NULL,
        labels      JSONB NOT NULL,
        service     TEXT,
        stack       TEXT,
        history_len INTEGER NOT NULL
    );
    CREATE INDEX containers_current ON containers (seq) WHERE state <> 'removed';
    CREATE INDEX containers_by_node ON containers (node, seq);
    CREATE INDEX containers_by_image ON containers (image, seq);
    CREATE INDEX containers_by_state ON containers (state, seq);
    CREATE INDEX containers_by_service ON containers (service, seq) WHERE service IS NOT NULL;
    CREATE INDEX containers_by_stack ON containers (stack, seq) WHERE stack IS NOT NULL;
    CREATE TABLE readiness (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        probed_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE replicas (
        id              TEXT PRIMARY KEY,
        addresses       TEXT NOT NULL,
        listen          TEXT NOT NULL,
        port_shared     BOOLEAN NOT NULL,
        version         TEXT NOT NULL,
        started_at_ms   BIGINT NOT NULL,
        heartbeat_at_ms BIGINT NOT NULL
    );
    CREATE TABLE lease (
        name           TEXT PRIMARY KEY,
        holder         TEXT,
        acquired_at_ms BIGINT NOT NULL,
        renewed_at_ms  BIGINT NOT NULL,
        duration_ms    BIGINT NOT NULL,
        generation     BIGINT NOT NULL,
        transitions    BIGINT NOT NULL
    );
    INSERT INTO lease VALUES ('leader', NULL, 0, 0, 0, 0, 0);
    CREATE TABLE leader_work (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        done_at_ms BIGINT NOT NULL,
        done_by    TEXT NOT NULL,
        generation BIGINT NOT NULL
    );
    CREATE TABLE nodes (
        name            TEXT PRIMARY KEY,
        agent_version   TEXT NOT NULL,
        first_report_ms BIGINT NOT NULL,
        last_report_ms  BIGINT NOT NULL,
        reported_at     TEXT COLLATE "C" NOT NULL,
        interval_ms     BIGINT NOT NULL,
        reported_from   TEXT NOT NULL,
        attested        BOOLEAN NOT NULL
    );
    "#,
];

pub(super) async fn migrate(pool: &Pool) -> Result<(), StorageError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
             version INTEGER NOT NULL
         );
         INSERT INTO schema_version (version) VALUES (0) ON CONFLICT DO NOTHING",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT version FROM schema_version", &[])
        .await?
        .get(0);
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(StorageError::SchemaTooNew {
            found: current,
            known: MIGRATIONS.len(),
        });
    }
    for migration in &MIGRATIONS[current..] {
        tx.batch_execute(migration).await?;
    }
    let version = i32::try_from(MIGRATIONS.len()).expect("a few migrations");
    tx.execute("UPDATE schema_version SET version = $1", &[&version])
        .await?;
    tx.commit().await?;
    Ok(())
}
