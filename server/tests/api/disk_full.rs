//! A full disk, for real: the database on a small tmpfs of its own. Writes
//! answer 503 with Retry-After and say what is wrong, /readyz answers 503,
//! reads go on, the file stays intact, and once space returns writes work
//! again with nothing restarted. Mounting needs root (CI runs as root);
//! elsewhere the test skips loudly, unless CONTAINER_INFO_REQUIRE_ROOT=1.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use tempfile::TempDir;

use crate::helpers::{Backend, at, container_id, expect_error, snapshot, spawn_store_with};

/// A tmpfs mounted on a temp folder, unmounted when dropped.
struct SmallDisk {
    folder: TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| output.stdout == b"0\n");
        if !root {
            assert_ne!(
                std::env::var("CONTAINER_INFO_REQUIRE_ROOT").as_deref(),
                Ok("1"),
                "CONTAINER_INFO_REQUIRE_ROOT=1, but the full-disk test runs as a user who cannot mount"
            );
            eprintln!("\n!!!!!!!! SKIPPED: the full-disk test mounts a tmpfs, which needs root.\n");
            return None;
        }
        let folder = tempfile::tempdir().unwrap();
        mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            folder.path(),
        );
        Some(Self { folder })
    }

    fn path(&self) -> &Path {
        self.folder.path()
    }

    fn resize(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}")], self.path());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(self.path())
            .status();
    }
}

fn mount(args: &[&str], folder: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(folder)
        .status()
        .unwrap();
    assert!(status.success(), "mount {args:?} {}", folder.display());
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_and_they_work_again_when_space_returns() {
    let Some(disk) = SmallDisk::mount("512k") else {
        return;
    };
    let store = spawn_store_with(Backend::Sqlite, |config| {
        config.database = disk.path().join("store.db").into()
    })
    .await;

    // Post until the disk is full. A refused write answers 503, says why, and
    // asks to come back later. Then /readyz, whose probe is a real write,
    // answers 503 too, unless a checkpoint has just made room in the log
    // again: then "ready" must be true, and the write is tried again.
    let mut stored = Vec::new();
    let mut refusals = 0;
    loop {
        let n = stored.len() as u64;
        assert!(n < 10_000, "512 KiB never filled");
        let response = store.post(&snapshot(n, &at(0))).await;
        if response.status() == StatusCode::CREATED {
            stored.push(container_id(n));
            continue;
        }
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap()),
            Some("30"),
            "a full disk asks the client to come back later"
        );
        let error = expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(
            error.error.contains("disk") && error.error.contains("full"),
            "{}",
            error.error
        );
        refusals += 1;
        let readiness = store.get("/readyz").await;
        if readiness.status() == StatusCode::OK {
            assert!(
                refusals < 20,
                "/readyz keeps answering 200 while writes are refused"
            );
            // The room may go to this replica's own heartbeat or lease
            // renewal first: the same snapshot is posted again.
            continue;
        }
        let error = expect_error(readiness, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(error.error.contains("full"), "{}", error.error);
        break;
    }
    assert!(!stored.is_empty(), "the disk filled before the first write");

    // Reads go on, with exactly what was acknowledged, and the file is intact.
    let listed: Vec<String> = store
        .containers()
        .await
        .into_iter()
        .map(|record| record.snapshot.id.to_string())
        .collect();
    let mut expected = stored.clone();
    expected.reverse();
    assert_eq!(
        listed, expected,
        "every acknowledged write, and nothing else"
    );
    let conn = rusqlite::Connection::open_with_flags(
        store.sqlite_file(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    // Space returns: writes and readiness come back, nothing restarted.
    disk.resize("16m");
    assert_eq!(store.get("/readyz").await.status(), StatusCode::OK);
    let n = stored.len() as u64;
    store.store(&snapshot(n, &at(0))).await;
    assert_eq!(store.containers().await.len(), stored.len() + 1);
}
