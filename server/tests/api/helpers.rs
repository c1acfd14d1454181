//! A real store on a random loopback port with its own SQLite file, started
//! the way `main` starts it, and typed helpers to talk to it.

use std::path::PathBuf;
use std::sync::Once;

use container_info_server::config::Config;
use container_info_server::startup::Application;
use container_info_wire::{ErrorBody, REPLICA_HEADER};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const REPLICA: &str = "test-replica";

pub struct TestStore {
    pub url: String,
    pub http: reqwest::Client,
    pub database: PathBuf,
    _folder: TempDir,
}

pub async fn spawn_store() -> TestStore {
    spawn_store_with(|_| {}).await
}

pub async fn spawn_store_with(adjust: impl FnOnce(&mut Config)) -> TestStore {
    static LOGS: Once = Once::new();
    // Quiet unless TEST_LOG is set, as in zero2prod.
    if std::env::var_os("TEST_LOG").is_some() {
        LOGS.call_once(container_info_server::telemetry::init);
    }
    let folder = tempfile::tempdir().expect("a temp folder");
    let database = folder.path().join("nested/folder/store.db");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: database.clone(),
        replica_id: Some(REPLICA.to_owned()),
        history_limit: 1000,
        reuse_port: false,
    };
    adjust(&mut config);
    let app = Application::build(config).expect("the store starts");
    let url = format!("http://{}", app.address());
    tokio::spawn(app.run_until_stopped());
    TestStore {
        url,
        http: reqwest::Client::new(),
        database,
        _folder: folder,
    }
}

impl TestStore {
    pub async fn post(&self, body: &Value) -> Response {
        self.http
            .post(format!("{}/containers", self.url))
            .json(body)
            .send()
            .await
            .expect("the store answers")
    }

    /// Posts and expects 201, returning what was stored.
    pub async fn store(&self, body: &Value) -> Value {
        let response = self.post(body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path_and_query: &str) -> Response {
        self.http
            .get(format!("{}{path_and_query}", self.url))
            .send()
            .await
            .expect("the store answers")
    }

    pub async fn get_json(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path_and_query}");
        response.json().await.unwrap()
    }

    /// Containers and history rows, read from the file itself rather than
    /// through the API under test.
    pub fn rows(&self) -> (i64, i64) {
        let conn = rusqlite::Connection::open(&self.database).unwrap();
        conn.query_row(
            "SELECT (SELECT count(*) FROM containers), (SELECT count(*) FROM snapshots)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
    }
}

/// Asserts an error answer's status and shape, and returns its body.
pub async fn expect_error(response: Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status, "{:?}", response.url().path());
    assert!(
        response.headers().contains_key(REPLICA_HEADER),
        "error answers name their replica too"
    );
    let body: ErrorBody = response.json().await.expect("errors are JSON");
    assert!(!body.error.is_empty());
    body
}

/// A container ID made from a number, so tests can make many distinct ones;
/// spread out so that different numbers differ in the first digits too.
pub fn container_id(n: u64) -> String {
    format!("{:016x}", (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(4)
}

/// A snapshot shaped as the agent produces it.
pub fn snapshot(id: &str, observed_at: &str) -> Value {
    json!({
        "id": id,
        "name": format!("web-{}", &id[..6]),
        "image": "registry.local/web:1.4",
        "image_id": "sha256:5d1e0c8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
        "node": "node-1",
        "state": "running",
        "created": "2026-11-24T09:00:00.123456789Z",
        "started_at": "2026-11-24T09:00:01Z",
        "labels": {
            "com.docker.stack.namespace": "shop",
            "com.docker.swarm.service.name": "shop_web",
        },
        "networks": {
            "bridge": {"ip_address": "172.17.0.5", "ipv6_address": "", "gateway": "172.17.0.1"}
        },
        "stats": {
            "cpu_percent": 3.25, "memory_usage_bytes": 52_428_800, "memory_limit_bytes": 1_073_741_824,
            "network_rx_bytes": 1_024, "network_tx_bytes": 2_048, "pids": 7
        },
        "observed_at": observed_at,
    })
}

/// A time `seconds` after a fixed start, as RFC 3339.
pub fn at(seconds: u32) -> String {
    format!("2026-11-24T10:{:02}:{:02}Z", seconds / 60, seconds % 60)
}
