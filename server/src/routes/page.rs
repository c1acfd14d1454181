//! `GET /`: the status page. The server renders its first view (the replicas,
//! the nodes and the first page of containers, filtered by the page's own
//! query string), so that it works without JavaScript; `app.js` then keeps it
//! current from the same public API as every other reader. Everything a
//! snapshot or a node's report says is user-controlled, so markup is written
//! with maud, which escapes every value unless told otherwise, and the
//! Content-Security-Policy allows no inline script at all.

use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, SecondsFormat, Utc};
use container_info_wire::nodes::{Node, NodeStatus};
use container_info_wire::replicas::{ReplicaRole, Replicas};
use container_info_wire::{ContainerState, ErrorBody, StoredSnapshot};
use maud::{DOCTYPE, Markup, html};
use utoipa::IntoParams;

use super::StorageFailures;
use super::containers::Replica;
use super::nodes::nodes;
use super::replicas::roll_call;
use crate::error::ApiError;
use crate::query::{ListQuery, page_of};
use crate::storage::Storage;
use crate::trust::Reader;

/// The filter form's fields, which may come empty.
const FORM_FIELDS: [&str; 8] = [
    "node",
    "image",
    "state",
    "name",
    "label",
    "node_status",
    "service",
    "stack",
];

/// Rows per page of the page's table (the API's own default is larger).
const PAGE_SIZE: &str = "20";

/// The page's own script, style sheet and API calls only (and the empty
/// `data:` icon): markup that got past the escaping still could not run a
/// script, nor load from or send to anywhere else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A file compiled into the binary, served under a name that carries a hash
/// of its content, so that it can be cached for good and a new build is
/// still fetched.
struct Asset {
    name: String,
    content_type: &'static str,
    body: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static str) -> Self {
        Self {
            name: format!("{stem}-{:016x}.{extension}", fnv1a(body.as_bytes())),
            content_type,
            body,
        }
    }

    fn url(&self) -> String {
        format!("/assets/{}", self.name)
    }
}

static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "page",
        "css",
        "text/css; charset=utf-8",
        include_str!("../../assets/page.css"),
    )
});

/// FNV-1a: a content hash for cache busting, not for security.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The page's query string: the filters of `GET /containers`, as the page's
/// filter form and paging links send them, with the same constraints (read
/// by the same `ListQuery`), except that a form field left empty means any
/// value: a form without the script sends every field.
#[expect(dead_code, reason = "parameters for the OpenAPI document, never built")]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Only containers on this node.
    #[param(pattern = "^[^\\u0000]*$")]
    node: Option<String>,
    /// Only containers created from this image reference.
    #[param(pattern = "^[^\\u0000]*$")]
    image: Option<String>,
    /// Only containers in this state.
    #[param(pattern = "^(created|running|paused|restarting|removing|exited|dead|removed)?$")]
    state: Option<String>,
    /// Only containers whose name contains this text (the search box).
    #[param(pattern = "^[^\\u0000]*$")]
    name: Option<String>,
    /// Only containers that have this label with this value (`key=value`);
    /// repeat for several, all must match.
    #[param(pattern = "^([^=\\u0000]*=[^\\u0000]*)?$")]
    label: Option<Vec<String>>,
    /// Only containers whose node's agent is `up`, or `stale`.
    #[param(pattern = "^(up|stale)?$")]
    node_status: Option<String>,
    /// Only the tasks of this Swarm service.
    #[param(pattern = "^[^\\u0000]*$")]
    service: Option<String>,
    /// Only the tasks of this Swarm stack.
    #[param(pattern = "^[^\\u0000]*$")]
    stack: Option<String>,
    /// Rows per page (default 20).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^l[0-9]+$")]
    cursor: Option<String>,
}

