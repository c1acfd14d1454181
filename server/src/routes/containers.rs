//! `/containers`: post snapshots, list the latest of each container, read one,
//! read its history, delete it.

use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpResponse, delete, get, post};
use chrono::{DateTime, Utc};
use container_info_wire::nodes::NodeStatus;
use container_info_wire::{ContainerState, ErrorBody, Page, Snapshot, StoredSnapshot};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::{CredentialFailures, StorageFailures};
use crate::error::ApiError;
use crate::ingest::{Posted, Receipt};
use crate::query::{HistoryQuery, ListQuery, page_of, parse_id_prefix};
use crate::storage::{Listed, Lookup, Storage};
use crate::trust::{Credential, Reader, Trust};

/// The name of this replica, as it answers in `X-Replica` and `received_by`.
pub(crate) struct Replica(pub String);

/// The body of `POST /containers`: one snapshot, or an array stored all or nothing.
/// Only its schema is used, in the OpenAPI document; the body itself is parsed
/// by `Posted`, which can say where a snapshot is wrong.
#[expect(dead_code, reason = "a schema for the OpenAPI document, never built")]
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PostedSnapshots {
    One(Box<Snapshot>),
    Many(SnapshotBatch),
}

/// Snapshots stored all or nothing; an empty array is refused.
#[expect(dead_code, reason = "a schema for the OpenAPI document, never built")]
#[derive(Deserialize, ToSchema)]
#[schema(min_items = 1)]
pub(crate) struct SnapshotBatch(Vec<Snapshot>);

/// What `POST /containers` answers: the stored record, or an array of them in
/// the order posted when an array was posted.
#[expect(dead_code, reason = "a schema for the OpenAPI document, never built")]
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum StoredRecords {
    One(Box<StoredSnapshot>),
    Many(Vec<StoredSnapshot>),
}

#[utoipa::path(
    tag = "containers",
    request_body(content = PostedSnapshots, content_type = "application/json"),
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Stored and on disk: the stored record, or an array of them when an array was posted. A snapshot already stored (same id and observed_at) is not stored twice: the first record is returned, so retries are safe.", body = StoredRecords,
         headers(("Location" = String, description = "Where a single posted snapshot's container can be read; absent when an array was posted"))),
        (status = 400, description = "The body is not JSON, or could not be read", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not application/json", body = ErrorBody),
        (status = 422, description = "A snapshot is invalid, the body is neither a snapshot nor an array of them, or the array is empty; `detail.path` says where. Nothing was stored.", body = ErrorBody),
        CredentialFailures,
        (status = 403, description = "A snapshot's attestation does not match what it says; `detail.path` says which. Nothing was stored.", body = ErrorBody),
        StorageFailures,
    )
)]
#[post("/containers")]
pub(crate) async fn post_containers(
    credential: Credential,
    posted: Posted,
    receipt: Receipt,
    trust: web::Data<Trust>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    let attested = trust.attest(&posted, credential)?;
    let records = posted
        .snapshots
        .into_iter()
        .zip(attested)
        .map(|(snapshot, attested_by)| receipt.record(snapshot, attested_by))
        .collect::<Vec<_>>();
    let location = (!posted.as_array).then(|| format!("/containers/{}", records[0].id));
    let mut stored = store.write(records).await?;
    let mut response = HttpResponse::Created();
    Ok(match location {
        Some(location) => response
            .insert_header((header::LOCATION, location))
            .content_type(header::ContentType::json())
            .body(stored.remove(0)),
        // The stored records are JSON already, written by this store: joined
        // as they are, not parsed again.
        None => response
            .content_type(header::ContentType::json())
            .body(format!("[{}]", stored.join(","))),
    })
}

#[utoipa::path(
    tag = "containers",
    params(ListParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The latest record of each container, most recently updated first", body = Page<StoredSnapshot>),
        (status = 400, description = "A query parameter is invalid, unknown, or given twice; `detail.parameter` names it", body = ErrorBody),
        CredentialFailures,
        StorageFailures,
    )
)]
#[get("/containers")]
pub(crate) async fn list_containers(
    _: Reader,
    query: web::Query<Vec<(String, String)>>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(query.into_inner())?;
    let rows = store
        .list(query.filter, query.before_seq, query.limit + 1)
        .await?;
    Ok(page_response(rows, query.limit, false))
}

/// The query of `GET /containers`, for the OpenAPI document. The handler
/// reads the pairs itself (`ListQuery`), and refuses what this cannot say:
/// a parameter it does not know, or one given twice (`label` aside).
#[expect(dead_code, reason = "parameters for the OpenAPI document, never built")]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only containers on this node.
    #[param(pattern = "^[^\\u0000]*$")]
    node: Option<String>,
    /// Only containers created from this image reference.
    #[param(pattern = "^[^\\u0000]*$")]
    image: Option<String>,
    /// Only containers in this state. Without it, every state but `removed`:
    /// a container its agent saw removed leaves the list (its history stays).
    state: Option<ContainerState>,
    /// Only containers whose name contains this text.
    #[param(pattern = "^[^\\u0000]*$")]
    name: Option<String>,
    /// Only containers that have this label with this value; repeat for
    /// several, all must match.
    #[param(inline)]
    label: Option<Vec<LabelFilter>>,
    /// Only the tasks of this Swarm service.
    #[param(pattern = "^[^\\u0000]*$")]
    service: Option<String>,
    /// Only the containers of this stack.
    #[param(pattern = "^[^\\u0000]*$")]
    stack: Option<String>,
    /// Only containers whose node's agent is `up`, or `stale`; containers of
    /// nodes no agent reports have neither.
    node_status: Option<NodeStatus>,
    /// Items per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^l[0-9]+$")]
    cursor: Option<String>,
}

