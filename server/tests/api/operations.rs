use std::path::Path;
use std::time::Duration;

use container_info_wire::replicas::{ReplicaRole, Replicas};
use reqwest::StatusCode;
use serde_json::{Value, json};

use chrono::Utc;

use crate::helpers::{
    Backend, REPLICA, at, both_backends, container_id, node_report, snapshot, spawn_store,
};

async fn health_and_readiness_name_the_replica(backend: Backend) {
    let store = spawn_store(backend).await;
    assert_eq!(
        store.get_json("/healthz").await,
        json!({"status": "ok", "replica": REPLICA})
    );
    assert_eq!(
        store.get_json("/readyz").await,
        json!({"status": "ready", "replica": REPLICA})
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_cannot_be_written() {
    let store = spawn_store(Backend::Sqlite).await;
    // Another connection holds the write lock, as a stuck replica would.
    let blocker = rusqlite::Connection::open(store.sqlite_file()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let response = store.get("/readyz").await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("locked"), "{body}");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(store.get("/readyz").await.status(), StatusCode::OK);
}

/// The build gives each connection a page cache of its own (.cargo/config.toml).
/// With the one cache that libsqlite3-sys's default build shares among all
/// connections, a long run of writes left the read connections without any.
#[test]
fn each_connection_has_a_page_cache_of_its_own() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut statement = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(options.iter().any(|o| o == "ENABLE_STAT4"), "{options:?}");
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
}

/// Frames of the write-ahead log not yet copied into the database file, as
/// SQLite's shared-memory index records them (its file format, "walformat"):
/// the log's last frame at byte 16, the checkpoint's last copied at byte 96.
fn uncopied_frames(database: &Path) -> u32 {
    let index = std::fs::read(format!("{}-shm", database.display())).unwrap();
    let word = |at: usize| u32::from_ne_bytes(index[at..at + 4].try_into().unwrap());
    word(16) - word(96)
}

#[tokio::test]
async fn a_checkpoint_cut_short_by_a_reader_finishes_without_another_write() {
    let store = spawn_store(Backend::Sqlite).await;
    store.store(&snapshot(1, &at(0))).await;
    // A reader on the snapshot before the next write: no checkpoint may copy
    // that write into the file while it reads.
    let reader = rusqlite::Connection::open(store.sqlite_file()).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM snapshots", [], |row| row.get(0))
        .unwrap();
    store.store(&snapshot(1, &at(1))).await;
    // Time for the checkpoint that commit prompted to try, and stop short.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(uncopied_frames(store.sqlite_file()) > 0);

    reader.execute_batch("COMMIT").unwrap();

    for _ in 0..100 {
        if uncopied_frames(store.sqlite_file()) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} frames still uncopied 10 s after the reader finished",
        uncopied_frames(store.sqlite_file())
    );
}

