//! The container-info store: snapshots of containers, posted by clients and kept
//! in one SQLite file that several replicas share.

pub mod config;
pub(crate) mod error;
// For the fuzz targets of fuzz/ only. Built always, not only under
// cargo-fuzz's cfg(fuzzing), so that a change to the parsers that breaks it
// shows in every build and in clippy, not first in the fuzz run.
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod ingest;
pub(crate) mod metrics;
pub(crate) mod query;
pub(crate) mod replicas;
pub(crate) mod routes;
pub mod startup;
pub(crate) mod storage;
pub mod telemetry;
pub(crate) mod trust;