#[utoipa::path(
    tag = "operations",
    params(PageParams),
    responses(
        (status = 200, description = "The status page: the replicas and, unless the store protects reads and the request carries no token, the nodes and the containers. Its script (`/assets/app-*.js`) keeps it current from the JSON API.", content_type = "text/html", body = String),
        (status = 400, description = "The page, naming the query parameter that is invalid, unknown, or given twice", content_type = "text/html", body = String),
        StorageFailures,
    )
)]
#[get("/")]
pub(crate) async fn status_page(
    reader: Option<Reader>,
    query: web::Query<Vec<(String, String)>>,
    store: web::Data<dyn Storage>,
    replica: web::Data<Replica>,
) -> Result<HttpResponse, ApiError> {
    // A form sends its empty fields too; they mean "any", not "equal to ''".
    // The paging links never send an empty limit or cursor: those are refused.
    let given: Vec<(String, String)> = query
        .into_inner()
        .into_iter()
        .filter(|(name, value)| !(value.is_empty() && FORM_FIELDS.contains(&name.as_str())))
        .collect();
    let replicas = roll_call(store.get_ref()).await?;
    let (nodes, containers) = match reader {
        None => (Vec::new(), Containers::Protected),
        Some(Reader) => (
            nodes(store.get_ref(), None, None).await?,
            match list(store.get_ref(), &given).await {
                Ok((items, next_cursor)) => Containers::Listed { items, next_cursor },
                Err(error @ ApiError::BadParameter { .. }) => {
                    Containers::Invalid(error.to_string())
                }
                Err(error) => return Err(error),
            },
        ),
    };
    let mut response = match containers {
        Containers::Invalid(_) => HttpResponse::BadRequest(),
        _ => HttpResponse::Ok(),
    };
    let body = render(&replica.0, &replicas, &nodes, &given, &containers).into_string();
    Ok(response
        .content_type(header::ContentType::html())
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(body))
}

#[utoipa::path(
    tag = "operations",
    params(("file" = String, Path, description = "The name the page links to, with a hash of the content in it")),
    responses(
        (status = 200, description = "The page's script or style sheet, cacheable for a year (a new build has a new name)", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, description = "No such asset in this build", body = ErrorBody),
    )
)]
#[get("/assets/{file}")]
pub(crate) async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = [&*SCRIPT, &*STYLE]
        .into_iter()
        .find(|asset| asset.name == *file)
        .ok_or_else(|| ApiError::NoSuchRoute {
            method: "GET".to_owned(),
            path: format!("/assets/{file}"),
        })?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(365 * 24 * 3600),
            CacheDirective::Extension("immutable".to_owned(), None),
        ]))
        .body(asset.body))
}

/// What the containers section shows.
enum Containers {
    Listed {
        items: Vec<StoredSnapshot>,
        next_cursor: Option<String>,
    },
    /// The store protects reads and the request carried no valid token.
    Protected,
    /// The page's query string holds a filter the API refuses; this says why.
    Invalid(String),
}

/// One page of containers, through the same parsing as `GET /containers`.
async fn list(
    store: &dyn Storage,
    given: &[(String, String)],
) -> Result<(Vec<StoredSnapshot>, Option<String>), ApiError> {
    let mut pairs = given.to_vec();
    if !pairs.iter().any(|(name, _)| name == "limit") {
        pairs.push(("limit".to_owned(), PAGE_SIZE.to_owned()));
    }
    let query = ListQuery::parse(pairs)?;
    let rows = store
        .list(query.filter, query.before_seq, query.limit + 1)
        .await?;
    let (rows, next_cursor) = page_of(rows, query.limit, false);
    let items = rows
        .into_iter()
        .map(|row| serde_json::from_str(&row.body).expect("the store only keeps records it wrote"))
        .collect();
    Ok((items, next_cursor))
}

fn render(
    replica: &str,
    replicas: &Replicas,
    nodes: &[Node],
    given: &[(String, String)],
    containers: &Containers,
) -> Markup {
    let value = |name: &str| {
        given
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    };
    let protected = matches!(containers, Containers::Protected);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "container-info store" }
                // No request for /favicon.ico, which the store does not serve.
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(STYLE.url());
                script src=(SCRIPT.url()) defer {}
                // Without the script, the page is current when reloaded.
                noscript { meta http-equiv="refresh" content="30"; }
            }
            body data-protected=(protected) data-page-size=(match value("limit") { "" => PAGE_SIZE, limit => limit }) {
                header {
                    h1 { "container-info" }
                    p.muted { "answered by replica " strong { (replica) } }
                    p #status .muted aria-live="polite" {}
                }
                main {
                    (replica_section(replicas))
                    @if protected { (protected_notice()) }
                    // Without a token on a protected store, the script shows
                    // these once it has one.
                    (node_section(nodes, protected))
                    section #containers hidden[protected] {
                        h2 { "Containers" }
                        @if let Containers::Invalid(message) = containers {
                            p.error role="alert" { (message) }
                        }
                        (filter_form(given, value))
                        @match containers {
                            Containers::Listed { items, next_cursor } => {
                                (container_table(items))
                                (pager(given, next_cursor.as_deref()))
                            }
                            _ => {
                                (container_table(&[]))
                                (pager(given, None))
                            }
                        }
                    }
                    section #detail hidden {}
                }
            }
        }
    }
}

