//! Command line and environment: everything the store can be told at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "container-info-server",
    version,
    about = "The container-info store: a REST API on port 5001 that keeps container snapshots in one SQLite file.",
    long_about = "The container-info store: a REST API on port 5001 that keeps container snapshots in one SQLite file.\n\n\
        Several replicas (say, a Docker Swarm service with 3 replicas) may share the same file on one host: \
        writes are serialized by SQLite, and a 2xx answer to a write means it is on disk. \
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

    /// The SQLite database file; its folder is created if missing. Every replica
    /// must be given the same file, on a local filesystem of the same host.
    #[arg(
        long,
        env = "CONTAINER_INFO_DATABASE",
        default_value = "./data/container-info.db"
    )]
    pub database: PathBuf,

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
