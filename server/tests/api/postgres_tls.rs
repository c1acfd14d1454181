//! TLS to PostgreSQL, for real: a cluster of the test's own with `ssl=on`,
//! on a loopback port where pg_hba.conf takes TLS connections only
//! (`hostssl`), with a certificate for localhost and 127.0.0.1 signed by a
//! CA made here. The store reaches it with sslmode=require and that CA, and
//! refuses to start with a CA that did not sign it, or without TLS.

use std::path::{Path, PathBuf};

use clap::Parser;
use container_info_server::config::{Cli, Database, PostgresUrl};
use container_info_server::startup::Application;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;

use crate::helpers::{
    Backend, Cluster, at, container_id, postgres_available, snapshot, spawn_store_with,
};

/// A CA of the test's own, written to a PEM file.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    file: PathBuf,
}

impl TestCa {
    fn new(folder: &TempDir, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("container-info test CA {name}"));
        let certificate = params.self_signed(&key).unwrap();
        let file = folder.path().join(format!("{name}.pem"));
        std::fs::write(&file, certificate.pem()).unwrap();
        Self {
            issuer: Issuer::new(params, key),
            file,
        }
    }

    /// A server certificate for this machine's loopback names, and its key.
    fn server_certificate(&self) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (certificate.pem(), key.serialize_pem())
    }
}

/// A TLS-only cluster whose certificate `ca` signed.
async fn tls_cluster(ca: &TestCa) -> Cluster {
    let (certificate, key) = ca.server_certificate();
    tokio::task::spawn_blocking(move || Cluster::start_tls(&certificate, &key))
        .await
        .unwrap()
}

/// The cluster's database over TCP (127.0.0.1), with `query` appended.
fn tcp_url(cluster: &Cluster, query: &str) -> String {
    format!(
        "postgres://postgres@127.0.0.1:{}/postgres{query}",
        cluster.tls_port()
    )
}