/// `key=value`: the label's key, up to the first `=`, and its value.
#[expect(dead_code, reason = "a schema for the OpenAPI document, never built")]
#[derive(ToSchema)]
#[schema(
    pattern = "^[^=\\u0000]*=[^\\u0000]*$",
    example = "com.docker.swarm.service.name=web"
)]
pub(crate) struct LabelFilter(String);

/// The query of `GET /containers/{id}/history`, for the OpenAPI document; read
/// by `HistoryQuery`, which refuses unknown and repeated parameters too.
#[expect(dead_code, reason = "parameters for the OpenAPI document, never built")]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Only snapshots observed at or after this time.
    since: Option<DateTime<Utc>>,
    /// Only snapshots observed before this time; one at or before `since`
    /// gives an empty page.
    until: Option<DateTime<Utc>>,
    /// Items per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^h[0-9]+_[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$"
    )]
    cursor: Option<String>,
}

/// The `{id}` of the routes of one container.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ContainerPath {
    /// The full container ID, or a unique prefix of at least 4 hex digits.
    #[param(pattern = "^[0-9a-fA-F]{4,64}$")]
    id: String,
}

/// How a route of one container fails to find it.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "responses for the OpenAPI document, never built")]
enum LookupFailures {
    #[response(
        status = 400,
        description = "Not an ID or prefix, or a parameter is invalid"
    )]
    BadRequest(ErrorBody),
    #[response(status = 404, description = "No such container")]
    NotFound(ErrorBody),
    #[response(
        status = 409,
        description = "The prefix matches several containers; `detail.candidates` lists them"
    )]
    Ambiguous(ErrorBody),
}

#[utoipa::path(
    tag = "containers",
    params(ContainerPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The container's latest record", body = StoredSnapshot),
        LookupFailures,
        CredentialFailures,
        StorageFailures,
    )
)]
#[get("/containers/{id}")]
pub(crate) async fn get_container(
    _: Reader,
    path: web::Path<ContainerPath>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    let (_, body) = find(store.get_ref(), &path.id).await?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body))
}

#[utoipa::path(
    tag = "containers",
    params(ContainerPath, HistoryParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The container's snapshots, newest observed first", body = Page<StoredSnapshot>),
        LookupFailures,
        CredentialFailures,
        StorageFailures,
    )
)]
#[get("/containers/{id}/history")]
pub(crate) async fn container_history(
    _: Reader,
    path: web::Path<ContainerPath>,
    query: web::Query<Vec<(String, String)>>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    let query = HistoryQuery::parse(query.into_inner())?;
    let (id, _) = find(store.get_ref(), &path.id).await?;
    let rows = store.history(&id, &query.range, query.limit + 1).await?;
    Ok(page_response(rows, query.limit, true))
}

#[utoipa::path(
    tag = "containers",
    params(ContainerPath),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "The container and its history are gone"),
        LookupFailures,
        CredentialFailures,
        StorageFailures,
    )
)]
#[delete("/containers/{id}")]
pub(crate) async fn delete_container(
    credential: Credential,
    path: web::Path<ContainerPath>,
    store: web::Data<dyn Storage>,
) -> Result<HttpResponse, ApiError> {
    credential.require("deleting a container")?;
    let (id, _) = find(store.get_ref(), &path.id).await?;
    if store.delete(id.clone()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        // Deleted by another request between the lookup and now.
        Err(ApiError::NoSuchContainer(id))
    }
}

/// The full ID and latest record of the one container the ID or prefix names.
async fn find(store: &dyn Storage, given: &str) -> Result<(String, String), ApiError> {
    let prefix = parse_id_prefix(given)?;
    match store.find(&prefix).await? {
        Lookup::Found { id, body } => Ok((id, body)),
        Lookup::Missing => Err(ApiError::NoSuchContainer(prefix)),
        Lookup::Ambiguous(candidates) => Err(ApiError::AmbiguousPrefix { prefix, candidates }),
    }
}

fn page_response(rows: Vec<Listed>, limit: usize, history: bool) -> HttpResponse {
    let (rows, next_cursor) = page_of(rows, limit, history);
    let items = rows.into_iter().map(|row| raw(row.body)).collect();
    HttpResponse::Ok().json(Page { items, next_cursor })
}

/// Stored records are JSON already; they are sent as they are.
fn raw(body: String) -> Box<RawValue> {
    RawValue::from_string(body).expect("the store only keeps JSON it wrote")
}
