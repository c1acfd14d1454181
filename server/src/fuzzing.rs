//! What the fuzz targets (fuzz/) drive: the parsers of what a client sends,
//! each followed as far as the handler takes its result. Not part of the
//! crate's API (hidden from its documentation); nothing else calls it.

use actix_web::web;
use chrono::DateTime;
use container_info_wire::StoredSnapshot;

use crate::ingest::{Posted, Receipt};
use crate::query::{HistoryQuery, ListQuery};

/// The body of `POST /containers`: parsed as the handler parses it, and each
/// snapshot it accepts made into the record the store keeps, which the store
/// later serves as raw JSON and its readers read as a `StoredSnapshot`.
pub fn posted_body(body: &[u8]) {
    let Ok(posted) = Posted::parse(body) else {
        return;
    };
    let receipt = Receipt {
        received_at: DateTime::UNIX_EPOCH,
        received_by: "fuzz".to_owned(),
        reporter_addr: "127.0.0.1".to_owned(),
        forwarded_for: None,
    };
    for snapshot in posted.snapshots {
        let record = receipt.record(snapshot, None);
        if let Err(error) = serde_json::from_str::<StoredSnapshot>(&record.body) {
            panic!(
                "the store kept a record it cannot read back ({error}): {}",
                record.body
            );
        }
    }
}

/// The query string of `GET /containers` and of `GET /containers/{id}/history`,
/// decoded into pairs as actix decodes it for the handlers, then parsed.
pub fn query_string(query: &str) {
    let Ok(pairs) = web::Query::<Vec<(String, String)>>::from_query(query) else {
        return;
    };
    let pairs = pairs.into_inner();
    let _ = ListQuery::parse(pairs.clone());
    let _ = HistoryQuery::parse(pairs);
}
