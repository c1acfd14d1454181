//! The agent against the real local Docker Engine and real containers.

mod binary;
mod engine_loss;
mod events;
mod first_answer;
mod fleet;
mod helpers;
mod isolation;
mod namespaces;
mod operations;
mod own_snapshot;
mod redaction;
mod signing;
mod swarm;
