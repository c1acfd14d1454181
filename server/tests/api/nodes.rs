//! Nodes whose agents report: a signed report makes a node `up`; three of its
//! intervals without one make it `stale` with nothing to say so; its
//! containers are marked so in list and detail answers and can be filtered
//! on; replays and bad reports change nothing.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use container_info_wire::nodes::{Node, NodeStatus, Nodes};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, KEY, TestStore, at, bearer, both_backends, container_id, expect_error, node_report,
    signed, signed_node_report, snapshot, spawn_guarded_store,
};

/// Now, as an agent writes `reported_at`.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn signed_report(node: &str, interval_ms: u64, reported_at: &str) -> Value {
    signed_node_report(node_report(node, interval_ms, reported_at), KEY)
}

async fn post_node(store: &TestStore, authorization: Option<&str>, body: &Value) -> Response {
    let mut request = store.http.post(format!("{}/nodes", store.url)).json(body);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// Posts a report and expects it taken.
async fn report(store: &TestStore, body: &Value) -> Node {
    let response = post_node(store, None, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn node(store: &TestStore, name: &str) -> Node {
    serde_json::from_value(store.get_json(&format!("/nodes/{name}")).await).unwrap()
}

/// A container of `node`, signed by its agent.
async fn store_container(store: &TestStore, n: u64, node: &str) {
    let mut body = snapshot(n, &at(n as u32));
    body["node"] = json!(node);
    store.store(&signed(body, KEY)).await;
}

/// The `node_status` of each listed container, by ID, for a query.
async fn listed_status(store: &TestStore, query: &str) -> Vec<(String, Value)> {
    let page = store.get_json(&format!("/containers{query}")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let status = item
                .get("node_status")
                .expect("node_status is always listed");
            (item["id"].as_str().unwrap().to_owned(), status.clone())
        })
        .collect()
}

async fn a_signed_report_makes_its_node_up_and_marks_its_containers(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let taken = report(&store, &signed_report("node-1", 30_000, &now())).await;
    assert_eq!(taken.name, "node-1");
    assert_eq!(taken.status, NodeStatus::Up);
    assert_eq!(taken.agent_version, "0.1.0");
    assert_eq!(taken.report_interval_ms, 30_000);
    assert!(taken.attested, "a signed report is the agent's");
    assert_eq!(taken.reported_from, "127.0.0.1");
    assert_eq!(taken.first_report_at, taken.last_report_at);
    assert_eq!(
        taken.stale_at - taken.last_report_at,
        chrono::Duration::seconds(90),
        "stale after three intervals"
    );

    store_container(&store, 1, "node-1").await;
    store_container(&store, 2, "node-2").await;
    assert_eq!(node(&store, "node-1").await.containers, 1);
    let all: Nodes = serde_json::from_value(store.get_json("/nodes").await).unwrap();
    assert_eq!(
        all.items
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>(),
        ["node-1"],
        "a node no agent reports is not one the store knows"
    );
    let error = expect_error(store.get("/nodes/node-2").await, StatusCode::NOT_FOUND).await;
    assert!(error.error.contains("\"node-2\""), "{}", error.error);

    let listed = listed_status(&store, "").await;
    assert_eq!(
        listed,
        [
            (container_id(2), Value::Null),
            (container_id(1), json!("up"))
        ]
    );
    let detail = store
        .get_json(&format!("/containers/{}", container_id(1)))
        .await;
    assert_eq!(detail["node_status"], "up");
    assert_eq!(
        listed_status(&store, "?node_status=up").await,
        [(container_id(1), json!("up"))]
    );
    assert!(listed_status(&store, "?node_status=stale").await.is_empty());
    // History is what was received; a node's status is not part of it.
    let history = store
        .get_json(&format!("/containers/{}/history", container_id(1)))
        .await;
    assert!(history["items"][0].get("node_status").is_none());
}

async fn a_node_is_stale_three_intervals_after_its_last_report_and_up_at_the_next(
    backend: Backend,
) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let interval = Duration::from_millis(300);
    let sent = Instant::now();
    report(&store, &signed_report("node-1", 300, &now())).await;
    store_container(&store, 1, "node-1").await;
    assert_eq!(node(&store, "node-1").await.status, NodeStatus::Up);

    // Nothing reports that the agent stopped: time alone makes the node stale.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stale = loop {
        let seen = node(&store, "node-1").await;
        if seen.status == NodeStatus::Stale {
            break seen;
        }
        assert!(Instant::now() < deadline, "never stale: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        sent.elapsed() >= interval * 3,
        "stale after {:?}, before three intervals had passed",
        sent.elapsed()
    );
    assert!(Utc::now() >= stale.stale_at);
    assert_eq!(stale.containers, 1, "a stale node's containers stay");
    assert_eq!(
        listed_status(&store, "").await,
        [(container_id(1), json!("stale"))]
    );
    let detail = store
        .get_json(&format!("/containers/{}", container_id(1)))
        .await;
    assert_eq!(detail["node_status"], "stale");
    assert_eq!(listed_status(&store, "?node_status=stale").await.len(), 1);
    assert!(listed_status(&store, "?node_status=up").await.is_empty());
    let stale_nodes: Nodes =
        serde_json::from_value(store.get_json("/nodes?status=stale").await).unwrap();
    assert_eq!(stale_nodes.items.len(), 1);

    let back = report(&store, &signed_report("node-1", 300, &now())).await;
    assert_eq!(back.status, NodeStatus::Up);
    assert!(back.last_report_at > stale.last_report_at);
    assert_eq!(back.first_report_at, stale.first_report_at);
    assert_eq!(
        listed_status(&store, "").await,
        [(container_id(1), json!("up"))]
    );
    let up_nodes: Nodes = serde_json::from_value(store.get_json("/nodes?status=up").await).unwrap();
    assert_eq!(up_nodes.items.len(), 1);
}

async fn a_replayed_or_older_report_changes_nothing(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let first_sent = now();
    let first = report(&store, &signed_report("node-1", 300, &first_sent)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    // The same signed report again, as anyone who read it could send it: a
    // dead node must not stay up on replays.
    let replayed = report(&store, &signed_report("node-1", 300, &first_sent)).await;
    assert_eq!(replayed, first);
    let earlier: DateTime<Utc> =
        first_sent.parse::<DateTime<Utc>>().unwrap() - chrono::Duration::seconds(1);
    let mut older = node_report("node-1", 60_000, &earlier.to_rfc3339());
    older["agent_version"] = json!("0.0.9");
    let older = report(&store, &signed_node_report(older, KEY)).await;
    assert_eq!(older, first);

    let later = report(&store, &signed_report("node-1", 300, &now())).await;
    assert!(later.last_report_at > first.last_report_at);
}

async fn an_unsigned_report_needs_the_token_and_a_bad_signature_is_refused_even_with_it(
    backend: Backend,
) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let unsigned = node_report("node-1", 30_000, &now());
    expect_error(
        post_node(&store, None, &unsigned).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let other_key = "another-agents-key-0123456789abcdef0123";
    let mut tampered = signed_report("node-1", 30_000, &now());
    tampered["report_interval_ms"] = json!(86_400_000);
    for refused in [signed_node_report(unsigned.clone(), other_key), tampered] {
        let response = post_node(&store, Some(&bearer()), &refused).await;
        let error = expect_error(response, StatusCode::FORBIDDEN).await;
        assert_eq!(error.detail.unwrap()["path"], "the node report");
        assert!(
            error.error.contains("signature does not match"),
            "{}",
            error.error
        );
    }
    assert_eq!(
        store.count_rows("nodes").await,
        0,
        "a refused report changes nothing"
    );

    let response = post_node(&store, Some(&bearer()), &unsigned).await;
    assert_eq!(response.status(), StatusCode::OK);
    let taken: Node = response.json().await.unwrap();
    assert!(!taken.attested, "a token attests nothing");
}

async fn an_invalid_report_is_refused_with_its_field_named_and_changes_nothing(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    let valid = node_report("node-1", 30_000, &now());
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (with("node", json!("")), "node"),
        (with("node", json!("n".repeat(256))), "node"),
        (with("agent_version", json!("")), "agent_version"),
        (with("report_interval_ms", json!(99)), "report_interval_ms"),
        (
            with("report_interval_ms", json!(86_400_001)),
            "report_interval_ms",
        ),
        (with("report_interval_ms", json!(-1)), "report_interval_ms"),
        (
            with("report_interval_ms", json!("30s")),
            "report_interval_ms",
        ),
        (with("reported_at", json!("yesterday")), "reported_at"),
        (
            with(
                "attestation",
                json!({"alg": "hmac-sha256", "signature": "xyz"}),
            ),
            "attestation.signature",
        ),
        (without("agent_version"), "."),
        (json!([valid.clone()]), "."),
    ];
    for (body, path) in cases {
        let response = post_node(&store, Some(&bearer()), &body).await;
        let error = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            error.detail.unwrap()["path"],
            path,
            "{body}: {}",
            error.error
        );
    }
    let response = store
        .http
        .post(format!("{}/nodes", store.url))
        .header("Authorization", bearer())
        .header("Content-Type", "application/json")
        .body("{\"node\": ")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST).await;
    let response = store
        .http
        .post(format!("{}/nodes", store.url))
        .header("Authorization", bearer())
        .header("Content-Type", "text/plain")
        .body(valid.to_string())
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(
        store.count_rows("nodes").await,
        0,
        "a refused report changes nothing"
    );
}

