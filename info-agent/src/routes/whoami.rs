use actix_web::{HttpRequest, web};
use container_info_wire::Snapshot;

use crate::error::AgentError;
use crate::lookup::Lookup;
use crate::peer::{is_this_host, peer_ip};

/// Headers a proxy adds: a request through one is refused.
const PROXY_HEADERS: [&str; 2] = ["x-forwarded-for", "forwarded"];

/// The calling container's own snapshot. The caller is known by the address its
/// connection comes from; nothing the caller says about itself is trusted. A caller
/// on the host's own addresses is refused before the engine is asked anything: it is
/// the host or a container started with `--network host`, and no container's record
/// is its own.
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
    // Asking the kernel whether an address is the host's costs a few system calls,
    // a good part of an answer's time: an address a container holds is not the
    // host's, and skips the question.
    if lookup.inventory().owners(ip).is_empty() && is_this_host(ip) {
        return Err(AgentError::HostCaller(ip));
    }
    lookup.caller(ip).await.map(web::Json)
}
