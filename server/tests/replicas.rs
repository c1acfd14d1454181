//! Several store processes on one database, as Swarm runs the replicas: no
//! acknowledged write is lost or duplicated, whichever replica took it, even
//! when a replica is killed mid-stream. Every body runs on both backends: on
//! one SQLite file, and on one database of the PostgreSQL test cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use container_info_testkit::{
    Backend, Replica, SharedDatabase, both_backends, snapshot as agent_snapshot,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    three_replicas_on_one_database_keep_every_acknowledged_write_once,
    a_replica_killed_mid_stream_loses_no_acknowledged_write,
    sigterm_finishes_what_is_in_flight_and_exits_cleanly,
);

/// A replica on a port of the kernel's choosing.
fn start_replica(database: &str, name: &str) -> Replica {
    let binary = Path::new(env!("CARGO_BIN_EXE_container-info-server"));
    Replica::start(binary, "127.0.0.1:0", name, database)
}

/// An HTTP client that drops a connection idle for 2 s, before the store's
/// keep-alive (actix-web's 5 s) closes it: otherwise a request sent just as the
/// store closes an idle connection fails (IncompleteMessage), which on a busy
/// machine, with writers taking turns over three replicas, happens.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// The `sequence`th snapshot of container `container`.
fn snapshot(container: u64, sequence: u64) -> Value {
    agent_snapshot(container, &format!("2026-11-24T10:00:00.{sequence:09}Z"))
}

/// (container id, observed_at) -> the replica that acknowledged it.
type Acknowledged = Arc<Mutex<BTreeMap<(String, String), String>>>;

