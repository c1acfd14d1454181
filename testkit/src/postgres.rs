//! Throwaway PostgreSQL clusters for the tests: Debian's PostgreSQL binaries,
//! a cluster in a temporary folder, listening on a Unix socket in that folder
//! only (no port to collide on), trust authentication, fsync on (the store's
//! durability promise is what is tested). As root, the cluster runs as the
//! `postgres` user: initdb refuses to run as root.
//!
//! Each test gets a database of its own, so tests run in parallel: on the
//! cluster `CONTAINER_INFO_TEST_POSTGRES` names (the URL of its maintenance
//! database, as scripts/test's cluster gives it), or else on a cluster of the
//! test's own, removed with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

/// The URL of a shared cluster's maintenance database.
pub const SHARED_CLUSTER: &str = "CONTAINER_INFO_TEST_POSTGRES";

/// The folder of PostgreSQL's programs: CONTAINER_INFO_POSTGRES_BIN, or the
/// newest of Debian's /usr/lib/postgresql/<version>/bin.
fn binaries() -> Option<PathBuf> {
    if let Some(folder) = std::env::var_os("CONTAINER_INFO_POSTGRES_BIN") {
        return Some(folder.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether PostgreSQL tests can run here: a shared cluster is named, or the
/// programs to start one are installed. When they cannot, they fail under
/// CONTAINER_INFO_REQUIRE_TOOLS=1 (CI) and are skipped, loudly, otherwise.
pub fn postgres_available(test: &str) -> bool {
    if std::env::var_os(SHARED_CLUSTER).is_some() || binaries().is_some() {
        return true;
    }
    let message = format!(
        "{test}: no PostgreSQL (install Debian's postgresql package, or set {SHARED_CLUSTER})"
    );
    assert!(
        std::env::var("CONTAINER_INFO_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "{message}"
    );
    eprintln!("SKIPPED {message}");
    false
}

/// A PostgreSQL cluster of its own, stopped and removed when dropped.
pub struct Cluster {
    bin: PathBuf,
    folder: TempDir,
    /// Besides the Unix socket, 127.0.0.1:port with TLS only (`start_tls`).
    tls_port: Option<u16>,
}

impl Cluster {
    pub fn start() -> Self {
        let cluster = Self::init();
        cluster.start_again();
        cluster
    }

    /// A cluster that also listens on 127.0.0.1 (`tls_port`), where it takes
    /// TLS connections only (pg_hba.conf's `hostssl`), with the given
    /// certificate (PEM, its chain first) and key.
    pub fn start_tls(certificate: &str, key: &str) -> Self {
        let mut cluster = Self::init();
        let data = PathBuf::from(cluster.data());
        cluster.give(&data.join("server.crt"), certificate, 0o644);
        // PostgreSQL refuses a key that others may read.
        cluster.give(&data.join("server.key"), key, 0o600);
        cluster.give(
            &data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            0o600,
        );
        // A port free now; another process taking it before the server
        // binds it would fail the start, loudly.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        cluster.tls_port = Some(port);
        cluster.start_again();
        cluster
    }

    /// From now on, connections over TCP must give `password` for the
    /// `postgres` user (scram-sha-256); the Unix socket stays trusted.
    pub fn require_password(&self, password: &str) {
        let data = PathBuf::from(self.data());
        self.give(
            &data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            0o600,
        );
        let socket = self.folder.path().display().to_string();
        self.run(
            "psql",
            &[
                "-h",
                &socket,
                "-p",
                &self.tls_port.unwrap_or(5432).to_string(),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("ALTER ROLE postgres PASSWORD '{password}'"),
            ],
        );
        self.run("pg_ctl", &["-D", &self.data(), "-w", "reload"]);
    }

    /// The loopback port of a `start_tls` cluster.
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("a cluster started with start_tls")
    }

    /// Writes a file into the cluster's folders, owned by the user the
    /// server runs as.
    fn give(&self, path: &Path, contents: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, contents).expect("a file in the cluster's folder");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .expect("the file's mode");
        if let Some(user) = self.server_user() {
            std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("the file given to postgres");
        }
    }

    /// The `postgres` user when this is root, else None (this user).
    fn server_user(&self) -> Option<nix::unistd::User> {
        nix::unistd::Uid::effective().is_root().then(|| {
            nix::unistd::User::from_name("postgres")
                .expect("the user database")
                .expect("a postgres user (Debian's postgresql package makes it)")
        })
    }

    fn init() -> Self {
        let bin = binaries().expect("PostgreSQL's programs (Debian's postgresql package)");
        let folder = tempfile::Builder::new()
            .prefix("pg")
            .tempdir()
            .expect("a temp folder");
        let cluster = Self {
            bin,
            folder,
            tls_port: None,
        };
        if let Some(user) = cluster.server_user() {
            std::os::unix::fs::chown(
                cluster.folder.path(),
                Some(user.uid.as_raw()),
                Some(user.gid.as_raw()),
            )
            .expect("the cluster's folder given to postgres");
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                // Only initdb's own files skip fsync; the server keeps it on.
                "--no-sync",
            ],
        );
        cluster
    }

    fn data(&self) -> String {
        self.folder.path().join("data").display().to_string()
    }

    /// One of PostgreSQL's programs, run as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if nix::unistd::Uid::effective().is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command.current_dir(self.folder.path());
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }

    /// Starts the server (again, after `stop`), and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let socket = self.folder.path().display().to_string();
        let (listen, tls) = match self.tls_port {
            Some(port) => (
                "127.0.0.1",
                format!(
                    " -c port={port} -c ssl=on -c ssl_cert_file=server.crt \
                     -c ssl_key_file=server.key"
                ),
            ),
            None => ("", String::new()),
        };
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &self.folder.path().join("log").display().to_string(),
                "-w",
                "-o",
                &format!(
                    "-c listen_addresses='{listen}' -c unix_socket_directories='{socket}' \
                     -c fsync=on -c synchronous_commit=on -c max_connections=200{tls}"
                ),
                "start",
            ],
        );
    }

    /// Stops the server as an operator would for a restart: `-m fast` ends
    /// every session and checkpoints.
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// The URL of database `name` on this cluster, over its Unix socket.
    pub fn url(&self, name: &str) -> String {
        url_in(self.folder.path(), self.tls_port.unwrap_or(5432), name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Already stopped by the test, or failing to stop: nothing to add to
        // the test's own failure; the folder goes all the same.
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The URL of database `name` on the cluster whose socket is in `folder`
/// (the socket's name carries the port).
fn url_in(folder: &Path, port: u16, name: &str) -> String {
    let host: String = folder
        .display()
        .to_string()
        .bytes()
        .map(|byte| match byte {
            b'/' => "%2F".to_owned(),
            _ => char::from(byte).to_string(),
        })
        .collect();
    format!("postgres://postgres@{host}:{port}/{name}")
}

/// A new, empty database for one test: on the shared cluster if one is
/// named, else on a cluster of its own (returned, to be kept as long as the
/// database is used).
pub async fn test_database() -> (String, Option<Cluster>) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // The time as well as the process: the shared cluster keeps the databases
    // of earlier runs, whose process IDs the system hands out again.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos();
    let name = format!(
        "test_{}_{started}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (maintenance, own) = match std::env::var(SHARED_CLUSTER) {
        Ok(url) => (url, None),
        Err(_) => {
            let cluster = tokio::task::spawn_blocking(Cluster::start)
                .await
                .expect("the cluster starts");
            (cluster.url("postgres"), Some(cluster))
        }
    };
    let (client, connection) = tokio_postgres::connect(&maintenance, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test cluster: {error}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("a test database");
    let (base, _) = maintenance
        .rsplit_once('/')
        .expect("the cluster's URL names a database");
    (format!("{base}/{name}"), own)
}
