//! Logs: where they go, and one line per request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use tracing_subscriber::EnvFilter;

use crate::metrics::Metrics;

/// Logs to stderr at `default_level`, or as `RUST_LOG` says.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Tests start many agents in one process; only the first may install the subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One log line and one metrics observation per request, with status and latency.
pub(crate) async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.path().to_owned();
    let peer = request.peer_addr();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let response = next.call(request).await?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    // The route pattern, not the path, so that IDs do not each make a new series.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = metrics {
        metrics
            .requests
            .with_label_values(&[route.as_str(), &status.to_string()])
            .inc();
        metrics
            .request_seconds
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        %method,
        path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        peer = ?peer,
        "request"
    );
    Ok(response)
}
