//! Checking one layer of a Sigstore bundle referrer (cosign v3): the bundle's signature with
//! the given keys or, with certificate trust, its certificate; then the in-toto statement
//! (subject = this image, cosign's signature predicate type) and required annotations.
//! Attestations are told apart and skipped, never accepted. No store access: discovery
//! (`verify/mod.rs`) fetches the bundle between [`read_layer`] and [`check`].

use super::annotations::Required;
use super::certificate;
use super::cosign::Trust;
use crate::formats::cosign;
use crate::formats::cosign::bundle::{self, Bundle, Content};
use crate::Digest;
use std::collections::BTreeMap;

/// What became of one bundle.
pub(crate) enum Verdict {
    /// Not an image signature (an attestation): why, to be reported as a warning.
    NotASignature(String),
    /// Verified: the signer's label and key fingerprint.
    Verified {
        /// The key's name or the certificate's label.
        signed_by: String,
        /// `sha256:` fingerprint of the signing key's SubjectPublicKeyInfo.
        signer_key: String,
    },
}

/// Why a layer's descriptor is not a usable Sigstore bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LayerError {
    /// Another media type (this one).
    #[error("not a sigstore bundle layer (media type {0:?})")]
    MediaType(String),
    /// The layer digest is malformed.
    #[error("bad layer digest: {0}")]
    Digest(#[source] crate::Error),
}

/// The checks on the layer's descriptor: a bundle media type and a valid digest; the digest.
pub(crate) fn read_layer(layer: &cosign::Descriptor) -> Result<Digest, LayerError> {
    if !bundle::MEDIA_TYPES.contains(&layer.media_type.as_str()) {
        return Err(LayerError::MediaType(layer.media_type.clone()));
    }
    layer.digest.parse().map_err(LayerError::Digest)
}

/// Check the bundle `bytes` as a signature of the manifest `manifest_bytes` (digest
/// `digest`). `notes` collects what was not verified (transparency-log entries, timestamps).
pub(crate) fn check(
    bytes: &[u8],
    digest: &Digest,
    manifest_bytes: &[u8],
    trust: &Trust<'_>,
    required: &Required<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict, String> {
    let parsed = Bundle::from_bytes(bytes).map_err(|e| e.to_string())?;
    let vm = &parsed.verification_material;
    if vm.tlog_entries > 0 || vm.rfc3161_timestamps > 0 {
        notes.push(format!(
            "the bundle's {} transparency-log entr{} and {} RFC 3161 timestamp{} are not verified",
            vm.tlog_entries,
            if vm.tlog_entries == 1 { "y" } else { "ies" },
            vm.rfc3161_timestamps,
            if vm.rfc3161_timestamps == 1 { "" } else { "s" },
        ));
    }
    // What is signed, and (for DSSE) the statement, read before the signature is checked
    // only to tell attestations apart: they are skipped, never accepted.
    let (message, signatures, statement) = match &parsed.content {
        Content::Dsse(env) => {
            let st = env.statement().map_err(|e| e.to_string())?;
            if !st.is_cosign_signature() {
                return Ok(Verdict::NotASignature(format!(
                    "an attestation (predicate type {:?}), not a signature",
                    st.predicate_type
                )));
            }
            let sigs: Vec<&[u8]> = env.signatures.iter().map(|s| s.sig.as_slice()).collect();
            (env.pae(), sigs, Some(st))
        }
        Content::MessageSignature(m) => {
            // A signature over the artifact: for an image, its manifest bytes.
            match &m.message_digest {
                Some((alg, d)) if alg == "SHA2_256" && hex::encode(d) == digest.hex() => {}
                Some((alg, d)) => {
                    return Err(format!(
                        "the bundle's message digest is {alg} {}, not this image's {digest}",
                        hex::encode(d)
                    ))
                }
                None => return Err("the bundle's messageSignature has no messageDigest".into()),
            }
            (manifest_bytes.to_vec(), vec![m.signature.as_slice()], None)
        }
    };
    let by_key = trust
        .keys
        .iter()
        .find(|(_, k)| signatures.iter().any(|s| k.verify(&message, s)));
    let (signed_by, signer_key) = match (by_key, trust.certificates, parsed.certificate_chain()) {
        (Some((name, k)), _, _) => (name.clone(), k.fingerprint()),
        (None, Some(certs), Some(_)) => {
            let mut last = String::new();
            let mut ok = None;
            for s in &signatures {
                match certificate::verify_chain(certs, &vm.certificates, &message, s, trust.now) {
                    Ok(label) => {
                        ok = Some(label);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            ok.ok_or(last)?
        }
        (None, _, cert) => {
            return Err(if trust.keys.is_empty() {
                "no given key or certificate root applies to this bundle (it carries no certificate)".into()
            } else if cert.is_some() && trust.certificates.is_none() {
                "bundle signature does not verify with the given public key(s); it is certificate-signed (keyless): verify it against the certificate roots it chains to".into()
            } else {
                "bundle signature does not verify with the given public key(s) (wrong key, or bundle tampered)".into()
            })
        }
    };
    let annotations = match &statement {
        Some(st) => {
            let subject = st.subject_for(digest).ok_or_else(|| {
                let named: Vec<String> = st
                    .subject
                    .iter()
                    .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
                    .collect();
                format!(
                    "the statement's subject names {}, not this image's {digest}",
                    if named.is_empty() {
                        "no digest".to_string()
                    } else {
                        named.join(", ")
                    }
                )
            })?;
            subject.annotations.clone().unwrap_or_default()
        }
        None => BTreeMap::new(),
    };
    required
        .check(|k| annotations.get(k).cloned())
        .map_err(|e| e.to_string())?;
    Ok(Verdict::Verified {
        signed_by,
        signer_key,
    })
}
