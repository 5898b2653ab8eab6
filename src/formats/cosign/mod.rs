//! cosign's legacy ("simple signing") signature format, as Kyverno, Connaisseur, Ratify,
//! policy-controller, Harbor and containers/image read it.
//!
//! * The **payload** is compact JSON with keys in cosign's order:
//!   `{"critical":{"identity":{"docker-reference":REPO},"image":{"docker-manifest-digest":DIGEST},"type":"cosign container image signature"},"optional":ANNOTATIONS-or-null}`.
//!   `docker-reference` is the repository only (no tag or digest).
//! * The **signature** is ECDSA P-256 over SHA-256 of the payload bytes, ASN.1 DER, base64, in
//!   the layer annotation `dev.cosignproject.cosign/signature`.
//! * The signatures of image `sha256:<hex>` live in an OCI image manifest tagged
//!   `sha256-<hex>.sig` in the same repository: one layer per signature, media type
//!   `application/vnd.dev.cosign.simplesigning.v1+json`, and a config blob shaped exactly as
//!   go-containerregistry's empty image with those layers appended.

pub mod bundle;

use crate::oci::OCI_MANIFEST;
use crate::{Digest, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation holding the base64 DER signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding a signing certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding a certificate chain (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding a Rekor bundle.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The `critical.type` value of image signatures.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

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

pub use crate::oci::Descriptor;

/// The manifest at a `.sig` tag (an OCI image manifest).
pub type SignatureManifest = crate::oci::ImageManifest;

/// `artifactType` cosign uses for signatures attached as OCI 1.1 referrers
/// (`--registry-referrers-mode=oci-1-1`).
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// `artifactType` of cosign v3's Sigstore bundles attached as referrers.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Legacy tag suffix for attestations.
pub const ATTESTATION_TAG_SUFFIX: &str = ".att";
/// Legacy tag suffix for SBOMs.
pub const SBOM_TAG_SUFFIX: &str = ".sbom";

/// The config blob for a `.sig` manifest with these layers, byte-for-byte as cosign (through
/// go-containerregistry's `mutate.Append` on an empty image) writes it.
pub fn config_blob(layers: &[Descriptor]) -> Vec<u8> {
    #[derive(Serialize)]
    struct History {
        created: &'static str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        diff_ids: Vec<&'a str>,
    }
    #[derive(Serialize)]
    struct Empty {}
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'static str,
        created: &'static str,
        history: Vec<History>,
        os: &'static str,
        rootfs: RootFs<'a>,
        config: Empty,
    }
    let cfg = Config {
        architecture: "",
        created: ZERO_TIME,
        history: layers
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.as_str()).collect(),
        },
        config: Empty {},
    };
    serde_json::to_vec(&cfg).unwrap_or_default()
}

/// Build the `.sig` manifest and its config blob for `layers`.
pub fn signature_manifest(layers: Vec<Descriptor>) -> (SignatureManifest, Vec<u8>) {
    let config = config_blob(&layers);
    let manifest = SignatureManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.to_string(),
            size: config.len() as u64,
            digest: Digest::sha256(&config).to_string(),
            ..Descriptor::default()
        },
        layers,
        ..SignatureManifest::default()
    };
    (manifest, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_matches_cosign_bytes() {
        // The payload of containers/image's dir-img-cosign-valid fixture, produced by cosign.
        let want = br#"{"critical":{"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-single-sample"},"image":{"docker-manifest-digest":"sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"},"type":"cosign container image signature"},"optional":null}"#;
        let d: Digest = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
            .parse()
            .unwrap();
        let p = Payload::new(
            "192.168.64.2:5000/cosign-signed-single-sample",
            &d,
            &BTreeMap::new(),
        );
        assert_eq!(p.to_bytes().unwrap(), want.to_vec());
        assert_eq!(Payload::from_bytes(want).unwrap(), p);
    }

    #[test]
    fn annotations_are_sorted_strings() {
        let d = Digest::sha256(b"x");
        let mut a = BTreeMap::new();
        a.insert("z".to_string(), "1".to_string());
        a.insert("a".to_string(), "2".to_string());
        let s = String::from_utf8(Payload::new("r/x", &d, &a).to_bytes().unwrap()).unwrap();
        assert!(s.ends_with(r#""optional":{"a":"2","z":"1"}}"#), "{s}");
    }

    #[test]
    fn config_blob_sizes_match_cosign() {
        // Connaisseur's real .sig manifests: 1 layer → 233 bytes, 3 layers → 451 bytes.
        let layer = Descriptor {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            size: 1,
            digest: Digest::sha256(b"p").to_string(),
            ..Descriptor::default()
        };
        assert_eq!(config_blob(std::slice::from_ref(&layer)).len(), 233);
        assert_eq!(
            config_blob(&[layer.clone(), layer.clone(), layer]).len(),
            451
        );
    }
}
