//! The command line: global settings, and the commands that run one-shot.

use std::path::PathBuf;

use clap::{Args, Parser};
use reqwest::Url;

use crate::commands::Command;
use crate::discovery::parse_base_url;

const AFTER_HELP: &str = "\
Without a command, container-info opens a prompt (container-info> ) where the same
commands can be typed; `help` there lists them.

Where the agent and the store are: --agent/--server, else CONTAINER_INFO_AGENT/
CONTAINER_INFO_SERVER, else this container's default gateway on ports 5002 (agent)
and 5001 (store), which on a Swarm node reaches both.

Exit codes: 0 done; 1 output or terminal failed; 2 bad usage or no address known;
3 the agent or store is not responding or sent something unreadable; 4 it refused
the request (4xx, e.g. no such container or node); 5 it failed (5xx); 6 ping: not
everyone answered.";

#[derive(Debug, Parser)]
#[command(
    name = "container-info",
    version,
    about = "Ask this host's agent who this container is, post it to the container-info store, and read what the store holds.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub(crate) targets: TargetArgs,

    /// Do not read or write the prompt's history file (kept in the user's data folder).
    #[arg(long)]
    pub(crate) no_history: bool,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TargetArgs {
    /// The store's URL [default: http://<default gateway>:5001].
    #[arg(long, env = "CONTAINER_INFO_SERVER", global = true, value_name = "URL", help_heading = "Where the agent and the store are", value_parser = parse_base_url)]
    pub(crate) server: Option<Url>,

    /// The agent's URL [default: http://<default gateway>:5002].
    #[arg(long, env = "CONTAINER_INFO_AGENT", global = true, value_name = "URL", help_heading = "Where the agent and the store are", value_parser = parse_base_url)]
    pub(crate) agent: Option<Url>,

    /// A file holding the store's token, sent with every request to the store.
    /// Needed only for what an agent did not sign, and for reads of a store
    /// started with --protect-reads; `post` needs none where the agent signs.
    #[arg(
        long,
        env = "CONTAINER_INFO_TOKEN_FILE",
        global = true,
        value_name = "PATH",
        help_heading = "Where the agent and the store are"
    )]
    pub(crate) token_file: Option<PathBuf>,
}
