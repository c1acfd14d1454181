//! What only PostgreSQL has: replicas that start together on one database, a
//! server that refuses writes, and a server restarted under load, for real
//! (`pg_ctl stop -m fast` on a cluster of the test's own, then start, while
//! writers post without pause). While it is away every write answers 503 with
//! Retry-After, within the store's bound on a storage call (never 500, never a
//! hang), and so do reads; once it is back, writes work again with nothing
//! restarted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use container_info_server::config::{Database, PostgresUrl};
use reqwest::StatusCode;

use crate::helpers::{
    Backend, Cluster, at, container_id, expect_error, postgres_available, snapshot, spawn_store,
    spawn_store_with, test_database,
};

/// The store answers within its 5 s bound on a storage call; this leaves room
/// for a slow test machine, and is far from a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(8);

#[tokio::test]
async fn replicas_that_start_together_migrate_once_and_see_each_others_writes() {
    if !postgres_available("replicas_that_start_together") {
        return;
    }
    let (url, _cluster) = test_database().await;
    let start = |replica: &'static str| {
        let url = PostgresUrl::parse(&url).unwrap();
        // A store on the given database (the backend follows the URL).
        spawn_store_with(Backend::Sqlite, move |config| {
            config.database = Database::Postgres(url);
            config.replica_id = Some(replica.to_owned());
        })
    };
    // Their migrations interleave at every round trip: without the advisory
    // lock, two would create the same tables and one would fail to start.
    let (a, b, c, d) = tokio::join!(start("a"), start("b"), start("c"), start("d"));
    assert_eq!(a.count_rows("schema_version").await, 1);
    for (writer, reader) in [(&a, &b), (&b, &c), (&c, &d), (&d, &a)] {
        let stored = writer.store(&snapshot(7, &at(0))).await;
        let read = reader
            .get_json(&format!("/containers/{}", container_id(7)))
            .await;
        assert_eq!(read["received_by"], stored["received_by"], "{read}");
        writer
            .http
            .delete(format!("{}/containers/{}", writer.url, container_id(7)))
            .send()
            .await
            .unwrap();
        assert_eq!(
            reader
                .get(&format!("/containers/{}", container_id(7)))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }
}

/// Makes the store's database refuse writes (`on`) or take them again
/// (`off`), and ends its sessions so that the store's next ones start so.
fn read_only(on: bool) -> String {
    let change = if on {
        "SET default_transaction_read_only = on"
    } else {
        "RESET default_transaction_read_only"
    };
    format!(
        // READ WRITE: the session starts read-only once the database is.
        "BEGIN READ WRITE;
         DO $$ BEGIN
             EXECUTE format('ALTER DATABASE %I {change}', current_database());
         END $$;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid();
         COMMIT;"
    )
}

#[tokio::test]
async fn a_database_that_refuses_writes_answers_503_and_writes_work_again_after() {
    if !postgres_available("a_database_that_refuses_writes") {
        return;
    }
    let store = spawn_store(Backend::Postgres).await;
    store.store(&snapshot(1, &at(0))).await;
    store.postgres_sql(&read_only(true)).await;

    // The first tries may meet the sessions just ended (503 too); then the
    // server's refusal itself.
    let started = Instant::now();
    let body = loop {
        let response = store.post(&snapshot(2, &at(0))).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after = response.headers()["retry-after"].clone();
        let body = expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
        if body.error.contains("cannot be written") {
            assert_eq!(retry_after, "30");
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{body:?}");
    };
    assert!(body.error.contains("nothing was stored"), "{body:?}");
    assert_eq!(
        store.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        store.rows().await,
        (1, 1),
        "a refused write changes nothing"
    );
    assert_eq!(store.containers().await.len(), 1, "reads go on");

    store.postgres_sql(&read_only(false)).await;
    let started = Instant::now();
    while store.post(&snapshot(2, &at(0))).await.status() != StatusCode::CREATED {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "writes did not come back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(store.rows().await, (2, 2));
}

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
