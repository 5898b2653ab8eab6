//! The simple-signing payload: what a cosign signature binds (repository, manifest digest,
//! annotations), in cosign's exact bytes.

use super::*;
use crate::{Digest, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A simple-signing payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// What the signature binds.
    pub critical: Critical,
    /// Free-form annotations (`-a key=value`); `null` when empty.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// The `critical` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critical {
    /// The repository.
    pub identity: Identity,
    /// The manifest digest.
    pub image: ImageDigest,
    /// Always [`SIGNATURE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Repository the image was signed in, e.g. `registry.example/app`.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDigest {
    /// The signed manifest digest, `sha256:<hex>`.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl Payload {
    /// The payload cosign would write for `digest` in `repository` with `annotations`.
    pub fn new(
        repository: &str,
        digest: &Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Payload {
        Payload {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_string(),
                },
                image: ImageDigest {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: SIGNATURE_TYPE.to_string(),
            },
            optional: if annotations.is_empty() {
                None
            } else {
                Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            },
        }
    }

    /// Compact JSON bytes, the exact bytes that get signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::invalid("signature payload", e.to_string()))
    }

    /// Parse payload bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Payload> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid(
                "signature payload",
                format!("not a simple-signing payload: {e}"),
            )
        })
    }
}
