//! Every bad request gets a precise 4xx with a JSON body, and changes nothing.

use futures_util::stream;
use reqwest::{Body, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestStore, at, both_backends, container_id, expect_error, node_report, snapshot,
    spawn_store,
};

/// A store holding one container, so "changes nothing" is checked against data.
async fn store_with_one(backend: Backend) -> TestStore {
    let store = spawn_store(backend).await;
    store.store(&snapshot(1, &at(0))).await;
    store
}

async fn post_bytes(
    store: &TestStore,
    body: impl Into<Body>,
    content_type: Option<&str>,
) -> reqwest::Response {
    let mut request = store
        .http
        .post(format!("{}/containers", store.url))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    request.send().await.unwrap()
}

async fn refused(
    store: &TestStore,
    body: Value,
    status: StatusCode,
) -> container_info_wire::ErrorBody {
    let error = expect_error(store.post(&body).await, status).await;
    assert_eq!(
        store.rows().await,
        (1, 1),
        "a refused request stored something: {body}"
    );
    error
}

async fn malformed_json_is_400_with_where(backend: Backend) {
    let store = store_with_one(backend).await;
    let response = post_bytes(&store, "{\"id\": \n  oops}", Some("application/json")).await;
    let error = expect_error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(error.detail, Some(json!({"line": 2, "column": 3})));
    assert_eq!(store.rows().await, (1, 1));
}

async fn a_body_that_is_not_json_typed_is_415(backend: Backend) {
    let store = store_with_one(backend).await;
    let body = snapshot(2, &at(0)).to_string();
    for content_type in [Some("text/plain"), Some("application/jsonx"), None] {
        let response = post_bytes(&store, body.clone(), content_type).await;
        let error = expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(error.detail.unwrap()["found"], json!(content_type));
    }
    let charset = post_bytes(&store, body, Some("Application/JSON; charset=utf-8")).await;
    assert_eq!(
        charset.status(),
        StatusCode::CREATED,
        "parameters are allowed"
    );
}

async fn a_missing_or_malformed_id_is_422(backend: Backend) {
    let store = store_with_one(backend).await;
    let mut missing = snapshot(2, &at(0));
    missing.as_object_mut().unwrap().remove("id");
    let error = refused(&store, missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        error.error.contains("missing field `id`"),
        "{}",
        error.error
    );

    for bad_id in [json!("abc"), json!("z".repeat(64)), json!(12), Value::Null] {
        let mut body = snapshot(2, &at(0));
        body["id"] = bad_id.clone();
        let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error.detail.unwrap()["path"], "id", "{bad_id}");
    }
}

async fn a_wrong_field_type_is_422_naming_the_field(backend: Backend) {
    let store = store_with_one(backend).await;
    let cases = [
        ("/stats/pids", json!(-1), "stats.pids"),
        ("/stats/cpu_percent", json!("high"), "stats.cpu_percent"),
        ("/labels", json!(["not", "a", "map"]), "labels"),
        (
            "/labels/com.docker.stack.namespace",
            json!(3),
            "labels.com.docker.stack.namespace",
        ),
        ("/state", json!("sleeping"), "state"),
        ("/observed_at", json!("yesterday"), "observed_at"),
        ("/name", json!(null), "name"),
    ];
    for (pointer, value, path) in cases {
        let mut body = snapshot(2, &at(0));
        *body.pointer_mut(pointer).unwrap() = value;
        let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error.detail.unwrap()["path"], path, "{pointer}");
    }
}

async fn one_bad_element_refuses_the_whole_array(backend: Backend) {
    let store = store_with_one(backend).await;
    let mut bad = snapshot(3, &at(0));
    bad["state"] = json!(7);
    let body = json!([snapshot(2, &at(0)), snapshot(1, &at(9)), bad]);

    let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;

    assert_eq!(error.detail.unwrap()["path"], "[2].state");
}

