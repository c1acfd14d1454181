//! The body of `POST /containers`, as any client may send it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| container_info_server::fuzzing::posted_body(body));
