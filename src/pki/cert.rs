//! X.509 certificates: parsing and the fields imgseal's rules look at.
//!
//! [`Certificate`] holds a certificate's DER together with its names (rendered by
//! [`crate::pki::dn`]), validity, basic constraints, key usage, extended key usage and public
//! key. Certificates come from PEM or DER bytes through [`load_pem_certificates`]. Chains are
//! validated in [`crate::pki::chain`]; [`CertError`] is the error of all three.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::crypto::algorithms::{from_algorithm_identifier, AlgorithmError};
pub use crate::crypto::algorithms::{EcCurve, HashAlgorithm, KeyAlgorithm, SignatureAlgorithm};

use crate::pki::dn::render_name;

/// Errors from parsing certificates, validating chains and generating test certificates.
///
/// Every message is one line and names the rule that failed and the certificate's subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Bytes that should hold a certificate do not.
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being read (a file name, or "certificate").
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `validate_chain` was given no certificates.
    #[error("the certificate chain is empty")]
    EmptyChain,
    /// A certificate breaks a structural rule (basic constraints, key usage, extended key
    /// usage, key size, self-signed leaf, ...).
    #[error("certificate {subject:?}: {rule}")]
    Rule {
        /// Subject DN of the offending certificate.
        subject: String,
        /// The rule, stated as what was required and what was found.
        rule: String,
    },
    /// A certificate's signature does not verify with its issuer's key, its issuer's name does
    /// not match, or its signature algorithm is refused (SHA-1, MD5) or unsupported.
    #[error("certificate {subject:?} is not validly signed by {issuer:?}: {reason}")]
    Signature {
        /// Subject DN of the signed certificate.
        subject: String,
        /// Subject DN of the certificate expected to have signed it.
        issuer: String,
        /// What failed.
        reason: String,
    },
    /// The chain does not lead to any of the trusted certificates.
    #[error("certificate {subject:?} does not chain to a trusted root: {reason}")]
    Untrusted {
        /// Subject DN of the last certificate that could be placed in the path.
        subject: String,
        /// Why no trusted root was reached.
        reason: String,
    },
    /// rustls-webpki's independent check of the path refused it.
    #[error("certificate {subject:?}: the independent path check (rustls-webpki) refused the chain: {reason}")]
    PathCheck {
        /// Subject DN of the leaf.
        subject: String,
        /// webpki's error.
        reason: String,
    },
    /// A certificate had expired at the time of the check (every other rule passed).
    #[error("certificate {subject:?} expired at {not_after} (checked at {at})")]
    Expired {
        /// Subject DN.
        subject: String,
        /// End of its validity period, RFC 3339.
        not_after: String,
        /// The time checked, RFC 3339.
        at: String,
    },
    /// A certificate was not yet valid at the time of the check (every other rule passed).
    #[error("certificate {subject:?} is not valid before {not_before} (checked at {at})")]
    NotYetValid {
        /// Subject DN.
        subject: String,
        /// Start of its validity period, RFC 3339.
        not_before: String,
        /// The time checked, RFC 3339.
        at: String,
    },
    /// Generating test certificates failed.
    #[error("generating test certificates: {0}")]
    Generate(String),
}

impl CertError {
    /// True for [`CertError::Expired`] and [`CertError::NotYetValid`]: the chain passed every
    /// other rule and only the time of the check falls outside some certificate's validity.
    pub fn is_validity_period(&self) -> bool {
        matches!(
            self,
            CertError::Expired { .. } | CertError::NotYetValid { .. }
        )
    }

    pub(crate) fn rule(cert: &Certificate, rule: impl Into<String>) -> Self {
        CertError::Rule {
            subject: cert.subject.clone(),
            rule: rule.into(),
        }
    }
}

/// The `basicConstraints` extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BasicConstraints {
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// The `cA` flag.
    pub ca: bool,
    /// `pathLenConstraint`, if present.
    pub path_len: Option<u32>,
}

/// The `keyUsage` extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyUsage {
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// `digitalSignature`.
    pub digital_signature: bool,
    /// `nonRepudiation` (`contentCommitment`).
    pub non_repudiation: bool,
    /// `keyEncipherment`.
    pub key_encipherment: bool,
    /// `dataEncipherment`.
    pub data_encipherment: bool,
    /// `keyAgreement`.
    pub key_agreement: bool,
    /// `keyCertSign`.
    pub key_cert_sign: bool,
    /// `cRLSign`.
    pub crl_sign: bool,
    /// `encipherOnly`.
    pub encipher_only: bool,
    /// `decipherOnly`.
    pub decipher_only: bool,
}

