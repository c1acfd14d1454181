//! Builds the agent from a configuration and a bound listener, the same way for
//! `main` and for the tests.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use container_info_wire::attestation::Secret;
use tokio::task::JoinHandle;

use crate::access::AccessPolicy;
use crate::config::Config;
use crate::engine::Engine;
use crate::engine::watch::Watcher;
use crate::inventory::Inventory;
use crate::lookup::Lookup;
use crate::metrics::Metrics;
use crate::redaction::LabelRedactor;
use crate::{report, routes, telemetry};

pub struct Application {
    port: u16,
    server: Server,
    background: Background,
}

/// The tasks that keep the inventory current; they end with the application.
struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

impl Application {
    /// Connects to the engine, reads every container once, starts following the
    /// engine, and serves on `listener`. Fails when the engine cannot be reached.
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let redactor =
            LabelRedactor::new(&config.redact_label).context("invalid --redact-label pattern")?;
        let policy = access_policy(&config)?;
        if let Some(hidden) = config
            .report_label
            .iter()
            .find(|label| redactor.is_redacted(&label.key))
        {
            anyhow::bail!(
                "--report-label {key}: --redact-label hides the label {key:?}, and the agent \
                 selects what to report by what a snapshot shows; drop one of the two",
                key = hidden.key
            );
        }
        let (engine, node) = connect(&config).await?;
        let metrics = Arc::new(Metrics::new().context("could not register the metrics")?);
        let (watcher, inventory, mut background) =
            watch(engine, node, redactor, metrics.clone()).await?;
        let port = listener
            .local_addr()
            .context("the listener has no local address")?
            .port();
        let signing_key = config
            .signing_key_file
            .as_deref()
            .map(Secret::read)
            .transpose()?;
        if signing_key.is_none() {
            tracing::warn!(
                "no --signing-key-file: snapshots go out unsigned, and a store that has a token refuses them"
            );
        }
        if !config.report_to.is_empty() {
            let outbox = config
                .outbox
                .as_deref()
                .context("--report-to needs --outbox")?;
            let settings = report::Settings {
                stores: &config.report_to,
                interval: config.report_interval,
                outbox,
                outbox_max_bytes: config.outbox_max_bytes,
                selection: report::Selection::new(&config.report_label),
            };
            background.0.extend(report::start(
                settings,
                inventory,
                signing_key.clone(),
                metrics.clone(),
            )?);
        }
        let lookup = Lookup::new(watcher, metrics.clone(), signing_key);
        let server = serve(listener, lookup, metrics, policy)?;
        Ok(Self {
            port,
            server,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, finishing the requests under way.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server, background, ..
        } = self;
        let served = server.await;
        drop(background);
        served
    }
}

/// The engine at `--docker-host`, and the node name to report: `--node-name`, or
/// the engine host's own.
async fn connect(config: &Config) -> anyhow::Result<(Engine, String)> {
    let engine = Engine::connect(&config.docker_host)
        .await
        .with_context(|| unreachable_engine(&config.docker_host))?;
    let node = match &config.node_name {
        Some(node) => node.clone(),
        None => engine
            .host_name()
            .await
            .context("could not learn the node name from the engine; set --node-name")?,
    };
    Ok((engine, node))
}

/// Reads every container once, then follows the engine's events and samples stats
/// in the background.
async fn watch(
    engine: Engine,
    node: String,
    redactor: LabelRedactor,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(Arc<Watcher>, Arc<Inventory>, Background)> {
    let docker_host = engine.host().to_owned();
    let inventory = Arc::new(Inventory::new(node));
    let (watcher, first_samples) = Watcher::new(engine, inventory.clone(), redactor, metrics);
    // A second back, because the event stream's `since` counts whole seconds.
    let since = Utc::now().timestamp() - 1;
    watcher
        .full_refresh()
        .await
        .with_context(|| unreachable_engine(&docker_host))?;
    let background = Background(vec![
        tokio::spawn(watcher.clone().supervise(since)),
        tokio::spawn(watcher.clone().sample_forever(first_samples)),
    ]);
    Ok((watcher, inventory, background))
}

/// The HTTP server on `listener`, not yet awaited.
fn serve(
    listener: TcpListener,
    lookup: Lookup,
    metrics: Arc<Metrics>,
    policy: AccessPolicy,
) -> anyhow::Result<Server> {
    let lookup = web::Data::new(lookup);
    let metrics = web::Data::from(metrics);
    let policy = web::Data::new(policy);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(telemetry::observe))
            .app_data(lookup.clone())
            .app_data(metrics.clone())
            .app_data(policy.clone())
            .configure(routes::configure)
    })
    .listen(listener)
    .context("could not serve on the listener")?
    .run();
    Ok(server)
}

/// Who may read `/containers`, from the token file and the flags; says at start what
/// a missing token means.
fn access_policy(config: &Config) -> anyhow::Result<AccessPolicy> {
    let token = config
        .token_file
        .as_deref()
        .map(Secret::read)
        .transpose()
        .context("cannot use --token-file")?;
    match (&token, config.trust_loopback) {
        (None, false) => tracing::warn!(
            "no --token-file: /containers is refused to every caller; /self works as always"
        ),
        (None, true) => tracing::warn!(
            "no --token-file and --trust-loopback: every loopback caller reads every \
             container through /containers, containers started with --network host included"
        ),
        (Some(_), true) => tracing::warn!(
            "--trust-loopback: loopback callers read /containers without the token, \
             containers started with --network host included"
        ),
        (Some(_), false) => {}
    }
    Ok(AccessPolicy::new(
        token,
        config.trust_loopback,
        config.allow_from.clone(),
    ))
}

fn unreachable_engine(docker_host: &str) -> String {
    format!(
        "cannot reach the Docker Engine at {docker_host}. Is dockerd running, and may this \
         user use its socket? Point --docker-host (or DOCKER_HOST) at the engine, \
         e.g. unix:///var/run/docker.sock"
    )
}
