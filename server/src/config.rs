//! Command line and environment: everything the store can be told at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "container-info-server",
    version,
    about = "The container-info store: a REST API on port 5001 that keeps container snapshots in one SQLite file or a PostgreSQL database.",
    long_about = "The container-info store: a REST API on port 5001 that keeps container snapshots in one SQLite file or a PostgreSQL database.\n\n\
        Several replicas (say, a Docker Swarm service with 3 replicas) may share the same SQLite file on one host, \
        or the same PostgreSQL database from any host; a 2xx answer to a write means it is on disk. \
        The API is described at /openapi.json."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exit 0 when a store answers 200 on its /healthz, 1 otherwise (for container HEALTHCHECKs).
    Healthcheck {
        /// The health URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:5001/healthz")]
        url: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on. `[::]` accepts both IPv6 and IPv4 clients;
    /// where the host has no IPv6, the store falls back to 0.0.0.0.
    #[arg(long, env = "CONTAINER_INFO_LISTEN", default_value = "[::]:5001")]
    pub listen: SocketAddr,

    /// Where the store keeps its data: a path, for a SQLite file (its folder is
    /// created if missing; every replica must be given the same file, on a
    /// local filesystem of the same host), or a `postgres://` (or
    /// `postgresql://`) URL, such as postgres://user:password@db-host/container_info,
    /// for a PostgreSQL database that replicas on any host share.
    #[arg(
        long,
        env = "CONTAINER_INFO_DATABASE",
        default_value = "./data/container-info.db",
        value_name = "PATH|URL",
        value_parser = DatabaseParser,
        // The URL may hold a password: never shown in --help's defaults or in errors.
        hide_env_values = true
    )]
    pub database: Database,

    /// A PEM file of CA certificates that may sign the PostgreSQL server's
    /// certificate, besides the system's (SSL_CERT_FILE, else
    /// /etc/ssl/certs): a managed PostgreSQL's own CA, or a private one. For
    /// a URL with sslmode=require only, which verifies the certificate and
    /// the host name (as libpq's verify-full does). The URL's sslmode:
    /// disable (no TLS), prefer (the default: TLS if the server offers it,
    /// the certificate not verified, as libpq does), require.
    #[arg(long, env = "CONTAINER_INFO_DATABASE_CA_FILE", value_name = "PATH")]
    pub database_ca_file: Option<PathBuf>,

    /// A file holding the PostgreSQL password (a Swarm secret such as
    /// /run/secrets/postgres-password), so that the password is in neither
    /// the URL, the environment nor `docker service inspect`. Its content is
    /// the password, a final newline aside; it wins over one in the URL.
    #[arg(
        long,
        env = "CONTAINER_INFO_DATABASE_PASSWORD_FILE",
        value_name = "PATH"
    )]
    pub database_password_file: Option<PathBuf>,

    /// The name this replica gives in the X-Replica header and in `received_by`
    /// [default: the host name].
    #[arg(long, env = "CONTAINER_INFO_REPLICA_ID")]
    pub replica_id: Option<String>,

    /// How many snapshots of each container's history to keep; older ones are
    /// removed as new ones arrive.
    #[arg(
        long,
        env = "CONTAINER_INFO_HISTORY_LIMIT",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub history_limit: u32,

    /// Let several processes listen on the same port (SO_REUSEPORT), so that
    /// replicas with host networking share one port on one host.
    #[arg(long, env = "CONTAINER_INFO_REUSE_PORT")]
    pub reuse_port: bool,

    /// Once the store listens, write the address it is bound to (`ip:port`, one
    /// line) to this file: for a program that starts it on port 0 and needs to
    /// know where it listens. The file appears whole or not at all.
    #[arg(long, env = "CONTAINER_INFO_READY_FILE", value_name = "PATH")]
    pub ready_file: Option<PathBuf>,

    /// The file holding the store's token (at least 32 characters; a Swarm
    /// secret such as /run/secrets/container-info-token). POST and DELETE then
    /// need `Authorization: Bearer <token>`, except for snapshots an agent
    /// signed. Without it, anyone who reaches the port can write and delete.
    #[arg(long, env = "CONTAINER_INFO_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// The file holding the key the agents sign snapshots with (the same file
    /// as the agents' --signing-key-file). A snapshot whose signature checks is
    /// stored without a token, as attested by its node (`attested_by`); one
    /// whose signature does not match is refused.
    #[arg(long, env = "CONTAINER_INFO_SIGNING_KEY_FILE", value_name = "PATH")]
    pub signing_key_file: Option<PathBuf>,

    /// Reads of /containers need the token too (operations routes stay open).
    #[arg(long, env = "CONTAINER_INFO_PROTECT_READS", requires = "token_file")]
    pub protect_reads: bool,

    /// Where other replicas and clients can reach this one (`host:port`), as
    /// listed by GET /replicas and asked by the client's `ping`
    /// [default: the listening address when it names one; when it is [::] or
    /// 0.0.0.0, every address of this host's (or container's) interfaces but
    /// loopback and link-local, on the listening port].
    #[arg(long, env = "CONTAINER_INFO_ADVERTISE_ADDRESS", value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub advertise_address: Option<String>,

    /// How long the leader's lease lasts without renewal (`10s`, `1m`, `500ms`;
    /// at least 1s). The leader renews it every third of this, and stops acting
    /// as leader before it can expire when it cannot; once it has expired,
    /// another replica takes it. Every replica of a file should be given the same.
    #[arg(long, env = "CONTAINER_INFO_LEASE", default_value = "10s", value_name = "DURATION", value_parser = parse_lease)]
    pub lease: Duration,

    /// How long a replica that stopped sending heartbeats stays listed (as not
    /// alive) before the leader forgets it. A replica that stops cleanly leaves
    /// at once. Longer than the 3 s a heartbeat counts for.
    #[arg(long, env = "CONTAINER_INFO_FORGET_REPLICAS_AFTER", default_value = "5m", value_name = "DURATION", value_parser = parse_forget_after)]
    pub forget_replicas_after: Duration,

    /// A command run (by `sh -c`) each time this replica becomes the leader.
    /// Its environment has CONTAINER_INFO_REPLICA_ID, CONTAINER_INFO_ROLE
    /// (`leader`) and CONTAINER_INFO_LEASE_GENERATION. Its exit status and
    /// output go to the log and to metrics; a failing script changes nothing.
    #[arg(long, env = "CONTAINER_INFO_ON_LEADER", value_name = "CMD", value_parser = parse_command)]
    pub on_leader: Option<String>,

    /// A command run (by `sh -c`) once at start, as every replica starts as a
    /// follower, and each time this replica stops being the leader; the same
    /// environment, with CONTAINER_INFO_ROLE `follower` and the generation of
    /// the lease it lost (of the current lease, at start).
    #[arg(long, env = "CONTAINER_INFO_ON_FOLLOWER", value_name = "CMD", value_parser = parse_command)]
    pub on_follower: Option<String>,

    /// How long a role script may run before it is killed (with every process
    /// it started). Scripts run one at a time, in the order of the changes.
    #[arg(long, env = "CONTAINER_INFO_ROLE_SCRIPT_TIMEOUT", default_value = "30s", value_name = "DURATION", value_parser = parse_script_timeout)]
    pub role_script_timeout: Duration,
}

