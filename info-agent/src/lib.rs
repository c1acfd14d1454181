//! The container-info agent: answers a container's "who am I?" from the local Docker Engine.
//!
//! `main` parses a [`config::Config`] and hands it, with a bound listener, to
//! [`startup::Application::build`]; the tests start the agent the same way.

pub mod access;
pub mod address_index;
pub mod config;
pub mod engine;
pub mod error;
pub mod inventory;
pub mod lookup;
pub mod metrics;
pub mod peer;
pub mod redaction;
pub mod routes;
pub mod startup;
pub mod stats;
pub mod telemetry;
