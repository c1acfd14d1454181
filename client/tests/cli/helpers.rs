use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use container_info_server::config::Config;
use container_info_server::startup::Application;
use container_info_wire::{Page, StoredSnapshot};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const REPLICA: &str = "test-replica";
pub const CLIENT: &str = env!("CARGO_BIN_EXE_container-info");

/// A real store on a random loopback port with its own database file.
pub struct TestStore {
    pub url: String,
    http: reqwest::Client,
    _folder: TempDir,
}

pub async fn spawn_store() -> TestStore {
    let folder = tempfile::tempdir().expect("a temp folder");
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: folder.path().join("store.db"),
        replica_id: Some(REPLICA.to_owned()),
        history_limit: 1000,
        reuse_port: false,
    };
    let app = Application::build(config).expect("the store starts");
    let url = format!("http://{}", app.address());
    tokio::spawn(app.run_until_stopped());
    TestStore {
        url,
        http: reqwest::Client::new(),
        _folder: folder,
    }
}

impl TestStore {
    /// Stores snapshots directly, not through the client under test.
    pub async fn post(&self, snapshots: &Value) {
        let response = self
            .http
            .post(format!("{}/containers", self.url))
            .json(snapshots)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Everything the store holds (latest of each container), read directly.
    pub async fn containers(&self) -> Vec<StoredSnapshot> {
        let page: Page<StoredSnapshot> = self
            .http
            .get(format!("{}/containers?limit=1000", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page.next_cursor, None);
        page.items
    }
}

/// An HTTP server standing in for the agent: `/self` answers `body` with
/// `status`, `/healthz` answers 200.
pub struct TestAgent {
    pub url: String,
    self_calls: Arc<AtomicUsize>,
}

impl TestAgent {
    /// How many times `/self` was asked.
    pub fn self_calls(&self) -> usize {
        self.self_calls.load(Ordering::SeqCst)
    }
}

pub async fn spawn_agent(status: u16, body: Value) -> TestAgent {
    spawn_agent_after(Duration::ZERO, status, body).await
}

/// An agent that takes `delay` to answer `/self`.
pub async fn spawn_agent_after(delay: Duration, status: u16, body: Value) -> TestAgent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let self_calls = Arc::new(AtomicUsize::new(0));
    let answer = web::Data::new(Answer {
        status,
        body,
        delay,
        self_calls: self_calls.clone(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(answer.clone())
            .route(
                "/self",
                web::get().to(|answer: web::Data<Answer>| async move {
                    answer.self_calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(answer.delay).await;
                    let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap();
                    HttpResponse::build(status).json(&answer.body)
                }),
            )
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    TestAgent { url, self_calls }
}

struct Answer {
    status: u16,
    body: Value,
    delay: Duration,
    self_calls: Arc<AtomicUsize>,
}

/// An agent that answers `/self` with the snapshot of container `n`.
pub async fn spawn_agent_for(n: u64) -> TestAgent {
    spawn_agent(200, snapshot(n, &at(0))).await
}

/// A loopback URL where nothing listens: the port was free a moment ago.
pub fn nothing_listens() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

pub fn container_id(n: u64) -> String {
    format!("{:016x}", (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(4)
}

/// A snapshot of container `n`, shaped as the agent produces it.
pub fn snapshot(n: u64, observed_at: &str) -> Value {
    json!({
        "id": container_id(n),
        "name": format!("web-{n}"),
        "image": "registry.local/web:1.4",
        "image_id": "sha256:5d1e0c8a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6",
        "node": "node-1",
        "state": "running",
        "created": "2026-11-24T09:00:00Z",
        "started_at": "2026-11-24T09:00:01Z",
        "labels": {"com.docker.swarm.service.name": "shop_web"},
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

pub fn at(seconds: u32) -> String {
    format!("2026-11-24T10:{:02}:{:02}Z", seconds / 60, seconds % 60)
}

/// What one run of the client did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Run {
    /// Asserts a failure with exactly one line on stderr, and returns that line.
    pub fn failed_with(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        self.stderr.trim_end()
    }

    pub fn succeeded(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        &self.stdout
    }
}

/// The client binary, one-shot, told where the agent and store are by the
/// environment (never left to find the default gateway, which is no test host).
pub async fn client(store: &str, agent: &str, args: &[&str]) -> Run {
    tokio::process::Command::new(CLIENT)
        .args(args)
        .env("CONTAINER_INFO_SERVER", store)
        .env("CONTAINER_INFO_AGENT", agent)
        .env_remove("CONTAINER_INFO_SERVICE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the client runs")
        .into()
}

/// The folder Cargo put this test binary's sibling binaries in.
pub fn binaries_folder() -> PathBuf {
    let test_binary = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    test_binary.parent().unwrap().parent().unwrap().to_owned()
}
