use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::engine::watch::Watcher;
use crate::error::AgentError;
use crate::inventory::EngineHealth;
use crate::metrics::Metrics;

/// The process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The engine answers and the agent's picture of it is current.
pub async fn readyz(watcher: web::Data<Watcher>) -> Result<HttpResponse, AgentError> {
    watcher.ready()?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}

pub async fn metrics(
    watcher: web::Data<Watcher>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AgentError> {
    let inventory = watcher.inventory();
    metrics
        .engine_up
        .set(i64::from(inventory.engine_health() == EngineHealth::Up));
    metrics
        .containers
        .set(i64::try_from(inventory.container_count()).unwrap_or(i64::MAX));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render()?))
}
