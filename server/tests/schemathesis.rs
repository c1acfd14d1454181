//! The store against its own OpenAPI document: schemathesis generates
//! requests from `/openapi.json`, valid and invalid, and checks every answer
//! against the document (`--checks all`), on the real `container-info-server`
//! on a random loopback port, on each backend: a temp SQLite file, and a
//! PostgreSQL database. The store runs without a token (open mode);
//! `scripts/schemathesis --token-file` points the same run at a store that
//! needs one.
//!
//! schemathesis comes from PyPI (`scripts/schemathesis --install`, which
//! `scripts/test` runs). Without it the test says so and skips, unless
//! `CONTAINER_INFO_REQUIRE_TOOLS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use container_info_testkit::{Backend, Replica, SharedDatabase, both_backends};

/// Test cases per operation and phase: about a minute on 2 cores for the
/// whole run, every route included.
const MAX_EXAMPLES: &str = "100";

both_backends!(the_store_answers_as_its_openapi_document_says);

async fn the_store_answers_as_its_openapi_document_says(backend: Backend) {
    let runner = repository().join("scripts/schemathesis");
    if !installed(&runner) {
        return;
    }
    let database = SharedDatabase::new(backend).await;
    let binary = Path::new(env!("CARGO_BIN_EXE_container-info-server"));
    let store = Replica::start(binary, "127.0.0.1:0", "schemathesis", &database.argument);
    let status = Command::new(&runner)
        .args([&store.url, "--max-examples", MAX_EXAMPLES])
        .status()
        .expect("scripts/schemathesis runs");
    assert!(
        status.success(),
        "schemathesis found answers that the OpenAPI document does not allow ({status}); \
         each failure is printed above with a curl command that reproduces it"
    );
}

/// Whether the pinned schemathesis is installed; a loud skip when it is not,
/// or a failure under `CONTAINER_INFO_REQUIRE_TOOLS=1`.
fn installed(runner: &Path) -> bool {
    let installed = Command::new(runner)
        .arg("--installed")
        .status()
        .expect("scripts/schemathesis runs")
        .success();
    if !installed {
        assert_ne!(
            std::env::var("CONTAINER_INFO_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "CONTAINER_INFO_REQUIRE_TOOLS=1 but schemathesis is not installed \
             (scripts/schemathesis --install)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: schemathesis is not installed (scripts/schemathesis --install).\n"
        );
    }
    installed
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate is in the repository")
        .to_owned()
}
