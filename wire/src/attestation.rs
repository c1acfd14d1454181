//! Snapshots (and node reports) signed by the agent that saw them, and the secrets behind the
//! signatures and the store's write token.
//!
//! The agent signs the canonical JSON of a snapshot (keys sorted, no
//! whitespace, without the attestation itself and without the fields only a
//! store sets) with HMAC-SHA256 under a key it shares with the store. The
//! canonical form is rebuilt from the parsed value on each side, so a snapshot
//! keeps its signature through any client that parses and re-serializes it,
//! and through a store of another version that keeps unknown fields in
//! `extra`. HMAC rather than Ed25519: both ends already receive the same Swarm
//! secret, checking costs a microsecond per snapshot of a fleet's batch, and
//! whoever holds the store's key can already write to the store anyway.

use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::nodes::NodeReport;
use crate::{Snapshot, StoredSnapshot};

/// The only algorithm today; named in every attestation so that another can
/// be added without ambiguity.
pub const HMAC_SHA256: &str = "hmac-sha256";

/// The agent's signature on a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attestation {
    /// `hmac-sha256`.
    #[cfg_attr(feature = "openapi", schema(example = "hmac-sha256"))]
    pub alg: String,
    /// The MAC of the snapshot's canonical JSON, in lowercase hex.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    #[serde(deserialize_with = "signature")]
    pub signature: String,
}

/// A signature of the documented shape, 64 lowercase hex digits, whether or
/// not the reader can check it: a store without the key keeps what it is
/// given, and must not keep what no agent could have written.
fn signature<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let signature = String::deserialize(deserializer)?;
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if signature.len() == 64 && signature.bytes().all(hex) {
        Ok(signature)
    } else {
        Err(serde::de::Error::custom(
            "a signature is 64 lowercase hex digits",
        ))
    }
}

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

    /// The secret itself, for the one place it is sent (a client's bearer token).
    pub fn reveal(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::new_from_slice(&self.0).expect("HMAC takes a key of any length")
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

/// Why an attestation does not vouch for its snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("it is not signed")]
    Unsigned,
    #[error("unknown signature algorithm {0:?}; this store knows {HMAC_SHA256:?}")]
    UnknownAlgorithm(String),
    #[error(
        "the signature does not match: a field was changed after the agent signed it, or it was signed with another key"
    )]
    Mismatch,
}

/// A record an agent signs: a container's snapshot, or its node's report.
pub trait Signed: Serialize {
    fn attestation(&self) -> Option<&Attestation>;
    fn attestation_mut(&mut self) -> &mut Option<Attestation>;

    /// Signs the record as it is now, replacing any earlier attestation.
    fn sign(&mut self, key: &Secret) {
        *self.attestation_mut() = None;
        let mut mac = key.mac();
        mac.update(&signed_bytes(self));
        *self.attestation_mut() = Some(Attestation {
            alg: HMAC_SHA256.to_owned(),
            signature: hex::encode(mac.finalize().into_bytes()),
        });
    }

    /// Whether the attestation is `key`'s signature of exactly this record.
    fn verify(&self, key: &Secret) -> Result<(), AttestationError> {
        let attestation = self.attestation().ok_or(AttestationError::Unsigned)?;
        if attestation.alg != HMAC_SHA256 {
            return Err(AttestationError::UnknownAlgorithm(attestation.alg.clone()));
        }
        let signature =
            hex::decode(&attestation.signature).map_err(|_| AttestationError::Mismatch)?;
        let mut mac = key.mac();
        mac.update(&signed_bytes(self));
        mac.verify_slice(&signature)
            .map_err(|_| AttestationError::Mismatch)
    }
}

impl Signed for Snapshot {
    fn attestation(&self) -> Option<&Attestation> {
        self.attestation.as_ref()
    }

    fn attestation_mut(&mut self) -> &mut Option<Attestation> {
        &mut self.attestation
    }
}

impl Signed for NodeReport {
    fn attestation(&self) -> Option<&Attestation> {
        self.attestation.as_ref()
    }

    fn attestation_mut(&mut self) -> &mut Option<Attestation> {
        &mut self.attestation
    }
}

/// What a signature covers: every field but the attestation and those a store
/// sets, as JSON with sorted keys and no whitespace.
fn signed_bytes<T: Serialize + ?Sized>(record: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(record).expect("a wire record always serializes");
    let fields = value.as_object_mut().expect("a signed record is an object");
    fields.remove("attestation");
    for field in StoredSnapshot::STORE_FIELDS {
        fields.remove(field);
    }
    let mut out = Vec::with_capacity(1024);
    write_canonical(&value, &mut out);
    out
}