fn acknowledge(acknowledged: &Acknowledged, stored: &Value) {
    let records = match stored {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let mut acknowledged = acknowledged.lock().unwrap();
    for record in records {
        let key = (
            record["id"].as_str().unwrap().to_owned(),
            record["observed_at"].as_str().unwrap().to_owned(),
        );
        let replica = record["received_by"].as_str().unwrap().to_owned();
        assert!(
            acknowledged.insert(key, replica).is_none(),
            "acknowledged twice"
        );
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.json().await.unwrap()
}

/// Every snapshot of every container as the store at `url` holds it.
async fn everything_stored(
    http: &reqwest::Client,
    url: &str,
) -> BTreeMap<(String, String), String> {
    let list = get_json(http, &format!("{url}/containers?limit=1000")).await;
    assert_eq!(list["next_cursor"], Value::Null);
    let mut stored = BTreeMap::new();
    for container in list["items"].as_array().unwrap() {
        let id = container["id"].as_str().unwrap();
        let history = get_json(http, &format!("{url}/containers/{id}/history?limit=1000")).await;
        assert_eq!(history["next_cursor"], Value::Null);
        for record in history["items"].as_array().unwrap() {
            let key = (
                id.to_owned(),
                record["observed_at"].as_str().unwrap().to_owned(),
            );
            let replica = record["received_by"].as_str().unwrap().to_owned();
            assert!(stored.insert(key, replica).is_none(), "stored twice: {id}");
        }
    }
    stored
}

async fn three_replicas_on_one_database_keep_every_acknowledged_write_once(backend: Backend) {
    let database = SharedDatabase::new(backend).await;
    // Started together, as Swarm starts them: the migration must happen once.
    let starting: Vec<_> = (1..=3)
        .map(|n| {
            let database = database.argument.clone();
            std::thread::spawn(move || start_replica(&database, &format!("replica-{n}")))
        })
        .collect();
    let replicas: Vec<Replica> = starting.into_iter().map(|t| t.join().unwrap()).collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let http = client();
    let acknowledged = Acknowledged::default();

    const WRITERS: u64 = 12;
    const REQUESTS_EACH: u64 = 30;
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (http, urls, acknowledged) = (http.clone(), urls.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for request in 0..REQUESTS_EACH {
                    let url = &urls[((writer + request) % 3) as usize];
                    let sequence = writer * 1000 + request;
                    // Every fifth request is an array spanning two containers.
                    let body = if request % 5 == 0 {
                        json!([snapshot(writer, sequence), snapshot(writer + 100, sequence)])
                    } else {
                        snapshot(writer, sequence)
                    };
                    let response = http
                        .post(format!("{url}/containers"))
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                    acknowledge(&acknowledged, &response.json().await.unwrap());
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(
        acknowledged.len() as u64,
        WRITERS * (REQUESTS_EACH + REQUESTS_EACH / 5)
    );
    let takers: BTreeSet<_> = acknowledged.values().collect();
    assert_eq!(takers.len(), 3, "every replica took writes");
    for url in &urls {
        assert_eq!(
            everything_stored(&http, url).await,
            acknowledged,
            "as seen from {url}"
        );
    }
}

/// Acknowledged writes before a replica is stopped mid-stream: enough to prove
/// something. Waited for rather than a fixed time, since PostgreSQL commits
/// (fsync'd, over a socket) take longer than SQLite's on a busy machine.
const ENOUGH: usize = 50;

/// Eight tasks posting to one replica as fast as it answers, until it goes away.
struct Posting {
    writers: Vec<tokio::task::JoinHandle<()>>,
    acknowledged: Acknowledged,
    /// Each answer other than 201, and what it said.
    refusals: Arc<Mutex<Vec<(StatusCode, String)>>>,
}

impl Posting {
    fn start(http: &reqwest::Client, url: &str) -> Self {
        let acknowledged = Acknowledged::default();
        let refusals: Arc<Mutex<Vec<(StatusCode, String)>>> = Arc::default();
        let writers = (0..8u64)
            .map(|writer| {
                let (http, url) = (http.clone(), url.to_owned());
                let (acknowledged, refusals) = (acknowledged.clone(), refusals.clone());
                tokio::spawn(async move {
                    for sequence in 0..100_000 {
                        let body = snapshot(writer, sequence);
                        let sent = http.post(format!("{url}/containers")).json(&body).send();
                        // An error means the replica is gone: this writer is done.
                        let Ok(response) = sent.await else { break };
                        let status = response.status();
                        if status != StatusCode::CREATED {
                            let said = response.text().await.unwrap_or_default();
                            refusals.lock().unwrap().push((status, said));
                            continue;
                        }
                        let Ok(stored) = response.json::<Value>().await else {
                            break;
                        };
                        acknowledge(&acknowledged, &stored);
                    }
                })
            })
            .collect();
        Self {
            writers,
            acknowledged,
            refusals,
        }
    }

    /// Returns once more than `count` writes were acknowledged: a replica
    /// stopped then is stopped mid-stream, however fast the database commits.
    async fn acknowledged_more_than(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.acknowledged.lock().unwrap().len() <= count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not {count} writes acknowledged within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for every writer to notice the replica is gone; returns what got a 201.
    async fn finish(self) -> BTreeMap<(String, String), String> {
        for writer in self.writers {
            writer.await.unwrap();
        }
        let refusals = self.refusals.lock().unwrap();
        assert!(refusals.is_empty(), "answers other than 201: {refusals:?}");
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        assert!(
            acknowledged.len() > ENOUGH,
            "too few writes before the replica went away to prove anything"
        );
        acknowledged
    }
}

fn assert_nothing_lost(
    acknowledged: &BTreeMap<(String, String), String>,
    stored: &BTreeMap<(String, String), String>,
) {
    for (key, replica) in acknowledged {
        assert_eq!(
            stored.get(key),
            Some(replica),
            "acknowledged but lost: {key:?}"
        );
    }
}

async fn a_replica_killed_mid_stream_loses_no_acknowledged_write(backend: Backend) {
    let database = SharedDatabase::new(backend).await;
    let mut victim = start_replica(&database.argument, "victim");
    let http = client();

    let posting = Posting::start(&http, &victim.url);
    posting.acknowledged_more_than(ENOUGH).await;
    victim.kill();
    let acknowledged = posting.finish().await;

    let survivor = start_replica(&database.argument, "survivor");
    assert_nothing_lost(
        &acknowledged,
        &everything_stored(&http, &survivor.url).await,
    );
}

async fn sigterm_finishes_what_is_in_flight_and_exits_cleanly(backend: Backend) {
    let database = SharedDatabase::new(backend).await;
    let mut replica = start_replica(&database.argument, "stopping");
    let http = client();

    let posting = Posting::start(&http, &replica.url);
    posting.acknowledged_more_than(ENOUGH).await;
    let status = tokio::task::spawn_blocking(move || replica.terminate())
        .await
        .unwrap();
    let acknowledged = posting.finish().await;

    assert!(status.success(), "exit status {status}");
    let restarted = start_replica(&database.argument, "restarted");
    let stored = everything_stored(&http, &restarted.url).await;
    assert_nothing_lost(&acknowledged, &stored);
    // At most the one request each writer had in flight may be stored unanswered.
    assert!(stored.len() - acknowledged.len() <= 8);
}
