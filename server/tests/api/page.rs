//! The status page as HTTP sees it: server-rendered HTML with a strict
//! Content-Security-Policy, what snapshots say escaped, the filters and
//! paging of the API in plain links, assets cached for good under versioned
//! names, and no container shown to a reader without the token of a store
//! that protects reads. (A real browser drives it in tests/status_page.rs.)

use container_info_wire::ContainerState;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::json;

use crate::helpers::{TestStore, at, bearer, snapshot, spawn_guarded_store, spawn_store};

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

#[tokio::test]
async fn the_page_is_html_under_a_strict_policy_with_snapshots_escaped() {
    let store = spawn_store().await;
    let mut hostile = snapshot(1, &at(0));
    hostile["name"] = json!(HOSTILE);
    hostile["labels"] = json!({ "\"><b>key": "<i>value" });
    hostile["image"] = json!("\"><svg onload=alert(3)>");
    store.store(&hostile).await;

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
    // The page's only script is its own file: nothing inline for the policy to allow.
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(body.contains(r#"<script src="/assets/app-"#), "{body}");
}

#[tokio::test]
async fn assets_are_versioned_cached_for_good_and_listed_in_the_api_document() {
    let store = spawn_store().await;
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

#[tokio::test]
async fn the_query_string_filters_and_pages_with_plain_links() {
    let store = spawn_store().await;
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

#[tokio::test]
async fn a_store_that_protects_reads_shows_its_replicas_but_no_container_without_the_token() {
    let (store, _secrets) = spawn_guarded_store(|config, _| config.protect_reads = true).await;
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

    let (status, _, body) = page(&store, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"id="replica-table""#));
    assert!(body.contains("protects reads"), "{body}");
    assert!(!body.contains("secret-container"), "{body}");
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
}
