//! The store's HTTP API, against a real server and a real database: each
//! test body runs on a SQLite file and on PostgreSQL (`both_backends!`).

mod bad_input;
mod deleting;
mod disk_full;
mod helpers;
mod history;
mod listing;
mod lookup;
mod nodes;
mod operations;
mod page;
mod postgres;
mod postgres_tls;
mod posting;
mod trust;
