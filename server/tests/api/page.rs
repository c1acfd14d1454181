//! The status page as HTTP sees it: server-rendered HTML with a strict
//! Content-Security-Policy, what snapshots say escaped, the filters and
//! paging of the API in plain links, assets cached for good under versioned
//! names, nodes listed with a stale one said to be stale, and no node or
//! container shown to a reader without the token of a store that protects
//! reads. (A real browser drives it in tests/status_page.rs.)

use container_info_wire::ContainerState;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::json;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};

use crate::helpers::{
    Backend, KEY, TestStore, at, bearer, both_backends, node_report, signed_node_report, snapshot,
    spawn_guarded_store, spawn_store,
};

const HOSTILE: &str = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#;

async fn page(store: &TestStore, query: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = store.get(&format!("/{query}")).await;
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// The `href` of the first link with this id in the page.
fn link(body: &str, id: &str) -> String {
    let start = body.find(&format!(r#"id="{id}" "#)).expect(id);
    let rest = &body[start..];
    let href = &rest[rest.find("href=\"").unwrap() + 6..];
    href[..href.find('"').unwrap()].replace("&amp;", "&")
}

async fn the_page_is_html_under_a_strict_policy_with_snapshots_escaped(backend: Backend) {
    let store = spawn_store(backend).await;
    let mut hostile = snapshot(1, &at(0));
    hostile["name"] = json!(HOSTILE);
    hostile["labels"] = json!({ "\"><b>key": "<i>value" });
    hostile["image"] = json!("\"><svg onload=alert(3)>");
    store.store(&hostile).await;
    let mut node = node_report("<b>node</b>", 60_000, &now());
    node["agent_version"] = json!("<i>1.0</i>");
    report_node(&store, &node).await;

    let (status, headers, body) = page(&store, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(
        body.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
        ),
        "{body}"
    );
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(!body.contains("<img"), "{body}");
    assert!(!body.contains("<svg"), "{body}");
    assert!(
        body.contains("&lt;b&gt;node&lt;/b&gt;") && body.contains("&lt;i&gt;1.0&lt;/i&gt;"),
        "{body}"
    );
    assert!(!body.contains("<b>") && !body.contains("<i>"), "{body}");
    // Its link to its containers is a query string, percent-encoded.
    assert!(
        body.contains(r#"href="/?node=%3Cb%3Enode%3C%2Fb%3E""#),
        "{body}"
    );
    // The page's only script is its own file: nothing inline for the policy to allow.
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(body.contains(r#"<script src="/assets/app-"#), "{body}");
}

async fn assets_are_versioned_cached_for_good_and_listed_in_the_api_document(backend: Backend) {
    let store = spawn_store(backend).await;
    let (_, _, body) = page(&store, "").await;
    for (prefix, content_type) in [
        ("/assets/app-", "text/javascript"),
        ("/assets/page-", "text/css"),
    ] {
        let start = body.find(prefix).expect(prefix);
        let url = &body[start..start + body[start..].find('"').unwrap()];
        let response = store.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(content_type)
        );
        let cache = response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{cache}"
        );
    }
    let stale = store.get("/assets/app-0000000000000000.js").await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);

    let document = store.get_json("/openapi.json").await;
    let html = &document["paths"]["/"]["get"]["responses"]["200"]["content"]["text/html"];
    assert!(html.is_object(), "{document}");
    assert!(document["paths"]["/assets/{file}"]["get"].is_object());
    // The page's state filter is a pattern (a form sends it empty); it names every state.
    let parameters = document["paths"]["/"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let state = parameters.iter().find(|p| p["name"] == "state").unwrap();
    let pattern = state["schema"]["pattern"].as_str().unwrap();
    let listed = pattern.trim_start_matches("^(").trim_end_matches(")?$");
    let states: Vec<&str> = ContainerState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(listed.split('|').collect::<Vec<_>>(), states, "{pattern}");
}

async fn the_query_string_filters_and_pages_with_plain_links(backend: Backend) {
    let store = spawn_store(backend).await;
    for n in 0..30 {
        let mut posted = snapshot(n, &at(0));
        posted["node"] = json!(if n % 2 == 0 { "node-even" } else { "node-odd" });
        store.store(&posted).await;
    }
    let rows = |body: &str| body.matches("<tr data-id=").count();

    let (_, _, first) = page(&store, "").await;
    assert_eq!(rows(&first), 20);
    let next = link(&first, "next-page");
    let (_, _, second) = page(&store, &next[1..]).await;
    assert_eq!(rows(&second), 10);
    assert!(!second.contains(r#"id="next-page""#));
    assert_eq!(link(&second, "first-page"), "/");

    // Empty fields, as a form sends them, mean any value.
    let (status, _, odd) = page(&store, "?name=&node=node-odd&state=running&label=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&odd), 15);
    assert!(!odd.contains("node-even"), "{odd}");
    assert!(
        odd.contains(r#"value="node-odd""#),
        "the form shows the filter"
    );

    let (status, _, refused) = page(&store, "?state=sleeping").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains(r#"role="alert""#) && refused.contains("state"),
        "{refused}"
    );
}

async fn nodes_are_listed_with_a_stale_one_said_so_and_its_containers_marked_and_filterable(
    backend: Backend,
) {
    let store = spawn_store(backend).await;
    for (n, node) in [(1, "node-up"), (2, "node-gone"), (3, "node-gone")] {
        let mut posted = snapshot(n, &at(0));
        posted["node"] = json!(node);
        if n == 3 {
            posted["service"] = json!("shop_web");
            posted["stack"] = json!("shop");
        }
        store.store(&posted).await;
    }
    report_node(&store, &node_report("node-up", 60_000, &now())).await;
    // The shortest interval the store takes: stale 300 ms later.
    report_node(&store, &node_report("node-gone", 100, &now())).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let row = |body: &str, node: &str| {
        let start = body
            .find(&format!(r#"<tr data-node="{node}""#))
            .expect(node);
        body[start..start + body[start..].find("</tr>").unwrap()].to_owned()
    };

    let (status, _, body) = page(&store, "").await;
    assert_eq!(status, StatusCode::OK);
    let up = row(&body, "node-up");
    assert!(
        up.contains(r#"data-status="up""#) && up.contains(">up</span>"),
        "{up}"
    );
    assert!(up.contains("1 min"), "the interval: {up}");
    let gone = row(&body, "node-gone");
    // In words, not by colour alone.
    assert!(
        gone.contains(r#"data-status="stale""#) && gone.contains(">stale</span>"),
        "{gone}"
    );
    assert!(
        gone.contains("100 ms") && gone.contains(r#"<td class="num">2</td>"#),
        "{gone}"
    );
    assert_eq!(body.matches(r#"class="stale-node""#).count(), 2, "{body}");

    let (status, _, stale) = page(&store, "?node_status=stale&service=&stack=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stale.matches("<tr data-id=").count(), 2, "{stale}");
    assert!(
        stale.contains(r#"<option value="stale" selected>"#),
        "{stale}"
    );
    let (_, _, stack) = page(&store, "?stack=shop").await;
    assert_eq!(stack.matches("<tr data-id=").count(), 1, "{stack}");
    // The folded Swarm filters are open when one is set.
    assert!(
        stack.contains(r#"<details id="swarm-filters" open>"#),
        "{stack}"
    );
    assert!(!body.contains(r#"<details id="swarm-filters" open>"#));

    let (status, _, refused) = page(&store, "?node_status=down").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains(r#"role="alert""#) && refused.contains("node_status"),
        "{refused}"
    );
    // Its nodes are listed still: the filter is the containers'.
    assert!(refused.contains(r#"<tr data-node="node-up""#), "{refused}");
}

async fn a_store_that_protects_reads_shows_its_replicas_but_no_node_or_container_without_the_token(
    backend: Backend,
) {
    let (store, _secrets) =
        spawn_guarded_store(backend, |config, _| config.protect_reads = true).await;
    let mut posted = snapshot(1, &at(0));
    posted["name"] = json!("secret-container");
    let response = store
        .http
        .post(format!("{}/containers", store.url))
        .header("Authorization", bearer())
        .json(&posted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let signed = signed_node_report(node_report("secret-node", 60_000, &now()), KEY);
    report_node(&store, &signed).await;

    let (status, _, body) = page(&store, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"id="replica-table""#));
    assert!(body.contains("protects reads"), "{body}");
    assert!(!body.contains("secret-container"), "{body}");
    assert!(!body.contains("secret-node"), "{body}");
    assert!(
        !body.contains(&posted["id"].as_str().unwrap()[..12]),
        "{body}"
    );

    let with_token = store
        .http
        .get(format!("{}/", store.url))
        .header("Authorization", bearer())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(with_token.contains("secret-container"), "{with_token}");
    assert!(
        with_token.contains(r#"<tr data-node="secret-node" data-status="up">"#),
        "{with_token}"
    );
}

/// Now, as an agent writes `reported_at`.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Posts a node's report and expects it taken.
async fn report_node(store: &TestStore, report: &serde_json::Value) {
    let response = store.post_node(report).await;
    let status = response.status();
    assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
}

both_backends!(
    the_page_is_html_under_a_strict_policy_with_snapshots_escaped,
    assets_are_versioned_cached_for_good_and_listed_in_the_api_document,
    the_query_string_filters_and_pages_with_plain_links,
    nodes_are_listed_with_a_stale_one_said_so_and_its_containers_marked_and_filterable,
    a_store_that_protects_reads_shows_its_replicas_but_no_node_or_container_without_the_token,
);
