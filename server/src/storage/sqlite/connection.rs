//! How every connection to the shared file is set up.

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::StorageError;

/// Times a connection found the file locked by another connection (often another
/// replica) and waited. Process-wide, because SQLite's busy handler is a plain
/// function with no context.
pub(crate) static BUSY_RETRIES: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "container_info_sqlite_busy_retries_total",
        "Times a connection waited because the database file was locked",
    )
    .expect("metric name is valid")
});

/// How often a statement waits for a lock before it gives up with SQLITE_BUSY:
/// at most 1 ms each, so about ten seconds in all.
const MAX_WAITS: i32 = 10_000;

fn wait_while_busy(waits_so_far: i32) -> bool {
    if waits_so_far >= MAX_WAITS {
        return false;
    }
    BUSY_RETRIES.inc();
    // Short waits: a group commit holds the lock for about one fsync, and a
    // replica that sleeps past the moment the lock frees leaves the file idle.
    let doublings = waits_so_far.clamp(0, 5).unsigned_abs();
    let wait = Duration::from_micros(50u64 << doublings).min(Duration::from_millis(1));
    std::thread::sleep(wait);
    true
}

/// Settings every connection needs, reader or writer.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(wait_while_busy))?;
    // The bundled SQLite has STAT4, which re-plans a cached statement whenever
    // a bound value changes; the plans here do not depend on the values, and
    // re-planning every lookup cost more than running it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // FULL: in WAL mode, NORMAL does not fsync on commit, and a 2xx must mean on disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Statement journals (a savepoint that outgrows 64 KiB, say an array of 20
    // snapshots) would otherwise go to a temp file, and the image has no
    // writable temp folder: the write would fail.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Write-ahead log pages after which the writer checkpoints by itself: only a
/// safety net, since the checkpointer thread normally keeps the log short.
const WRITER_CHECKPOINT_PAGES: u32 = 20_000;

/// How much of the file the writer reads through a memory map rather than
/// with `pread`. Once the table outgrows the writer's page cache, each write
/// reads index pages the cache no longer holds; mapped, a page the operating
/// system holds is read in place, without a system call and a copy. Mapped
/// pages are the operating system's page cache, which they would occupy
/// anyway, and it can drop them (they count in the resident size).
const WRITER_MAP_BYTES: i64 = 1 << 30;

pub(crate) fn open_writer(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let mode = switch_to_wal(&conn)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
    conn.pragma_update(None, "mmap_size", WRITER_MAP_BYTES)?;
    Ok(conn)
}

/// Switches the file to WAL (nothing to do when it is already). On a new file
/// the switch upgrades a shared lock to an exclusive one, and when replicas
/// started together try it at once, SQLite answers the later ones "database
/// is locked" straight away, without the busy handler (waiting there could
/// deadlock). So the switch is tried again, as long as the busy handler
/// would have waited.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                BUSY_RETRIES.inc();
                std::thread::sleep(Duration::from_millis(5));
            }
            answer => return answer,
        }
    }
}

/// Page cache of each read connection, in KiB (SQLite's default is 2 MiB):
/// room for the whole `containers` table and its indexes at ten thousand
/// containers (5 MiB), so that lookups by ID and pages of the list find
/// their pages in memory. A replica's few read connections stay well inside
/// its memory budget. Each connection's cache is its own only because of the
/// build setting in `.cargo/config.toml`.
const READ_CACHE_KIB: i64 = 8 * 1024;

pub(crate) fn configure_reader(conn: &mut Connection) -> rusqlite::Result<()> {
    configure(conn)?;
    // Negative: a size in KiB rather than a number of pages.
    conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)?;
    conn.pragma_update(None, "query_only", true)
}