/// One answer of the cluster, asked over its Unix socket (no TLS there).
async fn ask(cluster: &Cluster, query: &str) -> i64 {
    let (client, connection) =
        tokio_postgres::connect(&cluster.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client.query_one(query, &[]).await.unwrap().get(0)
}

/// The store's sessions over TCP, and how many of them are encrypted.
async fn store_sessions(cluster: &Cluster) -> (i64, i64) {
    let query = |ssl: &str| {
        format!(
            "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid)
             WHERE application_name = 'container-info-server' AND client_addr IS NOT NULL{ssl}"
        )
    };
    (
        ask(cluster, &query("")).await,
        ask(cluster, &query(" AND ssl")).await,
    )
}

/// How many tables the store made: none when it refused to start.
async fn tables(cluster: &Cluster) -> i64 {
    ask(
        cluster,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
    )
    .await
}

/// The store started as its command line would: its start's error.
async fn start_error(url: String, ca_file: Option<&Path>) -> String {
    start_error_with(url, ca_file, &[]).await
}

/// The same, with more of the command line.
async fn start_error_with(url: String, ca_file: Option<&Path>, more: &[String]) -> String {
    let mut args = vec![
        "container-info-server".to_owned(),
        "--listen=127.0.0.1:0".to_owned(),
        format!("--database={url}"),
    ];
    args.extend(ca_file.map(|path| format!("--database-ca-file={}", path.display())));
    args.extend_from_slice(more);
    let config = Cli::try_parse_from(args).unwrap().config;
    match Application::build(config).await {
        Ok(_) => panic!("the store started"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn a_store_with_sslmode_require_and_the_ca_writes_and_reads_over_tls() {
    if !postgres_available("a_store_with_sslmode_require") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&folder, "ca");
    let cluster = tls_cluster(&ca).await;
    for host in ["127.0.0.1", "localhost"] {
        let url = PostgresUrl::parse(&format!(
            "postgres://postgres@{host}:{}/postgres?sslmode=require",
            cluster.tls_port()
        ))
        .unwrap();
        let ca_file = ca.file.clone();
        let store = spawn_store_with(Backend::Sqlite, move |config| {
            config.database = Database::Postgres(url);
            config.database_ca_file = Some(ca_file);
        })
        .await;
        let stored = store.store(&snapshot(3, &at(0))).await;
        let read = store
            .get_json(&format!("/containers/{}", container_id(3)))
            .await;
        assert_eq!(read["received_by"], stored["received_by"], "{host}: {read}");
    }
    let (sessions, encrypted) = store_sessions(&cluster).await;
    assert!(sessions > 0, "the stores keep pooled sessions");
    assert_eq!(encrypted, sessions, "every session of the stores is TLS");
}

#[tokio::test]
async fn sslmode_prefer_encrypts_without_verifying_as_libpq_does() {
    if !postgres_available("sslmode_prefer_encrypts") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    // A CA the store is not told of: prefer does not verify.
    let cluster = tls_cluster(&TestCa::new(&folder, "unknown")).await;
    let url = PostgresUrl::parse(&tcp_url(&cluster, "")).unwrap();
    let store = spawn_store_with(Backend::Sqlite, move |config| {
        config.database = Database::Postgres(url);
    })
    .await;
    store.store(&snapshot(4, &at(0))).await;
    let (sessions, encrypted) = store_sessions(&cluster).await;
    assert!(sessions > 0);
    assert_eq!(encrypted, sessions);
}

#[tokio::test]
async fn a_store_refuses_to_start_on_a_certificate_its_ca_did_not_sign() {
    if !postgres_available("a_store_refuses_to_start_on_a_certificate") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let cluster = tls_cluster(&TestCa::new(&folder, "server")).await;
    let other = TestCa::new(&folder, "other");
    let error = start_error(tcp_url(&cluster, "?sslmode=require"), Some(&other.file)).await;
    assert!(
        error.contains(
            "TLS with the PostgreSQL server failed: invalid peer certificate: UnknownIssuer"
        ) && error.contains("signed by one of the system's CAs or by the --database-ca-file"),
        "{error}"
    );
    // Without a CA file, the system's CAs did not sign it either.
    let error = start_error(tcp_url(&cluster, "?sslmode=require"), None).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
    // A CA file that holds no certificate, or one with a mode that does not
    // verify, is refused before any connection.
    let empty = folder.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = start_error(tcp_url(&cluster, "?sslmode=require"), Some(&empty)).await;
    assert!(
        error.contains(&format!("cannot use the CA file {}", empty.display()))
            && error.contains("no PEM certificate"),
        "{error}"
    );
    let error = start_error(tcp_url(&cluster, ""), Some(&empty)).await;
    assert!(
        error.contains("used only with sslmode=require") && error.contains("sslmode is prefer"),
        "{error}"
    );
    assert_eq!(tables(&cluster).await, 0, "nothing was created");
}

#[tokio::test]
async fn sslmode_disable_is_refused_by_a_server_that_takes_tls_only() {
    if !postgres_available("sslmode_disable_is_refused") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&folder, "ca");
    let cluster = tls_cluster(&ca).await;
    let error = start_error(tcp_url(&cluster, "?sslmode=disable"), None).await;
    assert!(
        error.contains("pg_hba.conf") && error.contains("no encryption"),
        "{error}"
    );
    let error = start_error(tcp_url(&cluster, "?sslmode=disable"), Some(&ca.file)).await;
    assert!(error.contains("sslmode is disable"), "{error}");
    assert_eq!(tables(&cluster).await, 0, "nothing was created");
}

#[tokio::test]
async fn a_ca_file_for_a_sqlite_store_is_refused_and_creates_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let database = folder.path().join("store.db");
    let ca = TestCa::new(&folder, "ca");
    let error = start_error(database.display().to_string(), Some(&ca.file)).await;
    assert!(
        error.contains("--database-ca-file is for a PostgreSQL database"),
        "{error}"
    );
    assert!(!database.exists(), "no SQLite file was made");
}

#[tokio::test]
async fn the_password_comes_from_a_file_and_only_the_right_one_opens_the_database() {
    if !postgres_available("the_password_comes_from_a_file") {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let ca = TestCa::new(&folder, "ca");
    let cluster = tls_cluster(&ca).await;
    let password = "Pg password with a space ";
    cluster.require_password(password);
    let url = tcp_url(&cluster, "?sslmode=require");
    let password_file = |name: &str, contents: &str| {
        let path = folder.path().join(name);
        std::fs::write(&path, contents).unwrap();
        format!("--database-password-file={}", path.display())
    };

    // No password, a wrong one, an empty file, a missing file: refused at
    // start, each naming its cause, and nothing created.
    let error = start_error(url.clone(), Some(&ca.file)).await;
    assert!(error.contains("password"), "{error}");
    let wrong = password_file("wrong", "not the password\n");
    let error = start_error_with(url.clone(), Some(&ca.file), &[wrong]).await;
    assert!(error.contains("password authentication failed"), "{error}");
    let empty = password_file("empty", "\n");
    let error = start_error_with(url.clone(), Some(&ca.file), &[empty]).await;
    assert!(
        error.contains("the PostgreSQL password file") && error.contains("is empty"),
        "{error}"
    );
    let missing = folder.path().join("missing");
    let error = start_error_with(
        url.clone(),
        Some(&ca.file),
        &[format!("--database-password-file={}", missing.display())],
    )
    .await;
    assert!(
        error.contains(&format!(
            "cannot read the PostgreSQL password file {}",
            missing.display()
        )),
        "{error}"
    );
    assert_eq!(tables(&cluster).await, 0, "nothing was created");

    // The right one, with the newline `echo` leaves (the trailing space is
    // the password's own): the store starts, writes and reads.
    let right = folder.path().join("right");
    std::fs::write(&right, format!("{password}\n")).unwrap();
    let url = PostgresUrl::parse(&url).unwrap();
    let ca_file = ca.file.clone();
    let store = spawn_store_with(Backend::Sqlite, move |config| {
        config.database = Database::Postgres(url);
        config.database_ca_file = Some(ca_file);
        config.database_password_file = Some(right);
    })
    .await;
    let stored = store.store(&snapshot(5, &at(0))).await;
    let read = store
        .get_json(&format!("/containers/{}", container_id(5)))
        .await;
    assert_eq!(read["received_by"], stored["received_by"], "{read}");
}

#[tokio::test]
async fn a_password_file_with_a_sqlite_database_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let password = folder.path().join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let database = folder.path().join("store.db");
    let error = start_error_with(
        database.display().to_string(),
        None,
        &[format!("--database-password-file={}", password.display())],
    )
    .await;
    assert!(
        error.contains("--database-password-file is for a PostgreSQL database"),
        "{error}"
    );
    assert!(!database.exists(), "no SQLite file was made");
}
