//! A real store on a random loopback port with its own database (a SQLite
//! file, or a PostgreSQL database), started in the test's process the way
//! `main` starts it, and typed helpers to talk to it.

use std::path::Path;
use std::sync::Once;

use container_info_server::config::{Config, Database, PostgresUrl};
use container_info_server::startup::Application;
use container_info_wire::{Page, StoredSnapshot};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

use crate::postgres::{Cluster, test_database};

/// The replica ID of a store from [`spawn_store`].
pub const REPLICA: &str = "test-replica";

/// The database a test store keeps its data in. The API tests run each body
/// against both (see `both_backends!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestStore {
    pub url: String,
    pub http: reqwest::Client,
    pub database: Database,
    pub backend: Backend,
    _folder: TempDir,
    /// A PostgreSQL cluster of the test's own, when no shared one is named.
    _cluster: Option<Cluster>,
}

pub async fn spawn_store(backend: Backend) -> TestStore {
    spawn_store_with(backend, |_| {}).await
}

/// A store whose configuration `adjust` may change first: another listening
/// address, a database shared with other stores, a history limit.
pub async fn spawn_store_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestStore {
    static LOGS: Once = Once::new();
    // Quiet unless TEST_LOG is set, as in zero2prod.
    if std::env::var_os("TEST_LOG").is_some() {
        LOGS.call_once(container_info_server::telemetry::init);
    }
    let folder = tempfile::tempdir().expect("a temp folder");
    // In a folder that does not exist yet: the store creates it.
    let (database, cluster) = match backend {
        Backend::Sqlite => (
            Database::Sqlite(folder.path().join("nested/folder/store.db")),
            None,
        ),
        Backend::Postgres => {
            let (url, cluster) = test_database().await;
            let url = PostgresUrl::parse(&url).expect("the test database's URL");
            (Database::Postgres(url), cluster)
        }
    };
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database,
        database_ca_file: None,
        database_password_file: None,
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
    let app = Application::build(config).await.expect("the store starts");
    let url = format!("http://{}", app.address());
    tokio::spawn(app.run_until_stopped());
    TestStore {
        url,
        http: reqwest::Client::new(),
        backend: match database {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        },
        database,
        _folder: folder,
        _cluster: cluster,
    }
}

/// A connection to a test database, its connection task running until the
/// client is dropped.
async fn postgres_client(url: &PostgresUrl) -> tokio_postgres::Client {
    let (client, connection) = url
        .tokio_config()
        .connect(tokio_postgres::NoTls)
        .await
        .expect("the test database answers");
    tokio::spawn(connection);
    client
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

    /// `POST /nodes` of a node's report, without a token.
    pub async fn post_node(&self, report: &Value) -> Response {
        self.http
            .post(format!("{}/nodes", self.url))
            .json(report)
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

    /// Containers and history rows, read from the database itself rather
    /// than through the API under test.
    pub async fn rows(&self) -> (i64, i64) {
        (
            self.count_rows("containers").await,
            self.count_rows("snapshots").await,
        )
    }

    /// The rows of `table`, read from the database itself.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let query = format!("SELECT count(*) FROM {table}");
        match &self.database {
            Database::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(&query, [], |row| row.get(0))
                .unwrap(),
            Database::Postgres(url) => postgres_client(url)
                .await
                .query_one(&query, &[])
                .await
                .unwrap()
                .get(0),
        }
    }

    /// Runs `statements` on the store's PostgreSQL database, from a
    /// connection of the test's own: as an operator would.
    pub async fn postgres_sql(&self, statements: &str) {
        let Database::Postgres(url) = &self.database else {
            panic!("a PostgreSQL-only test was given SQLite");
        };
        postgres_client(url)
            .await
            .batch_execute(statements)
            .await
            .unwrap_or_else(|error| panic!("{statements}: {error}"));
    }

    /// The SQLite file, for a test of what only SQLite does.
    pub fn sqlite_file(&self) -> &Path {
        match &self.database {
            Database::Sqlite(path) => path,
            Database::Postgres(_) => panic!("a SQLite-only test was given PostgreSQL"),
        }
    }
}
