//! Checking one cosign simple-signing signature (a `.sig` tag layer or an OCI 1.1 referrer's
//! layer): its signature over the exact payload bytes with a given key or, in certificate
//! mode, the attached certificate; then the payload's type, digest, repository and required
//! annotations. With a Sigstore trusted root ([`KeylessTrust`]), the layer's Rekor bundle and
//! RFC 3161 timestamp are verified too (`verify/keyless.rs`), and keyless (Fulcio) certificates
//! are checked at the signing time they establish. No store access: discovery
//! (`verify/mod.rs`) fetches the payload between [`read_layer`] and [`check`].

use super::annotations::Required;
use super::certificate;
use super::keyless::{self, CertificateEvidence, KeylessTrust, TimestampEvidence, TlogEvidence};
use crate::formats::cosign::{self, Payload};
use crate::formats::format::strip_whitespace;
use crate::trust::signed_identity::SignedIdentity;
use crate::trust::CertificateTrust;
use crate::{Digest, PublicKey, Reference};
use base64::Engine as _;

/// What the layer's descriptor says before its payload is fetched.
pub(crate) struct SignedLayer {
    /// The decoded signature annotation.
    pub signature: Vec<u8>,
    /// The payload blob's digest.
    pub payload_digest: Digest,
}

/// The trust material a cosign signature is checked against.
pub(crate) struct Trust<'a> {
    /// Named public keys.
    pub keys: &'a [(String, PublicKey)],
    /// Certificate roots and identity constraints (key-in-certificate mode).
    pub certificates: Option<&'a CertificateTrust>,
    /// A Sigstore trusted root: Rekor bundles and timestamps verified, keyless certificates.
    pub keyless: Option<&'a KeylessTrust>,
    /// The instant certificate validity is checked at (the verifier's clock).
    pub now: std::time::SystemTime,
}

/// What the payload must say.
pub(crate) struct Expected<'a> {
    /// The image's manifest digest.
    pub digest: &'a Digest,
    /// The image's name as identity rules compare it
    /// ([`crate::trust::signed_identity::compared_identity`]).
    pub image: Option<&'a Reference>,
    /// Which `docker-reference` the payload may name.
    pub identity: &'a SignedIdentity,
    /// Annotations the payload must carry.
    pub required: Required<'a>,
}

/// A signature that passed every check.
pub(crate) struct Verified {
    /// The payload.
    pub payload: Payload,
    /// The key's name or the certificate's label.
    pub signed_by: String,
    /// `sha256:` fingerprint of the signing key's SubjectPublicKeyInfo.
    pub signer_key: String,
    /// The keyless certificate's identity and the trust-root entries it was checked against.
    pub certificate: Option<CertificateEvidence>,
    /// The transparency-log entry verified.
    pub tlog: Option<TlogEvidence>,
    /// The RFC 3161 timestamp verified.
    pub timestamp: Option<TimestampEvidence>,
}

/// A signature that failed: why, and the payload when it could be read.
pub(crate) type Failure = (Option<Box<Payload>>, String);

/// Why a layer's descriptor is not a usable simple-signing signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LayerError {
    /// Another media type (this one).
    #[error("not a signature layer (media type {0:?})")]
    MediaType(String),
    /// No signature annotation.
    #[error("no {} annotation", cosign::SIGNATURE_ANNOTATION)]
    NoSignature,
    /// The signature annotation is not base64.
    #[error("signature annotation is not base64")]
    NotBase64,
    /// The layer digest is malformed.
    #[error("bad layer digest: {0}")]
    Digest(#[source] crate::Error),
}

