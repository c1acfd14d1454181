use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AgentError;
use crate::inventory::EngineHealth;
use crate::lookup::Lookup;
use crate::metrics::Metrics;

/// The process is up and serving.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The engine answers and the agent's picture of it is current.
pub(crate) async fn readyz(lookup: web::Data<Lookup>) -> Result<HttpResponse, AgentError> {
    lookup.ready()?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}

pub(crate) async fn metrics(
    lookup: web::Data<Lookup>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AgentError> {
    let inventory = lookup.inventory();
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
