//! Builds the store from a configuration: the listener, the database, the app.
//! `main` and the tests start it the same way.

use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::{Context, anyhow};
use container_info_wire::REPLICA_HEADER;
use container_info_wire::attestation::Secret;
use socket2::{Domain, Protocol, Socket, Type};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::config::{Config, Database};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::replicas::{Membership, RoleMetrics, advertised_addresses};
use crate::routes::containers::{self, Replica};
use crate::routes::operations::{self, ApiDocument};
use crate::routes::{BearerToken, RouteTable, fallback, nodes, page, replicas};
use crate::storage::postgres::PostgresStore;
use crate::storage::sqlite::SqliteStore;
use crate::storage::{Heartbeat, Storage, WriterMetrics, now_ms};
use crate::telemetry::observe_requests;
use crate::trust::Trust;

/// Swarm waits this long after SIGTERM by default; in-flight requests finish within it.
const SHUTDOWN_GRACE_SECONDS: u64 = 10;

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerToken),
    info(
        title = "container-info store",
        description = "Container snapshots posted by container-info clients, kept in one database (a SQLite file or PostgreSQL) shared by every replica. Every answer names its replica in the X-Replica header; errors are JSON `{\"error\": ..., \"detail\": ...}`."
    ),
    tags(
        (name = "containers", description = "Snapshots of containers: the latest of each, and their history"),
        (name = "nodes", description = "The nodes whose agents report their containers (fleet mode), up or stale"),
        (name = "replicas", description = "The store's replicas, and which one leads"),
        (name = "operations", description = "Health, readiness, metrics, this document, and the status page"),
    )
)]
struct ApiDoc;

