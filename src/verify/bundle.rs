//! Checking one layer of a Sigstore bundle referrer (cosign v3): the bundle's signature with
//! the given keys or, with certificate trust, its certificate; then the in-toto statement
//! (subject = this image, cosign's signature predicate type) and required annotations.
//! Attestations are told apart and skipped, never accepted. No store access: discovery
//! (`verify/mod.rs`) fetches the bundle between [`read_layer`] and [`check`].
//!
//! With a Sigstore trusted root ([`SigstoreTrust`]) the bundle is verified in full by
//! [`super::sigstore`]: a key-signed bundle with one of the given keys, a keyless one against
//! the expected identities, transparency-log entries and timestamps included; the artifact is
//! the image digest (DSSE: the statement's subject) or its manifest bytes (message signature).

use super::annotations::Required;
use super::certificate;
use super::cosign::Trust;
use super::sigstore::{verify_parsed, Artifact, BundleOptions, BundlePolicy, SignerVerified};
use crate::formats::cosign;
use crate::formats::cosign::bundle::{self, Bundle, Content};
use crate::trust::keyless::CertificateIdentity;
use crate::trust::sigstore_root::TrustedRoot;
use crate::Digest;
use std::collections::BTreeMap;

/// The trusted root and keyless identities for full bundle verification (no root: the
/// bundle's signature only, as before).
#[derive(Debug, Clone, Default)]
pub(crate) struct SigstoreTrust {
    /// The Sigstore trusted root.
    pub root: Option<std::sync::Arc<TrustedRoot>>,
    /// Who may have signed keylessly (any one).
    pub identities: Vec<CertificateIdentity>,
    /// What the bundle must carry (tlog entry, SCT, timestamp); its `now` is the verifier's.
    pub options: BundleOptions,
}

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

