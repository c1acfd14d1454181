//! The PostgreSQL backend: a server that replicas on any host share. Every
//! request is one transaction on a pooled connection; concurrent commits share
//! their WAL flushes (PostgreSQL's own group commit), so there is no writer
//! thread here. `synchronous_commit` is on for every connection: a commit has
//! returned only once its WAL is on disk, so a 2xx still means durable.
//!
//! The client is tokio-postgres with a deadpool pool rather than sqlx: the
//! store's SQL is built at run time (the list's filters), which sqlx's
//! compile-time checks cannot see and which would need a database at build
//! time; tokio-postgres exposes each error's SQLSTATE as a typed constant,
//! which is what sorting errors into `StorageError` needs; its TLS is a
//! separate crate, so it takes rustls (tls.rs) with no OpenSSL (deny.toml
//! bans it); and it is smaller to build. deadpool adds the pool's timeouts (waiting
//! for a connection, making one, checking one), so no request waits
//! unboundedly on a server that is away.
//!
//! Times that decide something across replicas (heartbeats, the lease, node
//! reports, a node's staleness) are read from the database's clock, never a
//! replica's: replicas run on hosts whose clocks differ.

mod error;
mod reads;
mod replicas;
mod schema;
mod tls;
mod writes;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::{
    Claimed, ContainerFilter, Fenced, Heartbeat, HistoryRange, LeaderWork, Listed, Lookup,
    NewSnapshot, NodeReportRow, NodeRow, RollCall, RowCounts, Storage, StorageError, Term,
    WriterMetrics,
};
use crate::config::PostgresUrl;

/// The longest any one storage call may take, connecting included: a server
/// that is away answers 503 within this, never a hang.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The server cancels a statement that runs longer (and the error is a 503).
const STATEMENT_TIMEOUT_MS: u64 = 4_000;
/// How long a call waits for a pooled connection, or for a new one to connect.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per replica: requests beyond these wait for one (POOL_TIMEOUT).
const CONNECTIONS: usize = 16;

/// The database's clock now, in milliseconds since the epoch. `clock_timestamp`
/// rather than `now()`, which is when the transaction began: a claim that
/// waited for the lease's row lock must see the time after the wait.
const CLOCK_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

pub(crate) struct PostgresStore {
    pool: Pool,
    history_limit: u32,
    metrics: WriterMetrics,
}

impl PostgresStore {
    /// Connects and migrates the schema; fails when the server cannot be
    /// reached now (an orchestrator restarts the replica).
    pub(crate) async fn open(
        url: &PostgresUrl,
        ca_file: Option<&Path>,
        history_limit: u32,
        metrics: WriterMetrics,
    ) -> Result<Self, StorageError> {
        let mut config = url.tokio_config().clone();
        let given = config.get_options().unwrap_or_default().to_owned();
        // Set after what the URL gives, so that the durability promise and the
        // bounds cannot be turned off by it.
        config.options(format!(
            "{given} -c synchronous_commit=on -c statement_timeout={STATEMENT_TIMEOUT_MS} \
             -c idle_in_transaction_session_timeout={STATEMENT_TIMEOUT_MS}"
        ));
        if config.get_application_name().is_none() {
            config.application_name("container-info-server");
        }
        // A server that vanished without closing the connection is found out.
        config.keepalives_idle(Duration::from_secs(10));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls::connector(config.get_ssl_mode(), ca_file)? {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(CONNECTIONS)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|error| StorageError::Database(Arc::new(error)))?;
        let store = Self {
            pool,
            history_limit,
            metrics,
        };
        store
            .bounded(schema::migrate(&store.pool))
            .await
            .map_err(tls::explain)?;
        Ok(store)
    }

    /// Runs `call` (which takes a pooled connection) within CALL_TIMEOUT
    /// altogether. A transaction cut short by the timeout is rolled back when
    /// dropped.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| {
                Err(StorageError::Unavailable(Arc::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("PostgreSQL did not answer within {CALL_TIMEOUT:?}"),
                ))))
            })
    }
}

#[async_trait]
impl Storage for PostgresStore {
    async fn write(&self, snapshots: Vec<NewSnapshot>) -> Result<Vec<String>, StorageError> {
        let limit = self.history_limit;
        let (bodies, new) = self
            .bounded(writes::write(&self.pool, &snapshots, limit))
            .await?;
        // Counted only once their commit stood. Each request is a commit of
        // its own here (PostgreSQL shares the flushes of concurrent ones).
        self.metrics.snapshots_written.inc_by(new);
        self.metrics.requests_per_commit.observe(1.0);
        Ok(bodies)
    }

    async fn delete(&self, id: String) -> Result<bool, StorageError> {
        self.bounded(writes::delete(&self.pool, &id)).await
    }

    async fn report_node(&self, report: NodeReportRow) -> Result<(), StorageError> {
        self.bounded(replicas::report_node(&self.pool, &report))
            .await
    }

    async fn list(
        &self,
        filter: ContainerFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.bounded(reads::list_latest(&self.pool, &filter, before_seq, limit))
            .await
    }

    async fn find(&self, prefix: &str) -> Result<Lookup, StorageError> {
        self.bounded(reads::find(&self.pool, prefix)).await
    }

    async fn history(
        &self,
        id: &str,
        range: &HistoryRange,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        self.bounded(reads::history(&self.pool, id, range, limit))
            .await
    }

    async fn nodes(&self, name: Option<&str>) -> Result<(Vec<NodeRow>, i64), StorageError> {
        self.bounded(replicas::nodes(&self.pool, name)).await
    }

    async fn row_counts(&self) -> Result<RowCounts, StorageError> {
        self.bounded(reads::row_counts(&self.pool)).await
    }

    async fn check_readable(&self) -> Result<(), StorageError> {
        self.bounded(async {
            let client = self.pool.get().await?;
            Ok(client.simple_query("SELECT 1").await.map(drop)?)
        })
        .await
    }

    /// A real write, committed: a full disk or a read-only server refuses it.
    async fn check_writable(&self) -> Result<(), StorageError> {
        self.bounded(async {
            self.pool
                .get()
                .await?
                .execute(
                    "INSERT INTO readiness (id, probed_at) VALUES (1, clock_timestamp())
                     ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
                    &[],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn heartbeat(&self, beat: Heartbeat) -> Result<(), StorageError> {
        self.bounded(replicas::heartbeat(&self.pool, &beat)).await
    }

    async fn leave(&self, id: String) -> Result<(), StorageError> {
        self.bounded(replicas::leave(&self.pool, &id)).await
    }

    async fn roll_call(&self) -> Result<RollCall, StorageError> {
        self.bounded(replicas::roll_call(&self.pool)).await
    }

    async fn claim(
        &self,
        id: String,
        held: Option<i64>,
        duration: Duration,
    ) -> Result<Option<Claimed>, StorageError> {
        let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.bounded(replicas::claim(&self.pool, &id, held, duration_ms))
            .await
    }

    async fn release(&self, term: Term) -> Result<(), StorageError> {
        self.bounded(replicas::release(&self.pool, &term)).await
    }

    async fn leader_work(&self, work: LeaderWork) -> Result<Fenced, StorageError> {
        let fenced = self
            .bounded(replicas::leader_work(&self.pool, &work))
            .await?;
        if fenced == Fenced::Refused {
            self.metrics.leader_writes_refused.inc();
            tracing::warn!(
                generation = work.term.generation,
                "leader-only work refused by the database: the lease has moved on or expired"
            );
        }
        Ok(fenced)
    }
}