/// A duration as people write it: a number and a unit (`ms`, `s`, `m`, `h`),
/// or several (`1m30s`).
pub fn parse_duration(given: &str) -> Result<Duration, String> {
    let wrong = || {
        format!("{given:?} is not a duration: write a number and a unit (ms, s, m, h), such as 10s")
    };
    let mut rest = given.trim();
    if rest.is_empty() {
        return Err(wrong());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(wrong)?;
        let unit_end = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |end| digits + end);
        let number: u64 = rest[..digits].parse().map_err(|_| wrong())?;
        let unit = match &rest[digits..unit_end] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(wrong()),
        };
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(wrong)?;
        total = total.checked_add(part).ok_or_else(wrong)?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

fn within(given: &str, least: Duration, most: Duration, what: &str) -> Result<Duration, String> {
    let duration = parse_duration(given)?;
    if duration < least || duration > most {
        return Err(format!(
            "{given:?}: {what} must be from {least:?} to {most:?}"
        ));
    }
    Ok(duration)
}

fn parse_lease(given: &str) -> Result<Duration, String> {
    within(
        given,
        Duration::from_secs(1),
        Duration::from_secs(3600),
        "the lease",
    )
}

fn parse_forget_after(given: &str) -> Result<Duration, String> {
    within(
        given,
        Duration::from_secs(4),
        Duration::from_secs(30 * 24 * 3600),
        "the time before a silent replica is forgotten (longer than the 3 s a heartbeat counts for)",
    )
}