async fn bodies_that_are_not_snapshots_are_422(backend: Backend) {
    let store = store_with_one(backend).await;
    for body in [json!([]), json!(42), json!("text"), json!([1]), json!(null)] {
        refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

async fn a_body_over_one_mebibyte_is_413_whether_declared_or_streamed(backend: Backend) {
    let store = store_with_one(backend).await;
    let mut huge = snapshot(2, &at(0));
    huge["name"] = json!("x".repeat(1024 * 1024));
    let declared = post_bytes(&store, huge.to_string(), Some("application/json")).await;
    let error = expect_error(declared, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(error.detail.unwrap()["limit_bytes"], 1024 * 1024);

    // Chunked, with no length announced: refused once the limit is passed.
    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
    let streamed = post_bytes(
        &store,
        Body::wrap_stream(stream::iter(chunks)),
        Some("application/json"),
    )
    .await;
    expect_error(streamed, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(store.rows().await, (1, 1));
}

async fn unknown_routes_are_404_and_wrong_methods_405(backend: Backend) {
    let store = store_with_one(backend).await;
    expect_error(store.get("/nothing/here").await, StatusCode::NOT_FOUND).await;
    expect_error(store.get("/containers/").await, StatusCode::NOT_FOUND).await;

    let put = store
        .http
        .put(format!("{}/containers", store.url))
        .send()
        .await
        .unwrap();
    assert_eq!(put.headers()["allow"], "GET, POST");
    let error = expect_error(put, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(error.detail.unwrap()["allowed"], json!(["GET", "POST"]));

    let post_one = store
        .http
        .post(format!("{}/containers/{}", store.url, container_id(1)))
        .json(&snapshot(1, &at(5)))
        .send()
        .await
        .unwrap();
    expect_error(post_one, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(store.rows().await, (1, 1));
}

async fn bad_query_parameters_are_400_naming_the_parameter(backend: Backend) {
    let store = store_with_one(backend).await;
    let id = container_id(1);
    let cases = [
        ("/containers?limit=1001".to_owned(), "limit"),
        ("/containers?limit=0".to_owned(), "limit"),
        ("/containers?state=sleeping".to_owned(), "state"),
        ("/containers?label=novalue".to_owned(), "label"),
        ("/containers?cursor=garbage".to_owned(), "cursor"),
        ("/containers?node=a&node=b".to_owned(), "node"),
        ("/containers?colour=blue".to_owned(), "colour"),
        (format!("/containers/{id}/history?since=yesterday"), "since"),
        ("/containers?cursor=l12x".to_owned(), "cursor"),
        (format!("/containers/{id}/history?cursor=l12"), "cursor"),
        (format!("/containers/{id}/history?limit=5000"), "limit"),
    ];
    for (path, parameter) in cases {
        let error = expect_error(store.get(&path).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(error.detail.unwrap()["parameter"], parameter, "{path}");
    }
}

/// A store without the agents' key cannot check a signature, but it keeps
/// only what has the documented shape (schemathesis posted an empty one).
async fn an_attestation_of_another_shape_is_422_even_unchecked(backend: Backend) {
    let store = store_with_one(backend).await;
    let mut body = snapshot(2, &at(0));
    body["attestation"] = json!({"alg": "hmac-sha256", "signature": ""});
    let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error.detail.unwrap()["path"], "attestation.signature");
}

/// Counts are int64 in the OpenAPI document: a whole number up to 2^63 - 1.
async fn a_count_past_the_int64_maximum_is_422(backend: Backend) {
    let store = store_with_one(backend).await;
    let mut body = snapshot(2, &at(0));
    body["stats"]["pids"] = json!(1u64 << 63);
    let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error.detail.unwrap()["path"], "stats.pids");
}

/// PostgreSQL keeps no NUL character in text, and the store keeps the fields
/// it filters on as text: a NUL there (no engine gives one) is refused on
/// both backends alike, naming where, and changes nothing; anywhere else in a
/// snapshot it is kept, as JSON keeps it, on both alike.
async fn a_nul_character_where_the_store_filters_is_refused_naming_where(backend: Backend) {
    let store = store_with_one(backend).await;
    let cases = [
        ("/name", "name"),
        ("/image", "image"),
        ("/node", "node"),
        ("/service", "service"),
        ("/stack", "stack"),
        (
            "/labels/com.docker.stack.namespace",
            "labels.com.docker.stack.namespace",
        ),
    ];
    for (pointer, path) in cases {
        let mut body = snapshot(2, &at(0));
        match body.pointer_mut(pointer) {
            Some(field) => *field = json!("a\u{0}b"),
            None => body[&pointer[1..]] = json!("a\u{0}b"),
        }
        let error = refused(&store, body.clone(), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(error.error.contains("NUL character"), "{}", error.error);
        assert_eq!(error.detail.unwrap()["path"], path, "{pointer}");
        // In an array, by its place.
        let error = refused(
            &store,
            json!([snapshot(3, &at(0)), body]),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(error.detail.unwrap()["path"], format!("[1].{path}"));
    }
    // A label's key, too.
    let mut body = snapshot(2, &at(0));
    body["labels"] = json!({"a\u{0}b": "x"});
    let error = refused(&store, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error.detail.unwrap()["path"], "labels.a\\u0000b");

    // A node's report.
    let mut report = node_report("node-1", 10_000, &at(0));
    report["node"] = json!("node\u{0}1");
    let response = store.post_node(&report).await;
    let error = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error.detail.unwrap()["path"], "node");
    assert_eq!(store.get_json("/nodes").await["items"], json!([]));

    // A filter: nothing could match, said precisely; a node's name: none.
    for parameter in ["node", "name", "image", "service", "stack", "label"] {
        let value = if parameter == "label" {
            "a=%00"
        } else {
            "x%00"
        };
        let response = store.get(&format!("/containers?{parameter}={value}")).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error.detail.unwrap()["parameter"], parameter);
    }
    expect_error(store.get("/nodes/node%001").await, StatusCode::NOT_FOUND).await;
    assert_eq!(store.rows().await, (1, 1));

    // Anywhere else it is kept, and given back as it was posted.
    let mut body = snapshot(2, &at(0));
    body["networks"]["bridge"]["gateway"] = json!("\u{0}");
    body["from_a_newer_agent"] = json!({"a\u{0}": ["b\u{0}"]});
    store.store(&body).await;
    let read = store
        .get_json(&format!("/containers/{}", container_id(2)))
        .await;
    assert_eq!(read["networks"], body["networks"]);
    assert_eq!(read["from_a_newer_agent"], body["from_a_newer_agent"]);
}

async fn no_input_makes_the_store_fail(backend: Backend) {
    let store = store_with_one(backend).await;
    let bodies: [&[u8]; 8] = [
        b"",
        b"\xff\xfe\x00",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"{\"id\": \"\\ud800\"}",
        b"{\"stats\": {\"pids\": 1e400}}",
        b"null",
        b"{\"id\":1,\"id\":2}",
        b"\"\\u0000\"",
    ];
    for body in bodies {
        let response = post_bytes(&store, body.to_vec(), Some("application/json")).await;
        assert!(
            response.status().is_client_error(),
            "{:?} -> {}",
            String::from_utf8_lossy(body),
            response.status()
        );
    }
    for path in [
        "/containers/%00%00%00%00",
        "/containers/%ff%fe%fd%fc/history",
        "/containers?limit=%ff",
    ] {
        let response = store.get(path).await;
        assert!(
            response.status().is_client_error(),
            "{path} -> {}",
            response.status()
        );
    }
    assert_eq!(store.rows().await, (1, 1));
}

both_backends!(
    malformed_json_is_400_with_where,
    a_body_that_is_not_json_typed_is_415,
    a_missing_or_malformed_id_is_422,
    a_wrong_field_type_is_422_naming_the_field,
    one_bad_element_refuses_the_whole_array,
    bodies_that_are_not_snapshots_are_422,
    a_body_over_one_mebibyte_is_413_whether_declared_or_streamed,
    unknown_routes_are_404_and_wrong_methods_405,
    bad_query_parameters_are_400_naming_the_parameter,
    an_attestation_of_another_shape_is_422_even_unchecked,
    a_count_past_the_int64_maximum_is_422,
    a_nul_character_where_the_store_filters_is_refused_naming_where,
    no_input_makes_the_store_fail,
);
