//! Sigstore trusted roots: `trusted_root.json` as cosign v3 and sigstore-go read it.
//!
//! The file is the protobuf-JSON form of `dev.sigstore.trustedroot.v1.TrustedRoot`
//! (sigstore/protobuf-specs `protos/sigstore_trustroot.proto`): a `mediaType`, transparency logs
//! (`tlogs`: Rekor v1 and Rekor v2), certificate authorities (`certificateAuthorities`: Fulcio),
//! certificate-transparency logs (`ctlogs`) and timestamp authorities
//! (`timestampAuthorities`). Each log carries `baseUrl`, `hashAlgorithm`,
//! `publicKey {rawBytes, keyDetails, validFor}` and `logId {keyId}`; each authority carries
//! `subject`, `uri`, `certChain {certificates [{rawBytes}]}` and `validFor`.
//!
//! Rules applied when a root is loaded ([`TrustedRoot::from_json`]):
//! - every `validFor` is required and needs a `start`; an `end` before its `start` is malformed;
//!   windows are closed intervals (an instant equal to `end` is inside);
//! - two logs of the same list with the same log ID and overlapping windows are refused (which
//!   key would count would be ambiguous);
//! - log keys are DER SubjectPublicKeyInfo: ECDSA P-256 / P-384, Ed25519 (Rekor v2) and RSA
//!   (older CT logs); a `keyDetails` that names a different algorithm than the key is refused;
//!   a key of any other algorithm loads but never verifies anything;
//! - certificate chains must be non-empty and every certificate must parse;
//! - unknown JSON fields are ignored (as protobuf JSON readers do); duplicate fields are refused.
//!
//! Lookups take the instant the key is used at ([`TrustedRoot::tlog_by_log_id`] with the Rekor
//! integrated time, or a trusted timestamp for Rekor v2): a key used outside its window does not
//! count. Roots are pinned files: there is no TUF client, so refreshing a root is the operator's
//! job.
//!
//! [`TrustedRoot::builder`] writes a root for a private Sigstore deployment in the shape
//! `cosign trusted-root create` produces.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::pki::Certificate;

/// The media type written by [`TrustedRoot::to_json`] (the one cosign writes).
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

const ACCEPTED_MEDIA_TYPES: &[&str] = &[
    TRUSTED_ROOT_MEDIA_TYPE,
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// Errors from loading, querying or building a Sigstore trusted root. Each message names the
/// entry (`tlogs[1]`, …) and the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreRootError {
    /// The document is not a usable trusted root.
    #[error("trusted root: {0}")]
    Malformed(String),
    /// No log of this kind has the log ID.
    #[error("trusted root: no {kind} with log ID {log_id}")]
    UnknownLog {
        /// `transparency log` or `CT log`.
        kind: &'static str,
        /// The log ID, base64.
        log_id: String,
    },
    /// The log is known but its key is not valid at the instant it was used.
    #[error("trusted root: the key of {kind} {base_url} (log ID {log_id}) is not valid at {at}")]
    KeyNotValidAt {
        /// `transparency log` or `CT log`.
        kind: &'static str,
        /// The log's `baseUrl`.
        base_url: String,
        /// The log ID, base64.
        log_id: String,
        /// The instant, RFC 3339.
        at: String,
    },
    /// A builder input cannot be used.
    #[error("trusted root builder: {0}")]
    Builder(String),
}

type Result<T> = std::result::Result<T, SigstoreRootError>;

fn malformed(msg: impl Into<String>) -> SigstoreRootError {
    SigstoreRootError::Malformed(msg.into())
}

/// Renders an instant as RFC 3339 UTC (for messages and [`TrustedRoot::to_json`]).
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "<unrepresentable time>".to_string())
}

fn parse_time(s: &str, what: &str) -> Result<SystemTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| malformed(format!("{what}: {s:?} is not an RFC 3339 timestamp ({e})")))?;
    Ok(SystemTime::from(t))
}

/// A `validFor` window: a closed interval `[start, end]`, open-ended when `end` is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidFor {
    /// First instant the entry counts.
    pub start: SystemTime,
    /// Last instant the entry counts (inclusive); `None` for no end.
    pub end: Option<SystemTime>,
}

impl ValidFor {
    /// True when `at` lies in the closed interval.
    pub fn contains(&self, at: SystemTime) -> bool {
        at >= self.start && self.end.is_none_or(|end| at <= end)
    }

    /// True when two windows share at least one instant.
    pub fn overlaps(&self, other: &ValidFor) -> bool {
        let a_before_b = self.end.is_some_and(|end| end < other.start);
        let b_before_a = other.end.is_some_and(|end| end < self.start);
        !a_before_b && !b_before_a
    }

    fn from_raw(raw: Option<&RawValidFor>, what: &str) -> Result<ValidFor> {
        let raw = raw.ok_or_else(|| malformed(format!("{what}: validFor is missing")))?;
        let start = raw
            .start
            .as_deref()
            .ok_or_else(|| malformed(format!("{what}: validFor.start is missing")))?;
        let start = parse_time(start, &format!("{what}: validFor.start"))?;
        let end = match raw.end.as_deref() {
            Some(s) => Some(parse_time(s, &format!("{what}: validFor.end"))?),
            None => None,
        };
        if end.is_some_and(|end| end < start) {
            return Err(malformed(format!(
                "{what}: validFor.end is before validFor.start"
            )));
        }
        Ok(ValidFor { start, end })
    }

    fn to_raw(self) -> RawValidFor {
        RawValidFor {
            start: Some(rfc3339(self.start)),
            end: self.end.map(rfc3339),
        }
    }
}

