//! The HTTP surface: `/self` for any container, `/containers` for trusted callers,
//! and the operations endpoints.

mod containers;
mod operations;
mod whoami;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AgentError;

pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/self", web::get().to(whoami::get_self))
        .route("/containers", web::get().to(containers::list))
        .route("/containers/{id}", web::get().to(containers::get))
        .route("/healthz", web::get().to(operations::healthz))
        .route("/readyz", web::get().to(operations::readyz))
        .route("/metrics", web::get().to(operations::metrics))
        .default_service(web::to(no_such_route));
}

async fn no_such_route(request: HttpRequest) -> Result<HttpResponse, AgentError> {
    Err(AgentError::NoSuchRoute(request.path().to_owned()))
}
