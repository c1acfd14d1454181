//! What stops a simulated fleet before its run is over.

use container_info_wire::attestation::SecretError;
use reqwest::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    SigningKey(#[from] SecretError),

    #[error("cannot make the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),

    /// A report the store refuses (a 4xx other than 408 and 429) is the
    /// simulation's fault (an unknown key, a snapshot out of shape): retrying
    /// it would measure nothing.
    #[error("{url} refused a report with {status}: {answer}")]
    Refused {
        url: String,
        status: StatusCode,
        answer: String,
    },

    #[error("{url} did not take a report in {attempts} attempts; the last: {last}")]
    Unreachable {
        url: String,
        attempts: u32,
        last: String,
    },
}
