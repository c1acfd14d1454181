use std::process::ExitCode;

use clap::Parser;
use container_info_server::config::{Cli, Command};
use container_info_server::startup::Application;
use container_info_server::telemetry;
use container_info_wire::health;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = cli.command {
        return Ok(health::exit_code(&url));
    }
    telemetry::init();
    Application::build(cli.config)?.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}