fn parse_script_timeout(given: &str) -> Result<Duration, String> {
    within(
        given,
        Duration::from_millis(100),
        Duration::from_secs(3600),
        "a role script's timeout",
    )
}

fn parse_command(given: &str) -> Result<String, String> {
    if given.trim().is_empty() {
        return Err("the command is empty; leave the setting out to run none".to_owned());
    }
    Ok(given.to_owned())
}

/// `host:port`, with a port that is a number.
fn parse_host_port(given: &str) -> Result<String, String> {
    let wrong = || format!("{given:?} is not host:port (such as 10.0.1.5:5001 or [fd00::5]:5001)");
    let (host, port) = given.rsplit_once(':').ok_or_else(wrong)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(wrong());
    }
    Ok(given.to_owned())
}

/// The database the store uses, told apart by its form: a URL of PostgreSQL's
/// scheme, or else a SQLite file's path.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(PostgresUrl),
}

impl Database {
    fn parse(given: &str) -> Result<Self, String> {
        if given.starts_with("postgres://") || given.starts_with("postgresql://") {
            return PostgresUrl::parse(given).map(Self::Postgres);
        }
        if let Some((scheme, _)) = given.split_once("://") {
            return Err(format!(
                "{scheme}:// is not a database this store can use: give a SQLite file's path or a postgres:// URL"
            ));
        }
        if given.is_empty() {
            return Err(
                "the database is empty: give a SQLite file's path or a postgres:// URL".to_owned(),
            );
        }
        Ok(Self::Sqlite(PathBuf::from(given)))
    }
}

/// Parses `--database` with errors that never repeat what was given: clap's
/// own would, and a URL may hold a password.
#[derive(Clone)]
struct DatabaseParser;

impl clap::builder::TypedValueParser for DatabaseParser {
    type Value = Database;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _: Option<&clap::Arg>,
        given: &std::ffi::OsStr,
    ) -> Result<Database, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid --database: {message}\n"),
            )
            .with_cmd(command)
        };
        let given = given
            .to_str()
            .ok_or_else(|| refuse("it is not UTF-8".to_owned()))?;
        Database::parse(given).map_err(refuse)
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

/// What the store may say about its database: a PostgreSQL URL without its
/// password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => path.display().fmt(f),
            Self::Postgres(url) => url.shown.fmt(f),
        }
    }
}

/// A PostgreSQL connection URL, parsed once at start. It may hold a password:
/// its `Debug` and `Display` show the URL without it.
#[derive(Clone)]
pub struct PostgresUrl {
    /// Boxed: it is ten times the size of a path.
    config: Box<tokio_postgres::Config>,
    /// The URL without its password, for the log and for errors.
    shown: String,
}

