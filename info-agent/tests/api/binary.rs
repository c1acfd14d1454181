//! The built binary: what `main` adds on top of the library.

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::TestDocker;

pub const BINARY: &str = env!("CARGO_BIN_EXE_container-info-agent");

#[tokio::test]
async fn without_an_engine_the_binary_exits_naming_the_socket_and_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let output = tokio::process::Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--docker-host"])
        .arg(format!("unix://{}", socket.display()))
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&socket.display().to_string()), "{stderr}");
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
}

#[tokio::test]
async fn the_binary_serves_and_stops_cleanly_on_sigterm() {
    let Some(_docker) = TestDocker::connect().await else {
        return;
    };
    // The binary reports the port only in its log; hand it one known to be free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut agent = tokio::process::Command::new(BINARY)
        .env("CONTAINER_INFO_AGENT_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = false;
    for _ in 0..50 {
        if let Ok(response) = http.get(&url).send().await {
            ready = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the binary did not become ready on port {port}");

    let pid = agent.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), agent.wait())
        .await
        .expect("the agent stops within 15 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
