//! What `notation inspect` shows about a signature: its envelope's signed attributes (signing
//! scheme, signing time, expiry), the user metadata, the signed artifact and each certificate
//! of its chain (subject, issuer, expiry, SHA-256 fingerprint).
//!
//! [`NotationInfo::from_envelope`] reads an envelope whose signature verifies with its own
//! signing certificate ([`Envelope::verify_integrity`](super::Envelope::verify_integrity));
//! nothing here says the chain is trusted — that is the trust policy's job.

use super::{parse_envelope, Algorithm, EnvelopeError};
use crate::pki::Certificate;
use crate::util::time::format_rfc3339;
use std::collections::BTreeMap;

/// The media type of a JWS envelope (notation's `mediaType` of a signature).
pub(crate) const JWS_ENVELOPE_MEDIA_TYPE: &str = "application/jose+json";

/// One certificate of a signature's chain, as `notation inspect` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The subject DN (notation's `issuedTo`).
    pub subject: String,
    /// The issuer DN (`issuedBy`).
    pub issuer: String,
    /// The end of its validity period, RFC 3339 (`expiry`).
    pub expiry: String,
    /// The SHA-256 of its DER, lowercase hex (`SHA256Fingerprint`).
    pub sha256_fingerprint: String,
}

/// The signed artifact a signature names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedArtifact {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
}

/// What a Notary Project signature says about itself (`notation inspect`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NotationInfo {
    /// The envelope's media type (`application/jose+json`).
    pub media_type: String,
    /// The signature algorithm in notation's words (`ECDSA-SHA-256`, `RSASSA-PSS-SHA-256`, …).
    pub signature_algorithm: String,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    pub signing_scheme: String,
    /// The signing time (`signingTime`, or the authentic signing time of the signing-authority
    /// scheme), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    /// When the signature expires, RFC 3339; none when the signer set no expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// The signing agent the envelope names (unsigned, informational).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_agent: Option<String>,
    /// True when an RFC 3161 timestamp countersignature is attached (checked only by
    /// verification).
    pub timestamped: bool,
    /// The user metadata (`targetArtifact.annotations`, what `notation sign -m` adds).
    pub user_metadata: BTreeMap<String, String>,
    /// The signed artifact.
    pub signed_artifact: SignedArtifact,
    /// The certificate chain, signing certificate first.
    pub certificates: Vec<CertificateInfo>,
}

/// notation's name for a JWS algorithm.
fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Ps256 => "RSASSA-PSS-SHA-256",
        Algorithm::Ps384 => "RSASSA-PSS-SHA-384",
        Algorithm::Ps512 => "RSASSA-PSS-SHA-512",
        Algorithm::Es256 => "ECDSA-SHA-256",
        Algorithm::Es384 => "ECDSA-SHA-384",
        Algorithm::Es512 => "ECDSA-SHA-512",
    }
}

impl NotationInfo {
    /// Read the JWS envelope `bytes`: it must parse and its signature verify with its own
    /// signing certificate, and each certificate of its chain must parse.
    pub fn from_envelope(bytes: &[u8]) -> Result<NotationInfo, EnvelopeError> {
        let env = parse_envelope(bytes)?.verify_integrity()?;
        let mut certificates = Vec::new();
        for (index, der) in env.certificate_chain.iter().enumerate() {
            let c = Certificate::from_der(der).map_err(|e| EnvelopeError::InvalidCertificate {
                index,
                reason: e.to_string(),
            })?;
            certificates.push(CertificateInfo {
                subject: c.subject().to_string(),
                issuer: c.issuer().to_string(),
                expiry: format_rfc3339(c.not_after()),
                sha256_fingerprint: c.fingerprint_hex(),
            });
        }
        Ok(NotationInfo {
            media_type: JWS_ENVELOPE_MEDIA_TYPE.to_string(),
            signature_algorithm: algorithm_name(env.algorithm).to_string(),
            signing_scheme: env.signing_scheme.as_str().to_string(),
            signing_time: env
                .authentic_signing_time
                .or(env.signing_time)
                .map(format_rfc3339),
            expiry: env.expiry.map(format_rfc3339),
            signing_agent: env.signing_agent.clone(),
            timestamped: env.has_timestamp(),
            user_metadata: env.target.annotations.clone(),
            signed_artifact: SignedArtifact {
                media_type: env.target.media_type.clone(),
                digest: env.target.digest.clone(),
                size: env.target.size,
            },
            certificates,
        })
    }
}