/// The signature scheme of a log key, taken from its SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogKeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (`PKIX_ECDSA_P256_SHA_256`), ASN.1 DER signatures.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384 (`PKIX_ECDSA_P384_SHA_384`), ASN.1 DER signatures.
    EcdsaP384Sha384,
    /// Ed25519 (`PKIX_ED25519`), used by Rekor v2 logs.
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256 (older CT logs).
    RsaPkcs1Sha256,
    /// Any other algorithm: the key loads but verifies nothing.
    Unsupported,
}

impl LogKeyAlgorithm {
    /// The `keyDetails` name written for this algorithm.
    pub fn key_details(self) -> &'static str {
        match self {
            LogKeyAlgorithm::EcdsaP256Sha256 => "PKIX_ECDSA_P256_SHA_256",
            LogKeyAlgorithm::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
            LogKeyAlgorithm::Ed25519 => "PKIX_ED25519",
            LogKeyAlgorithm::RsaPkcs1Sha256 => "PKIX_RSA_PKCS1V15_2048_SHA256",
            LogKeyAlgorithm::Unsupported => "PUBLIC_KEY_DETAILS_UNSPECIFIED",
        }
    }

    /// Whether a `keyDetails` value is consistent with this algorithm (unknown values are
    /// accepted: the key itself decides).
    fn accepts_details(self, details: &str) -> bool {
        let named = match details {
            "PKIX_ECDSA_P256_SHA_256" | "ECDSA_P256_SHA_256" => LogKeyAlgorithm::EcdsaP256Sha256,
            "PKIX_ECDSA_P384_SHA_384" => LogKeyAlgorithm::EcdsaP384Sha384,
            "PKIX_ED25519" | "PKIX_ED25519_PH" => LogKeyAlgorithm::Ed25519,
            d if d.starts_with("PKIX_RSA_") || d.starts_with("PKCS1_RSA_") => {
                LogKeyAlgorithm::RsaPkcs1Sha256
            }
            _ => return true,
        };
        named == self
    }
}

/// A log's public key: DER SubjectPublicKeyInfo and the scheme it verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    spki: Vec<u8>,
    raw: Vec<u8>,
    algorithm: LogKeyAlgorithm,
}

/// Why a log or authority key could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogKeyError {
    /// Not a DER SubjectPublicKeyInfo.
    #[error("not a DER SubjectPublicKeyInfo ({0})")]
    NotSpki(String),
    /// Bytes after the SubjectPublicKeyInfo.
    #[error("trailing bytes after the SubjectPublicKeyInfo")]
    TrailingBytes,
    /// Not PEM text.
    #[error("not PEM ({0})")]
    NotPem(String),
    /// A PEM block of another type.
    #[error("PEM block is {0:?}, not \"PUBLIC KEY\"")]
    NotPublicKey(String),
}

impl LogKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> std::result::Result<LogKey, LogKeyError> {
        use x509_parser::oid_registry as oids;
        use x509_parser::prelude::FromDer;
        let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| LogKeyError::NotSpki(e.to_string()))?;
        if !rest.is_empty() {
            return Err(LogKeyError::TrailingBytes);
        }
        let alg = &spki.algorithm.algorithm;
        let algorithm = if *alg == oids::OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == oids::OID_EC_P256 => LogKeyAlgorithm::EcdsaP256Sha256,
                Some(c) if c == oids::OID_NIST_EC_P384 => LogKeyAlgorithm::EcdsaP384Sha384,
                _ => LogKeyAlgorithm::Unsupported,
            }
        } else if *alg == oids::OID_SIG_ED25519 {
            LogKeyAlgorithm::Ed25519
        } else if *alg == oids::OID_PKCS1_RSAENCRYPTION {
            LogKeyAlgorithm::RsaPkcs1Sha256
        } else {
            LogKeyAlgorithm::Unsupported
        };
        Ok(LogKey {
            spki: der.to_vec(),
            raw: spki.subject_public_key.data.to_vec(),
            algorithm,
        })
    }

    /// Parses a root's `rawBytes` with its `keyDetails`: DER SubjectPublicKeyInfo, or for the
    /// `PKCS1_RSA_*` details a PKCS#1 `RSAPublicKey` (as protobuf-specs defines them).
    pub fn from_raw_bytes(
        der: &[u8],
        key_details: &str,
    ) -> std::result::Result<LogKey, LogKeyError> {
        if key_details.starts_with("PKCS1_RSA_") {
            use x509_parser::prelude::FromDer;
            if let Ok(([], _)) = x509_parser::public_key::RSAPublicKey::from_der(der) {
                return Ok(LogKey {
                    spki: der.to_vec(),
                    raw: der.to_vec(),
                    algorithm: LogKeyAlgorithm::RsaPkcs1Sha256,
                });
            }
        }
        LogKey::from_spki_der(der)
    }

    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem_text: &[u8]) -> std::result::Result<LogKey, LogKeyError> {
        let block = pem::parse(pem_text).map_err(|e| LogKeyError::NotPem(e.to_string()))?;
        if block.tag() != "PUBLIC KEY" {
            return Err(LogKeyError::NotPublicKey(block.tag().to_string()));
        }
        LogKey::from_spki_der(block.contents())
    }

    /// The key's DER as the root writes it: a SubjectPublicKeyInfo (a PKCS#1 `RSAPublicKey`
    /// for `PKCS1_RSA_*` keys).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> LogKeyAlgorithm {
        self.algorithm
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: the log ID of a Rekor v1 or CT log.
    pub fn spki_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.spki).into()
    }

    /// The signed-note key ID of an Ed25519 key named `name`: SHA-256 of
    /// `name || "\n" || 0x01 || key` (transparency-dev/formats `note`); the log ID of a
    /// Rekor v2 log, whose first four bytes are its checkpoint key hint.
    pub fn note_key_id(&self, name: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n\x01");
        h.update(&self.raw);
        h.finalize().into()
    }

    /// Verifies `signature` over `message` (ECDSA: ASN.1 DER signature over the message hashed
    /// with the curve's hash; Ed25519: over the message itself). False for unsupported keys.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        let alg: &dyn sig::VerificationAlgorithm = match self.algorithm {
            LogKeyAlgorithm::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
            LogKeyAlgorithm::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1,
            LogKeyAlgorithm::Ed25519 => &sig::ED25519,
            LogKeyAlgorithm::RsaPkcs1Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            LogKeyAlgorithm::Unsupported => return false,
        };
        sig::UnparsedPublicKey::new(alg, &self.raw)
            .verify(message, signature)
            .is_ok()
    }
}