fn replica_section(replicas: &Replicas) -> Markup {
    html! {
        section #replicas {
            h2 { "Replicas" }
            div.scroll {
                table #replica-table {
                    thead { tr { th { "Replica" } th { "Role" } th { "Alive" } th { "Last heartbeat" } th { "Addresses" } th { "Version" } th { "Started" } } }
                    tbody {
                        @for item in &replicas.items {
                            @let role = match item.role { ReplicaRole::Leader => "leader", ReplicaRole::Follower => "follower" };
                            tr data-role=(role) {
                                td { (item.id) }
                                td { span class={ "badge " (role) } { (role) } }
                                td { @if item.alive { "yes" } @else { span.error { "no" } } }
                                td title=(item.last_heartbeat_at.to_rfc3339_opts(SecondsFormat::Millis, true)) { (age(item.last_heartbeat_at)) }
                                td { (item.addresses.join(", ")) }
                                td { (item.version) }
                                td { (time(item.started_at)) }
                            }
                        }
                    }
                }
            }
            p #lease .muted {
                "Lease: " @if let Some(holder) = &replicas.lease.holder { "held by " (holder) } @else { "not held" }
                ", generation " (replicas.lease.generation)
                ", transitions " (replicas.lease.transitions)
                ", duration " (replicas.lease.duration_seconds) " s"
            }
        }
    }
}

fn node_section(nodes: &[Node], protected: bool) -> Markup {
    html! {
        section #nodes hidden[protected] {
            h2 { "Nodes" }
            div.scroll {
                table #node-table {
                    thead { tr { th { "Node" } th { "Status" } th.num { "Containers" } th { "Last report" } th { "Agent" } th.num { "Interval" } } }
                    tbody {
                        @for node in nodes {
                            @let status = node.status.as_str();
                            tr data-node=(node.name) data-status=(status) {
                                // A plain link: the containers of this node.
                                td { a href={ "/?node=" (encode(&node.name)) } { (node.name) } }
                                td { (node_status(node.status)) }
                                td.num { (node.containers) }
                                td title=(node.last_report_at.to_rfc3339_opts(SecondsFormat::Millis, true)) { (age(node.last_report_at)) }
                                td { (node.agent_version) }
                                td.num { (interval(node.report_interval_ms)) }
                            }
                        }
                        @if nodes.is_empty() {
                            tr.empty { td colspan="6" { "No agent has reported its node." } }
                        }
                    }
                }
            }
        }
    }
}

/// The status in words, so that a stale node is marked for a reader who
/// cannot tell the colours apart, or reads the page aloud.
fn node_status(status: NodeStatus) -> Markup {
    html! {
        @match status {
            NodeStatus::Up => span.badge.up { "up" },
            NodeStatus::Stale => span.badge.stale title="Its agent stopped reporting: what the page shows of it may be out of date" { "stale" },
        }
    }
}

fn protected_notice() -> Markup {
    html! {
        section #access {
            p #protected {
                "This store protects reads: nodes and containers are listed only to holders of its token."
            }
            // Shown by the script, which keeps the token in this tab's session
            // storage and sends it as the API asks (Authorization: Bearer); a
            // form without the script would put the token in a URL.
            form #token-form hidden {
                label { "Token " input #token type="password" autocomplete="off" required; }
                button type="submit" { "Show nodes and containers" }
            }
        }
    }
}

fn filter_form<'a>(given: &[(String, String)], value: impl Fn(&str) -> &'a str) -> Markup {
    let labels: Vec<&str> = given
        .iter()
        .filter(|(key, _)| key == "label")
        .map(|(_, value)| value.as_str())
        .collect();
    html! {
        form #filters method="get" action="/" {
            input #search type="search" name="name" value=(value("name")) placeholder="Search names" aria-label="Search names";
            input name="node" value=(value("node")) placeholder="node" aria-label="Node";
            input name="image" value=(value("image")) placeholder="image" aria-label="Image";
            select name="state" aria-label="State" {
                option value="" { "any state" }
                @for state in ContainerState::ALL {
                    option value=(state.as_str()) selected[value("state") == state.as_str()] { (state.as_str()) }
                }
            }
            select name="node_status" aria-label="Node status" {
                option value="" { "any node" }
                @for status in [NodeStatus::Up, NodeStatus::Stale] {
                    option value=(status.as_str()) selected[value("node_status") == status.as_str()] { "node " (status.as_str()) }
                }
            }
            @if labels.is_empty() {
                input name="label" placeholder="label key=value" aria-label="Label";
            }
            @for label in labels {
                input name="label" value=(label) placeholder="label key=value" aria-label="Label";
            }
            // Only Swarm tasks have these: out of the way until asked for.
            details #swarm-filters open[!value("service").is_empty() || !value("stack").is_empty()] {
                summary { "Swarm" }
                input name="service" value=(value("service")) placeholder="service" aria-label="Service";
                input name="stack" value=(value("stack")) placeholder="stack" aria-label="Stack";
            }
            button type="submit" { "Filter" }
            a href="/" { "Clear" }
        }
    }
}

