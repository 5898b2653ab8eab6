//! cosign's key-in-certificate mode ("bring your own PKI"): the signature layer carries the
//! signing certificate (`dev.sigstore.cosign/certificate`) and optionally its chain
//! (`dev.sigstore.cosign/chain`). A signature counts when it verifies with the certificate's
//! key, the certificate chains to one of the given roots (code-signing profile: codeSigning EKU
//! and digitalSignature on the leaf, CA constraints on issuers, validity now), and the
//! certificate matches the identity constraint.

use crate::formats::cosign;
use crate::oci::Descriptor;
use crate::pki::{load_pem_certificates, validate_chain, Certificate, Profile};

use crate::trust::CertificateTrust;

/// Why a certificate-signed signature does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateRejected {
    /// The layer carries no `dev.sigstore.cosign/certificate` annotation.
    #[error("no signing certificate attached (and no given key verifies it)")]
    NoCertificate,
    /// An annotation (certificate or chain) does not hold PEM certificates.
    #[error("{which} annotation: {reason}")]
    Annotation {
        /// `certificate` or `chain`.
        which: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate's key algorithm cannot verify cosign signatures.
    #[error("certificate key {0} is not supported for cosign signatures")]
    UnsupportedKey(String),
    /// The signature does not verify with the certificate's key.
    #[error("signature does not verify with the attached certificate ({subject})")]
    BadSignature {
        /// The certificate's subject.
        subject: String,
    },
    /// The chain does not lead to a trusted root (or breaks the code-signing profile).
    #[error("certificate not trusted: {0}")]
    Untrusted(String),
    /// The identity constraint names no SAN the certificate has.
    #[error("certificate identity mismatch: wanted {want:?}, {found}")]
    IdentityMismatch {
        /// The identity asked for.
        want: String,
        /// What the certificate has instead.
        found: String,
    },
    /// The subject constraint matches neither a CN nor the DN.
    #[error(
        "certificate subject mismatch: wanted {want:?}, the certificate's subject is {subject}"
    )]
    SubjectMismatch {
        /// The subject asked for.
        want: String,
        /// The certificate's subject DN.
        subject: String,
    },
}

/// Verify `signature` over `payload` with the certificate in `layer`'s annotations; returns a
/// label for the signer and its key's fingerprint, or why it does not count.
pub(crate) fn verify(
    trust: &CertificateTrust,
    layer: &Descriptor,
    payload: &[u8],
    signature: &[u8],
    now: std::time::SystemTime,
) -> Result<(String, String), CertificateRejected> {
    let annotation =
        |which: &'static str, reason: String| CertificateRejected::Annotation { which, reason };
    let cert_pem = layer
        .annotations
        .get(cosign::CERTIFICATE_ANNOTATION)
        .ok_or(CertificateRejected::NoCertificate)?;
    let leaf = load_pem_certificates(cert_pem.as_bytes())
        .map_err(|e| annotation("certificate", e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| annotation("certificate", "it holds no certificate".into()))?;
    let mut chain = vec![leaf.clone()];
    if let Some(pem) = layer.annotations.get(cosign::CHAIN_ANNOTATION) {
        chain.extend(
            load_pem_certificates(pem.as_bytes())
                .map_err(|e| annotation("chain", e.to_string()))?,
        );
    }
    verify_chain(trust, &chain, payload, signature, now)
}

/// Verify `signature` over `payload` with the key of `chain[0]` (the signing certificate; the
/// rest are its issuers), then the chain and the identity constraint, as for a signature layer.
/// Shared with Sigstore bundles.
pub(crate) fn verify_chain(
    trust: &CertificateTrust,
    chain: &[Certificate],
    payload: &[u8],
    signature: &[u8],
    now: std::time::SystemTime,
) -> Result<(String, String), CertificateRejected> {
    let leaf = chain.first().ok_or(CertificateRejected::NoCertificate)?;
    let key = leaf.key_algorithm();
    let alg = crate::crypto::algorithms::key_default_verifier(key)
        .ok_or_else(|| CertificateRejected::UnsupportedKey(key.to_string()))?;
    ring::signature::UnparsedPublicKey::new(alg, leaf.public_key_raw())
        .verify(payload, signature)
        .map_err(|_| CertificateRejected::BadSignature {
            subject: leaf.subject().to_string(),
        })?;
    validate_chain(chain, &trust.roots, now, Profile::CodeSigning)
        .map_err(|e| CertificateRejected::Untrusted(e.to_string()))?;
    if let Some(want) = &trust.identity {
        let names = san_identities(leaf);
        if !names.iter().any(|n| n == want) {
            return Err(CertificateRejected::IdentityMismatch {
                want: want.clone(),
                found: if names.is_empty() {
                    format!(
                        "the certificate has no email, URI or DNS subject alternative name (its subject {} is matched only by an explicit subject constraint)",
                        leaf.subject()
                    )
                } else {
                    format!(
                        "the certificate's subject alternative names are {}",
                        names.join(", ")
                    )
                },
            });
        }
    }
    if let Some(want) = &trust.subject {
        let names = subject_names(leaf);
        if !names.iter().any(|n| n == want) {
            return Err(CertificateRejected::SubjectMismatch {
                want: want.clone(),
                subject: leaf.subject().to_string(),
            });
        }
    }
    Ok((
        format!("certificate {}", leaf.subject()),
        crate::crypto::keys::spki_fingerprint(leaf.public_key_spki()),
    ))
}

/// The identities `--certificate-identity` matches: the SAN emails, URIs and DNS names.
fn san_identities(cert: &Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.der()) {
        if let Ok(Some(san)) = parsed.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::RFC822Name(s)
                    | x509_parser::extensions::GeneralName::URI(s)
                    | x509_parser::extensions::GeneralName::DNSName(s) => out.push(s.to_string()),
                    _ => {}
                }
            }
        }
    }
    out
}

/// What a subject constraint matches: each CN, and the whole subject DN.
fn subject_names(cert: &Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.der()) {
        for cn in parsed.subject().iter_common_name() {
            if let Ok(s) = cn.as_str() {
                out.push(s.to_string());
            }
        }
    }
    out.push(cert.subject().to_string());
    out
}