async fn metrics_count_requests_rows_and_commits(backend: Backend) {
    let store = spawn_store(backend).await;
    store
        .store(&json!([snapshot(1, &at(0)), snapshot(1, &at(1))]))
        .await;
    store.store(&snapshot(1, &at(1))).await; // a retry: not written again
    store.get("/containers/ffff").await;

    let response = store.get("/metrics").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();

    for line in [
        r#"container_info_http_requests_total{method="POST",route="/containers",status="201"} 2"#,
        r#"container_info_http_requests_total{method="GET",route="/containers/{id}",status="404"} 1"#,
        "container_info_snapshots_written_total 2",
        "container_info_containers 1",
        "container_info_snapshots 2",
        "container_info_requests_per_commit_count 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // SQLite's busy waits, where they can happen only.
    assert_eq!(
        text.contains("container_info_sqlite_busy_retries_total"),
        backend == Backend::Sqlite,
        "{text}"
    );
    assert!(
        text.contains(r#"container_info_http_request_duration_seconds_bucket{route="/containers""#)
    );
}

/// The document is generated from the registered handlers: every route it
/// names is served, and every route the store serves is in it.
async fn the_openapi_document_describes_exactly_the_served_routes(backend: Backend) {
    let store = spawn_store(backend).await;
    store.store(&snapshot(1, &at(0))).await;
    let document = store.get_json("/openapi.json").await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));

    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let served = [
        "DELETE /containers/{id}",
        "GET /",
        "GET /assets/{file}",
        "GET /containers",
        "GET /containers/{id}",
        "GET /containers/{id}/history",
        "GET /healthz",
        "GET /metrics",
        "GET /nodes",
        "GET /nodes/{name}",
        "GET /openapi.json",
        "GET /readyz",
        "GET /replicas",
        "POST /containers",
        "POST /nodes",
    ];
    assert_eq!(documented, served);

    // The status page names its assets; their names change with each build.
    let page = store.get("/").await.text().await.unwrap();
    let script = page
        .split('"')
        .find(|part| part.starts_with("/assets/"))
        .unwrap();
    let asset = script.trim_start_matches("/assets/");
    let report = node_report("node-1", 30_000, &Utc::now().to_rfc3339());
    let response = store.post_node(&report).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Delete last, so that every other route still finds the container.
    for route in served.iter().skip(1).chain(&served[..1]) {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{id}", &container_id(1))
            .replace("{file}", asset)
            .replace("{name}", "node-1");
        let url = format!("{}{path}", store.url);
        let body = if *route == "POST /nodes" {
            &report
        } else {
            &snapshot(1, &at(1))
        };
        let response = store
            .http
            .request(method.parse().unwrap(), url)
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{route} is documented but answered {}",
            response.status()
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "Snapshot",
        "StoredSnapshot",
        "Stats",
        "NetworkAddress",
        "ErrorBody",
        "Replicas",
        "ReplicaStatus",
        "Lease",
        "NodeReport",
        "Node",
        "Nodes",
        "NodeStatus",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
}

/// What the store refuses, the document says (schemathesis checks the rest,
/// in server/tests/schemathesis.rs, when it is installed).
async fn the_openapi_document_states_the_constraints_the_store_enforces(backend: Backend) {
    let store = spawn_store(backend).await;
    let document = store.get_json("/openapi.json").await;
    let paths = &document["paths"];
    let parameter = |path: &str, method: &str, name: &str| -> Value {
        paths[path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} documents {name}"))["schema"]
            .clone()
    };
    for path in ["/containers/{id}", "/containers/{id}/history"] {
        assert_eq!(
            parameter(path, "get", "id")["pattern"],
            "^[0-9a-fA-F]{4,64}$"
        );
    }
    let list = "/containers";
    // No NUL character where the store filters (PostgreSQL keeps none in text).
    let without_nul = "^[^\\u0000]*$";
    assert_eq!(
        parameter(list, "get", "label")["items"]["pattern"],
        "^[^=\\u0000]*=[^\\u0000]*$"
    );
    for name in ["node", "image", "name", "service", "stack"] {
        assert_eq!(
            parameter(list, "get", name)["pattern"],
            without_nul,
            "{name}"
        );
    }
    let snapshot = &document["components"]["schemas"]["Snapshot"]["properties"];
    for field in ["name", "image", "node", "service", "stack"] {
        assert_eq!(snapshot[field]["pattern"], without_nul, "{field}");
    }
    for part in ["propertyNames", "additionalProperties"] {
        assert_eq!(snapshot["labels"][part]["pattern"], without_nul, "{part}");
    }
    assert_eq!(parameter(list, "get", "limit")["minimum"], 1);
    assert_eq!(parameter(list, "get", "limit")["maximum"], 1000);
    assert_eq!(
        parameter(list, "get", "state")["$ref"],
        "#/components/schemas/ContainerState"
    );
    for name in ["state", "node_status"] {
        assert!(parameter(list, "get", name)["$ref"].is_string(), "{name}");
    }
    assert_eq!(
        parameter("/nodes", "get", "status")["$ref"],
        "#/components/schemas/NodeStatus"
    );
    let report = &document["components"]["schemas"]["NodeReport"]["properties"];
    assert_eq!(report["report_interval_ms"]["minimum"], 100);
    assert_eq!(report["report_interval_ms"]["maximum"], 86_400_000);
    for text in ["node", "agent_version"] {
        assert_eq!(report[text]["minLength"], 1, "{text}");
        assert_eq!(report[text]["maxLength"], 255, "{text}");
        assert_eq!(report[text]["pattern"], without_nul, "{text}");
    }
    let history = "/containers/{id}/history";
    for name in ["since", "until"] {
        assert_eq!(parameter(history, "get", name)["format"], "date-time");
    }
    assert!(parameter(history, "get", "cursor")["pattern"].is_string());

    let post = &paths[list]["post"];
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["SnapshotBatch"]["minItems"], 1);
    assert_eq!(
        schemas["StoredRecords"]["oneOf"].as_array().unwrap().len(),
        2
    );
    let answers: Vec<&String> = post["responses"].as_object().unwrap().keys().collect();
    assert_eq!(
        answers,
        [
            "201", "400", "401", "403", "413", "415", "422", "500", "503"
        ]
    );
    assert!(post["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert!(post["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
    // The token is the store's setting: optional in the document, everywhere.
    assert_eq!(post["security"], json!([{}, {"bearer": []}]));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// The roll call and the lease work on every backend: a store alone sends
/// heartbeats, is listed alive by the database's clock, and takes the lease.
async fn a_store_alone_is_listed_alive_and_leads(backend: Backend) {
    let store = spawn_store(backend).await;
    let started = std::time::Instant::now();
    let replicas = loop {
        let replicas: Replicas = serde_json::from_value(store.get_json("/replicas").await).unwrap();
        if replicas.lease.holder.is_some() && !replicas.items.is_empty() {
            break replicas;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{replicas:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(replicas.items.len(), 1, "{replicas:?}");
    let me = &replicas.items[0];
    assert_eq!(me.id, REPLICA);
    assert!(me.alive, "{replicas:?}");
    assert_eq!(me.role, ReplicaRole::Leader);
    assert_eq!(replicas.lease.holder.as_deref(), Some(REPLICA));
    assert_eq!(replicas.lease.generation, 1);
    assert_eq!(replicas.lease.duration_seconds, 10.0);
}

both_backends!(
    a_store_alone_is_listed_alive_and_leads,
    health_and_readiness_name_the_replica,
    metrics_count_requests_rows_and_commits,
    the_openapi_document_describes_exactly_the_served_routes,
    the_openapi_document_states_the_constraints_the_store_enforces,
);
