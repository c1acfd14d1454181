//! PostgreSQL restarted under load, for real: a cluster of the test's own
//! (`pg_ctl stop -m fast`, then start), while writers post without pause.
//! While it is away every write answers 503 with Retry-After, within the
//! store's bound on a storage call (never 500, never a hang), and so do reads;
//! once it is back, writes work again with nothing restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use container_info_server::config::{Database, PostgresUrl};
use reqwest::StatusCode;

use crate::helpers::{
    Backend, Cluster, at, container_id, expect_error, postgres_available, snapshot,
    spawn_store_with,
};

/// The store answers within its 5 s bound on a storage call; this leaves room
/// for a slow test machine, and is far from a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(8);

#[tokio::test]
async fn writes_answer_503_while_postgres_is_away_and_work_again_when_it_is_back() {
    if !postgres_available("postgres_away") {
        return;
    }
    let cluster = Arc::new(tokio::task::spawn_blocking(Cluster::start).await.unwrap());
    let url = PostgresUrl::parse(&cluster.url("postgres")).unwrap();
    let store = Arc::new(
        spawn_store_with(Backend::Postgres, |config| {
            config.database = Database::Postgres(url);
        })
        .await,
    );
    store.store(&snapshot(1, &at(0))).await;

    // Writers that post new snapshots without pause, and note every answer.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let response = store.post(&snapshot(100 + writer, &at(n))).await;
                    let retry_after = response.headers().contains_key("retry-after");
                    answers.push((response.status(), retry_after, started.elapsed()));
                }
                answers
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    // Away: a write and a read by themselves.
    let started = Instant::now();
    let refused = store.post(&snapshot(2, &at(0))).await;
    assert!(started.elapsed() < ANSWER_WITHIN, "{:?}", started.elapsed());
    assert!(refused.headers().contains_key("retry-after"));
    let body = expect_error(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body.error.contains("cannot be reached"), "{body:?}");
    let read = store.get("/containers").await;
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    // Back: writes work again, on the same store, within moments.
    let back = Instant::now();
    loop {
        let response = store.post(&snapshot(2, &at(0))).await;
        if response.status() == StatusCode::CREATED {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "writes did not come back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut refused_while_away = 0;
    for writer in writers {
        for (status, retry_after, took) in writer.await.unwrap() {
            assert!(took < ANSWER_WITHIN, "an answer took {took:?}");
            match status {
                StatusCode::CREATED => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(retry_after, "a 503 says when to try again");
                    refused_while_away += 1;
                }
                other => panic!("a write answered {other} while PostgreSQL restarted"),
            }
        }
    }
    assert!(refused_while_away > 0, "the writers saw PostgreSQL away");
    let ids: Vec<String> = store
        .containers()
        .await
        .into_iter()
        .map(|c| c.snapshot.id.to_string())
        .collect();
    for n in [1, 2] {
        assert!(ids.contains(&container_id(n)), "{ids:?}");
    }
}
