use std::process::ExitCode;

use clap::Parser;
use container_info_fleet_sim::{Config, run};

fn main() -> ExitCode {
    let config = Config::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("container-info-fleet-sim: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&config)) {
        Ok(outcome) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&outcome).expect("the outcome serializes")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("container-info-fleet-sim: {error}");
            ExitCode::FAILURE
        }
    }
}