/// A transparency log (Rekor) or certificate-transparency log of the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyLog {
    base_url: String,
    hash_algorithm: String,
    key: LogKey,
    key_details: String,
    valid_for: ValidFor,
    log_id: Vec<u8>,
}

impl TransparencyLog {
    /// The log's `baseUrl`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The log's name in signed notes (checkpoints): `baseUrl` without its scheme and trailing
    /// `/` (`https://rekor.sigstore.dev` → `rekor.sigstore.dev`).
    pub fn origin(&self) -> &str {
        let s = self.base_url.as_str();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        s.trim_end_matches('/')
    }

    /// The Merkle tree hash (`SHA2_256` for every Rekor and CT log).
    pub fn hash_algorithm(&self) -> &str {
        &self.hash_algorithm
    }

    /// The log's key.
    pub fn key(&self) -> &LogKey {
        &self.key
    }

    /// The `keyDetails` string as written in the root.
    pub fn key_details(&self) -> &str {
        &self.key_details
    }

    /// When the key counts.
    pub fn valid_for(&self) -> ValidFor {
        self.valid_for
    }

    /// The log ID (`logId.keyId`).
    pub fn log_id(&self) -> &[u8] {
        &self.log_id
    }

    /// True for a Rekor v2 (tile-based, Ed25519 signed-note) log: its log ID is the signed-note
    /// key ID of its key, and its entries have no inclusion promise nor integrated time.
    pub fn is_rekor_v2(&self) -> bool {
        self.key.algorithm == LogKeyAlgorithm::Ed25519
            && self.log_id == self.key.note_key_id(self.origin())
    }

    fn to_raw(&self) -> RawTlog {
        RawTlog {
            base_url: Some(self.base_url.clone()),
            hash_algorithm: Some(self.hash_algorithm.clone()),
            public_key: Some(RawPublicKey {
                raw_bytes: Some(B64.encode(&self.key.spki)),
                key_details: Some(self.key_details.clone()),
                valid_for: Some(self.valid_for.to_raw()),
            }),
            log_id: Some(RawLogId {
                key_id: Some(B64.encode(&self.log_id)),
            }),
        }
    }
}

/// The `subject` of a certificate or timestamp authority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthoritySubject {
    /// `organization`.
    pub organization: Option<String>,
    /// `commonName`.
    pub common_name: Option<String>,
}

/// A Fulcio certificate authority or an RFC 3161 timestamp authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    subject: AuthoritySubject,
    uri: String,
    chain: Vec<Certificate>,
    valid_for: ValidFor,
}

impl CertificateAuthority {
    /// The authority's `subject`.
    pub fn subject(&self) -> &AuthoritySubject {
        &self.subject
    }

    /// The authority's `uri`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The chain as listed (issuing certificate first, root last); never empty.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// When the authority counts.
    pub fn valid_for(&self) -> ValidFor {
        self.valid_for
    }

    fn to_raw(&self) -> RawAuthority {
        RawAuthority {
            subject: Some(RawSubject {
                organization: self.subject.organization.clone(),
                common_name: self.subject.common_name.clone(),
            }),
            uri: Some(self.uri.clone()),
            cert_chain: Some(RawCertChain {
                certificates: self
                    .chain
                    .iter()
                    .map(|c| RawCert {
                        raw_bytes: Some(B64.encode(c.der())),
                    })
                    .collect(),
            }),
            valid_for: Some(self.valid_for.to_raw()),
        }
    }
}

/// A loaded Sigstore trusted root.
///
/// ```
/// use imgseal::trust::sigstore_root::TrustedRoot;
/// use std::time::{Duration, SystemTime};
///
/// let key = "-----BEGIN PUBLIC KEY-----\n\
///     MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr\n\
///     kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==\n\
///     -----END PUBLIC KEY-----\n";
/// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_610_452_407);
/// let root = TrustedRoot::builder()
///     .rekor_key_pem("https://rekor.sigstore.dev", key.as_bytes(), start, None)
///     .build()
///     .unwrap();
/// let json = root.to_json();
/// let again = TrustedRoot::from_json(json.as_bytes()).unwrap();
/// let log_id = again.tlogs()[0].log_id().to_vec();
/// let at = start + Duration::from_secs(86_400);
/// assert_eq!(again.tlog_by_log_id(&log_id, at).unwrap().base_url(), "https://rekor.sigstore.dev");
/// // Before the key's window starts, the key does not count.
/// assert!(again.tlog_by_log_id(&log_id, SystemTime::UNIX_EPOCH).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    media_type: String,
    tlogs: Vec<TransparencyLog>,
    certificate_authorities: Vec<CertificateAuthority>,
    ctlogs: Vec<TransparencyLog>,
    timestamp_authorities: Vec<CertificateAuthority>,
}

