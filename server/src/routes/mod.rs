//! The HTTP routes. Each handler carries its OpenAPI description, and the
//! document is assembled from the handlers actually registered.

pub(crate) mod containers;
mod extract;
pub(crate) mod nodes;
pub(crate) mod operations;
pub(crate) mod page;
pub(crate) mod replicas;

use actix_web::{HttpRequest, web};
use chrono::{DateTime, Utc};
use container_info_wire::ErrorBody;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify};

use crate::error::ApiError;

/// Milliseconds since the epoch, as the database keeps times; a value out of
/// chrono's range (which no clock gives) reads as the epoch.
fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// How a route that reads or writes the database fails when the database does.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "responses for the OpenAPI document, never built")]
pub(crate) enum StorageFailures {
    #[response(status = 500, description = "The database failed")]
    Failed(ErrorBody),
    #[response(
        status = 503,
        description = "The database cannot be used now: busy, unreachable, or its disk full or read-only. Nothing was changed (unless a database server went away after a commit and before confirming it); try again after `Retry-After` seconds: writes are idempotent, so a retry is safe.",
        headers(("Retry-After" = u32, description = "Seconds to wait before trying again"))
    )]
    Unavailable(ErrorBody),
}

/// How a route that may need the store's token refuses a request without it:
/// writes, when the store has a token (`--token-file`); reads too, with
/// `--protect-reads`. Which requests need it is the store's setting, so the
/// document's `security` makes the token optional everywhere.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "responses for the OpenAPI document, never built")]
pub(crate) enum CredentialFailures {
    #[response(
        status = 401,
        description = "The store has a token and this request needs it: no `Authorization` header, one that is not `Bearer`, or the wrong token",
        headers(("WWW-Authenticate" = String, description = "The Bearer challenge (RFC 6750)"))
    )]
    Unauthorized(ErrorBody),
}

/// `Authorization: Bearer <token>`, the store's token, in the document.
pub(crate) struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, api: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The store's token (--token-file): needed to write what no agent signed, to delete, and with --protect-reads to read",
            ))
            .build();
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every path template of the API with its methods, read from the OpenAPI
/// document so that a 405 lists exactly what the routes accept. It also names
/// the route of a request for metrics: actix's own `match_pattern` runs the
/// router's regexes again on every request, which cost a sixth of the CPU of
/// a read.
pub(crate) struct RouteTable(Vec<Route>);

struct Route {
    template: String,
    segments: Vec<String>,
    methods: Vec<String>,
}

impl RouteTable {
    pub(crate) fn from_openapi(api: &OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let template = template.clone();
                let methods = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ]
                .into_iter()
                .filter(|(_, operation)| operation.is_some())
                .map(|(name, _)| name.to_owned())
                .collect();
                Route {
                    template,
                    segments,
                    methods,
                }
            })
            .collect();
        Self(routes)
    }

    fn find(&self, path: &str) -> Option<&Route> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.0.iter().find(|route| {
            route.segments.len() == wanted.len()
                && route.segments.iter().zip(&wanted).all(|(expected, given)| {
                    (expected.starts_with('{') && !given.is_empty()) || expected == given
                })
        })
    }

    /// The template of the route that serves `path`, such as `/containers/{id}`.
    pub(crate) fn template_of(&self, path: &str) -> Option<&str> {
        self.find(path).map(|route| route.template.as_str())
    }
}

/// Answers what no route took: 405 on a known path, 404 elsewhere.
pub(crate) async fn fallback(
    request: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    Err(match routes.find(&path) {
        Some(route) => ApiError::MethodNotAllowed {
            method,
            path,
            allowed: route.methods.clone(),
        },
        None => ApiError::NoSuchRoute { method, path },
    })
}