pub struct Application {
    address: SocketAddr,
    server: Server,
    /// SQLite's writer thread; PostgreSQL has none.
    writer: Option<JoinHandle<()>>,
    /// The heartbeats and the lease, which hold the store: they end first.
    membership: tokio::task::JoinHandle<()>,
    stop_membership: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Listens, opens the database, and starts serving; with a ready file, says
    /// where it listens once it does.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = bind(config.listen, config.reuse_port)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let replica = config.replica_id();
        let replica_header = HeaderValue::from_str(&replica).map_err(|_| {
            anyhow!("the replica id {replica:?} must be printable ASCII (it is sent as a header)")
        })?;
        let trust = read_trust(&config)?;
        let metrics = Metrics::new()?;
        let (store, writer) = open_store(&config, &metrics).await?;
        let beat = Heartbeat {
            id: replica.clone(),
            addresses: advertised_addresses(config.advertise_address.as_deref(), address),
            listen: address.to_string(),
            port_shared: config.reuse_port,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at_ms: now_ms(),
        };
        tracing::info!(
            %replica,
            %address,
            advertised = ?beat.addresses,
            lease = ?config.lease,
            database = %config.database,
            history_limit = config.history_limit,
            protect_reads = trust.protect_reads,
            signing_key = trust.signing_key.is_some(),
            "container-info store started"
        );
        if trust.token.is_none() {
            tracing::warn!(
                "NO TOKEN: anyone who reaches {address} can write and delete; start with --token-file"
            );
        }
        let role_metrics = RoleMetrics {
            leader: metrics.leader.clone(),
            role_changes: metrics.role_changes.clone(),
            heartbeat_failures: metrics.heartbeat_failures.clone(),
        };
        let membership = Membership::new(
            &config,
            store.clone(),
            beat,
            role_metrics,
            metrics.role_scripts.clone(),
        );
        let (stop_membership, stopped) = tokio::sync::watch::channel(false);
        let membership = tokio::spawn(membership.run(stopped));
        let shared = Shared {
            store: web::Data::from(store),
            replica: web::Data::new(Replica(replica)),
            metrics: web::Data::new(metrics),
            trust: web::Data::new(trust),
            replica_header,
        };
        let server = HttpServer::new(move || app(shared.clone()))
            .listen(listener)?
            .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
            .run();
        if let Some(path) = &config.ready_file {
            write_ready_file(path, address)?;
        }
        Ok(Self {
            address,
            server,
            writer,
            membership,
            stop_membership,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGTERM or SIGINT, then finishes in-flight requests, leaves
    /// the roll call (giving up the lease), lets the writer commit what it
    /// holds, and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        // Nobody listens any more only if the task already ended; then it is done.
        let _ = self.stop_membership.send(true);
        self.membership.await?;
        if let Some(writer) = self.writer {
            tokio::task::spawn_blocking(move || writer.join())
                .await?
                .map_err(|_| anyhow!("the database writer thread panicked"))?;
        }
        tracing::info!("container-info store stopped");
        Ok(())
    }
}

/// What every HTTP worker's app is given.
#[derive(Clone)]
struct Shared {
    store: web::Data<dyn Storage>,
    replica: web::Data<Replica>,
    metrics: web::Data<Metrics>,
    trust: web::Data<Trust>,
    replica_header: HeaderValue,
}

fn read_trust(config: &Config) -> anyhow::Result<Trust> {
    let read = |path: &Option<PathBuf>| path.as_deref().map(Secret::read).transpose();
    Ok(Trust {
        token: read(&config.token_file)?,
        signing_key: read(&config.signing_key_file)?,
        protect_reads: config.protect_reads,
    })
}

/// Opens the backend the configuration names; SQLite's comes with its writer
/// thread, which ends once the store is dropped.
async fn open_store(
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<(Arc<dyn Storage>, Option<JoinHandle<()>>)> {
    let writer_metrics = WriterMetrics {
        requests_per_commit: metrics.requests_per_commit.clone(),
        snapshots_written: metrics.snapshots_written.clone(),
        leader_writes_refused: metrics.leader_writes_refused.clone(),
    };
    let context = || format!("cannot open the database {}", config.database);
    Ok(match &config.database {
        Database::Sqlite(path) => {
            if config.database_ca_file.is_some() {
                anyhow::bail!(
                    "--database-ca-file is for a PostgreSQL database reached over TLS, and the \
                     database is a SQLite file"
                );
            }
            if config.database_password_file.is_some() {
                anyhow::bail!(
                    "--database-password-file is for a PostgreSQL database, and the database is \
                     a SQLite file"
                );
            }
            metrics.register_sqlite()?;
            let (store, writer) = SqliteStore::open(path, config.history_limit, writer_metrics)
                .with_context(context)?;
            (Arc::new(store), Some(writer))
        }
        Database::Postgres(url) => {
            let url = match &config.database_password_file {
                Some(path) => url
                    .with_password_file(path)
                    .map_err(|error| anyhow!(error))?,
                None => url.clone(),
            };
            let store = PostgresStore::open(
                &url,
                config.database_ca_file.as_deref(),
                config.history_limit,
                writer_metrics,
            )
            .await
            .with_context(context)?;
            (Arc::new(store), None)
        }
    })
}

/// One HTTP worker's app: the routes, with the OpenAPI document assembled from
/// the handlers registered here.
fn app(
    shared: Shared,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(shared.store)
        .app_data(shared.replica)
        .app_data(shared.metrics)
        .app_data(shared.trust)
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            ApiError::BadParameter {
                parameter: "query string".to_owned(),
                message: error.to_string(),
            }
            .into()
        }))
        .service(containers::post_containers)
        .service(containers::list_containers)
        .service(containers::get_container)
        .service(containers::container_history)
        .service(containers::delete_container)
        .service(nodes::report_node)
        .service(nodes::list_nodes)
        .service(nodes::get_node)
        .service(replicas::list_replicas)
        .service(operations::healthz)
        .service(operations::readyz)
        .service(operations::metrics)
        .service(operations::openapi)
        .service(page::status_page)
        .service(page::asset)
        .split_for_parts();
    let document = api.to_json().expect("the OpenAPI document serializes");
    app.app_data(web::Data::new(RouteTable::from_openapi(&api)))
        .app_data(web::Data::new(ApiDocument(document)))
        .default_service(web::to(fallback))
        .wrap(from_fn(observe_requests))
        .wrap(DefaultHeaders::new().add((REPLICA_HEADER, shared.replica_header)))
}

/// Writes the bound address as one line, first beside `path` and then renamed
/// onto it, so that a program waiting for the file never reads half of it.
fn write_ready_file(path: &Path, address: SocketAddr) -> anyhow::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, format!("{address}\n"))
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("cannot write the ready file {}", path.display()))
}

/// Binds the listening socket: dual stack for `[::]`, falling back to IPv4 on
/// hosts without IPv6, and SO_REUSEPORT when replicas share the port.
fn bind(address: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = match Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    ) {
        Err(error) if address.ip() == Ipv6Addr::UNSPECIFIED => {
            tracing::warn!(%error, "no IPv6 on this host; listening on IPv4 only");
            return bind(SocketAddr::from(([0, 0, 0, 0], address.port())), reuse_port);
        }
        result => result?,
    };
    if address.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