/// One purpose in the `extendedKeyUsage` extension.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// `anyExtendedKeyUsage`.
    Any,
    /// `id-kp-serverAuth`.
    ServerAuth,
    /// `id-kp-clientAuth`.
    ClientAuth,
    /// `id-kp-codeSigning`.
    CodeSigning,
    /// `id-kp-emailProtection`.
    EmailProtection,
    /// `id-kp-timeStamping`.
    TimeStamping,
    /// `id-kp-OCSPSigning`.
    OcspSigning,
    /// Another purpose, by OID.
    Other(String),
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPurpose::Any => f.write_str("anyExtendedKeyUsage"),
            KeyPurpose::ServerAuth => f.write_str("serverAuth"),
            KeyPurpose::ClientAuth => f.write_str("clientAuth"),
            KeyPurpose::CodeSigning => f.write_str("codeSigning"),
            KeyPurpose::EmailProtection => f.write_str("emailProtection"),
            KeyPurpose::TimeStamping => f.write_str("timeStamping"),
            KeyPurpose::OcspSigning => f.write_str("OCSPSigning"),
            KeyPurpose::Other(oid) => f.write_str(oid),
        }
    }
}

/// The `extendedKeyUsage` extension.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtendedKeyUsage {
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// The purposes, in certificate order.
    pub purposes: Vec<KeyPurpose>,
}

impl ExtendedKeyUsage {
    /// True when `purpose` is listed.
    pub fn contains(&self, purpose: &KeyPurpose) -> bool {
        self.purposes.contains(purpose)
    }
}

