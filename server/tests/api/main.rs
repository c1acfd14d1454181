//! The store's HTTP API, against a real server and a real SQLite file.

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
mod posting;
mod trust;
