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
mod payload;
mod signature_manifest;

pub use payload::*;
pub use signature_manifest::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Digest;
    use std::collections::BTreeMap;

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
