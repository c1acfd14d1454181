use actix_web::{HttpRequest, web};
use container_info_wire::Snapshot;

use crate::error::AgentError;
use crate::lookup::Lookup;
use crate::peer::peer_ip;

/// Headers a proxy adds: a request through one is refused.
const PROXY_HEADERS: [&str; 2] = ["x-forwarded-for", "forwarded"];

/// The calling container's own snapshot. The caller is known by the address its
/// connection comes from; nothing the caller says about itself is trusted.
pub(crate) async fn get_self(
    request: HttpRequest,
    lookup: web::Data<Lookup>,
) -> Result<web::Json<Snapshot>, AgentError> {
    if let Some(header) = PROXY_HEADERS
        .into_iter()
        .find(|name| request.headers().contains_key(*name))
    {
        return Err(AgentError::Proxied { header });
    }
    let ip = peer_ip(&request)?;
    lookup.caller(ip).await.map(web::Json)
}
