//! The replicas' roll call and the leader's lease, with real store processes
//! on one database: one leader at any moment, a killed leader replaced
//! within the lease, a paused one that wakes a follower, role scripts in
//! order, and the settings refused when wrong. Every body runs on both
//! backends (one SQLite file; one database of the PostgreSQL test cluster,
//! whose clock judges the lease there).
//!
//! Timings are waited for with deadlines; the only bound asserted is the one
//! the design promises (a new leader within the lease and a second), measured
//! on the database's own record of when the lease was taken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use container_info_testkit::{Backend, Replica, SharedDatabase, both_backends};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_container-info-server");
const LEASE: Duration = Duration::from_secs(2);

both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    one_leader_and_a_killed_one_is_replaced_within_the_lease,
    a_leader_paused_past_its_lease_wakes_a_follower_and_does_nothing_as_leader,
    a_leader_whose_write_waits_past_its_lease_is_refused_by_the_database,
    failing_and_hanging_role_scripts_are_logged_and_counted_and_the_store_goes_on,
);

/// Three replicas on one database with a 2 s lease, each appending its role
/// changes to `roles` (one line each: replica, role, generation).
struct Trio {
    replicas: Vec<Replica>,
    names: Vec<String>,
    roles: PathBuf,
    database: SharedDatabase,
    _folder: tempfile::TempDir,
}

async fn start_trio(backend: Backend, extra: &[&str]) -> Trio {
    let folder = tempfile::tempdir().unwrap();
    let database = SharedDatabase::new(backend).await;
    let roles = folder.path().join("roles");
    let script = format!(
        r#"echo "$CONTAINER_INFO_REPLICA_ID $CONTAINER_INFO_ROLE $CONTAINER_INFO_LEASE_GENERATION" >> '{}'"#,
        roles.display()
    );
    let mut settings = vec![
        "--lease",
        "2s",
        "--on-leader",
        &script,
        "--on-follower",
        &script,
    ];
    settings.extend_from_slice(extra);
    let names: Vec<String> = (1..=3).map(|n| format!("replica-{n}")).collect();
    let replicas = names
        .iter()
        .map(|name| {
            Replica::start_with(
                Path::new(BINARY),
                "127.0.0.1:0",
                name,
                &database.argument,
                &settings,
            )
        })
        .collect();
    Trio {
        replicas,
        names,
        roles,
        database,
        _folder: folder,
    }
}

impl Trio {
    fn index_of(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap()
    }

    /// The role lines the scripts wrote, by replica, in order.
    fn roles(&self) -> BTreeMap<String, Vec<(String, i64)>> {
        let mut by_replica: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
        for line in std::fs::read_to_string(&self.roles)
            .unwrap_or_default()
            .lines()
        {
            let [replica, role, generation] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("a role line is `replica role generation`: {line:?}");
            };
            by_replica
                .entry(replica.to_owned())
                .or_default()
                .push((role.to_owned(), generation.parse().unwrap()));
        }
        by_replica
    }

    /// The lease row, read from the database itself.
    async fn lease_row(&self) -> (Option<String>, i64, i64) {
        self.database
            .query_rows(
                "SELECT holder, generation, transitions FROM lease",
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                |row| (row.get(0), row.get(1), row.get(2)),
            )
            .await
            .expect("the lease's row")
    }

    /// The last round of leader-only work: by whom, under which generation.
    async fn leader_work(&self) -> Option<(String, i64)> {
        self.database
            .query_rows(
                "SELECT done_by, generation FROM leader_work",
                |row| Ok((row.get(0)?, row.get(1)?)),
                |row| (row.get(0), row.get(1)),
            )
            .await
    }
}

async fn get_json(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    response.status().is_success().then_some(())?;
    response.json().await.ok()
}

