//! X.509 certificates: parsing, chain validation against trusted roots, and test PKIs.
//!
//! [`Certificate`] holds a certificate's DER together with the fields imgseal's rules look at
//! (names, validity, basic constraints, key usage, extended key usage, public key). Certificates
//! come from PEM or DER bytes through [`load_pem_certificates`].
//!
//! [`validate_chain`] checks an ordered chain (signing certificate first) against a set of
//! trusted certificates, under one of three rule sets ([`Profile`]; the third,
//! [`Profile::TimeStamping`], is for RFC 3161 TSA chains — see `crate::timestamp`):
//!
//! - [`Profile::CodeSigning`], for cosign's certificate mode: the leaf must carry the
//!   `codeSigning` extended key usage and the `digitalSignature` key usage.
//! - [`Profile::Notary`], the Notary Project signature specification's "Certificate
//!   Requirements" as notation applies them: leaf `keyUsage` present, critical,
//!   `digitalSignature` and nothing that encrypts or signs certificates; leaf `extendedKeyUsage`
//!   optional, but when present it must not name `anyExtendedKeyUsage`, `serverAuth`,
//!   `clientAuth`, `emailProtection`, `timeStamping` or `OCSPSigning` (the specification says
//!   `codeSigning` MAY be present: it is not required); CA `keyUsage` present and critical with
//!   `keyCertSign`.
//!
//! Both profiles check the signature of every link (RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/
//! 512, ECDSA P-256/P-384 with SHA-256/384; SHA-1 and MD5 are refused), `basicConstraints`
//! `cA=true` and `pathLenConstraint` on every issuer, that the leaf is not a CA, key sizes (RSA ≥
//! 2048 bits, EC on P-256, P-384 or P-521), and the validity period of every certificate
//! **including the root**. After imgseal's own rules pass, the path is checked once more,
//! independently, by rustls-webpki (signatures, constraints, name constraints, critical
//! extensions it does not understand).
//!
//! Validity-period failures ([`CertError::Expired`], [`CertError::NotYetValid`]) are reported only
//! when every other rule passed, so a Notary Project verifier can treat them as the
//! "authentic timestamp" outcome (logged at `permissive`) without skipping anything else.
//!
//! [`generate_test`] makes a throwaway root CA and code-signing leaf, like
//! `notation cert generate-test`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use x509_parser::asn1_rs::{Any, Class};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

use crate::util::time::format_rfc3339 as rfc3339;

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

    fn rule(cert: &Certificate, rule: impl Into<String>) -> Self {
        CertError::Rule {
            subject: cert.subject.clone(),
            rule: rule.into(),
        }
    }
}

impl From<CertError> for crate::Error {
    fn from(e: CertError) -> Self {
        crate::Error::Trust(crate::trust::TrustError::Cert(e))
    }
}

/// Which set of certificate rules [`validate_chain`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// cosign certificate mode: leaf EKU must contain `codeSigning`, leaf key usage
    /// `digitalSignature`; CA `keyUsage`, when present, must allow `keyCertSign`.
    CodeSigning,
    /// Notary Project signature specification, "Certificate Requirements" (see the module docs).
    Notary,
    /// An RFC 3161 time-stamping authority: the leaf's `extendedKeyUsage` must be present,
    /// critical, and list exactly `timeStamping` (RFC 3161 §2.3); leaf `keyUsage` must allow
    /// `digitalSignature`; CA `keyUsage`, when present, must allow `keyCertSign`.
    TimeStamping,
}

/// Hash function inside a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    fn from_oid(oid: &str) -> Option<HashAlgorithm> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Some(HashAlgorithm::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(HashAlgorithm::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    fn output_len(self) -> u32 {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha384 => "SHA-384",
            HashAlgorithm::Sha512 => "SHA-512",
        })
    }
}

