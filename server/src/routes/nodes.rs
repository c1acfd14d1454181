//! `/nodes`: the nodes whose agents report (fleet mode). Each agent posts a
//! signed report at start and once per interval; a node is `stale` after three
//! intervals without one, as computed when it is read.

use actix_web::{HttpResponse, get, post, web};
use container_info_wire::ErrorBody;
use container_info_wire::nodes::{Node, NodeReport, NodeStatus, Nodes};
use serde::Deserialize;
use utoipa::{IntoParams, IntoResponses};

use super::{CredentialFailures, StorageFailures, from_ms};
use crate::error::ApiError;
use crate::ingest::{PostedNode, Receipt};
use crate::query::NodesQuery;
use crate::storage::{NodeRow, Storage};
use crate::trust::{Credential, Reader, Trust};

#[utoipa::path(
    tag = "nodes",
    request_body(content = NodeReport, content_type = "application/json"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Taken and on disk: the node as the store now knows it. A report no later than the last one taken (by `reported_at`) is a replay: it changes nothing and is answered the same way.", body = Node),
        (status = 400, description = "The body is not JSON, or could not be read", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not application/json", body = ErrorBody),
        (status = 422, description = "The report is invalid; `detail.path` says where. Nothing was changed.", body = ErrorBody),
        CredentialFailures,
        (status = 403, description = "The report's attestation does not match what it says. Nothing was changed.", body = ErrorBody),
        StorageFailures,
    )
)]
#[post("/nodes")]
pub(crate) async fn report_node(
    credential: Credential,
    posted: PostedNode,
    receipt: Receipt,
    trust: web::Data<Trust>,
    store: web::Data<dyn Storage>,
) -> Result<web::Json<Node>, ApiError> {
    let PostedNode(report) = posted;
    let attested = trust.attest_node(&report, credential)?;
    store
        .report_node(receipt.node_row(&report, attested))
        .await?;
    Ok(web::Json(one(store.get_ref(), &report.node).await?))
}

#[utoipa::path(
    tag = "nodes",
    params(NodesParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Every node whose agent has reported, by name", body = Nodes),
        (status = 400, description = "A query parameter is invalid, unknown, or given twice; `detail.parameter` names it", body = ErrorBody),
        CredentialFailures,
        StorageFailures,
    )
)]
#[get("/nodes")]
pub(crate) async fn list_nodes(
    _: Reader,
    query: web::Query<Vec<(String, String)>>,
    store: web::Data<dyn Storage>,
) -> Result<web::Json<Nodes>, ApiError> {
    let query = NodesQuery::parse(query.into_inner())?;
    Ok(web::Json(Nodes {
        items: nodes(store.get_ref(), None, query.status).await?,
    }))
}

/// The query of `GET /nodes`, for the OpenAPI document; read by `NodesQuery`.
#[expect(dead_code, reason = "parameters for the OpenAPI document, never built")]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NodesParams {
    /// Only nodes with this status.
    status: Option<NodeStatus>,
}

/// The `{name}` of `GET /nodes/{name}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct NodePath {
    /// The node's host name, as its agent reports it.
    name: String,
}

#[derive(IntoResponses)]
#[expect(dead_code, reason = "responses for the OpenAPI document, never built")]
enum NodeMissing {
    #[response(status = 404, description = "No node of that name has reported")]
    NotFound(ErrorBody),
}

#[utoipa::path(
    tag = "nodes",
    params(NodePath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The node", body = Node),
        NodeMissing,
        CredentialFailures,
        StorageFailures,
    )
)]
#[get("/nodes/{name}")]
pub(crate) async fn get_node(
    _: Reader,
    path: web::Path<NodePath>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(one(store.get_ref(), &path.name).await?))
}

async fn one(store: &dyn Storage, name: &str) -> Result<Node, ApiError> {
    // No node's name holds a NUL character (its report would be refused),
    // and PostgreSQL cannot compare text with one.
    if name.contains('\0') {
        return Err(ApiError::NoSuchNode(name.to_owned()));
    }
    nodes(store, Some(name), None)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NoSuchNode(name.to_owned()))
}

/// The nodes as `GET /nodes` answers them; the status page shows the same.
pub(crate) async fn nodes(
    store: &dyn Storage,
    name: Option<&str>,
    status: Option<NodeStatus>,
) -> Result<Vec<Node>, ApiError> {
    let (rows, now) = store.nodes(name).await?;
    Ok(rows
        .into_iter()
        .map(|row| node(row, now))
        .filter(|node| status.is_none_or(|status| node.status == status))
        .collect())
}

fn node(row: NodeRow, now: i64) -> Node {
    let stale_at = row.stale_at_ms();
    Node {
        status: if now >= stale_at {
            NodeStatus::Stale
        } else {
            NodeStatus::Up
        },
        agent_version: row.agent_version,
        first_report_at: from_ms(row.first_report_ms),
        last_report_at: from_ms(row.last_report_ms),
        stale_at: from_ms(stale_at),
        report_interval_ms: u64::try_from(row.interval_ms).unwrap_or(0),
        reported_from: row.reported_from,
        attested: row.attested,
        containers: u64::try_from(row.containers).unwrap_or(0),
        name: row.name,
    }
}