/// JSON with object keys sorted at every level, whatever order the map keeps.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(fields) => {
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).expect("a string always serializes");
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("a scalar always serializes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(byte: u8) -> Secret {
        Secret::new(&[byte; 32]).unwrap()
    }

    fn snapshot() -> Snapshot {
        serde_json::from_value(json!({
            "id": "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
            "name": "web", "image": "nginx:1", "node": "n1", "state": "running",
            "observed_at": "2026-11-24T10:00:00.5Z", "labels": {"b": "2", "a": "1"},
            "stats": {"cpu_percent": 0.1, "memory_usage_bytes": 1, "memory_limit_bytes": 2,
                      "network_rx_bytes": 3, "network_tx_bytes": 4, "pids": 5},
            "zone": "eu"
        }))
        .unwrap()
    }

    #[test]
    fn a_signature_of_another_shape_is_not_read() {
        let mut value = serde_json::to_value(snapshot()).unwrap();
        for bad in ["", "ABCD", &"0".repeat(63), &"g".repeat(64)] {
            value["attestation"] = json!({"alg": HMAC_SHA256, "signature": bad});
            assert!(
                serde_json::from_value::<Snapshot>(value.clone()).is_err(),
                "{bad:?}"
            );
        }
        value["attestation"] = json!({"alg": HMAC_SHA256, "signature": "0f".repeat(32)});
        assert!(serde_json::from_value::<Snapshot>(value).is_ok());
    }

    #[test]
    fn a_signature_survives_a_trip_through_json_and_store_fields() {
        let mut signed = snapshot();
        signed.sign(&key(1));
        // As a client passes it on, reordered, and as a store returns it.
        let mut value = serde_json::to_value(&signed).unwrap();
        value["received_by"] = json!("replica-1");
        let text = serde_json::to_string_pretty(&value).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back.verify(&key(1)), Ok(()));
    }

    #[test]
    fn any_changed_field_or_another_key_breaks_the_signature() {
        let mut signed = snapshot();
        signed.sign(&key(1));
        assert_eq!(signed.verify(&key(2)), Err(AttestationError::Mismatch));
        let changes: [fn(&mut Snapshot); 5] = [
            |s| s.name.push('x'),
            |s| s.node = "n2".into(),
            |s| s.stats.as_mut().unwrap().pids += 1,
            |s| {
                s.labels.insert("c".into(), "3".into());
            },
            |s| {
                s.extra.insert("zone".into(), json!("us"));
            },
        ];
        for change in changes {
            let mut altered = signed.clone();
            change(&mut altered);
            assert_eq!(altered.verify(&key(1)), Err(AttestationError::Mismatch));
        }
        let mut unsigned = signed.clone();
        unsigned.attestation = None;
        assert_eq!(unsigned.verify(&key(1)), Err(AttestationError::Unsigned));
    }

    /// A signature covers floats as JSON text, so text parsed and printed again
    /// must give the same digits: serde_json's default parser can miss the
    /// nearest double by one (`float_roundtrip` in the workspace's serde_json).
    #[test]
    fn every_float_survives_a_trip_through_json_and_its_signature_with_it() {
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut signed = snapshot();
        for _ in 0..20_000 {
            bits = bits.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let value = f64::from_bits(bits >> 2) % 1e12;
            let text = serde_json::to_string(&value).unwrap();
            assert_eq!(serde_json::from_str::<f64>(&text).unwrap(), value, "{text}");
            signed.stats.as_mut().unwrap().cpu_percent = value;
        }
        signed.sign(&key(1));
        let back: Snapshot =
            serde_json::from_str(&serde_json::to_string(&signed).unwrap()).unwrap();
        assert_eq!(back.verify(&key(1)), Ok(()));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = Vec::new();
        write_canonical(
            &json!({"b": {"d": 1, "c": [true, null]}, "a": "x"}),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x","b":{"c":[true,null],"d":1}}"#
        );
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert_eq!(Secret::new(b"short").err(), Some(5));
        let secret = key(7);
        assert!(secret.matches(&[7; 32]) && !secret.matches(&[7; 31]));
        assert_eq!(format!("{secret:?}"), "Secret(hidden)");
    }
}
