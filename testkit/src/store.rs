//! A real store on a random loopback port with its own SQLite file, started in
//! the test's process the way `main` starts it, and typed helpers to talk to it.

use std::path::PathBuf;
use std::sync::Once;

use container_info_server::config::Config;
use container_info_server::startup::Application;
use container_info_wire::{Page, StoredSnapshot};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

/// The replica ID of a store from [`spawn_store`].
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

/// A store whose configuration `adjust` may change first: another listening
/// address, a database file shared with other stores, a history limit.
pub async fn spawn_store_with(adjust: impl FnOnce(&mut Config)) -> TestStore {
    static LOGS: Once = Once::new();
    // Quiet unless TEST_LOG is set, as in zero2prod.
    if std::env::var_os("TEST_LOG").is_some() {
        LOGS.call_once(container_info_server::telemetry::init);
    }
    let folder = tempfile::tempdir().expect("a temp folder");
    // In a folder that does not exist yet: the store creates it.
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: folder.path().join("nested/folder/store.db"),
        replica_id: Some(REPLICA.to_owned()),
        history_limit: 1000,
        reuse_port: false,
        ready_file: None,
        token_file: None,
        signing_key_file: None,
        protect_reads: false,
        advertise_address: None,
        lease: std::time::Duration::from_secs(10),
        forget_replicas_after: std::time::Duration::from_secs(300),
        on_leader: None,
        on_follower: None,
        role_script_timeout: std::time::Duration::from_secs(30),
    };
    adjust(&mut config);
    let database = config.database.clone();
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
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).unwrap()
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

    /// The latest record of every container, on one page.
    pub async fn containers(&self) -> Vec<StoredSnapshot> {
        let page: Page<StoredSnapshot> =
            serde_json::from_value(self.get_json("/containers?limit=1000").await).unwrap();
        assert_eq!(page.next_cursor, None);
        page.items
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
