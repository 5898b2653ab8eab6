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

/// Verify `signature` over `payload` with the certificate in `layer`'s annotations; returns a
/// label for the signer and its key's fingerprint, or why it does not count.
pub(crate) fn verify(
    trust: &CertificateTrust,
    layer: &Descriptor,
    payload: &[u8],
    signature: &[u8],
    now: std::time::SystemTime,
) -> Result<(String, String), String> {
    let cert_pem = layer
        .annotations
        .get(cosign::CERTIFICATE_ANNOTATION)
        .ok_or("no signing certificate attached (and no given key verifies it)")?;
    let leaf = load_pem_certificates(cert_pem.as_bytes())
        .map_err(|e| format!("certificate annotation: {e}"))?
        .into_iter()
        .next()
        .ok_or("certificate annotation holds no certificate")?;
    let mut chain = vec![leaf.clone()];
    if let Some(pem) = layer.annotations.get(cosign::CHAIN_ANNOTATION) {
        chain.extend(
            load_pem_certificates(pem.as_bytes()).map_err(|e| format!("chain annotation: {e}"))?,
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
) -> Result<(String, String), String> {
    let leaf = chain.first().ok_or("no signing certificate")?;
    let key = leaf.key_algorithm();
    let alg = crate::crypto::algorithms::key_default_verifier(key)
        .ok_or_else(|| format!("certificate key {key} is not supported for cosign signatures"))?;
    ring::signature::UnparsedPublicKey::new(alg, leaf.public_key_raw())
        .verify(payload, signature)
        .map_err(|_| {
            format!(
                "signature does not verify with the attached certificate ({})",
                leaf.subject()
            )
        })?;
    validate_chain(chain, &trust.roots, now, Profile::CodeSigning)
        .map_err(|e| format!("certificate not trusted: {e}"))?;
    if let Some(want) = &trust.identity {
        let names = san_identities(leaf);
        if !names.iter().any(|n| n == want) {
            return Err(if names.is_empty() {
                format!(
                    "certificate identity mismatch: wanted {want:?}, the certificate has no email, URI or DNS subject alternative name (its subject {} is matched only by an explicit subject constraint)",
                    leaf.subject()
                )
            } else {
                format!(
                    "certificate identity mismatch: wanted {want:?}, the certificate's subject alternative names are {}",
                    names.join(", ")
                )
            });
        }
    }
    if let Some(want) = &trust.subject {
        let names = subject_names(leaf);
        if !names.iter().any(|n| n == want) {
            return Err(format!(
                "certificate subject mismatch: wanted {want:?}, the certificate's subject is {}",
                leaf.subject()
            ));
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
