//! Stand-in for the lead's attestation module (snapshot signing), holding only
//! the `Secret` the agent's token uses; replaced by the real module on merge.

use std::fmt;
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

/// A secret read from a file (a Swarm secret under /run/secrets, say): a
/// bearer token or a signing key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Short secrets are refused: a token or key is meant to be random, and 32
    /// characters of hex or base64 carry at least 128 bits.
    pub const MIN_LEN: usize = 32;

    /// The file's content without surrounding whitespace (the newline an
    /// editor or `echo` leaves).
    pub fn read(path: &Path) -> Result<Self, SecretError> {
        let raw = std::fs::read(path).map_err(|source| SecretError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::new(raw.trim_ascii()).map_err(|len| SecretError::TooShort {
            path: path.to_owned(),
            len,
        })
    }

    /// The secret itself, or its length when it is too short.
    pub fn new(bytes: &[u8]) -> Result<Self, usize> {
        if bytes.len() < Self::MIN_LEN {
            return Err(bytes.len());
        }
        Ok(Self(bytes.to_vec()))
    }

    /// Whether `presented` is this secret, in time that does not depend on
    /// where the two first differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.ct_eq(presented).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the secret in {} is {len} characters long; it needs at least {} (make one with `head -c 32 /dev/urandom | base64`)",
        path.display(),
        Secret::MIN_LEN
    )]
    TooShort { path: PathBuf, len: usize },
}
