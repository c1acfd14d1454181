use std::process::ExitCode;

use clap::Parser;
use container_info_client::cli::Cli;

fn main() -> ExitCode {
    container_info_client::start(Cli::parse())
}