/// The algorithm a certificate is signed with (its `signatureAlgorithm` field).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 (`sha256WithRSAEncryption`, ...).
    RsaPkcs1(HashAlgorithm),
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss(HashAlgorithm),
    /// ECDSA (`ecdsa-with-SHA256`, ...).
    Ecdsa(HashAlgorithm),
    /// Ed25519.
    Ed25519,
    /// A broken algorithm (SHA-1 or MD5 based), named; always refused.
    Insecure(String),
    /// Anything else, by OID or description; refused.
    Other(String),
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureAlgorithm::RsaPkcs1(h) => write!(f, "RSA PKCS#1 v1.5 with {h}"),
            SignatureAlgorithm::RsaPss(h) => write!(f, "RSA-PSS with {h}"),
            SignatureAlgorithm::Ecdsa(h) => write!(f, "ECDSA with {h}"),
            SignatureAlgorithm::Ed25519 => f.write_str("Ed25519"),
            SignatureAlgorithm::Insecure(name) => f.write_str(name),
            SignatureAlgorithm::Other(name) => write!(f, "unsupported algorithm {name}"),
        }
    }
}

/// Named elliptic curve of an EC public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// Another curve, by OID.
    Other(String),
}

/// A certificate's public key algorithm and size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA key on a named curve.
    Ec(EcCurve),
    /// Ed25519.
    Ed25519,
    /// Anything else, by OID.
    Other(String),
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyAlgorithm::Ec(EcCurve::P256) => f.write_str("EC P-256"),
            KeyAlgorithm::Ec(EcCurve::P384) => f.write_str("EC P-384"),
            KeyAlgorithm::Ec(EcCurve::P521) => f.write_str("EC P-521"),
            KeyAlgorithm::Ec(EcCurve::Other(oid)) => write!(f, "EC on curve {oid}"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Other(oid) => write!(f, "key algorithm {oid}"),
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
/// [`crate::trust::trusted_identity_matches`] can parse the string back exactly.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    signature_algorithm: SignatureAlgorithm,
    tbs_signature_matches: bool,
    subject: String,
    issuer: String,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    spki: Vec<u8>,
    public_key: Vec<u8>,
    key_algorithm: KeyAlgorithm,
    serial: Vec<u8>,
    version: u32,
    not_before: SystemTime,
    not_after: SystemTime,
    basic_constraints: Option<BasicConstraints>,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Option<ExtendedKeyUsage>,
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
            signature_algorithm: signature_algorithm(&cert.signature_algorithm),
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
    pub fn is_valid_at(&self, at: SystemTime) -> bool {
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
    pub fn public_key_raw(&self) -> &[u8] {
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
    fn same_anchor(&self, other: &Certificate) -> bool {
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

fn signature_algorithm(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    use HashAlgorithm::*;
    use SignatureAlgorithm as S;
    let oid = alg.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.11" => S::RsaPkcs1(Sha256),
        "1.2.840.113549.1.1.12" => S::RsaPkcs1(Sha384),
        "1.2.840.113549.1.1.13" => S::RsaPkcs1(Sha512),
        "1.2.840.10045.4.3.2" => S::Ecdsa(Sha256),
        "1.2.840.10045.4.3.3" => S::Ecdsa(Sha384),
        "1.2.840.10045.4.3.4" => S::Ecdsa(Sha512),
        "1.3.101.112" => S::Ed25519,
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => S::Insecure("sha1WithRSAEncryption".into()),
        "1.2.840.113549.1.1.4" => S::Insecure("md5WithRSAEncryption".into()),
        "1.2.840.113549.1.1.2" => S::Insecure("md2WithRSAEncryption".into()),
        "1.2.840.10045.4.1" => S::Insecure("ecdsa-with-SHA1".into()),
        "1.2.840.10040.4.3" => S::Insecure("dsa-with-SHA1".into()),
        "1.2.840.113549.1.1.10" => pss_algorithm(alg),
        _ => S::Other(oid),
    }
}

fn pss_algorithm(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    use x509_parser::signature_algorithm::RsaSsaPssParams;
    let unsupported = || SignatureAlgorithm::Other("RSASSA-PSS with unsupported parameters".into());
    let Some(params) = alg.parameters.as_ref() else {
        return unsupported();
    };
    let Ok(params) = RsaSsaPssParams::try_from(params) else {
        return unsupported();
    };
    let hash_oid = params.hash_algorithm_oid().to_id_string();
    if hash_oid == "1.3.14.3.2.26" {
        return SignatureAlgorithm::Insecure("RSASSA-PSS with SHA-1".into());
    }
    let Some(hash) = HashAlgorithm::from_oid(&hash_oid) else {
        return unsupported();
    };
    let mgf_ok = params.mask_gen_algorithm().is_ok_and(|m| {
        m.mgf.to_id_string() == "1.2.840.113549.1.1.8" && m.hash.to_id_string() == hash_oid
    });
    if !mgf_ok || params.salt_length() != hash.output_len() || params.trailer_field() != 1 {
        return unsupported();
    }
    SignatureAlgorithm::RsaPss(hash)
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

/// The RFC 4514 keyword for a distinguished-name attribute OID, if it has one.
pub(crate) fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Render a name the way notation prints it: RDNs last-to-first, `type=value` joined by `,`,
/// multi-valued RDNs joined by `+`. Attributes outside Go's named set (and values that are not
/// strings) use the dotted OID and `#` + hex of the DER value, as RFC 4514 prescribes.
fn render_name(name: &X509Name<'_>) -> String {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut atvs = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let text = match attribute_name(&oid) {
                Some(short) => match attribute_string(atv.attr_value()) {
                    Some(value) => format!("{short}={}", escape_dn_value(&value)),
                    None => format!("{short}=#{}", hex::encode(any_der(atv.attr_value()))),
                },
                None => format!("{oid}=#{}", hex::encode(any_der(atv.attr_value()))),
            };
            atvs.push(text);
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The value of a directory string as text, for the string types certificates use.
fn attribute_string(value: &Any<'_>) -> Option<String> {
    use x509_parser::asn1_rs::Tag;
    let data = value.data;
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        // T61String: read as Latin-1, as Go does.
        Tag::TeletexString => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// Re-encode an attribute value as DER (for the `#hex` form).
fn any_der(value: &Any<'_>) -> Vec<u8> {
    let class = value.class() as u8;
    let constructed = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    let tag = value.tag().0;
    let mut out = Vec::with_capacity(value.data.len() + 8);
    if tag < 31 {
        out.push((class << 6) | constructed | tag as u8);
    } else {
        out.push((class << 6) | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value.data);
    out
}

/// RFC 4514 escaping of an attribute value (plus `=`, which RFC 4514 allows escaping).
pub(crate) fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Check `child`'s signature with `issuer`'s public key. The algorithm must be one imgseal
/// accepts; SHA-1 and MD5 are refused before any cryptography happens.
fn verify_signature(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    use ring::signature as rs;
    use HashAlgorithm::*;
    if !child.tbs_signature_matches {
        return Err(
            "the signature algorithm inside the signed part differs from the outer one".into(),
        );
    }
    let alg: &'static dyn rs::VerificationAlgorithm =
        match (&child.signature_algorithm, &issuer.key_algorithm) {
            (SignatureAlgorithm::Insecure(name), _) => {
                return Err(format!(
                "signature algorithm {name} is refused (SHA-1 and MD5 signatures can be forged)"
            ))
            }
            (SignatureAlgorithm::Other(name), _) => {
                return Err(format!("signature algorithm {name} is not supported"))
            }
            (SignatureAlgorithm::Ed25519, _) => {
                return Err("Ed25519 certificate signatures are not supported".into())
            }
            (SignatureAlgorithm::RsaPkcs1(h), KeyAlgorithm::Rsa { .. }) => match h {
                Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
                Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
                Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
            },
            (SignatureAlgorithm::RsaPss(h), KeyAlgorithm::Rsa { .. }) => match h {
                Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
                Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
                Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
            },
            (SignatureAlgorithm::Ecdsa(h), KeyAlgorithm::Ec(curve)) => match (curve, h) {
                (EcCurve::P256, Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
                (EcCurve::P256, Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
                (EcCurve::P384, Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
                (EcCurve::P384, Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
                _ => {
                    return Err(format!(
                        "{} signatures by an {} key are not supported",
                        child.signature_algorithm, issuer.key_algorithm
                    ))
                }
            },
            (alg, key) => {
                return Err(format!(
                    "the issuer's {key} key cannot make {alg} signatures"
                ))
            }
        };
    rs::UnparsedPublicKey::new(alg, &issuer.public_key)
        .verify(&child.tbs, &child.signature)
        .map_err(|_| {
            format!(
                "the {} signature does not verify with the issuer's public key",
                child.signature_algorithm
            )
        })
}

fn check_key(cert: &Certificate) -> Result<(), CertError> {
    match &cert.key_algorithm {
        KeyAlgorithm::Rsa { bits } if *bits >= 2048 => Ok(()),
        KeyAlgorithm::Rsa { bits } => Err(CertError::rule(
            cert,
            format!("RSA key of {bits} bits is below the 2048-bit minimum"),
        )),
        KeyAlgorithm::Ec(EcCurve::P256 | EcCurve::P384 | EcCurve::P521) => Ok(()),
        other => Err(CertError::rule(
            cert,
            format!("{other} keys are not accepted (RSA of at least 2048 bits or EC P-256/P-384/P-521 are)"),
        )),
    }
}

fn check_leaf(cert: &Certificate, profile: Profile) -> Result<(), CertError> {
    if cert.is_ca() {
        return Err(CertError::rule(
            cert,
            "a CA certificate (basicConstraints cA=true) cannot be the signing certificate",
        ));
    }
    let Some(ku) = cert.key_usage else {
        return Err(CertError::rule(
            cert,
            "the signing certificate has no keyUsage extension; digitalSignature is required",
        ));
    };
    if !ku.digital_signature {
        return Err(CertError::rule(
            cert,
            "the signing certificate's keyUsage lacks digitalSignature",
        ));
    }
    match profile {
        Profile::CodeSigning => match &cert.extended_key_usage {
            Some(eku) if eku.contains(&KeyPurpose::CodeSigning) => {}
            Some(eku) => {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "extendedKeyUsage lacks codeSigning (has {})",
                        join(&eku.purposes)
                    ),
                ))
            }
            // No EKU extension means "any purpose" (RFC 5280), as Go's x509.Verify, cosign and
            // containers/image read it; an EKU that is present must include codeSigning.
            None => {}
        },
        Profile::TimeStamping => match &cert.extended_key_usage {
            Some(eku) if eku.purposes == [KeyPurpose::TimeStamping] && eku.critical => {}
            Some(eku) if eku.purposes == [KeyPurpose::TimeStamping] => {
                return Err(CertError::rule(
                    cert,
                    "the timeStamping extendedKeyUsage of a TSA certificate must be marked critical (RFC 3161)",
                ))
            }
            Some(eku) => {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "a TSA certificate's extendedKeyUsage must be exactly timeStamping (has {})",
                        join(&eku.purposes)
                    ),
                ))
            }
            None => {
                return Err(CertError::rule(
                    cert,
                    "a TSA certificate must have a critical extendedKeyUsage of timeStamping (RFC 3161)",
                ))
            }
        },
        Profile::Notary => {
            if !ku.critical {
                return Err(CertError::rule(
                    cert,
                    "keyUsage must be marked critical (Notary Project certificate requirements)",
                ));
            }
            let forbidden: Vec<&str> = [
                (ku.key_encipherment, "keyEncipherment"),
                (ku.data_encipherment, "dataEncipherment"),
                (ku.key_agreement, "keyAgreement"),
                (ku.key_cert_sign, "keyCertSign"),
                (ku.crl_sign, "cRLSign"),
                (ku.encipher_only, "encipherOnly"),
                (ku.decipher_only, "decipherOnly"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            if !forbidden.is_empty() {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "keyUsage of a signing certificate must not include {}",
                        forbidden.join(", ")
                    ),
                ));
            }
            if let Some(eku) = &cert.extended_key_usage {
                let bad: Vec<&KeyPurpose> = eku
                    .purposes
                    .iter()
                    .filter(|p| {
                        matches!(
                            p,
                            KeyPurpose::Any
                                | KeyPurpose::ServerAuth
                                | KeyPurpose::ClientAuth
                                | KeyPurpose::EmailProtection
                                | KeyPurpose::TimeStamping
                                | KeyPurpose::OcspSigning
                        )
                    })
                    .collect();
                if !bad.is_empty() {
                    let names: Vec<String> = bad.iter().map(|p| p.to_string()).collect();
                    return Err(CertError::rule(
                        cert,
                        format!(
                            "extendedKeyUsage of a signing certificate must not include {}",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `issuer` signs certificates for a path in which `below` CA certificates sit between it and
/// the leaf.
fn check_issuer(issuer: &Certificate, below: usize, profile: Profile) -> Result<(), CertError> {
    match issuer.basic_constraints {
        Some(bc) if bc.ca => {
            if let Some(limit) = bc.path_len {
                if (limit as usize) < below {
                    return Err(CertError::rule(
                        issuer,
                        format!(
                            "pathLenConstraint {limit} allows {limit} CA certificate(s) below it but the chain has {below}"
                        ),
                    ));
                }
            }
        }
        _ => {
            return Err(CertError::rule(
                issuer,
                "issues certificates but is not a CA (basicConstraints cA=true is required)",
            ))
        }
    }
    match (issuer.key_usage, profile) {
        (Some(ku), _) if !ku.key_cert_sign => Err(CertError::rule(
            issuer,
            "issues certificates but its keyUsage lacks keyCertSign",
        )),
        (Some(ku), Profile::Notary) if !ku.critical => Err(CertError::rule(
            issuer,
            "keyUsage of a CA certificate must be marked critical (Notary Project certificate requirements)",
        )),
        (None, Profile::Notary) => Err(CertError::rule(
            issuer,
            "a CA certificate must have a keyUsage extension with keyCertSign (Notary Project certificate requirements)",
        )),
        _ => Ok(()),
    }
}

fn join(purposes: &[KeyPurpose]) -> String {
    if purposes.is_empty() {
        return "none".into();
    }
    purposes
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validate `leaf_first_chain` (signing certificate first, each certificate issued by the next)
/// against the trusted certificates `roots`, at time `at`, under `profile`.
///
/// The chain reaches trust when one of its certificates is a trusted certificate (same DER, or
/// same subject name and public key), or when its last certificate is signed by one: a root
/// may be the chain's last element or appear only in `roots`. A chain of one certificate that
/// is itself trusted must be self-signed and pass the leaf rules (notation's self-signed signing
/// certificates).
///
/// Checked, in this order, so that the first failure is reported:
/// 1. each link: issuer name matches, signature verifies with an accepted algorithm;
///    certificates other than the last are not self-signed;
/// 2. key sizes of every certificate, leaf rules, issuer rules (CA, `pathLenConstraint`,
///    `keyUsage`), per [`Profile`];
/// 3. rustls-webpki's independent path validation;
/// 4. validity of every certificate at `at`, the root included.
pub fn validate_chain(
    leaf_first_chain: &[Certificate],
    roots: &[Certificate],
    at: SystemTime,
    profile: Profile,
) -> Result<(), CertError> {
    let leaf = leaf_first_chain.first().ok_or(CertError::EmptyChain)?;
    let mut path: Vec<Certificate> = leaf_first_chain.to_vec();

    // Links inside the supplied chain.
    for (i, pair) in leaf_first_chain.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        check_link(child, parent)?;
        if child.is_self_signed() {
            let which = if i == 0 {
                "the signing certificate is self-signed but the chain continues after it"
            } else {
                "an intermediate certificate is self-signed but the chain continues after it"
            };
            return Err(CertError::rule(child, which));
        }
    }

    // Where does trust come in? The highest trusted certificate of the chain, so that as much
    // of the path as possible is checked against it; else a trusted issuer of the last one.
    let anchor_index = match leaf_first_chain
        .iter()
        .rposition(|c| roots.iter().any(|r| r.same_anchor(c)))
    {
        Some(i) => i,
        None => {
            let last = leaf_first_chain.last().unwrap_or(leaf);
            let named: Vec<&Certificate> = roots
                .iter()
                .filter(|r| r.raw_subject == last.raw_issuer)
                .collect();
            if named.is_empty() {
                let reason = if last.is_self_signed() {
                    "the chain ends at a self-signed certificate that is not in the trust store"
                        .to_string()
                } else {
                    format!("no trusted certificate is named {:?}", last.issuer)
                };
                return Err(CertError::Untrusted {
                    subject: last.subject.clone(),
                    reason,
                });
            }
            let mut first_err = None;
            let mut found = None;
            for root in named {
                match check_link(last, root) {
                    Ok(()) => {
                        found = Some(root.clone());
                        break;
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            match found {
                Some(root) => {
                    path.push(root);
                    path.len() - 1
                }
                None => {
                    return Err(first_err.unwrap_or_else(|| CertError::Untrusted {
                        subject: last.subject.clone(),
                        reason: "no trusted certificate signed it".into(),
                    }))
                }
            }
        }
    };

    if anchor_index == 0 && !leaf.is_self_signed() {
        return Err(CertError::rule(
            leaf,
            "a signing certificate trusted directly must be self-signed",
        ));
    }

    for cert in &path {
        check_key(cert)?;
    }
    check_leaf(leaf, profile)?;
    for (i, issuer) in path.iter().enumerate().skip(1) {
        check_issuer(issuer, i - 1, profile)?;
    }

    webpki_check(&path, anchor_index, at, profile)?;

    for cert in &path {
        if at < cert.not_before {
            return Err(CertError::NotYetValid {
                subject: cert.subject.clone(),
                not_before: rfc3339(cert.not_before),
                at: rfc3339(at),
            });
        }
        if at > cert.not_after {
            return Err(CertError::Expired {
                subject: cert.subject.clone(),
                not_after: rfc3339(cert.not_after),
                at: rfc3339(at),
            });
        }
    }
    Ok(())
}

fn check_link(child: &Certificate, parent: &Certificate) -> Result<(), CertError> {
    if child.raw_issuer != parent.raw_subject {
        return Err(CertError::Signature {
            subject: child.subject.clone(),
            issuer: parent.subject.clone(),
            reason: format!(
                "its issuer name {:?} is not the next certificate's subject",
                child.issuer
            ),
        });
    }
    verify_signature(child, parent).map_err(|reason| CertError::Signature {
        subject: child.subject.clone(),
        issuer: parent.subject.clone(),
        reason,
    })
}

/// EKU policy for webpki under [`Profile::Notary`]: imgseal checks the leaf's EKU itself, and
/// the Notary Project puts no EKU requirement on CA certificates.
struct AnyEku;

impl webpki::ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

/// DER of `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), as webpki takes it.
const EKU_CODE_SIGNING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

static WEBPKI_ALGS: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Run rustls-webpki over `path[..=anchor]` (leaf, intermediates, trust anchor). The time given
/// to webpki is `at` when every certificate it checks is valid then; otherwise a time at which
/// they all are, so this step judges structure only and validity is reported afterwards with
/// imgseal's own message. When no such time exists the step is skipped: the validity check
/// that follows fails anyway.
fn webpki_check(
    path: &[Certificate],
    anchor: usize,
    at: SystemTime,
    profile: Profile,
) -> Result<(), CertError> {
    use rustls::pki_types::{CertificateDer, UnixTime};
    let leaf = &path[0];
    let checked = &path[..anchor.max(1)];
    let latest_start = checked.iter().map(|c| c.not_before).max().unwrap_or(at);
    let earliest_end = checked.iter().map(|c| c.not_after).min().unwrap_or(at);
    let when = if checked.iter().all(|c| c.is_valid_at(at)) {
        at
    } else if latest_start <= earliest_end {
        latest_start
    } else {
        return Ok(());
    };
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let fail = |e: webpki::Error| CertError::PathCheck {
        subject: leaf.subject.clone(),
        reason: format!("{e:?}"),
    };
    let anchor_der = CertificateDer::from(path[anchor].der.as_slice());
    let anchors = [webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(fail)?
        .to_owned()];
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(fail)?;
    let intermediates: Vec<CertificateDer<'_>> = if anchor > 1 {
        path[1..anchor]
            .iter()
            .map(|c| CertificateDer::from(c.der.as_slice()))
            .collect()
    } else {
        Vec::new()
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
    let result = match profile {
        Profile::CodeSigning => ee.verify_for_usage(
            WEBPKI_ALGS,
            &anchors,
            &intermediates,
            time,
            webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING_DER),
            None,
            None,
        ),
        Profile::Notary | Profile::TimeStamping => ee.verify_for_usage(
            WEBPKI_ALGS,
            &anchors,
            &intermediates,
            time,
            AnyEku,
            None,
            None,
        ),
    };
    result.map(|_| ()).map_err(fail)
}

/// A throwaway PKI for tests and demos, from [`generate_test`].
#[derive(Clone)]
#[non_exhaustive]
pub struct TestPki {
    /// The self-signed root CA (`CN=<name> Test Root`).
    pub root: Certificate,
    /// The signing certificate (`CN=<name>`), issued by `root`.
    pub leaf: Certificate,
    /// `root` as PEM.
    pub root_pem: String,
    /// `leaf` as PEM.
    pub leaf_pem: String,
    /// The leaf's ECDSA P-256 private key, unencrypted PKCS#8 PEM (`PRIVATE KEY`); loads with
    /// [`crate::keys::SigningKey::from_pem`].
    pub leaf_key_pem: zeroize::Zeroizing<String>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("root", &self.root)
            .field("leaf", &self.leaf)
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// The chain as PEM, leaf first then root (what a signer embeds).
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.leaf_pem, self.root_pem)
    }
}

/// Make a test PKI named `name`, like `notation cert generate-test`: a self-signed root CA
/// `CN=<name> Test Root` (ECDSA P-256, `pathLenConstraint` 0, `keyCertSign`+`cRLSign`) and a
/// signing certificate `CN=<name>` issued by it (ECDSA P-256, `digitalSignature`, EKU
/// `codeSigning`, not a CA), both valid for one year from now. Both names also carry
/// `O=Notary, ST=WA, C=US` so that a Notary Project trusted identity (which must name C, ST and
/// O) can match them, e.g. `x509.subject: C=US, ST=WA, O=Notary, CN=<name>`.
pub fn generate_test(name: &str) -> crate::Result<TestPki> {
    use rcgen::{
        BasicConstraints as Bc, CertificateParams, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
        PKCS_ECDSA_P256_SHA256,
    };
    let gen = |e: rcgen::Error| CertError::Generate(e.to_string());
    if name.trim().is_empty() || name.chars().count() > 56 || name.chars().any(char::is_control) {
        return Err(CertError::Generate(format!(
            "name {name:?} must be 1 to 56 printable characters"
        ))
        .into());
    }
    let now = time::OffsetDateTime::now_utc();
    let dn = |cn: &str| {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::StateOrProvinceName, "WA");
        dn.push(DnType::OrganizationName, "Notary");
        dn.push(DnType::CommonName, cn);
        dn
    };
    let serial = || -> Result<SerialNumber, CertError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| CertError::Generate(format!("the system random generator failed: {e}")))?;
        bytes[0] = (bytes[0] & 0x7f) | 0x01;
        Ok(SerialNumber::from_slice(&bytes))
    };

    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let mut root_params = CertificateParams::default();
    root_params.distinguished_name = dn(&format!("{name} Test Root"));
    root_params.is_ca = IsCa::Ca(Bc::Constrained(0));
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root_params.not_before = now;
    root_params.not_after = now + time::Duration::days(365);
    root_params.serial_number = Some(serial()?);
    let root_cert = root_params.self_signed(&root_key).map_err(gen)?;
    let issuer = Issuer::new(root_params, root_key);

    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = dn(name);
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now;
    leaf_params.not_after = now + time::Duration::days(365);
    leaf_params.serial_number = Some(serial()?);
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(gen)?;

    let root = Certificate::from_der(root_cert.der())?;
    let leaf = Certificate::from_der(leaf_cert.der())?;
    Ok(TestPki {
        root_pem: root.to_pem(),
        leaf_pem: leaf.to_pem(),
        root,
        leaf,
        leaf_key_pem: zeroize::Zeroizing::new(leaf_key.serialize_pem()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_rfc4514_specials() {
        assert_eq!(escape_dn_value("a,b"), "a\\,b");
        assert_eq!(escape_dn_value("#x"), "\\#x");
        assert_eq!(escape_dn_value(" x "), "\\ x\\ ");
        assert_eq!(escape_dn_value("Bad=#CN"), "Bad\\=#CN");
        assert_eq!(escape_dn_value("a\\b"), "a\\\\b");
    }

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

    #[test]
    fn generated_pki_validates_under_both_profiles() {
        let pki = generate_test("unit").unwrap();
        let chain = [pki.leaf.clone()];
        let roots = [pki.root.clone()];
        let now = SystemTime::now();
        validate_chain(&chain, &roots, now, Profile::CodeSigning).unwrap();
        validate_chain(&chain, &roots, now, Profile::Notary).unwrap();
        assert_eq!(pki.leaf.subject(), "CN=unit,O=Notary,ST=WA,C=US");
        assert!(pki.root.is_self_signed());
        assert!(!pki.leaf.is_self_signed());
        crate::keys::SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "test").unwrap();
    }
}
