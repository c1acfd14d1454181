//! What operators and orchestrators ask: is it up, is it ready, how is it doing,
//! what is the API.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, get, web};
use container_info_wire::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;

use super::StorageFailures;
use super::containers::Replica;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::storage::Storage;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` from /healthz, `ready` from /readyz.
    pub status: &'static str,
    pub replica: String,
}

/// The OpenAPI document, rendered once at start.
pub(crate) struct ApiDocument(pub String);

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/healthz")]
pub(crate) async fn healthz(replica: web::Data<Replica>) -> web::Json<Health> {
    web::Json(Health {
        status: "ok",
        replica: replica.0.clone(),
    })
}

#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The database can be read and written now", body = Health),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "The database cannot be used now: busy, unreachable, or its disk full or read-only",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait before asking again"))),
    )
)]
#[get("/readyz")]
pub(crate) async fn readyz(
    store: web::Data<dyn Storage>,
    replica: web::Data<Replica>,
) -> Result<web::Json<Health>, ApiError> {
    store.check_readable().await?;
    store.check_writable().await?;
    Ok(web::Json(Health {
        status: "ready",
        replica: replica.0.clone(),
    }))
}

#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        StorageFailures,
    )
)]
#[get("/metrics")]
pub(crate) async fn metrics(
    store: web::Data<dyn Storage>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let rows = store.row_counts().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(rows)))
}

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "This document: OpenAPI 3 for every route", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub(crate) async fn openapi(document: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.0.clone())
}
