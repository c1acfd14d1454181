//! The shared test kit (a real store, snapshots), and what only the API tests
//! need beside it.

pub use container_info_testkit::*;
use container_info_wire::{ErrorBody, REPLICA_HEADER};
use reqwest::{Response, StatusCode};

/// Asserts an error answer's status and shape, and returns its body.
pub async fn expect_error(response: Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status, "{:?}", response.url().path());
    assert!(
        response.headers().contains_key(REPLICA_HEADER),
        "error answers name their replica too"
    );
    let body: ErrorBody = response.json().await.expect("errors are JSON");
    assert!(!body.error.is_empty());
    body
}