/// The checks on the layer's descriptor: a simple-signing layer with a base64 signature
/// annotation and a valid digest.
pub(crate) fn read_layer(layer: &cosign::Descriptor) -> Result<SignedLayer, LayerError> {
    if layer.media_type != cosign::SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(LayerError::MediaType(layer.media_type.clone()));
    }
    let sig_b64 = layer
        .annotations
        .get(cosign::SIGNATURE_ANNOTATION)
        .ok_or(LayerError::NoSignature)?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(strip_whitespace(sig_b64))
        .map_err(|_| LayerError::NotBase64)?;
    let payload_digest: Digest = layer.digest.parse().map_err(LayerError::Digest)?;
    Ok(SignedLayer {
        signature,
        payload_digest,
    })
}

/// Check the signature `sig` over the payload `bytes` of `layer`, then the payload.
pub(crate) fn check(
    layer: &cosign::Descriptor,
    sig: &[u8],
    bytes: &[u8],
    trust: &Trust<'_>,
    expected: &Expected<'_>,
) -> Result<Verified, Failure> {
    let fail = |why: String| (None, why);
    let has_certificate = layer
        .annotations
        .contains_key(cosign::CERTIFICATE_ANNOTATION);
    let mut evidence = keyless::Evidence::default();
    let mut certificate = None;
    let (signed_by, signer_key) = match trust.keys.iter().find(|(_, k)| k.verify(bytes, sig)) {
        Some((name, k)) => {
            // Key + Rekor: with a trusted root, the key's log entry and timestamp count too.
            if let Some(kt) = trust.keyless {
                evidence =
                    keyless::check_evidence(kt, layer, bytes, sig, &keyless::key_verifier(k))
                        .map_err(|e| fail(e.to_string()))?;
            }
            (name.clone(), k.fingerprint())
        }
        None => match (trust.certificates, trust.keyless) {
            (Some(certs), _) if has_certificate => {
                certificate::verify(certs, layer, bytes, sig, trust.now)
                    .map_err(|e| fail(e.to_string()))?
            }
            (None, Some(kt)) if has_certificate => {
                let v = keyless::verify_keyless(kt, layer, bytes, sig)
                    .map_err(|e| fail(e.to_string()))?;
                evidence = v.evidence;
                certificate = Some(v.certificate);
                (v.signed_by, v.signer_key)
            }
            _ => {
                return Err(fail(
                    if has_certificate && layer.annotations.contains_key(cosign::BUNDLE_ANNOTATION)
                    {
                        "the signature is keyless (a Fulcio certificate and a Rekor bundle, no key): it verifies only against a Sigstore trusted root and the signer's certificate identity".into()
                    } else if trust.keys.len() == 1 {
                        "signature does not verify with the given public key (wrong key, or payload/signature tampered)".into()
                    } else if trust.keys.is_empty() {
                        "no given key or certificate root applies to this signature (it carries no certificate)".into()
                    } else {
                        "signature does not verify with any of the given public keys (wrong key, or payload/signature tampered)".into()
                    },
                ))
            }
        },
    };
    let payload = Payload::from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
    let with = |why: String| (Some(Box::new(payload.clone())), why);
    if payload.critical.kind != cosign::SIGNATURE_TYPE {
        return Err(with(format!(
            "payload type is {:?}, not {:?}",
            payload.critical.kind,
            cosign::SIGNATURE_TYPE
        )));
    }
    let digest = expected.digest;
    if payload.critical.image.docker_manifest_digest != digest.to_string() {
        return Err(with(format!(
            "payload names digest {}, not this image's {digest} (a signature of another image, or the tag moved after signing)",
            payload.critical.image.docker_manifest_digest
        )));
    }
    let named = &payload.critical.identity.docker_reference;
    if let Err(e) = expected.identity.matches(expected.image, named) {
        return Err(with(e.explain()));
    }
    expected
        .required
        .check(|k| payload.optional.as_ref().and_then(|o| o.get(k)).cloned())
        .map_err(|e| with(e.to_string()))?;
    Ok(Verified {
        payload,
        signed_by,
        signer_key,
        certificate,
        tlog: evidence.tlog,
        timestamp: evidence.timestamp,
    })
}