/// A parsed X.509 certificate: its DER and the fields imgseal's rules use.
///
/// Names are rendered as RFC 4514 strings in the order Go's `pkix.Name.String()` and notation
/// print them (most specific first: `CN=...,O=...,C=US`); characters RFC 4514 reserves
/// (`, + " \ < > ; =`, and a leading `#` or space) are backslash-escaped, so
/// `crate::pki::dn::parse_dn` reads the string back exactly.
#[derive(Clone)]
pub struct Certificate {
    pub(crate) der: Vec<u8>,
    pub(crate) tbs: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) signature_algorithm: SignatureAlgorithm,
    pub(crate) tbs_signature_matches: bool,
    pub(crate) subject: String,
    pub(crate) issuer: String,
    pub(crate) raw_subject: Vec<u8>,
    pub(crate) raw_issuer: Vec<u8>,
    pub(crate) spki: Vec<u8>,
    pub(crate) public_key: Vec<u8>,
    pub(crate) key_algorithm: KeyAlgorithm,
    pub(crate) serial: Vec<u8>,
    pub(crate) version: u32,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) key_usage: Option<KeyUsage>,
    pub(crate) extended_key_usage: Option<ExtendedKeyUsage>,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("sha256", &self.fingerprint_hex())
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Parse one DER certificate; trailing bytes are refused.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(malformed)?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} bytes of trailing data after the certificate",
                rest.len()
            )));
        }
        Certificate::from_parsed(&cert)
    }

    fn from_parsed(cert: &X509Certificate<'_>) -> Result<Certificate, CertError> {
        let tbs = &cert.tbs_certificate;
        let subject = render_name(&tbs.subject);
        let ext_err = |what: &str, e: x509_parser::error::X509Error| CertError::Malformed {
            what: format!("certificate {subject:?}"),
            reason: format!("invalid {what} extension: {e}"),
        };
        let basic_constraints = tbs
            .basic_constraints()
            .map_err(|e| ext_err("basicConstraints", e))?
            .map(|ext| BasicConstraints {
                critical: ext.critical,
                ca: ext.value.ca,
                path_len: ext.value.path_len_constraint,
            });
        let key_usage = tbs
            .key_usage()
            .map_err(|e| ext_err("keyUsage", e))?
            .map(|ext| KeyUsage {
                critical: ext.critical,
                digital_signature: ext.value.digital_signature(),
                non_repudiation: ext.value.non_repudiation(),
                key_encipherment: ext.value.key_encipherment(),
                data_encipherment: ext.value.data_encipherment(),
                key_agreement: ext.value.key_agreement(),
                key_cert_sign: ext.value.key_cert_sign(),
                crl_sign: ext.value.crl_sign(),
                encipher_only: ext.value.encipher_only(),
                decipher_only: ext.value.decipher_only(),
            });
        let extended_key_usage = tbs
            .extended_key_usage()
            .map_err(|e| ext_err("extendedKeyUsage", e))?
            .map(|ext| {
                let v = ext.value;
                let mut purposes = Vec::new();
                for (set, p) in [
                    (v.any, KeyPurpose::Any),
                    (v.server_auth, KeyPurpose::ServerAuth),
                    (v.client_auth, KeyPurpose::ClientAuth),
                    (v.code_signing, KeyPurpose::CodeSigning),
                    (v.email_protection, KeyPurpose::EmailProtection),
                    (v.time_stamping, KeyPurpose::TimeStamping),
                    (v.ocsp_signing, KeyPurpose::OcspSigning),
                ] {
                    if set {
                        purposes.push(p);
                    }
                }
                purposes.extend(v.other.iter().map(|o| KeyPurpose::Other(o.to_id_string())));
                ExtendedKeyUsage {
                    critical: ext.critical,
                    purposes,
                }
            });
        Ok(Certificate {
            der: cert.as_raw().to_vec(),
            tbs: tbs.as_ref().to_vec(),
            signature: cert.signature_value.data.to_vec(),
            signature_algorithm: from_algorithm_identifier(&cert.signature_algorithm),
            tbs_signature_matches: cert.signature_algorithm == tbs.signature,
            issuer: render_name(&tbs.issuer),
            raw_subject: tbs.subject.as_raw().to_vec(),
            raw_issuer: tbs.issuer.as_raw().to_vec(),
            spki: tbs.subject_pki.raw.to_vec(),
            public_key: tbs.subject_pki.subject_public_key.data.to_vec(),
            key_algorithm: key_algorithm(&tbs.subject_pki),
            serial: tbs.raw_serial().to_vec(),
            version: tbs.version.0 + 1,
            not_before: system_time(tbs.validity.not_before.timestamp()),
            not_after: system_time(tbs.validity.not_after.timestamp()),
            basic_constraints,
            key_usage,
            extended_key_usage,
            subject,
        })
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as a `CERTIFICATE` PEM block (LF line endings).
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// Subject DN, RFC 4514 (`CN=...,O=...,C=US`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Issuer DN, RFC 4514.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// X.509 version (1, 2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Serial number as lowercase hex (big-endian, as encoded).
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }

    /// End of the validity period (inclusive).
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// True when `at` lies within the validity period (both ends inclusive).
    pub(crate) fn is_valid_at(&self, at: SystemTime) -> bool {
        at >= self.not_before && at <= self.not_after
    }

    /// The `basicConstraints` extension, if present.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.basic_constraints
    }

    /// True when `basicConstraints` is present with `cA=true`.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|b| b.ca)
    }

    /// `pathLenConstraint`, if present.
    pub fn path_len(&self) -> Option<u32> {
        self.basic_constraints.and_then(|b| b.path_len)
    }

    /// The `keyUsage` extension, if present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }

    /// The `extendedKeyUsage` extension, if present.
    pub fn extended_key_usage(&self) -> Option<&ExtendedKeyUsage> {
        self.extended_key_usage.as_ref()
    }

    /// The public key's algorithm and size.
    pub fn key_algorithm(&self) -> &KeyAlgorithm {
        &self.key_algorithm
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    /// The contents of the `subjectPublicKey` BIT STRING: PKCS#1 `RSAPublicKey` for RSA (what
    /// ring's RSA verifiers take), the uncompressed point for EC.
    pub(crate) fn public_key_raw(&self) -> &[u8] {
        &self.public_key
    }

    /// The algorithm the certificate is signed with.
    pub fn signature_algorithm(&self) -> &SignatureAlgorithm {
        &self.signature_algorithm
    }

    /// SHA-256 of the DER encoding.
    pub fn sha256_fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// SHA-256 of the DER encoding as lowercase hex (notation's
    /// `io.cncf.notary.x509chain.thumbprint#S256` uses the same digest, in upper case).
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.sha256_fingerprint())
    }

    /// True when issuer and subject are the same name (byte for byte).
    pub fn is_self_issued(&self) -> bool {
        self.raw_subject == self.raw_issuer
    }

    /// True when the certificate is self-issued and its signature verifies with its own key
    /// under an accepted algorithm. A certificate whose subject merely equals its issuer's
    /// subject is not self-signed.
    pub fn is_self_signed(&self) -> bool {
        self.is_self_issued() && verify_signature(self, self).is_ok()
    }

    /// True when `issuer`'s subject is this certificate's issuer name and `issuer`'s key
    /// verifies this certificate's signature under an accepted algorithm.
    pub fn is_issued_by(&self, issuer: &Certificate) -> bool {
        self.raw_issuer == issuer.raw_subject && verify_signature(self, issuer).is_ok()
    }

    /// Same trust anchor: identical DER, or identical subject name and public key.
    pub(crate) fn same_anchor(&self, other: &Certificate) -> bool {
        self.der == other.der || (self.raw_subject == other.raw_subject && self.spki == other.spki)
    }
}