impl PostgresUrl {
    pub fn parse(given: &str) -> Result<Self, String> {
        // tokio-postgres's parse errors name the option at fault, never the
        // value: the password cannot leak through them.
        let config: tokio_postgres::Config =
            given.parse().map_err(|error: tokio_postgres::Error| {
                let cause = std::error::Error::source(&error)
                    .map_or_else(|| error.to_string(), ToString::to_string);
                // libpq's TLS options that tokio-postgres does not take: say
                // what does the same here.
                let hint = if cause.contains("sslmode") {
                    " (disable, prefer or require; require verifies the certificate and the \
                     host name, as libpq's verify-full does)"
                } else if cause.contains("sslrootcert") {
                    " (give the CA file with --database-ca-file instead)"
                } else {
                    ""
                };
                format!("the PostgreSQL URL is not valid: {cause}{hint}")
            })?;
        let hosts = config
            .get_hosts()
            .iter()
            .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
            .map(|(host, port)| match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(folder) => {
                    format!("[{}]:{port}", folder.display())
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        let user = config.get_user().unwrap_or_default();
        let shown = format!(
            "postgres://{user}@{hosts}/{}",
            config.get_dbname().unwrap_or(user)
        );
        Ok(Self {
            config: Box::new(config),
            shown,
        })
    }

    /// The connection settings, as tokio-postgres takes them.
    pub fn tokio_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The same URL with the password read from `path` (see
    /// --database-password-file).
    pub fn with_password_file(&self, path: &Path) -> Result<Self, String> {
        let raw = std::fs::read(path).map_err(|error| {
            format!(
                "cannot read the PostgreSQL password file {}: {error}",
                path.display()
            )
        })?;
        // What `echo` or an editor leaves, and nothing else: a password may
        // end in a space.
        let password = raw
            .strip_suffix(b"\n")
            .map_or(&raw[..], |line| line.strip_suffix(b"\r").unwrap_or(line));
        if password.is_empty() {
            return Err(format!(
                "the PostgreSQL password file {} is empty",
                path.display()
            ));
        }
        let mut config = self.config.clone();
        config.password(password);
        Ok(Self {
            config,
            shown: self.shown.clone(),
        })
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Config {
    pub(crate) fn replica_id(&self) -> String {
        self.replica_id.clone().unwrap_or_else(|| {
            hostname::get()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "container-info-server".to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit_or_several() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for wrong in [
            "",
            "10",
            "s",
            "10 s",
            "10sec",
            "-1s",
            "1.5s",
            "99999999999999s",
        ] {
            let error = parse_duration(wrong).unwrap_err();
            assert!(error.contains("is not a duration"), "{wrong:?}: {error}");
        }
    }

    #[test]
    fn a_lease_is_from_a_second_to_an_hour() {
        assert_eq!(parse_lease("2s"), Ok(Duration::from_secs(2)));
        let error = parse_lease("500ms").unwrap_err();
        assert!(
            error.contains("the lease must be from 1s to 3600s"),
            "{error}"
        );
        assert!(parse_lease("2h").is_err());
        assert!(parse_forget_after("3s").is_err());
        assert!(parse_forget_after("4s").is_ok());
    }

    #[test]
    fn the_database_is_a_path_or_a_postgres_url_shown_without_its_password() {
        assert!(
            matches!(Database::parse("./data/store.db"), Ok(Database::Sqlite(path)) if path.as_os_str() == "./data/store.db")
        );
        for url in [
            "postgres://store:s3cret-pass@db.example:6543/container_info",
            "postgresql://store:s3cret-pass@db.example:6543/container_info",
        ] {
            let database = Database::parse(url).unwrap();
            assert!(matches!(database, Database::Postgres(_)));
            assert_eq!(
                database.to_string(),
                "postgres://store@db.example:6543/container_info"
            );
            assert!(!format!("{database:?}").contains("s3cret"));
        }
        let error =
            Database::parse("postgres://store:s3cret-pass@db.example:notaport/x").unwrap_err();
        assert!(error.contains("the PostgreSQL URL is not valid"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let error = Database::parse("mysql://db.example/x").unwrap_err();
        assert!(error.contains("mysql:// is not a database"), "{error}");
        assert!(Database::parse("").is_err());
        let error = Database::parse("postgres://db.example/x?sslmode=verify-full").unwrap_err();
        assert!(
            error.contains("require verifies the certificate"),
            "{error}"
        );
        let error = Database::parse("postgres://db.example/x?sslrootcert=/ca.pem").unwrap_err();
        assert!(error.contains("--database-ca-file"), "{error}");
    }

    #[test]
    fn a_bad_database_url_is_refused_without_repeating_its_password() {
        let error = Cli::try_parse_from([
            "container-info-server",
            "--database",
            "postgres://store:s3cret-pass@db.example:notaport/x",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("invalid --database: the PostgreSQL URL is not valid"),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn an_advertised_address_has_a_host_and_a_numeric_port() {
        for good in ["10.0.1.5:5001", "[fd00::5]:5001", "store-1:5001"] {
            assert_eq!(parse_host_port(good).as_deref(), Ok(good));
        }
        for wrong in ["10.0.1.5", ":5001", "host:http", "host:70000"] {
            assert!(parse_host_port(wrong).is_err(), "{wrong}");
        }
    }
}
