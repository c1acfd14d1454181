//! The container-info store: snapshots of containers, posted by clients and kept
//! in one SQLite file that several replicas share.

pub mod config;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod query;
pub mod routes;
pub mod startup;
pub mod storage;
pub mod telemetry;