fn malformed(reason: impl fmt::Display) -> CertError {
    CertError::Malformed {
        what: "certificate".into(),
        reason: format!("not a valid X.509 certificate ({reason})"),
    }
}

/// Parse every certificate in `bytes`: PEM (`CERTIFICATE` blocks; other blocks are skipped) or
/// one or more concatenated DER certificates. An input with no certificate is an error.
pub fn load_pem_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let mut certs = Vec::new();
    if contains(bytes, b"-----BEGIN ") {
        let blocks = pem::parse_many(bytes).map_err(|e| CertError::Malformed {
            what: "certificate PEM".into(),
            reason: e.to_string(),
        })?;
        for block in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
            certs.extend(parse_der_sequence(block.contents())?);
        }
    } else {
        certs = parse_der_sequence(bytes)?;
    }
    if certs.is_empty() {
        return Err(CertError::Malformed {
            what: "certificate file".into(),
            reason: "no certificate found (expected PEM CERTIFICATE blocks or DER)".into(),
        });
    }
    Ok(certs)
}

fn parse_der_sequence(mut bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let mut certs = Vec::new();
    while !bytes.is_empty() {
        let (rest, cert) = x509_parser::parse_x509_certificate(bytes).map_err(malformed)?;
        certs.push(Certificate::from_parsed(&cert)?);
        bytes = rest;
    }
    Ok(certs)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> KeyAlgorithm {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => KeyAlgorithm::Rsa {
            bits: rsa_modulus_bits(&spki.subject_public_key.data).unwrap_or(0),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            KeyAlgorithm::Ec(match curve.as_str() {
                "1.2.840.10045.3.1.7" => EcCurve::P256,
                "1.3.132.0.34" => EcCurve::P384,
                "1.3.132.0.35" => EcCurve::P521,
                _ => EcCurve::Other(curve),
            })
        }
        "1.3.101.112" => KeyAlgorithm::Ed25519,
        _ => KeyAlgorithm::Other(oid),
    }
}

/// Bit length of the modulus in a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::RSAPublicKey;
    let (_, key) = RSAPublicKey::from_der(pkcs1).ok()?;
    let m = key.modulus;
    let start = m.iter().position(|&b| b != 0)?;
    let m = &m[start..];
    Some(m.len() * 8 - m[0].leading_zeros() as usize)
}

/// Why a signature did not verify with a certificate's key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The certificate's outer `signatureAlgorithm` differs from the one inside the signed part.
    #[error("the signature algorithm inside the signed part differs from the outer one")]
    AlgorithmMismatch,
    /// The algorithm table has no verifier for this signature and key.
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    /// The signature of a certificate does not verify.
    #[error("the {0} signature does not verify with the issuer's public key")]
    Invalid(SignatureAlgorithm),
    /// A signature (of a CRL, ...) does not verify.
    #[error("the signature does not verify with the issuer's public key")]
    InvalidSignature,
}

/// Check `child`'s signature with `issuer`'s public key. The algorithm must be one the
/// [table](crate::crypto::algorithms) accepts; SHA-1 and MD5 are refused before any cryptography
/// happens.
pub(crate) fn verify_signature(
    child: &Certificate,
    issuer: &Certificate,
) -> Result<(), SignatureError> {
    if !child.tbs_signature_matches {
        return Err(SignatureError::AlgorithmMismatch);
    }
    let alg =
        crate::crypto::algorithms::verifier(&child.signature_algorithm, &issuer.key_algorithm)?;
    // Path building, chain validation and webpki check the same links: see crypto::verified.
    let memo = crate::crypto::verified::key(&issuer.public_key, &child.tbs, &child.signature);
    if crate::crypto::verified::remembered(&memo) {
        return Ok(());
    }
    ring::signature::UnparsedPublicKey::new(alg, &issuer.public_key)
        .verify(&child.tbs, &child.signature)
        .map_err(|_| SignatureError::Invalid(child.signature_algorithm.clone()))?;
    crate::crypto::verified::remember(memo);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_modulus_bits_counts_significant_bits() {
        // SEQUENCE { INTEGER 0x00 0x80 00.. (1024 bits), INTEGER 65537 }
        let mut m = vec![0x00, 0x80];
        m.extend(std::iter::repeat_n(0u8, 127));
        let mut inner = vec![0x02, 0x81, m.len() as u8];
        inner.extend(&m);
        inner.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, 0x81, inner.len() as u8];
        der.extend(inner);
        assert_eq!(rsa_modulus_bits(&der), Some(1024));
    }
}