/// Why a cosign bundle referrer does not count as a signature of the image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BundleRejected {
    /// The bundle or its DSSE statement does not parse.
    #[error(transparent)]
    Format(#[from] bundle::BundleError),
    /// Verification against the trusted root failed.
    #[error(transparent)]
    Sigstore(#[from] super::sigstore::SigstoreError),
    /// A certificate-signed bundle whose certificate does not count.
    #[error(transparent)]
    Certificate(#[from] certificate::CertificateRejected),
    /// The signature's annotations are not the required ones.
    #[error(transparent)]
    Annotations(#[from] super::annotations::AnnotationMismatch),
    /// A message signature over another digest (or none).
    #[error("{0}")]
    MessageDigest(String),
    /// The DSSE statement is about another artifact.
    #[error("the statement's subject names {named}, not this image's {digest}")]
    Subject {
        /// The digests the statement names.
        named: String,
        /// This image's digest.
        digest: Digest,
    },
    /// The verified statement's subject does not name this image.
    #[error("the statement's subject does not name this image's {0}")]
    NotAboutImage(Digest),
    /// No trust material given applies to how the bundle is signed.
    #[error("{0}")]
    NoApplicableTrust(&'static str),
    /// No given key verifies the bundle's signature.
    #[error("{0}")]
    KeyMismatch(&'static str),
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
    sigstore: &SigstoreTrust,
    required: &Required<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict, BundleRejected> {
    let parsed = Bundle::from_bytes(bytes)?;
    if let Some(root) = &sigstore.root {
        return check_with_root(
            &parsed,
            digest,
            manifest_bytes,
            trust,
            sigstore,
            root,
            required,
        );
    }
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
            let st = env.statement()?;
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
                    return Err(BundleRejected::MessageDigest(format!(
                        "the bundle's message digest is {alg} {}, not this image's {digest}",
                        hex::encode(d)
                    )))
                }
                None => {
                    return Err(BundleRejected::MessageDigest(
                        "the bundle's messageSignature has no messageDigest".into(),
                    ))
                }
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
            let mut last = certificate::CertificateRejected::NoCertificate;
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
                BundleRejected::NoApplicableTrust("no given key or certificate root applies to this bundle (it carries no certificate)")
            } else if cert.is_some() && trust.certificates.is_none() {
                BundleRejected::KeyMismatch("bundle signature does not verify with the given public key(s); it is certificate-signed (keyless): verify it against the certificate roots it chains to")
            } else {
                BundleRejected::KeyMismatch("bundle signature does not verify with the given public key(s) (wrong key, or bundle tampered)")
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
                BundleRejected::Subject {
                    named: if named.is_empty() {
                        "no digest".to_string()
                    } else {
                        named.join(", ")
                    },
                    digest: digest.clone(),
                }
            })?;
            subject.annotations.clone().unwrap_or_default()
        }
        None => BTreeMap::new(),
    };
    required.check(|k| annotations.get(k).cloned())?;
    Ok(Verdict::Verified {
        signed_by,
        signer_key,
    })
}

/// The statement's subject annotations for `digest`, or why the statement is not about it.
fn subject_annotations(
    st: &bundle::Statement,
    digest: &Digest,
) -> Result<BTreeMap<String, serde_json::Value>, BundleRejected> {
    let subject = st
        .subject_for(digest)
        .ok_or_else(|| BundleRejected::NotAboutImage(digest.clone()))?;
    Ok(subject.annotations.clone().unwrap_or_default())
}

/// Full verification against a Sigstore trusted root (see the module docs).
fn check_with_root(
    parsed: &Bundle,
    digest: &Digest,
    manifest_bytes: &[u8],
    trust: &Trust<'_>,
    sigstore: &SigstoreTrust,
    root: &TrustedRoot,
    required: &Required<'_>,
) -> Result<Verdict, BundleRejected> {
    let artifact = match &parsed.content {
        Content::Dsse(env) => {
            // Attestations are told apart before anything is verified, and skipped.
            let st = env.statement()?;
            if !st.is_cosign_signature() {
                return Ok(Verdict::NotASignature(format!(
                    "an attestation (predicate type {:?}), not a signature",
                    st.predicate_type
                )));
            }
            Artifact::Digest(digest)
        }
        Content::MessageSignature(_) => Artifact::Bytes(manifest_bytes),
    };
    let options = BundleOptions {
        now: Some(trust.now),
        ..sigstore.options
    };
    let verified = if parsed.certificate_chain().is_some() {
        if sigstore.identities.is_empty() {
            return Err(BundleRejected::NoApplicableTrust(
                "a keyless bundle (Fulcio certificate): no certificate identity was given to verify it against",
            ));
        }
        let policy = BundlePolicy::Identities(sigstore.identities.clone());
        verify_parsed(parsed, artifact, &policy, root, &options)?
    } else {
        if trust.keys.is_empty() {
            return Err(BundleRejected::NoApplicableTrust(
                "a key-signed bundle: no public key was given to verify it with",
            ));
        }
        let mut last = None;
        let mut found = None;
        for (name, key) in trust.keys {
            let policy = BundlePolicy::Key(key.clone());
            match verify_parsed(parsed, artifact, &policy, root, &options) {
                Ok(v) => {
                    found = Some((name.clone(), v));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        match found {
            Some((name, v)) => {
                let annotations = match &v.statement {
                    Some(st) => subject_annotations(st, digest)?,
                    None => BTreeMap::new(),
                };
                required.check(|k| annotations.get(k).cloned())?;
                let fingerprint = match &v.signer {
                    SignerVerified::Key { fingerprint } => fingerprint.clone(),
                    _ => String::new(),
                };
                return Ok(Verdict::Verified {
                    signed_by: format!("{name}; {}", evidence(&v)),
                    signer_key: fingerprint,
                });
            }
            None => {
                return Err(last
                    .map(BundleRejected::from)
                    .unwrap_or(BundleRejected::NoApplicableTrust("no public key was given")))
            }
        }
    };
    let annotations = match &verified.statement {
        Some(st) => subject_annotations(st, digest)?,
        None => BTreeMap::new(),
    };
    required.check(|k| annotations.get(k).cloned())?;
    match &verified.signer {
        SignerVerified::Certificate {
            san,
            identity,
            authority_uri,
            key_fingerprint,
            ..
        } => Ok(Verdict::Verified {
            signed_by: format!(
                "{} (issuer {}; Fulcio {authority_uri}; {})",
                san.value(),
                identity.issuer.as_deref().unwrap_or("?"),
                evidence(&verified)
            ),
            signer_key: key_fingerprint.clone(),
        }),
        _ => Err(BundleRejected::NoApplicableTrust(
            "the bundle's signer is not a certificate",
        )),
    }
}

/// The trust-root entries a verified bundle used, for `signed_by`.
fn evidence(v: &super::sigstore::BundleVerified) -> String {
    let mut parts: Vec<String> = v
        .tlog
        .iter()
        .map(|t| format!("Rekor {} entry {}", t.base_url, t.log_index))
        .collect();
    parts.extend(
        v.timestamps
            .iter()
            .map(|t| format!("TSA {}", t.authority_uri)),
    );
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keyless::Matcher;
    use crate::trust::sigstore_root::tests::keyless_fixture;

    const KUBEWARDEN: &str =
        "sigstore-rs/cosign-v3-bundle-kubewarden-controller-v1.34.0/bundle_v03.json";
    const IMAGE: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    const WORKFLOW: &str =
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
    const GHA: &str = "https://token.actions.githubusercontent.com";

    fn run(
        bundle: &[u8],
        image: &str,
        identities: Vec<CertificateIdentity>,
    ) -> Result<Verdict, String> {
        let root = keyless_fixture("trust-roots/public-good-production.trusted_root.json")
            .map(|j| TrustedRoot::from_json(&j).unwrap())
            .expect("production root");
        let sigstore = SigstoreTrust {
            root: Some(std::sync::Arc::new(root)),
            identities,
            ..SigstoreTrust::default()
        };
        let trust = Trust {
            keys: &[],
            certificates: None,
            keyless: None,
            now: std::time::SystemTime::now(),
        };
        let values = BTreeMap::new();
        let required = Required {
            values: &values,
            keys: &[],
        };
        let digest: Digest = image.parse().unwrap();
        check(
            bundle,
            &digest,
            b"{}",
            &trust,
            &sigstore,
            &required,
            &mut Vec::new(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn cosign_v3_image_signature_verifies_in_full_with_a_trusted_root() {
        let Some(bundle) = keyless_fixture(KUBEWARDEN) else {
            return;
        };
        let id = || vec![CertificateIdentity::exact(WORKFLOW, GHA)];
        match run(&bundle, IMAGE, id()).unwrap() {
            Verdict::Verified {
                signed_by,
                signer_key,
            } => {
                assert!(signed_by.contains(WORKFLOW), "{signed_by}");
                assert!(
                    signed_by.contains("Rekor https://rekor.sigstore.dev entry 1261105807"),
                    "{signed_by}"
                );
                assert!(signed_by.contains("TSA "), "{signed_by}");
                assert!(signer_key.starts_with("sha256:"));
            }
            Verdict::NotASignature(w) => panic!("{w}"),
        }
        // Subject digest = image digest.
        let other = format!("sha256:{}", "0".repeat(64));
        let e = run(&bundle, &other, id()).err().unwrap();
        assert!(e.contains("statement's subjects name"), "{e}");
        // Another identity; no identity at all.
        let e = run(
            &bundle,
            IMAGE,
            vec![CertificateIdentity::new(
                Matcher::regex("https://github.com/kubewarden/other/.*").unwrap(),
                Matcher::exact(GHA),
            )],
        )
        .err()
        .unwrap();
        assert!(e.contains("does not match"), "{e}");
        let e = run(&bundle, IMAGE, Vec::new()).err().unwrap();
        assert!(e.contains("no certificate identity"), "{e}");
        // A changed payload type is refused; a changed predicate type is an attestation.
        let mut json: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
        json["dsseEnvelope"]["payloadType"] = "application/json".into();
        let e = run(json.to_string().as_bytes(), IMAGE, id()).err().unwrap();
        assert!(e.contains("payload type"), "{e}");
        let mut json: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
        json["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
        let e = run(json.to_string().as_bytes(), IMAGE, id()).err().unwrap();
        assert!(e.contains("no verified transparency-log entry"), "{e}");
    }
}
