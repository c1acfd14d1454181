//! Logs and request metrics.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use tracing_subscriber::EnvFilter;

use crate::metrics::Metrics;
use crate::routes::RouteTable;

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// One log line and one metrics sample per request, with status and latency.
pub(crate) async fn observe_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = request
        .app_data::<web::Data<RouteTable>>()
        .and_then(|routes| routes.template_of(request.path()))
        .unwrap_or("unmatched")
        .to_owned();
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let peer = request.peer_addr().map(|addr| addr.ip().to_string());
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(request).await?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Some(metrics) = metrics {
        metrics.observe_request(&route, &method, status, elapsed.as_secs_f64());
    }
    tracing::info!(
        %method,
        %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        peer = peer.as_deref().unwrap_or("-"),
        "request"
    );
    Ok(response)
}
