//! A `container-info-server` process, for tests that need the store as a
//! process of its own: killed, stopped, or several on one database.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::Backend;
use crate::postgres::{Cluster, test_database};

/// How long a replica may take to open its database and listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Killed when dropped, so a failing test leaves no process behind.
pub struct Replica {
    pub child: Child,
    pub url: String,
    log_file: PathBuf,
    /// Its ready file and its log.
    _folder: TempDir,
}

impl Replica {
    /// Returns once the replica listens, as its `--ready-file` says; `listen`
    /// may ask for port 0; `database` is what `--database` takes (a SQLite
    /// file or a PostgreSQL URL).
    pub fn start(binary: &Path, listen: &str, name: &str, database: impl AsRef<OsStr>) -> Self {
        Self::start_with(binary, listen, name, database, &[])
    }

    /// The same, with more settings for the store (`--lease 2s`, …).
    pub fn start_with(
        binary: &Path,
        listen: &str,
        name: &str,
        database: impl AsRef<OsStr>,
        settings: &[&str],
    ) -> Self {
        let folder = tempfile::tempdir().expect("a temp folder");
        let ready_file = folder.path().join("ready");
        let log_file = folder.path().join("log");
        let log = std::fs::File::create(&log_file).expect("a log file");
        let mut child = Command::new(binary)
            .args(["--listen", listen, "--replica-id", name, "--database"])
            .arg(database)
            .arg("--ready-file")
            .arg(&ready_file)
            .args(settings)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the store binary starts");
        let started = Instant::now();
        let address = loop {
            if let Ok(line) = std::fs::read_to_string(&ready_file) {
                break line.trim_end().to_owned();
            }
            let exited = child.try_wait().expect("the replica can be waited for");
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                let said = std::fs::read_to_string(&log_file).unwrap_or_default();
                panic!("{name} did not listen ({exited:?}):\n{said}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Self {
            child,
            url: format!("http://{address}"),
            log_file,
            _folder: folder,
        }
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// SIGSTOP: frozen, as a process the kernel does not schedule or a
    /// machine that stalls; `resume` continues it.
    pub fn pause(&self) {
        kill(self.pid(), Signal::SIGSTOP).unwrap();
    }

    /// SIGCONT.
    pub fn resume(&self) {
        kill(self.pid(), Signal::SIGCONT).unwrap();
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits an i32"))
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as Swarm stops a task, and how the process ended.
    pub fn terminate(&mut self) -> ExitStatus {
        kill(self.pid(), Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One database for several replica processes, as Swarm's replicas share
/// one: a SQLite file in a folder of its own, or a database of the test
/// cluster. Removed (its folder, or its own cluster) when dropped.
pub struct SharedDatabase {
    pub backend: Backend,
    /// What `--database` takes.
    pub argument: String,
    _folder: TempDir,
    _cluster: Option<Cluster>,
}

impl SharedDatabase {
    pub async fn new(backend: Backend) -> Self {
        let folder = tempfile::tempdir().expect("a temp folder");
        let (argument, cluster) = match backend {
            Backend::Sqlite => (folder.path().join("store.db").display().to_string(), None),
            Backend::Postgres => test_database().await,
        };
        Self {
            backend,
            argument,
            _folder: folder,
            _cluster: cluster,
        }
    }

    /// The SQLite file, for a test of what only SQLite does.
    pub fn sqlite_file(&self) -> &Path {
        assert_eq!(self.backend, Backend::Sqlite, "a SQLite-only test");
        Path::new(&self.argument)
    }

    /// The first column of the first row `query` returns (None when it
    /// returns no row), read from the database itself rather than through the
    /// store: as an operator would.
    pub async fn query_row<T>(&self, query: &str) -> Option<T>
    where
        T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.query_rows(query, |sqlite| sqlite.get(0), |postgres| postgres.get(0))
            .await
    }

    /// The first row `query` returns, each backend's row read by its closure.
    pub async fn query_rows<T>(
        &self,
        query: &str,
        from_sqlite: impl FnOnce(&rusqlite::Row) -> rusqlite::Result<T>,
        from_postgres: impl FnOnce(&tokio_postgres::Row) -> T,
    ) -> Option<T> {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(&self.argument).expect("the SQLite file");
                match conn.query_row(query, [], from_sqlite) {
                    Err(rusqlite::Error::QueryReturnedNoRows) => None,
                    row => Some(row.unwrap_or_else(|error| panic!("{query}: {error}"))),
                }
            }
            Backend::Postgres => {
                let (client, connection) =
                    tokio_postgres::connect(&self.argument, tokio_postgres::NoTls)
                        .await
                        .expect("the test database answers");
                tokio::spawn(connection);
                client
                    .query_opt(query, &[])
                    .await
                    .unwrap_or_else(|error| panic!("{query}: {error}"))
                    .map(|row| from_postgres(&row))
            }
        }
    }
}
