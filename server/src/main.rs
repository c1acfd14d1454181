use clap::Parser;
use container_info_server::config::{Cli, Command};
use container_info_server::startup::Application;
use container_info_server::{healthcheck, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = cli.command {
        return healthcheck::check(&url);
    }
    telemetry::init();
    Application::build(cli.config)?.run_until_stopped().await
}
