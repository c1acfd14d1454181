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
use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::task::{JoinError, JoinHandle};
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

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
        let config_ssl_mode = config.get_ssl_mode();
        let manager = Manager::from_connect(
            config,
            ConnectOnStoreRuntime {
                runtime: Handle::current(),
                tls: tls::connector(config_ssl_mode, ca_file)?,
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
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
        bounded(schema::migrate(&store.pool))
            .await
            .map_err(tls::explain)?;
        Ok(store)
    }
}

/// Connects as deadpool's own `ConfigConnectImpl` does, but on the runtime
/// that opened the store rather than the caller's. A connection first made for
/// a request would otherwise have its socket and its task on that HTTP
/// worker's runtime, which actix-web stops at shutdown while other workers
/// still finish their requests on the pooled connection: an in-flight write
/// then failed with "connection closed".
struct ConnectOnStoreRuntime {
    runtime: Handle,
    /// TLS as the URL's `sslmode` asks (see `tls`); none for `disable`.
    tls: Option<MakeRustlsConnect>,
}

impl Connect for ConnectOnStoreRuntime {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let config = config.clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            // Connected, and the connection driven, from a task of the store's
            // runtime, so that both live there.
            let connecting = self.runtime.spawn(async move {
                match tls {
                    Some(tls) => config.connect(tls).await.map(drive),
                    None => config.connect(NoTls).await.map(drive),
                }
            });
            joined(connecting.await)
        })
    }
}

/// Runs a connection on the current runtime until it closes; its client is
/// the pool's to use.
fn drive<S, T>(
    (client, connection): (tokio_postgres::Client, tokio_postgres::Connection<S, T>),
) -> (tokio_postgres::Client, JoinHandle<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let task = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "a PostgreSQL connection failed");
        }
    });
    (client, task)
}

/// What a task of the store's runtime returned. It ends otherwise only by
/// panicking, passed on here, or by that runtime shutting down, which ends
/// the process.
fn joined<T>(result: Result<T, JoinError>) -> T {
    result.unwrap_or_else(|error| match error.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(error) => panic!("the store's runtime stopped: {error}"),
    })
}

/// Runs `call` (which takes a pooled connection) within CALL_TIMEOUT
/// altogether. A transaction cut short by the timeout is rolled back when
/// dropped.
async fn bounded<T>(
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

#[async_trait]
impl Storage for PostgresStore {
    async fn write(&self, snapshots: Vec<NewSnapshot>) -> Result<Vec<String>, StorageError> {
        let limit = self.history_limit;
        let (bodies, new) = bounded(writes::write(&self.pool, &snapshots, limit)).await?;
        // Counted only once their commit stood. Each request is a commit of
        // its own here (PostgreSQL shares the flushes of concurrent ones).
        self.metrics.snapshots_written.inc_by(new);
        self.metrics.requests_per_commit.observe(1.0);
        Ok(bodies)
    }

    async fn delete(&self, id: String) -> Result<bool, StorageError> {
        bounded(writes::delete(&self.pool, &id)).await
    }

    async fn report_node(&self, report: NodeReportRow) -> Result<(), StorageError> {
        bounded(replicas::report_node(&self.pool, &report)).await
    }

    async fn list(
        &self,
        filter: ContainerFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        bounded(reads::list_latest(&self.pool, &filter, before_seq, limit)).await
    }

    async fn find(&self, prefix: &str) -> Result<Lookup, StorageError> {
        bounded(reads::find(&self.pool, prefix)).await
    }

    async fn history(
        &self,
        id: &str,
        range: &HistoryRange,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        bounded(reads::history(&self.pool, id, range, limit)).await
    }

    async fn nodes(&self, name: Option<&str>) -> Result<(Vec<NodeRow>, i64), StorageError> {
        bounded(replicas::nodes(&self.pool, name)).await
    }

    async fn row_counts(&self) -> Result<RowCounts, StorageError> {
        bounded(reads::row_counts(&self.pool)).await
    }

    async fn check_readable(&self) -> Result<(), StorageError> {
        bounded(async {
            let client = self.pool.get().await?;
            Ok(client.simple_query("SELECT 1").await.map(drop)?)
        })
        .await
    }

    /// A real write, committed: a full disk or a read-only server refuses it.
    async fn check_writable(&self) -> Result<(), StorageError> {
        bounded(async {
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
        bounded(replicas::heartbeat(&self.pool, &beat)).await
    }

    async fn leave(&self, id: String) -> Result<(), StorageError> {
        bounded(replicas::leave(&self.pool, &id)).await
    }

    async fn roll_call(&self) -> Result<RollCall, StorageError> {
        bounded(replicas::roll_call(&self.pool)).await
    }

    async fn claim(
        &self,
        id: String,
        held: Option<i64>,
        duration: Duration,
    ) -> Result<Option<Claimed>, StorageError> {
        let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        bounded(replicas::claim(&self.pool, &id, held, duration_ms)).await
    }

    async fn release(&self, term: Term) -> Result<(), StorageError> {
        bounded(replicas::release(&self.pool, &term)).await
    }

    /// Runs as a task of its own: a leader that stops waiting for it (its
    /// lease ran out meanwhile) does not cancel it, so the work still reaches
    /// the database, which refuses it by its clock and the refusal is counted
    /// and logged, as SQLite's queued write is.
    async fn leader_work(&self, work: LeaderWork) -> Result<Fenced, StorageError> {
        let pool = self.pool.clone();
        let refused = self.metrics.leader_writes_refused.clone();
        let task = tokio::spawn(async move {
            let fenced = bounded(replicas::leader_work(&pool, &work)).await?;
            if fenced == Fenced::Refused {
                refused.inc();
                tracing::warn!(
                    generation = work.term.generation,
                    "leader-only work refused by the database: the lease has moved on or expired"
                );
            }
            Ok(fenced)
        });
        joined(task.await)
    }
}
