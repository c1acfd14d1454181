use actix_web::{HttpRequest, web};
use container_info_wire::Snapshot;

use crate::error::AgentError;
use crate::lookup::Lookup;
use crate::peer::peer_ip;

/// The calling container's own snapshot. The caller is known by the address its
/// connection comes from; nothing the caller says about itself is trusted.
pub(crate) async fn get_self(
    request: HttpRequest,
    lookup: web::Data<Lookup>,
) -> Result<web::Json<Snapshot>, AgentError> {
    let ip = peer_ip(&request)?;
    lookup.caller(ip).await.map(web::Json)
}