fn container_table(items: &[StoredSnapshot]) -> Markup {
    html! {
        div.scroll {
            table #container-table {
                thead { tr { th { "Name" } th { "State" } th { "Node" } th { "Image" } th.num { "CPU" } th.num { "Memory" } th { "Observed" } th { "ID" } } }
                tbody {
                    @for item in items {
                        @let snapshot = &item.snapshot;
                        tr data-id=(snapshot.id) class=[stale_node(item)] {
                            // Without the script the link shows the record as
                            // JSON; with it, the row opens the detail.
                            td { a.open href={ "/containers/" (snapshot.id) } { (snapshot.name) } }
                            td { span class={ "state " (snapshot.state) } { (snapshot.state) } }
                            td { (snapshot.node) @if item.node_status == Some(NodeStatus::Stale) { " " (node_status(NodeStatus::Stale)) } }
                            td { (snapshot.image) }
                            td.num { @if let Some(stats) = &snapshot.stats { (format!("{:.1} %", stats.cpu_percent)) } }
                            td.num { @if let Some(stats) = &snapshot.stats { (bytes(stats.memory_usage_bytes)) } }
                            td { (time(snapshot.observed_at)) }
                            td.mono { (snapshot.id.short()) }
                        }
                    }
                    @if items.is_empty() {
                        tr.empty { td colspan="8" { "No containers match." } }
                    }
                }
            }
        }
    }
}

/// Paging by cursor only goes forward; the first page is the way back (the
/// script keeps the cursors it has seen, so it can step back one at a time).
fn pager(given: &[(String, String)], next_cursor: Option<&str>) -> Markup {
    let filters: Vec<(&str, &str)> = given
        .iter()
        .filter(|(key, _)| key != "cursor")
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let on_later_page = given.iter().any(|(key, _)| key == "cursor");
    let link = |cursor: Option<&str>| {
        let mut pairs = filters.clone();
        pairs.extend(cursor.map(|cursor| ("cursor", cursor)));
        let query = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        }
    };
    html! {
        nav.pager aria-label="Pages" {
            @if on_later_page { a #first-page href=(link(None)) { "First page" } }
            @if let Some(cursor) = next_cursor { a #next-page rel="next" href=(link(Some(cursor))) { "Next page" } }
        }
    }
}

/// Percent-encodes a query string component (all but the unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// As the script shows times, so that its first refresh changes nothing.
fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// How long ago, as the script says it.
fn age(at: DateTime<Utc>) -> String {
    let seconds = (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0;
    if seconds < 60.0 {
        format!("{seconds:.1} s ago")
    } else {
        format!("{:.0} min ago", seconds / 60.0)
    }
}

/// Marks the row of a container whose node's agent stopped reporting.
fn stale_node(item: &StoredSnapshot) -> Option<&'static str> {
    (item.node_status == Some(NodeStatus::Stale)).then_some("stale-node")
}

/// A report interval, as the script says it.
fn interval(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 || !ms.is_multiple_of(60_000) {
        format!("{} s", ms as f64 / 1000.0)
    } else {
        format!("{} min", ms / 60_000)
    }
}

fn bytes(count: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    format!("{:.1} MiB", count as f64 / MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_percent_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("web-1.x_y~"), "web-1.x_y~");
    }

    #[test]
    fn intervals_read_as_people_say_them() {
        assert_eq!(interval(200), "200 ms");
        assert_eq!(interval(1500), "1.5 s");
        assert_eq!(interval(30_000), "30 s");
        assert_eq!(interval(90_000), "90 s");
        assert_eq!(interval(300_000), "5 min");
    }

    #[test]
    fn asset_names_change_with_their_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert!(SCRIPT.name.starts_with("app-") && SCRIPT.name.ends_with(".js"));
    }
}