async fn a_bad_nodes_query_names_its_parameter(backend: Backend) {
    let (store, _secrets) = spawn_guarded_store(backend, |_, _| {}).await;
    for (query, parameter) in [
        ("?status=down", "status"),
        ("?status=up&status=up", "status"),
        ("?state=up", "state"),
    ] {
        let error = expect_error(
            store.get(&format!("/nodes{query}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(error.detail.unwrap()["parameter"], parameter, "{query}");
    }
    let error = expect_error(
        store.get("/containers?node_status=gone").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error.detail.unwrap()["parameter"], "node_status");
}

async fn with_protected_reads_nodes_need_the_token(backend: Backend) {
    let (store, _secrets) =
        spawn_guarded_store(backend, |config, _| config.protect_reads = true).await;
    report(&store, &signed_report("node-1", 30_000, &now())).await;
    for path in ["/nodes", "/nodes/node-1"] {
        expect_error(store.get(path).await, StatusCode::UNAUTHORIZED).await;
        let response = store
            .http
            .get(format!("{}{path}", store.url))
            .header("Authorization", bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

both_backends!(
    a_signed_report_makes_its_node_up_and_marks_its_containers,
    a_node_is_stale_three_intervals_after_its_last_report_and_up_at_the_next,
    a_replayed_or_older_report_changes_nothing,
    an_unsigned_report_needs_the_token_and_a_bad_signature_is_refused_even_with_it,
    an_invalid_report_is_refused_with_its_field_named_and_changes_nothing,
    a_bad_nodes_query_names_its_parameter,
    with_protected_reads_nodes_need_the_token,
);