impl TrustedRoot {
    /// Parses and validates a `trusted_root.json` document (rules in the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot> {
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("not a trusted root document ({e})")))?;
        let media_type = raw
            .media_type
            .ok_or_else(|| malformed("mediaType is missing"))?;
        if !ACCEPTED_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(malformed(format!(
                "mediaType {media_type:?} is not a supported trusted root version"
            )));
        }
        let tlogs = raw
            .tlogs
            .iter()
            .enumerate()
            .map(|(i, t)| parse_log(t, &format!("tlogs[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let ctlogs = raw
            .ctlogs
            .iter()
            .enumerate()
            .map(|(i, t)| parse_log(t, &format!("ctlogs[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        check_no_overlap(&tlogs, "tlogs")?;
        check_no_overlap(&ctlogs, "ctlogs")?;
        let certificate_authorities = raw
            .certificate_authorities
            .iter()
            .enumerate()
            .map(|(i, a)| parse_authority(a, &format!("certificateAuthorities[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let timestamp_authorities = raw
            .timestamp_authorities
            .iter()
            .enumerate()
            .map(|(i, a)| parse_authority(a, &format!("timestampAuthorities[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Ok(TrustedRoot {
            media_type,
            tlogs,
            certificate_authorities,
            ctlogs,
            timestamp_authorities,
        })
    }

    /// Serializes the root as `trusted_root.json` (two-space indented, as cosign writes it).
    pub fn to_json(&self) -> String {
        let raw = RawRoot {
            media_type: Some(self.media_type.clone()),
            tlogs: self.tlogs.iter().map(TransparencyLog::to_raw).collect(),
            certificate_authorities: self
                .certificate_authorities
                .iter()
                .map(CertificateAuthority::to_raw)
                .collect(),
            ctlogs: self.ctlogs.iter().map(TransparencyLog::to_raw).collect(),
            timestamp_authorities: self
                .timestamp_authorities
                .iter()
                .map(CertificateAuthority::to_raw)
                .collect(),
        };
        let mut out = serde_json::to_string_pretty(&raw).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Starts a root for a private deployment.
    pub fn builder() -> TrustedRootBuilder {
        TrustedRootBuilder::default()
    }

    /// The document's `mediaType`.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// All transparency logs (Rekor v1 and v2), whatever their windows.
    pub fn tlogs(&self) -> &[TransparencyLog] {
        &self.tlogs
    }

    /// All certificate-transparency logs.
    pub fn ctlogs(&self) -> &[TransparencyLog] {
        &self.ctlogs
    }

    /// All Fulcio certificate authorities.
    pub fn certificate_authorities(&self) -> &[CertificateAuthority] {
        &self.certificate_authorities
    }

    /// All timestamp authorities.
    pub fn timestamp_authorities(&self) -> &[CertificateAuthority] {
        &self.timestamp_authorities
    }

    /// The transparency log with this log ID whose key is valid at `at` (the Rekor integrated
    /// time, or a trusted timestamp for Rekor v2 entries).
    pub fn tlog_by_log_id(&self, log_id: &[u8], at: SystemTime) -> Result<&TransparencyLog> {
        find_log(&self.tlogs, "transparency log", log_id, at)
    }

    /// The CT log with this log ID whose key is valid at `at` (the SCT's timestamp).
    pub fn ctlog_by_log_id(&self, log_id: &[u8], at: SystemTime) -> Result<&TransparencyLog> {
        find_log(&self.ctlogs, "CT log", log_id, at)
    }

    /// The Fulcio authorities valid at `at` (the instant the certificate was used).
    pub fn fulcio_chains_at(&self, at: SystemTime) -> Vec<&CertificateAuthority> {
        self.certificate_authorities
            .iter()
            .filter(|a| a.valid_for.contains(at))
            .collect()
    }

    /// The timestamp authorities valid at `at` (the time the timestamp states).
    pub fn timestamp_authorities_at(&self, at: SystemTime) -> Vec<&CertificateAuthority> {
        self.timestamp_authorities
            .iter()
            .filter(|a| a.valid_for.contains(at))
            .collect()
    }
}

fn find_log<'a>(
    logs: &'a [TransparencyLog],
    kind: &'static str,
    log_id: &[u8],
    at: SystemTime,
) -> Result<&'a TransparencyLog> {
    let mut known = None;
    for log in logs.iter().filter(|l| l.log_id == log_id) {
        if log.valid_for.contains(at) {
            return Ok(log);
        }
        known = Some(log);
    }
    match known {
        Some(log) => Err(SigstoreRootError::KeyNotValidAt {
            kind,
            base_url: log.base_url.clone(),
            log_id: B64.encode(log_id),
            at: rfc3339(at),
        }),
        None => Err(SigstoreRootError::UnknownLog {
            kind,
            log_id: B64.encode(log_id),
        }),
    }
}

fn decode_b64(s: Option<&str>, what: &str) -> Result<Vec<u8>> {
    let s = s.ok_or_else(|| malformed(format!("{what} is missing")))?;
    let bytes = B64
        .decode(s)
        .map_err(|e| malformed(format!("{what} is not base64 ({e})")))?;
    if bytes.is_empty() {
        return Err(malformed(format!("{what} is empty")));
    }
    Ok(bytes)
}

fn parse_log(raw: &RawTlog, what: &str) -> Result<TransparencyLog> {
    let base_url = raw
        .base_url
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed(format!("{what}: baseUrl is missing")))?;
    let hash_algorithm = raw
        .hash_algorithm
        .clone()
        .unwrap_or_else(|| "HASH_ALGORITHM_UNSPECIFIED".to_string());
    let pk = raw
        .public_key
        .as_ref()
        .ok_or_else(|| malformed(format!("{what}: publicKey is missing")))?;
    let der = decode_b64(
        pk.raw_bytes.as_deref(),
        &format!("{what}: publicKey.rawBytes"),
    )?;
    let key_details = pk
        .key_details
        .clone()
        .unwrap_or_else(|| "PUBLIC_KEY_DETAILS_UNSPECIFIED".to_string());
    let key = LogKey::from_raw_bytes(&der, &key_details)
        .map_err(|e| malformed(format!("{what}: publicKey.rawBytes: {e}")))?;
    if !key.algorithm.accepts_details(&key_details) {
        return Err(malformed(format!(
            "{what}: publicKey.keyDetails {key_details} does not match the key ({})",
            key.algorithm.key_details()
        )));
    }
    let valid_for = ValidFor::from_raw(pk.valid_for.as_ref(), &format!("{what}: publicKey"))?;
    let log_id = decode_b64(
        raw.log_id.as_ref().and_then(|l| l.key_id.as_deref()),
        &format!("{what}: logId.keyId"),
    )?;
    Ok(TransparencyLog {
        base_url,
        hash_algorithm,
        key,
        key_details,
        valid_for,
        log_id,
    })
}

fn check_no_overlap(logs: &[TransparencyLog], list: &str) -> Result<()> {
    for (i, a) in logs.iter().enumerate() {
        for (j, b) in logs.iter().enumerate().skip(i + 1) {
            if a.log_id == b.log_id && a.valid_for.overlaps(&b.valid_for) {
                return Err(malformed(format!(
                    "{list}[{i}] and {list}[{j}] have the same log ID {} and overlapping validFor windows",
                    B64.encode(&a.log_id)
                )));
            }
        }
    }
    Ok(())
}

fn parse_authority(raw: &RawAuthority, what: &str) -> Result<CertificateAuthority> {
    let subject = raw
        .subject
        .as_ref()
        .map(|s| AuthoritySubject {
            organization: s.organization.clone(),
            common_name: s.common_name.clone(),
        })
        .unwrap_or_default();
    let certs = raw
        .cert_chain
        .as_ref()
        .map(|c| c.certificates.as_slice())
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(malformed(format!("{what}: certChain has no certificate")));
    }
    let chain = certs
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let w = format!("{what}: certChain.certificates[{k}].rawBytes");
            let der = decode_b64(c.raw_bytes.as_deref(), &w)?;
            Certificate::from_der(&der).map_err(|e| malformed(format!("{w}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let valid_for = ValidFor::from_raw(raw.valid_for.as_ref(), what)?;
    Ok(CertificateAuthority {
        subject,
        uri: raw.uri.clone().unwrap_or_default(),
        chain,
        valid_for,
    })
}

/// Builds a [`TrustedRoot`] from PEM keys and certificates, as `cosign trusted-root create`
/// does: `hashAlgorithm` `SHA2_256`; log IDs computed from the keys (SHA-256 of the
/// SubjectPublicKeyInfo, or for an Ed25519 Rekor v2 key its signed-note key ID under the
/// `baseUrl` host); authority subjects taken from the last (root) certificate of each chain.
/// Errors are kept until [`TrustedRootBuilder::build`].
#[derive(Debug, Default)]
pub struct TrustedRootBuilder {
    tlogs: Vec<TransparencyLog>,
    ctlogs: Vec<TransparencyLog>,
    cas: Vec<CertificateAuthority>,
    tsas: Vec<CertificateAuthority>,
    error: Option<SigstoreRootError>,
}

impl TrustedRootBuilder {
    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(SigstoreRootError::Builder(msg));
        }
    }

    fn log(
        &mut self,
        what: &str,
        base_url: &str,
        pem: &[u8],
        start: SystemTime,
        end: Option<SystemTime>,
        rekor: bool,
    ) -> Option<TransparencyLog> {
        let key = match LogKey::from_pem(pem) {
            Ok(k) => k,
            Err(e) => {
                self.fail(format!("{what} {base_url}: {e}"));
                return None;
            }
        };
        if key.algorithm == LogKeyAlgorithm::Unsupported {
            self.fail(format!("{what} {base_url}: unsupported key algorithm"));
            return None;
        }
        if end.is_some_and(|e| e < start) {
            self.fail(format!("{what} {base_url}: end is before start"));
            return None;
        }
        let mut log = TransparencyLog {
            base_url: base_url.to_string(),
            hash_algorithm: "SHA2_256".to_string(),
            key_details: key.algorithm.key_details().to_string(),
            log_id: key.spki_sha256().to_vec(),
            key,
            valid_for: ValidFor { start, end },
        };
        if rekor && log.key.algorithm == LogKeyAlgorithm::Ed25519 {
            log.log_id = log.key.note_key_id(log.origin()).to_vec();
        }
        Some(log)
    }

    fn authority(
        &mut self,
        what: &str,
        uri: &str,
        pem: &[u8],
        start: Option<SystemTime>,
        end: Option<SystemTime>,
    ) -> Option<CertificateAuthority> {
        let chain = match crate::pki::load_pem_certificates(pem) {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                self.fail(format!("{what} {uri}: no certificate"));
                return None;
            }
            Err(e) => {
                self.fail(format!("{what} {uri}: {e}"));
                return None;
            }
        };
        let root = chain.last()?;
        let subject = subject_of(root.der());
        let start = match start {
            Some(s) => s,
            None => chain.iter().map(Certificate::not_before).max()?,
        };
        if end.is_some_and(|e| e < start) {
            self.fail(format!("{what} {uri}: end is before start"));
            return None;
        }
        Some(CertificateAuthority {
            subject,
            uri: uri.to_string(),
            valid_for: ValidFor { start, end },
            chain,
        })
    }

    /// Adds a Rekor log key (PEM `PUBLIC KEY`), valid from `start` to `end` (inclusive).
    pub fn rekor_key_pem(
        mut self,
        base_url: &str,
        pem: &[u8],
        start: SystemTime,
        end: Option<SystemTime>,
    ) -> Self {
        if let Some(l) = self.log("Rekor key", base_url, pem, start, end, true) {
            self.tlogs.push(l);
        }
        self
    }

    /// Adds a CT log key (PEM `PUBLIC KEY`); its log ID is SHA-256 of the key (RFC 6962).
    pub fn ctlog_key_pem(
        mut self,
        base_url: &str,
        pem: &[u8],
        start: SystemTime,
        end: Option<SystemTime>,
    ) -> Self {
        if let Some(l) = self.log("CT log key", base_url, pem, start, end, false) {
            self.ctlogs.push(l);
        }
        self
    }

    /// Adds a Fulcio CA from a PEM chain (issuing certificate first, root last), valid from
    /// the latest `notBefore` of the chain with no end.
    pub fn fulcio_pem(self, uri: &str, pem: &[u8]) -> Self {
        self.fulcio_pem_valid(uri, pem, None, None)
    }

    /// [`TrustedRootBuilder::fulcio_pem`] with an explicit window (`None` start: the latest
    /// `notBefore` of the chain; `None` end: no end).
    pub fn fulcio_pem_valid(
        mut self,
        uri: &str,
        pem: &[u8],
        start: Option<SystemTime>,
        end: Option<SystemTime>,
    ) -> Self {
        if let Some(a) = self.authority("Fulcio chain", uri, pem, start, end) {
            self.cas.push(a);
        }
        self
    }

    /// Adds a timestamp authority from a PEM chain (TSA certificate first, root last).
    pub fn tsa_pem(self, uri: &str, pem: &[u8]) -> Self {
        self.tsa_pem_valid(uri, pem, None, None)
    }

    /// [`TrustedRootBuilder::tsa_pem`] with an explicit window (as for Fulcio).
    pub fn tsa_pem_valid(
        mut self,
        uri: &str,
        pem: &[u8],
        start: Option<SystemTime>,
        end: Option<SystemTime>,
    ) -> Self {
        if let Some(a) = self.authority("TSA chain", uri, pem, start, end) {
            self.tsas.push(a);
        }
        self
    }

    /// Finishes the root, applying the same checks as [`TrustedRoot::from_json`].
    pub fn build(self) -> Result<TrustedRoot> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let root = TrustedRoot {
            media_type: TRUSTED_ROOT_MEDIA_TYPE.to_string(),
            tlogs: self.tlogs,
            certificate_authorities: self.cas,
            ctlogs: self.ctlogs,
            timestamp_authorities: self.tsas,
        };
        // Round-trip through the reader so a built root obeys the loader's rules.
        TrustedRoot::from_json(root.to_json().as_bytes())
            .map_err(|e| SigstoreRootError::Builder(e.to_string()))
    }
}

fn subject_of(der: &[u8]) -> AuthoritySubject {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return AuthoritySubject::default();
    };
    let subject = cert.subject();
    let organization = subject
        .iter_organization()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    let common_name = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    AuthoritySubject {
        organization,
        common_name,
    }
}

// ---- protobuf-JSON shapes ----

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawTlog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<RawPublicKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_id: Option<RawLogId>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_for: Option<RawValidFor>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawValidFor {
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<RawSubject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_chain: Option<RawCertChain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_for: Option<RawValidFor>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawSubject {
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    common_name: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawCertChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_bytes: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// `../shared/interop/keyless/<rel>`, or `None` (a failure when `CI` is set).
    pub(crate) fn keyless_fixture(rel: &str) -> Option<Vec<u8>> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/interop/keyless")
            .join(rel);
        match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) => {
                let required = ["CI", "IMGSEAL_REQUIRE_INTEROP"].iter().any(|v| {
                    std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false")
                });
                assert!(
                    !required,
                    "interop fixture missing: {} ({e})",
                    path.display()
                );
                eprintln!("note: {} is absent; skipping", path.display());
                None
            }
        }
    }

    fn at(s: &str) -> SystemTime {
        parse_time(s, "test").unwrap()
    }

    fn production() -> Option<TrustedRoot> {
        let b = keyless_fixture("trust-roots/public-good-production.trusted_root.json")?;
        Some(TrustedRoot::from_json(&b).unwrap())
    }

    fn id(b64: &str) -> Vec<u8> {
        B64.decode(b64).unwrap()
    }

    const REKOR_V1: &str = "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=";

    #[test]
    fn production_root_loads() {
        let Some(root) = production() else { return };
        assert_eq!(root.tlogs().len(), 2);
        assert_eq!(root.ctlogs().len(), 2);
        assert_eq!(root.certificate_authorities().len(), 2);
        assert_eq!(root.timestamp_authorities().len(), 1);
        let v1 = &root.tlogs()[0];
        assert_eq!(v1.origin(), "rekor.sigstore.dev");
        assert_eq!(v1.key().algorithm(), LogKeyAlgorithm::EcdsaP256Sha256);
        assert_eq!(v1.log_id(), v1.key().spki_sha256());
        assert!(!v1.is_rekor_v2());
        let v2 = &root.tlogs()[1];
        assert_eq!(v2.key().algorithm(), LogKeyAlgorithm::Ed25519);
        assert!(
            v2.is_rekor_v2(),
            "log2025-1 log ID is its signed-note key ID"
        );
        assert_eq!(v2.valid_for().end, None);
        assert_eq!(root.certificate_authorities()[1].chain().len(), 2);
    }

    #[test]
    fn staging_root_loads_with_rsa_ct_log_and_rekor_v2_logs() {
        let Some(b) = keyless_fixture("trust-roots/staging.trusted_root.json") else {
            return;
        };
        let root = TrustedRoot::from_json(&b).unwrap();
        assert_eq!(
            root.ctlogs()[0].key().algorithm(),
            LogKeyAlgorithm::RsaPkcs1Sha256
        );
        assert!(root.tlogs()[1..].iter().all(TransparencyLog::is_rekor_v2));
        // The staging Rekor v1 log is unknown to production (staging bundles must fail there).
        let staging_v1 = root.tlogs()[0].log_id().to_vec();
        let Some(prod) = production() else { return };
        let e = prod
            .tlog_by_log_id(&staging_v1, at("2024-01-01T00:00:00Z"))
            .unwrap_err();
        assert!(matches!(e, SigstoreRootError::UnknownLog { .. }), "{e}");
    }

    #[test]
    fn every_pinned_root_loads() {
        for rel in [
            "trust-roots/sigstore-go-public-good.json",
            "sigstore-cosign/trusted_root_pgi.json",
            "sigstore-conformance/bundle-verify/trust-root-tlog-validity-end-inclusive/trusted_root.json",
            "sigstore-conformance/bundle-verify/rekor2-checkpoint-multiple-cosigs/trusted_root.json",
            "sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/trusted_root.json",
            "sigstore-conformance/bundle-verify/managed-key-and-trusted-root/trusted_root.json",
        ] {
            let Some(b) = keyless_fixture(rel) else { continue };
            TrustedRoot::from_json(&b).unwrap_or_else(|e| panic!("{rel}: {e}"));
        }
    }

    #[test]
    fn windows_are_closed_intervals() {
        let Some(b) = keyless_fixture(
            "sigstore-conformance/bundle-verify/trust-root-tlog-validity-end-inclusive/trusted_root.json",
        ) else {
            return;
        };
        let root = TrustedRoot::from_json(&b).unwrap();
        let end = SystemTime::UNIX_EPOCH + Duration::from_secs(1_689_177_396);
        assert_eq!(
            root.tlog_by_log_id(&id(REKOR_V1), end).unwrap().origin(),
            "rekor.sigstore.dev"
        );
        let after = end + Duration::from_secs(1);
        let e = root.tlog_by_log_id(&id(REKOR_V1), after).unwrap_err();
        assert!(matches!(e, SigstoreRootError::KeyNotValidAt { .. }), "{e}");
        assert!(
            e.to_string().contains("not valid at 2023-07-12T15:56:37Z"),
            "{e}"
        );
        let start = at("2021-01-12T11:53:27Z");
        assert!(root.tlog_by_log_id(&id(REKOR_V1), start).is_ok());
        assert!(root
            .tlog_by_log_id(&id(REKOR_V1), start - Duration::from_nanos(1))
            .is_err());
    }

    #[test]
    fn fulcio_and_tsa_lookups_follow_windows() {
        let Some(root) = production() else { return };
        assert_eq!(root.fulcio_chains_at(at("2021-06-01T00:00:00Z")).len(), 1);
        assert_eq!(root.fulcio_chains_at(at("2022-06-01T00:00:00Z")).len(), 2);
        // The first CA ends at 2022-12-31T23:59:59.999Z, inclusive.
        assert_eq!(
            root.fulcio_chains_at(at("2022-12-31T23:59:59.999Z")).len(),
            2
        );
        assert_eq!(root.fulcio_chains_at(at("2023-01-01T00:00:00Z")).len(), 1);
        assert!(root.fulcio_chains_at(at("2020-01-01T00:00:00Z")).is_empty());
        assert!(root
            .timestamp_authorities_at(at("2025-07-03T23:59:59Z"))
            .is_empty());
        assert_eq!(
            root.timestamp_authorities_at(at("2025-07-04T00:00:00Z"))
                .len(),
            1
        );
        let ct = id("3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=");
        assert!(root
            .ctlog_by_log_id(&ct, at("2023-01-01T00:00:00Z"))
            .is_ok());
        assert!(root
            .ctlog_by_log_id(&ct, at("2022-10-19T00:00:00Z"))
            .is_err());
        let e = root
            .ctlog_by_log_id(&id(REKOR_V1), at("2023-01-01T00:00:00Z"))
            .unwrap_err();
        assert!(e.to_string().contains("no CT log with log ID"), "{e}");
    }

    fn doc(tlogs: &str) -> String {
        format!(
            r#"{{"mediaType":"{TRUSTED_ROOT_MEDIA_TYPE}","tlogs":[{tlogs}],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}}"#
        )
    }

    fn tlog(valid_for: &str, key_details: &str) -> String {
        format!(
            r#"{{"baseUrl":"https://rekor.example","hashAlgorithm":"SHA2_256","publicKey":{{"rawBytes":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==","keyDetails":"{key_details}"{valid_for}}},"logId":{{"keyId":"{REKOR_V1}"}}}}"#
        )
    }

    fn load_err(json: &str) -> String {
        TrustedRoot::from_json(json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_roots_are_refused() {
        let ok = tlog(
            r#","validFor":{"start":"2021-01-01T00:00:00Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        TrustedRoot::from_json(doc(&ok).as_bytes()).unwrap();
        let no_window = tlog("", "PKIX_ECDSA_P256_SHA_256");
        assert!(load_err(&doc(&no_window)).contains("tlogs[0]: publicKey: validFor is missing"));
        let no_start = tlog(
            r#","validFor":{"end":"2022-01-01T00:00:00Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        assert!(load_err(&doc(&no_start)).contains("validFor.start is missing"));
        let reversed = tlog(
            r#","validFor":{"start":"2022-01-01T00:00:00Z","end":"2021-01-01T00:00:00Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        assert!(load_err(&doc(&reversed)).contains("end is before validFor.start"));
        let bad_time = tlog(
            r#","validFor":{"start":"yesterday"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        assert!(load_err(&doc(&bad_time)).contains("not an RFC 3339 timestamp"));
        let wrong_details = tlog(
            r#","validFor":{"start":"2021-01-01T00:00:00Z"}"#,
            "PKIX_ED25519",
        );
        assert!(load_err(&doc(&wrong_details)).contains("keyDetails PKIX_ED25519 does not match"));
        let wrong_media = doc(&ok).replace("version=0.1", "version=9");
        assert!(load_err(&wrong_media).contains("mediaType"));
        assert!(load_err("{").contains("not a trusted root document"));
        assert!(load_err(r#"{"tlogs":[]}"#).contains("mediaType is missing"));
        let no_key = doc(&ok).replace("\"rawBytes\":\"MFkw", "\"rawBytesX\":\"MFkw");
        assert!(load_err(&no_key).contains("publicKey.rawBytes is missing"));
        let no_id = doc(&ok).replace("\"keyId\"", "\"kid\"");
        assert!(load_err(&no_id).contains("logId.keyId is missing"));
        let empty_chain = doc("").replace(
            r#""certificateAuthorities":[]"#,
            r#""certificateAuthorities":[{"uri":"x","certChain":{"certificates":[]},"validFor":{"start":"2021-01-01T00:00:00Z"}}]"#,
        );
        assert!(load_err(&empty_chain)
            .contains("certificateAuthorities[0]: certChain has no certificate"));
        let dup_field = doc(&ok).replacen("\"tlogs\"", "\"ctlogs\":[],\"tlogs\"", 1);
        assert!(load_err(&dup_field).contains("duplicate field"));
    }

    #[test]
    fn overlapping_windows_for_one_log_id_are_refused() {
        let a = tlog(
            r#","validFor":{"start":"2021-01-01T00:00:00Z","end":"2022-01-01T00:00:00Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        let b = tlog(
            r#","validFor":{"start":"2022-01-01T00:00:00Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        let e = load_err(&doc(&format!("{a},{b}")));
        assert!(
            e.contains("tlogs[0] and tlogs[1] have the same log ID"),
            "{e}"
        );
        // Touching closed intervals overlap; disjoint ones do not.
        let c = tlog(
            r#","validFor":{"start":"2022-01-01T00:00:01Z"}"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        let root = TrustedRoot::from_json(doc(&format!("{a},{c}")).as_bytes()).unwrap();
        assert!(root
            .tlog_by_log_id(&id(REKOR_V1), at("2022-01-01T00:00:00.5Z"))
            .is_err());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let ok = tlog(
            r#","validFor":{"start":"2021-01-01T00:00:00Z"},"future":1"#,
            "PKIX_ECDSA_P256_SHA_256",
        );
        let json = doc(&ok).replacen('{', r#"{"operator":"x","#, 1);
        TrustedRoot::from_json(json.as_bytes()).unwrap();
    }

    #[test]
    fn round_trip_keeps_every_entry() {
        let Some(root) = production() else { return };
        let again = TrustedRoot::from_json(root.to_json().as_bytes()).unwrap();
        assert_eq!(root, again);
    }

    #[test]
    fn builder_writes_cosign_shape() {
        let Some(prod) = production() else { return };
        let pem_of = |log: &TransparencyLog| {
            pem::encode(&pem::Pem::new("PUBLIC KEY", log.key().spki_der().to_vec()))
        };
        let chain_pem = |ca: &CertificateAuthority| {
            ca.chain()
                .iter()
                .map(Certificate::to_pem)
                .collect::<String>()
        };
        let v1 = &prod.tlogs()[0];
        let v2 = &prod.tlogs()[1];
        let ct = &prod.ctlogs()[1];
        let root = TrustedRoot::builder()
            .rekor_key_pem(
                v1.base_url(),
                pem_of(v1).as_bytes(),
                v1.valid_for().start,
                None,
            )
            .rekor_key_pem(
                v2.base_url(),
                pem_of(v2).as_bytes(),
                v2.valid_for().start,
                None,
            )
            .ctlog_key_pem(
                ct.base_url(),
                pem_of(ct).as_bytes(),
                ct.valid_for().start,
                None,
            )
            .fulcio_pem(
                "https://fulcio.sigstore.dev",
                chain_pem(&prod.certificate_authorities()[1]).as_bytes(),
            )
            .tsa_pem(
                "https://timestamp.sigstore.dev/api/v1/timestamp",
                chain_pem(&prod.timestamp_authorities()[0]).as_bytes(),
            )
            .build()
            .unwrap();
        // Log IDs computed by the builder are the ones Sigstore publishes.
        assert_eq!(root.tlogs()[0].log_id(), v1.log_id());
        assert_eq!(root.tlogs()[1].log_id(), v2.log_id());
        assert_eq!(root.ctlogs()[0].log_id(), ct.log_id());
        assert_eq!(root.tlogs()[1].key_details(), "PKIX_ED25519");
        let ca = &root.certificate_authorities()[0];
        assert_eq!(ca.subject().organization.as_deref(), Some("sigstore.dev"));
        assert_eq!(ca.subject().common_name.as_deref(), Some("sigstore"));
        assert_eq!(ca.chain(), prod.certificate_authorities()[1].chain());
        let json: serde_json::Value = serde_json::from_str(&root.to_json()).unwrap();
        assert_eq!(json["mediaType"], TRUSTED_ROOT_MEDIA_TYPE);
        assert_eq!(json["tlogs"][0]["hashAlgorithm"], "SHA2_256");
        assert_eq!(json["tlogs"][0]["logId"]["keyId"], REKOR_V1);
        assert_eq!(
            json["tlogs"][0]["publicKey"]["validFor"]["start"],
            "2021-01-12T11:53:27Z"
        );
    }

    #[test]
    fn builder_refuses_bad_input() {
        let e = TrustedRoot::builder()
            .rekor_key_pem("https://r", b"not pem", SystemTime::UNIX_EPOCH, None)
            .build()
            .unwrap_err();
        assert!(
            e.to_string().contains("Rekor key https://r: not PEM"),
            "{e}"
        );
        let e = TrustedRoot::builder()
            .fulcio_pem("https://f", b"")
            .build()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("trusted root builder: Fulcio chain https://f"),
            "{e}"
        );
    }
}
