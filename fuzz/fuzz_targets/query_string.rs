//! The query string of `GET /containers` and `GET /containers/{id}/history`.
//! A request's query string is always text (the URI's bytes); other inputs are
//! not a request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &[u8]| {
    if let Ok(query) = std::str::from_utf8(query) {
        container_info_server::fuzzing::query_string(query);
    }
});
