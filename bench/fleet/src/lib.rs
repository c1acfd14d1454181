//! A simulated fleet for `bench/run`: N agents as tokio tasks, M containers
//! each, reporting to the store's replicas as the agent in fleet mode does,
//! with no Docker Engine behind them. Each report is timed from when it was
//! due until the store acknowledged it; see [`Outcome`].

mod agent;
pub mod config;
mod error;
mod host;
mod outcome;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use container_info_wire::attestation::Secret;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agent::{Agent, Plan};
pub use crate::config::Config;
pub use crate::error::FleetError;
use crate::host::Host;
use crate::outcome::Shape;
pub use crate::outcome::{Lags, Outcome};

/// Time to spawn every agent before the first is due.
const GET_READY: Duration = Duration::from_millis(200);

/// Runs the fleet until every agent has made its last resync.
pub async fn run(config: &Config) -> Result<Outcome, FleetError> {
    let key = Arc::new(Secret::read(&config.signing_key_file)?);
    let http = reqwest::Client::builder()
        .user_agent(concat!(
            "container-info-fleet-sim/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(FleetError::HttpClient)?;
    let now = Utc::now();
    let hosts: Vec<Host> = (0..config.agents)
        .map(|index| Host::new(index, config.containers, now))
        .collect();
    let begin = Instant::now() + GET_READY;
    let mut agents = JoinSet::new();
    for (index, host) in (0..config.agents).zip(hosts) {
        // Hosts start at different moments, so their resyncs are spread
        // evenly over the interval rather than all due at once.
        let plan = Plan {
            start: begin + config.interval * index / config.agents,
            interval: config.interval,
            intervals: config.intervals,
            changes: config.changes,
        };
        let agent = Agent {
            host,
            store: config.stores[index as usize % config.stores.len()].clone(),
            http: http.clone(),
            key: key.clone(),
            interval: config.interval,
        };
        agents.spawn(agent.run(plan, u64::from(index)));
    }
    let mut runs = Vec::with_capacity(config.agents as usize);
    while let Some(joined) = agents.join_next().await {
        match joined {
            // The first error ends the run: dropping the set stops the others.
            Ok(run) => runs.push(run?),
            Err(joined) => std::panic::resume_unwind(joined.into_panic()),
        }
    }
    let shape = Shape {
        agents: config.agents,
        containers: config.containers,
        interval: config.interval,
        intervals: config.intervals,
    };
    Ok(Outcome::of(shape, runs, begin.elapsed()))
}