/// Asks until `check` gives an answer, or fails naming `what` after `within`.
async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/replicas` from `url` once it lists `count` alive replicas and one leader.
async fn settled(url: &str, count: usize) -> Value {
    eventually(
        &format!("{count} alive replicas and a leader at {url}"),
        Duration::from_secs(20),
        || async {
            let replicas = get_json(&format!("{url}/replicas")).await?;
            let items = replicas["items"].as_array()?;
            let alive = items.iter().filter(|r| r["alive"] == true).count();
            let leaders = items.iter().filter(|r| r["role"] == "leader").count();
            (alive == count && leaders == 1 && replicas["lease"]["holder"].is_string())
                .then_some(replicas)
        },
    )
    .await
}

fn holder(replicas: &Value) -> String {
    replicas["lease"]["holder"].as_str().unwrap().to_owned()
}

fn wall_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn ms_of(time: &Value) -> i64 {
    time.as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap()
        .timestamp_millis()
}

/// A number logged as `key=value` on a line.
fn field(line: &str, key: &str) -> i64 {
    let start = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    line[start + key.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every leadership a replica logged: generation -> (replica, taken at, held
/// until if it logged stepping down).
type Leaderships = BTreeMap<i64, (String, i64, Option<i64>)>;

fn leaderships(trio: &Trio) -> Leaderships {
    let mut found = Leaderships::new();
    for (name, replica) in trio.names.iter().zip(&trio.replicas) {
        for line in replica.log().lines() {
            if line.contains("became the leader") {
                let generation = field(line, "generation");
                let taken = (name.clone(), field(line, "acquired_at_ms"), None);
                assert!(
                    found.insert(generation, taken).is_none(),
                    "generation {generation} taken twice"
                );
            } else if line.contains("stopped being the leader") {
                let generation = field(line, "generation");
                let held = found
                    .get_mut(&generation)
                    .expect("stepped down after taking it");
                assert_eq!(held.0, *name, "{name} stepped down from another's lease");
                held.2 = Some(field(line, "leader_until_ms"));
            }
        }
    }
    found
}

/// One leader at any moment: every generation up to the lease's taken once,
/// each leadership over before the next began, and the holder changes the
/// lease counted are the ones the replicas logged.
async fn assert_one_leader_at_a_time(trio: &Trio) {
    let found = leaderships(trio);
    let (_, generation, transitions) = trio.lease_row().await;
    assert_eq!(
        found.keys().copied().collect::<Vec<_>>(),
        (1..=generation).collect::<Vec<_>>(),
        "every generation taken once: {found:?}"
    );
    let mut changes = 0;
    let mut previous: Option<&(String, i64, Option<i64>)> = None;
    for leadership in found.values() {
        if let Some(before) = previous {
            if let Some(until) = before.2 {
                assert!(
                    until < leadership.1,
                    "a leadership began before the one before it ended: {found:?}"
                );
            }
            changes += i64::from(before.0 != leadership.0);
        } else {
            changes += 1;
        }
        previous = Some(leadership);
    }
    assert_eq!(changes, transitions, "{found:?}");
}

async fn one_leader_and_a_killed_one_is_replaced_within_the_lease(backend: Backend) {
    let mut trio = start_trio(backend, &["--forget-replicas-after", "5s"]).await;
    let replicas = settled(&trio.replicas[0].url, 3).await;
    let first = holder(&replicas);
    let versions: Vec<&Value> = replicas["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["version"])
        .collect();
    assert!(
        versions.iter().all(|v| *v == env!("CARGO_PKG_VERSION")),
        "{versions:?}"
    );
    for item in replicas["items"].as_array().unwrap() {
        let url = &trio.replicas[trio.index_of(item["id"].as_str().unwrap())].url;
        assert_eq!(
            item["addresses"][0]
                .as_str()
                .map(|a| format!("http://{a}"))
                .as_deref(),
            Some(url.as_str())
        );
    }

    let victim = trio.index_of(&first);
    let killed_at = wall_ms();
    trio.replicas[victim].kill();
    let survivor = trio.replicas[(victim + 1) % 3].url.clone();
    let replaced = eventually("another replica leads", Duration::from_secs(20), || async {
        let replicas = get_json(&format!("{survivor}/replicas")).await?;
        let now = replicas["lease"]["holder"].as_str()?;
        (now != first).then_some(replicas)
    })
    .await;
    let taken_after = ms_of(&replaced["lease"]["acquired_at"]) - killed_at;
    let bound = i64::try_from((LEASE + Duration::from_secs(1)).as_millis()).unwrap();
    assert!(
        taken_after <= bound,
        "a new leader {taken_after} ms after the kill"
    );

    // The killed one: listed as not alive, then forgotten.
    let listed = |replicas: &Value| {
        replicas["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == first.as_str())
            .cloned()
    };
    eventually(
        "the killed replica is not alive",
        Duration::from_secs(20),
        || async {
            let replicas = get_json(&format!("{survivor}/replicas")).await?;
            listed(&replicas).filter(|r| r["alive"] == false && r["role"] == "follower")
        },
    )
    .await;
    eventually(
        "the killed replica is forgotten",
        Duration::from_secs(30),
        || async {
            let replicas = get_json(&format!("{survivor}/replicas")).await?;
            listed(&replicas).is_none().then_some(())
        },
    )
    .await;

    assert_one_leader_at_a_time(&trio).await;
    // Each survivor's scripts: follower at start, then each change in order.
    let found = leaderships(&trio);
    let roles = eventually("every role script ran", Duration::from_secs(20), || async {
        let roles = trio.roles();
        let expected_lines: usize = 3 + found
            .values()
            .map(|l| 1 + usize::from(l.2.is_some()))
            .sum::<usize>();
        (roles.values().map(Vec::len).sum::<usize>() == expected_lines).then_some(roles)
    })
    .await;
    for name in &trio.names {
        let mut expected = vec![("follower".to_owned(), 0)];
        let starts = &roles[name][0];
        expected[0].1 = starts.1;
        for (generation, (holder, _, until)) in &found {
            if holder == name {
                expected.push(("leader".to_owned(), *generation));
                if until.is_some() {
                    expected.push(("follower".to_owned(), *generation));
                }
            }
        }
        assert_eq!(roles[name], expected, "{name}'s scripts");
    }
}

async fn a_leader_paused_past_its_lease_wakes_a_follower_and_does_nothing_as_leader(
    backend: Backend,
) {
    let trio = start_trio(backend, &[]).await;
    let replicas = settled(&trio.replicas[0].url, 3).await;
    let first = holder(&replicas);
    let generation = replicas["lease"]["generation"].as_i64().unwrap();
    let paused = &trio.replicas[trio.index_of(&first)];
    let other = trio.replicas[(trio.index_of(&first) + 1) % 3].url.clone();

    paused.pause();
    let replaced = eventually("another replica leads", Duration::from_secs(20), || async {
        let replicas = get_json(&format!("{other}/replicas")).await?;
        (replicas["lease"]["holder"].as_str()? != first).then_some(replicas)
    })
    .await;
    let next = holder(&replaced);
    // Its own leader-only work is done under its generation.
    eventually("the new leader works", Duration::from_secs(20), || async {
        trio.leader_work()
            .await
            .filter(|(by, g)| *by == next && *g > generation)
    })
    .await;
    paused.resume();

    let log = eventually(
        "the woken replica steps down",
        Duration::from_secs(20),
        || async {
            let log = paused.log();
            log.contains("stopped being the leader").then_some(log)
        },
    )
    .await;
    let stepped = log
        .lines()
        .find(|l| l.contains("stopped being the leader"))
        .unwrap();
    assert_eq!(field(stepped, "generation"), generation, "{stepped}");
    assert!(stepped.contains("not renewed in time"), "{stepped}");
    let metrics = reqwest::get(format!("{}/metrics", paused.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "container_info_leader 0"),
        "{metrics}"
    );
    // It did nothing as leader: the lease and the last leader-only work are
    // of a later generation, now and a lease later. (Which replica holds it
    // then is not asserted: on a machine busy enough to delay a renewal past
    // the lease, the new leader may rightly lose it too.)
    for _ in 0..2 {
        let (_, lease_generation, _) = trio.lease_row().await;
        assert!(lease_generation > generation);
        let (_, work_generation) = trio.leader_work().await.unwrap();
        assert!(work_generation > generation);
        tokio::time::sleep(LEASE).await;
    }
    let led_then_followed = [
        ("leader".to_owned(), generation),
        ("follower".to_owned(), generation),
    ];
    eventually(
        "the woken replica's follower script after its leader script",
        Duration::from_secs(20),
        || async {
            let roles = trio.roles();
            let lines = roles.get(&first)?;
            lines
                .windows(2)
                .any(|pair| pair == led_then_followed)
                .then_some(())
        },
    )
    .await;
    assert_one_leader_at_a_time(&trio).await;
}

async fn a_leader_whose_write_waits_past_its_lease_is_refused_by_the_database(backend: Backend) {
    let database = SharedDatabase::new(backend).await;
    let replica = Replica::start_with(
        Path::new(BINARY),
        "127.0.0.1:0",
        "alone",
        &database.argument,
        &["--lease", "1s"],
    );
    let replicas = settled(&replica.url, 1).await;
    let generation = replicas["lease"]["generation"].as_i64().unwrap();

    // Hold a lock the leader's writes need for longer than the lease: its
    // next round of work, queued before it, waits for it and lands only after
    // the lease expired. (When the lock comes while the leader is renewing
    // instead, it steps down with no work queued: then again.) On SQLite that
    // is the file's write lock; on PostgreSQL the lease's row, which both a
    // renewal and leader-only work lock first.
    let mut stalls = 0;
    loop {
        settled(&replica.url, 1).await;
        hold_write_lock(&database, Duration::from_secs(3)).await;
        stalls += 1;
        // The refusal is counted as the work lands, just after the lock frees.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = reqwest::get(format!("{}/metrics", replica.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let refused = text
            .lines()
            .find_map(|l| l.strip_prefix("container_info_leader_writes_refused_total "))
            .unwrap();
        if refused != "0" {
            break;
        }
        // A stall that meets a renewal rather than queued work proves nothing
        // either way; on a busy machine several in a row do (seen once in
        // five runs at load 4 on PostgreSQL with a cap of 5).
        assert!(stalls < 10, "no leader write refused after {stalls} stalls");
    }
    let log = replica.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("leader-only work refused by the database"))
        .unwrap_or_else(|| panic!("the refusal is logged:\n{log}"));
    assert!(log.contains("stopped being the leader"), "{log}");
    // The database's side: the refused generation is no longer the lease's.
    let lease: i64 = database
        .query_row("SELECT generation FROM lease")
        .await
        .unwrap();
    assert!(field(refusal, "generation") >= generation);
    assert!(lease > field(refusal, "generation"), "{refusal}");
}

/// Holds, for `held`, the lock the leader's writes wait for.
async fn hold_write_lock(database: &SharedDatabase, held: Duration) {
    match database.backend {
        Backend::Sqlite => {
            let blocker = rusqlite::Connection::open(database.sqlite_file()).unwrap();
            blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
            tokio::time::sleep(held).await;
            blocker.execute_batch("COMMIT").unwrap();
        }
        Backend::Postgres => {
            let (blocker, connection) =
                tokio_postgres::connect(&database.argument, tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            blocker
                .batch_execute("BEGIN; SELECT 1 FROM lease FOR UPDATE")
                .await
                .unwrap();
            tokio::time::sleep(held).await;
            blocker.batch_execute("COMMIT").await.unwrap();
        }
    }
}

/// Settings are refused before the database is opened: one backend says it
/// for both.
fn refused(settings: &[&str]) -> String {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(folder.path().join("store.db"))
        .args(settings)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{settings:?} refused as bad usage"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn wrong_settings_are_refused_with_what_is_wrong() {
    for (settings, says) in [
        (&["--lease", "10"][..], "\"10\" is not a duration"),
        (&["--lease", "0s"], "the lease must be from 1s to 3600s"),
        (&["--lease", "ten seconds"], "is not a duration"),
        (
            &["--forget-replicas-after", "2s"],
            "longer than the 3 s a heartbeat counts for",
        ),
        (&["--role-script-timeout", "1x"], "is not a duration"),
        (&["--on-leader", " "], "the command is empty"),
        (&["--advertise-address", "10.0.0.1"], "is not host:port"),
    ] {
        let said = refused(settings);
        assert!(said.contains(says), "{settings:?}: {said}");
    }
}

async fn failing_and_hanging_role_scripts_are_logged_and_counted_and_the_store_goes_on(
    backend: Backend,
) {
    let database = SharedDatabase::new(backend).await;
    let replica = Replica::start_with(
        Path::new(BINARY),
        "127.0.0.1:0",
        "scripted",
        &database.argument,
        &[
            "--on-follower",
            "echo said-on-stdout; echo said-on-stderr >&2; sleep 100",
            "--role-script-timeout",
            "500ms",
            "--on-leader",
            "exit 3",
        ],
    );
    let metrics = eventually("both scripts counted", Duration::from_secs(20), || async {
        let text = reqwest::get(format!("{}/metrics", replica.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (text.contains(
            r#"container_info_role_scripts_total{outcome="timed_out",role="follower"} 1"#,
        ) && text
            .contains(r#"container_info_role_scripts_total{outcome="failed",role="leader"} 1"#))
        .then_some(text)
    })
    .await;
    assert!(metrics.contains("container_info_leader 1"), "{metrics}");
    let log = replica.log();
    for said in [
        "said-on-stdout",
        "said-on-stderr",
        "exit status: 3",
        "timed_out",
    ] {
        assert!(log.contains(said), "{said} in\n{log}");
    }
    assert!(get_json(&format!("{}/readyz", replica.url)).await.is_some());
}
