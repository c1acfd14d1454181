//! The shared test kit (a real store, snapshots), and what only the client's
//! tests need beside it: a stand-in agent, and the client binary run one-shot.

use std::net::TcpListener;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
pub use container_info_testkit::*;
use serde_json::{Value, json};

pub const CLIENT: &str = env!("CARGO_BIN_EXE_container-info");

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

/// The agent version in the node reports of these tests: not the workspace's
/// own, so that a table showing the client's version instead would be caught.
pub const AGENT_VERSION: &str = "0.9.1";

/// A node report as an agent in fleet mode sends it, posted with the
/// operator's token: `node` is alive and reports every `interval_ms`.
pub async fn report_node(store: &TestStore, node: &str, interval_ms: u64) {
    let mut report = node_report(node, interval_ms, &chrono::Utc::now().to_rfc3339());
    report["agent_version"] = AGENT_VERSION.into();
    let response = store
        .http
        .post(format!("{}/nodes", store.url))
        .header("authorization", bearer())
        .json(&report)
        .send()
        .await
        .expect("the store answers");
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
}
