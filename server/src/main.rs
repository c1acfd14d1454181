use clap::Parser;
use container_info_server::config::{Cli, Command};
use container_info_server::startup::Application;
use container_info_server::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = cli.command {
        return container_info_wire::health::check(&url).map_err(anyhow::Error::msg);
    }
    telemetry::init();
    Application::build(cli.config)?.run_until_stopped().await
}
