use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use container_info_agent::config::{Cli, Command, Config};
use container_info_agent::startup::Application;
use container_info_agent::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = cli.command {
        return container_info_wire::health::exit_code(&url);
    }
    telemetry::init("info");
    match run(cli.config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", config.listen))?;
    let application = Application::build(config, listener).await?;
    tracing::info!(port = application.port(), "serving");
    application.run_until_stopped().await?;
    Ok(())
}
