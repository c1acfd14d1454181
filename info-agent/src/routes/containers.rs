use actix_web::{HttpRequest, web};
use container_info_wire::{Page, Snapshot};

use crate::access::AccessPolicy;
use crate::error::AgentError;
use crate::lookup::Lookup;

/// Every container on this host, in one page: a host holds few enough.
pub(crate) async fn list(
    request: HttpRequest,
    policy: web::Data<AccessPolicy>,
    lookup: web::Data<Lookup>,
) -> Result<web::Json<Page<Snapshot>>, AgentError> {
    policy.check(&request)?;
    Ok(web::Json(Page {
        items: lookup.containers()?,
        next_cursor: None,
    }))
}

/// One container, by full ID, unique ID prefix, or name.
pub(crate) async fn get(
    request: HttpRequest,
    policy: web::Data<AccessPolicy>,
    lookup: web::Data<Lookup>,
    id: web::Path<String>,
) -> Result<web::Json<Snapshot>, AgentError> {
    policy.check(&request)?;
    lookup.container(&id).await.map(web::Json)
}
