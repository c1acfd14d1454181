//! The container-info agent: answers a container's "who am I?" from the local Docker Engine.
//!
//! `main` parses a [`config::Config`] and hands it, with a bound listener, to
//! [`startup::Application::build`]; the tests start the agent the same way.
//!
//! Modules depend one way, from the HTTP edge down to the engine: `startup` builds
//! `routes`, which check `access` by the `peer` address and ask `lookup`; `lookup`
//! answers from the `inventory` that `engine::watch` keeps current through `engine`
//! (its reads, turned into the agent's types by `engine::convert`). The inventory
//! finds callers with an `address_index` and derives `stats`; `error`, `metrics`,
//! `redaction` and `config` depend on no other module. In fleet mode, `report`
//! reads the inventory too and posts it to the stores through an outbox on disk,
//! and tells each store, directly, that the node is alive.

pub(crate) mod access;
pub(crate) mod address_index;
pub mod config;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod inventory;
pub(crate) mod lookup;
pub(crate) mod metrics;
pub(crate) mod peer;
pub(crate) mod redaction;
pub(crate) mod report;
pub(crate) mod routes;
pub mod startup;
pub(crate) mod stats;
pub mod telemetry;
