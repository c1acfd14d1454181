use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use container_info_agent::config::Config;
use container_info_agent::startup::Application;
use container_info_agent::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init("info");
    let config = Config::parse();
    match run(config).await {
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
