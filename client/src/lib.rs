//! `container-info`: asks the host's agent who this container is, posts that to
//! the store, and shows what the store holds; at a prompt or one command at a time.

pub(crate) mod agent;
pub mod cli;
pub mod commands;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod output;
pub(crate) mod prompt;
pub mod service;
pub(crate) mod session;
pub(crate) mod store;
pub(crate) mod targets;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::error::ClientError;

/// Runs what the command line asks for and turns the outcome into the exit code.
pub fn start(cli: Cli) -> ExitCode {
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error.report(),
    }
}

fn run(cli: Cli) -> Result<(), ClientError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| ClientError::Runtime(error.to_string()))?;
    let targets = targets::Targets::new(cli.targets)?;
    match cli.command {
        None => prompt::run(&runtime, &targets, cli.no_history),
        Some(command) => {
            session::Session::one_shot(&targets, |session| runtime.block_on(command.run(session)))
        }
    }
}
