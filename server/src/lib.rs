//! The container-info store: snapshots of containers, posted by clients and kept
//! in one SQLite file that several replicas share.

pub mod config;
pub(crate) mod error;
// Only in a cargo-fuzz build, for the fuzz targets of fuzz/.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod ingest;
pub(crate) mod metrics;
pub(crate) mod query;
pub(crate) mod routes;
pub mod startup;
pub(crate) mod storage;
pub mod telemetry;
pub(crate) mod trust;
