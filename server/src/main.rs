use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use container_info_server::config::{Cli, Command};
use container_info_server::startup::Application;
use container_info_server::telemetry;
use container_info_wire::health;

fn main() -> anyhow::Result<ExitCode> {
    forbid_new_privileges()?;
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { url }) = cli.command {
        return Ok(health::exit_code(&url));
    }
    telemetry::init();
    // The runtime is built here rather than by #[tokio::main], so that its
    // threads start after forbid_new_privileges and inherit it.
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(async {
            Application::build(cli.config)
                .await?
                .run_until_stopped()
                .await
        })?;
    Ok(ExitCode::SUCCESS)
}

/// Sets no_new_privs: from now on neither the store nor anything it starts
/// can gain privileges through execve (setuid binaries, file capabilities).
/// `docker run --security-opt no-new-privileges` does this for a container,
/// but a Swarm service cannot ask for it on Docker Engine 20.10 (see
/// docker_server/stack.yml), so the store does it itself. The flag belongs to
/// a thread and passes only to threads and processes started after it is set:
/// hence first, before any thread exists.
#[cfg(target_os = "linux")]
fn forbid_new_privileges() -> anyhow::Result<()> {
    nix::sys::prctl::set_no_new_privs().context("cannot set no_new_privs (prctl)")
}

/// Only Linux has no_new_privs; the store runs in Linux containers.
#[cfg(not(target_os = "linux"))]
fn forbid_new_privileges() -> anyhow::Result<()> {
    Ok(())
}
