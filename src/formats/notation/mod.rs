//! The Notary Project ("notation") JWS signature envelope and its OCI signature manifest.
//!
//! This module writes and checks the envelope format only: the JWS JSON *flattened*
//! serialization defined by the Notary Project's `signature-specification.md` and
//! `signature-envelope-jws.md`. Whether the certificate chain leads to a trusted root, what the
//! trust policy says, expiry and timestamp policy are decided elsewhere; this module answers
//! "is this a well-formed Notary Project envelope whose signature verifies with the key of its
//! own signing certificate, and what does it say?".
//!
//! # On the wire
//!
//! An envelope is a JSON object with exactly four members:
//!
//! ```json
//! {
//!   "payload": "<base64url(payload)>",
//!   "protected": "<base64url(protected header)>",
//!   "header": {
//!     "io.cncf.notary.timestampSignature": "<base64(RFC 3161 TimeStampToken)>",
//!     "x5c": ["<base64(DER leaf)>", "<base64(DER intermediate)>", "<base64(DER root)>"],
//!     "io.cncf.notary.signingAgent": "imgseal/0.1.0"
//!   },
//!   "signature": "<base64url(sign(ASCII(protected '.' payload)))>"
//! }
//! ```
//!
//! base64url is RFC 4648 §5 without `=` padding (RFC 7515 §2); `x5c` entries are *standard*
//! base64 with padding (RFC 7515 §4.1.6). The payload imgseal writes, decoded:
//!
//! ```json
//! {"targetArtifact":{"annotations":{"buildId":"101"},"digest":"sha256:73c8…c333","mediaType":"application/vnd.oci.image.manifest.v1+json","size":16724}}
//! ```
//!
//! and the protected header for an ES256 signature with an expiry:
//!
//! ```json
//! {"alg":"ES256","crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.expiry":"2099-08-30T13:50:00Z","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2022-08-29T13:50:00Z"}
//! ```
//!
//! Members are written in lexicographic order and `crit` lists `io.cncf.notary.signingScheme`
//! first, then `io.cncf.notary.authenticSigningTime` and `io.cncf.notary.expiry` when present:
//! exactly what notation-core-go writes (it marshals Go maps), so for the same inputs imgseal's
//! protected header and payload are byte-identical to notation's (checked against
//! notation-core-go's JWS conformance vector in `tests/notation_envelope.rs`).
//!
//! # Rules enforced when reading
//!
//! [`parse_envelope`] refuses anything that is not the flattened JWS JSON form, duplicate JSON
//! member names anywhere (envelope, unprotected header, protected header, payload), malformed
//! base64url/base64, an empty signature and a missing or empty `x5c`.
//! [`Envelope::verify_integrity`] then applies the Notary Project rules: `alg` must be one of
//! PS256/PS384/PS512/ES256/ES384/ES512 (never `none` or HMAC) and must be the algorithm the
//! signing certificate's key calls for (RSA-2048 → PS256, RSA-3072 → PS384, RSA-4096 → PS512,
//! P-256 → ES256, P-384 → ES384, P-521 → ES512); `cty` must be
//! [`PAYLOAD_CONTENT_TYPE`]; the signing scheme must be known and carry exactly its own time
//! header; `crit` must be present, list `io.cncf.notary.signingScheme` (plus
//! `io.cncf.notary.authenticSigningTime` and `io.cncf.notary.expiry` when they apply), name only
//! headers that are present, and never name JWS registered headers; an expiry must be later than
//! the signing time. Then the signature over `ASCII(protected '.' payload)` is checked with the
//! leaf certificate's public key (ring: RSASSA-PSS with salt length = hash length, or ECDSA with
//! fixed-width `r || s`), and only then is the payload parsed.
//!
//! Critical *extended* attributes (for example `io.cncf.notary.verificationPlugin`) are not an
//! integrity failure: the spec says an unknown critical attribute must fail verification, and
//! notation reports such signatures as needing a plugin. They are returned in
//! [`VerifiedEnvelope::extended_attributes`] so the caller can fail with "unsupported critical
//! attribute" (notation's "inconclusive") rather than "tampered".
//!
//! ECDSA P-521 (ES512) envelopes parse and their algorithm/key pairing is checked, but ring has no
//! P-521 verifier, so they fail with [`EnvelopeError::VerificationUnsupported`].
//!
//! # Example
//!
//! ```
//! use imgseal::formats::notation::{self, SigningScheme};
//! use imgseal::oci::Descriptor;
//! use std::time::{Duration, SystemTime};
//!
//! // A P-256 key and a self-signed code-signing certificate for it.
//! let key = imgseal::SigningKey::generate()?;
//! let pkcs8 = key.to_pkcs8_der()?;
//! let key_pair = rcgen::KeyPair::try_from(pkcs8.as_slice())?;
//! let cert = rcgen::CertificateParams::new(Vec::<String>::new())?.self_signed(&key_pair)?;
//!
//! let image = Descriptor::of("application/vnd.oci.image.manifest.v1+json", b"{}");
//! let signed_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let envelope = notation::sign_envelope(
//!     &image,
//!     &key,
//!     &[cert.der().to_vec()],
//!     signed_at,
//!     None,
//!     "imgseal/0.1.0",
//! )?;
//!
//! let verified = notation::parse_envelope(&envelope)?.verify_integrity()?;
//! assert!(verified.matches_target(&image));
//! assert_eq!(verified.signing_scheme, SigningScheme::X509);
//! assert_eq!(verified.signing_time, Some(signed_at));
//!
//! // The OCI 1.1 artifact manifest that attaches it to the image.
//! let manifest = notation::signature_manifest(&envelope, &image, signed_at)?;
//! assert!(notation::is_notation_signature_manifest(&manifest.manifest));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::oci::OCI_MANIFEST;
use crate::oci::{Descriptor, ImageManifest, EMPTY_BLOB, EMPTY_MEDIA_TYPE};
use crate::Digest;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_parser::asn1_rs::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Media type of a JWS signature envelope (the signature manifest's layer).
pub const ENVELOPE_MEDIA_TYPE: &str = "application/jose+json";
/// Media type of a COSE signature envelope (recognised, not supported by imgseal).
pub const COSE_ENVELOPE_MEDIA_TYPE: &str = "application/cose";
/// `artifactType` of a Notary Project signature manifest (and, in the legacy shape notation
/// 1.0 writes, its `config.mediaType`).
pub const ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The payload content type (`cty`).
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Signing scheme `notary.x509`: signing time is the signer's (unauthenticated) clock.
pub const SIGNING_SCHEME_X509: &str = "notary.x509";
/// Signing scheme `notary.x509.signingAuthority`: the signing time is authenticated.
pub const SIGNING_SCHEME_X509_SIGNING_AUTHORITY: &str = "notary.x509.signingAuthority";
/// Signature manifest annotation: JSON array of the lowercase hex SHA-256 of each `x5c`
/// certificate, leaf first.
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
/// Signature manifest annotation: creation time (RFC 3339).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// Largest envelope [`parse_envelope`] accepts (envelopes are a few KiB; a timestamp token and a
/// three-certificate chain stay far below this).
pub const MAX_ENVELOPE_SIZE: usize = 4 * 1024 * 1024;

/// Protected header: the signing scheme (critical).
pub const HEADER_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
/// Protected header: signing time, `notary.x509` only (not critical).
pub const HEADER_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
/// Protected header: authentic signing time, `notary.x509.signingAuthority` only (critical).
pub const HEADER_AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
/// Protected header: "best by use" expiry (critical when present).
pub const HEADER_EXPIRY: &str = "io.cncf.notary.expiry";
/// Protected extended attribute: verification plugin name (critical).
pub const HEADER_VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
/// Protected extended attribute: minimum verification plugin version (critical).
pub const HEADER_VERIFICATION_PLUGIN_MIN_VERSION: &str =
    "io.cncf.notary.verificationPluginMinVersion";
/// Unprotected header: the software that produced the signature.
pub const HEADER_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// Unprotected header: RFC 3161 timestamp countersignature (base64).
pub const HEADER_TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

const TOP_LEVEL_MEMBERS: [&str; 4] = ["payload", "protected", "header", "signature"];
/// Header names registered by RFC 7515 §4.1; `crit` must not list them (RFC 7515 §4.1.11).
const REGISTERED_HEADERS: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];
/// Protected header members with a meaning in the Notary Project spec (not extended attributes).
const STANDARD_HEADERS: [&str; 7] = [
    "alg",
    "cty",
    "crit",
    HEADER_SIGNING_SCHEME,
    HEADER_SIGNING_TIME,
    HEADER_AUTHENTIC_SIGNING_TIME,
    HEADER_EXPIRY,
];

/// Why an envelope (or a signature manifest) was refused or could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The envelope is larger than [`MAX_ENVELOPE_SIZE`].
    #[error("signature envelope is {size} bytes, over the {limit}-byte limit; refusing it")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Some part is not JSON.
    #[error("{location} is not valid JSON: {reason}")]
    InvalidJson {
        /// Which part: envelope, protected header, payload.
        location: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// Some part is JSON but not an object.
    #[error("{location} must be a JSON object")]
    NotAnObject {
        /// Which part.
        location: &'static str,
    },
    /// A JSON object names the same member twice (ambiguous: parsers disagree on which wins).
    #[error("{location} has the member {name:?} twice; duplicate JSON member names are refused")]
    DuplicateMember {
        /// Which part.
        location: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A top-level member other than the four of the flattened JWS JSON serialization.
    #[error("signature envelope has the top-level member {0:?}; only the flattened JWS JSON form (payload, protected, header, signature) is allowed")]
    NotFlattened(String),
    /// A required member is absent.
    #[error("signature envelope has no {0:?} member, which is required")]
    MissingMember(&'static str),
    /// A member has the wrong JSON type.
    #[error("signature envelope member {member:?} must be {expected}")]
    MemberType {
        /// The member.
        member: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `protected`, `payload` or `signature` is not unpadded base64url.
    #[error("signature envelope member {0:?} is not unpadded base64url (RFC 7515 §2)")]
    Base64Url(&'static str),
    /// An `x5c` entry or the timestamp is not standard padded base64.
    #[error("signature envelope member {0:?} is not standard base64 (RFC 7515 §4.1.6)")]
    Base64(String),
    /// The signature is empty.
    #[error("signature envelope has an empty signature")]
    EmptySignature,
    /// No certificates in `x5c`.
    #[error("signature envelope has an empty x5c certificate chain; the signing certificate is required")]
    EmptyCertificateChain,
    /// The same header name appears in the protected and the unprotected header.
    #[error("header {0:?} appears in both the protected and the unprotected header; they must be disjoint (RFC 7515 §7.2.1)")]
    HeaderNamesNotDisjoint(String),
    /// A required protected header is absent.
    #[error("protected header {0:?} is required but missing")]
    MissingHeader(&'static str),
    /// A protected header has the wrong JSON type.
    #[error("protected header {header:?} must be {expected}")]
    HeaderType {
        /// The header.
        header: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `alg` is `none`.
    #[error("JWS alg \"none\" is refused: a Notary Project signature must be signed (PS256/384/512 or ES256/384/512)")]
    AlgNone,
    /// `alg` is an HMAC (symmetric) algorithm.
    #[error("JWS alg {0:?} is a symmetric (HMAC) algorithm, which the Notary Project forbids")]
    SymmetricAlgorithm(String),
    /// `alg` is not in the Notary Project's table.
    #[error("JWS alg {0:?} is not a Notary Project algorithm (PS256, PS384, PS512, ES256, ES384, ES512)")]
    UnsupportedAlgorithm(String),
    /// `cty` is not the Notary Project payload type.
    #[error(
        "protected header cty is {0:?}; it must be \"application/vnd.cncf.notary.payload.v1+json\""
    )]
    ContentType(String),
    /// The signing scheme is not one the spec defines.
    #[error("signing scheme {0:?} is unknown; it must be \"notary.x509\" or \"notary.x509.signingAuthority\"")]
    UnknownSigningScheme(String),
    /// A time header that belongs to the other signing scheme.
    #[error("protected header {header:?} must not be present with signing scheme {scheme}")]
    HeaderNotAllowed {
        /// The header.
        header: &'static str,
        /// The envelope's signing scheme.
        scheme: &'static str,
    },
    /// A time header is not an RFC 3339 date-time.
    #[error("protected header {header:?} is {value:?}, not an RFC 3339 date-time")]
    InvalidTime {
        /// The header.
        header: &'static str,
        /// Its value.
        value: String,
    },
    /// The expiry is not later than the signing time.
    #[error("the expiry must be later than the signing time")]
    ExpiryNotAfterSigningTime,
    /// `crit` is absent or empty.
    #[error(
        "protected header crit is missing or empty; it must list \"io.cncf.notary.signingScheme\""
    )]
    MissingCrit,
    /// `crit` names a header twice.
    #[error("protected header crit lists {0:?} more than once")]
    DuplicateCrit(String),
    /// `crit` names a header that is not in the protected header.
    #[error("protected header crit lists {0:?}, which is not present in the protected header")]
    CriticalHeaderAbsent(String),
    /// A header that must be critical is not listed in `crit`.
    #[error("protected header {0:?} is present but not listed in crit; the Notary Project requires it to be critical")]
    NotMarkedCritical(&'static str),
    /// `crit` names a header that must not be listed there.
    #[error("protected header crit lists {0:?}, which must not be marked critical (JWS registered headers and io.cncf.notary.signingTime)")]
    MustNotBeCritical(String),
    /// A certificate in `x5c` cannot be parsed.
    #[error("certificate x5c[{index}] is not a valid X.509 DER certificate: {reason}")]
    InvalidCertificate {
        /// Position in the chain (0 = signing certificate).
        index: usize,
        /// The parser's message.
        reason: String,
    },
    /// The signing certificate's key is not one the Notary Project allows.
    #[error("signing certificate key is {0}; the Notary Project allows RSA 2048/3072/4096 and EC P-256/P-384/P-521")]
    UnsupportedKey(String),
    /// `alg` does not match the signing certificate's key (algorithm substitution).
    #[error("JWS alg {alg} does not match the signing certificate's {key} key, which requires {expected}")]
    AlgorithmKeyMismatch {
        /// The envelope's `alg`.
        alg: &'static str,
        /// The certificate's key, e.g. `RSA-3072`.
        key: String,
        /// The algorithm that key calls for.
        expected: &'static str,
    },
    /// The algorithm is valid but this build cannot verify it.
    #[error("JWS alg {alg} is valid but cannot be verified here: {reason}")]
    VerificationUnsupported {
        /// The algorithm.
        alg: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The signature does not verify: the envelope was altered or signed by another key.
    #[error("signature does not verify with the signing certificate's public key (envelope altered or signed by another key)")]
    SignatureInvalid,
    /// The (signed) payload is not a Notary Project payload.
    #[error("payload is not a Notary Project payload: {0}")]
    InvalidPayload(String),
    /// The signing key does not belong to the leaf certificate.
    #[error("the signing key does not match the public key of the first certificate in the chain")]
    SigningKeyMismatch,
    /// The signing key cannot be used.
    #[error("signing key: {0}")]
    SigningKey(String),
    /// The descriptor to sign is incomplete.
    #[error("target descriptor: {0}")]
    InvalidTarget(String),
    /// A time cannot be written as an RFC 3339 date-time (before 1970 or after 9999).
    #[error("{0} must lie between 1970 and 9999 to be written as RFC 3339")]
    TimeOutOfRange(&'static str),
    /// A signature manifest does not have exactly one layer.
    #[error("signature manifest has {0} layers; a Notary Project signature manifest has exactly one (the envelope)")]
    LayerCount(usize),
    /// The envelope layer's media type is not JWS.
    #[error(
        "signature envelope media type {0:?} is not supported; imgseal reads application/jose+json"
    )]
    UnsupportedEnvelopeMediaType(String),
    /// Encoding failed (should not happen).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// A Notary Project signing scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is the signer's claim; trust comes from a CA store.
    X509,
    /// `notary.x509.signingAuthority`: the signing time is authentic; trust comes from a
    /// signing-authority store.
    X509SigningAuthority,
}

impl SigningScheme {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningScheme::X509 => SIGNING_SCHEME_X509,
            SigningScheme::X509SigningAuthority => SIGNING_SCHEME_X509_SIGNING_AUTHORITY,
        }
    }

    /// Parse a wire value.
    pub fn from_wire(s: &str) -> Option<SigningScheme> {
        match s {
            SIGNING_SCHEME_X509 => Some(SigningScheme::X509),
            SIGNING_SCHEME_X509_SIGNING_AUTHORITY => Some(SigningScheme::X509SigningAuthority),
            _ => None,
        }
    }
}

impl std::fmt::Display for SigningScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JWS algorithm the Notary Project allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PSS with SHA-256 (RSA-2048 keys).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA-3072 keys).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA-4096 keys).
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512 (parsed; not verifiable with ring).
    Es512,
}

impl Algorithm {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    /// Parse a JWS `alg` value from the Notary Project's table.
    pub fn from_jws(alg: &str) -> Option<Algorithm> {
        Some(match alg {
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            "ES512" => Algorithm::Es512,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protected header member outside the standard set (alg, cty, crit and the four
/// `io.cncf.notary.*` time/scheme headers).
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendedAttribute {
    /// The header name.
    pub name: String,
    /// Its JSON value.
    pub value: Value,
    /// Listed in `crit`: a verifier that does not understand it must fail (not "tampered", but
    /// "cannot verify": notation's *inconclusive*).
    pub critical: bool,
}

/// A parsed, not yet verified, JWS envelope. Get one from [`parse_envelope`]; nothing in it is
/// trustworthy until [`Envelope::verify_integrity`] succeeds.
#[derive(Clone, Debug)]
pub struct Envelope {
    signing_input: Vec<u8>,
    protected: Map<String, Value>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    certificate_chain: Vec<Vec<u8>>,
    signing_agent: Option<String>,
    timestamp_signature: Option<Vec<u8>>,
}

/// What a Notary Project envelope says, after its format and signature were checked against its
/// own signing certificate. The chain still has to be validated against a trust store, and the
/// target compared with the artifact ([`VerifiedEnvelope::matches_target`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedEnvelope {
    /// The signed artifact's descriptor (`targetArtifact`): media type, digest, size, and the
    /// signer's annotations (user metadata). `artifactType` is kept when present.
    pub target: Descriptor,
    /// The signing scheme.
    pub signing_scheme: SigningScheme,
    /// The JWS algorithm (already checked against the signing certificate's key).
    pub algorithm: Algorithm,
    /// `io.cncf.notary.signingTime` (`notary.x509`; the signer's unauthenticated clock).
    pub signing_time: Option<SystemTime>,
    /// `io.cncf.notary.authenticSigningTime` (`notary.x509.signingAuthority`).
    pub authentic_signing_time: Option<SystemTime>,
    /// `io.cncf.notary.expiry`, if the signer set one.
    pub expiry: Option<SystemTime>,
    /// `x5c`: DER certificates, signing certificate first.
    pub certificate_chain: Vec<Vec<u8>>,
    /// `io.cncf.notary.signingAgent` (informational only; never trust it).
    pub signing_agent: Option<String>,
    /// `io.cncf.notary.timestampSignature`: the RFC 3161 TimeStampToken (DER), unverified.
    pub timestamp_signature: Option<Vec<u8>>,
    /// Extended protected-header attributes, in name order; see
    /// [`VerifiedEnvelope::critical_extended_attributes`].
    pub extended_attributes: Vec<ExtendedAttribute>,
    /// The raw signature bytes (what a timestamp countersigns).
    pub signature: Vec<u8>,
    /// The raw (verified) payload bytes.
    pub payload: Vec<u8>,
}

impl VerifiedEnvelope {
    /// True when a timestamp countersignature is attached (not yet verified).
    pub fn has_timestamp(&self) -> bool {
        self.timestamp_signature.is_some()
    }

    /// The signing time whichever scheme is used: `authenticSigningTime` for
    /// `notary.x509.signingAuthority`, `signingTime` for `notary.x509`.
    pub fn effective_signing_time(&self) -> SystemTime {
        self.authentic_signing_time
            .or(self.signing_time)
            .unwrap_or(UNIX_EPOCH)
    }

    /// Extended attributes listed in `crit`. imgseal implements none of them (no plugin
    /// support), so a signature with any of these cannot be fully verified: the spec requires
    /// verification to fail (notation reports it as inconclusive).
    pub fn critical_extended_attributes(&self) -> impl Iterator<Item = &ExtendedAttribute> {
        self.extended_attributes.iter().filter(|a| a.critical)
    }

    /// The `io.cncf.notary.verificationPlugin` the signer requires, if any.
    pub fn verification_plugin(&self) -> Option<&str> {
        self.extended_str(HEADER_VERIFICATION_PLUGIN)
    }

    /// The `io.cncf.notary.verificationPluginMinVersion`, if any.
    pub fn verification_plugin_min_version(&self) -> Option<&str> {
        self.extended_str(HEADER_VERIFICATION_PLUGIN_MIN_VERSION)
    }

    fn extended_str(&self, name: &str) -> Option<&str> {
        self.extended_attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_str())
    }

    /// True when the signed target is `artifact`: same media type, digest and size (what
    /// notation compares; annotations are user metadata and checked separately).
    pub fn matches_target(&self, artifact: &Descriptor) -> bool {
        self.target.media_type == artifact.media_type
            && self.target.digest == artifact.digest
            && self.target.size == artifact.size
    }
}

impl Envelope {
    /// `x5c` as DER, signing certificate first (unverified).
    pub fn certificate_chain(&self) -> &[Vec<u8>] {
        &self.certificate_chain
    }

    /// `io.cncf.notary.signingAgent` (unverified, informational).
    pub fn signing_agent(&self) -> Option<&str> {
        self.signing_agent.as_deref()
    }

    /// The RFC 3161 timestamp token, if any (unverified).
    pub fn timestamp_signature(&self) -> Option<&[u8]> {
        self.timestamp_signature.as_deref()
    }

    /// The decoded protected header (unverified; for display).
    pub fn protected_header(&self) -> &Map<String, Value> {
        &self.protected
    }

    /// Apply the Notary Project's format rules and check the signature with the signing
    /// certificate's public key; see the module documentation for the rules, in order.
    pub fn verify_integrity(&self) -> Result<VerifiedEnvelope, EnvelopeError> {
        let h = &self.protected;

        let alg = check_alg(header_str(h, "alg")?.ok_or(EnvelopeError::MissingHeader("alg"))?)?;

        let cty = header_str(h, "cty")?.ok_or(EnvelopeError::MissingHeader("cty"))?;
        if cty != PAYLOAD_CONTENT_TYPE {
            return Err(EnvelopeError::ContentType(cty.to_string()));
        }

        let scheme_text = header_str(h, HEADER_SIGNING_SCHEME)?
            .ok_or(EnvelopeError::MissingHeader(HEADER_SIGNING_SCHEME))?;
        let scheme = SigningScheme::from_wire(scheme_text)
            .ok_or_else(|| EnvelopeError::UnknownSigningScheme(scheme_text.to_string()))?;

        let signing_time = header_time(h, HEADER_SIGNING_TIME)?;
        let authentic_signing_time = header_time(h, HEADER_AUTHENTIC_SIGNING_TIME)?;
        let expiry = header_time(h, HEADER_EXPIRY)?;
        let effective = match scheme {
            SigningScheme::X509 => {
                if authentic_signing_time.is_some() {
                    return Err(EnvelopeError::HeaderNotAllowed {
                        header: HEADER_AUTHENTIC_SIGNING_TIME,
                        scheme: SIGNING_SCHEME_X509,
                    });
                }
                signing_time.ok_or(EnvelopeError::MissingHeader(HEADER_SIGNING_TIME))?
            }
            SigningScheme::X509SigningAuthority => {
                if signing_time.is_some() {
                    return Err(EnvelopeError::HeaderNotAllowed {
                        header: HEADER_SIGNING_TIME,
                        scheme: SIGNING_SCHEME_X509_SIGNING_AUTHORITY,
                    });
                }
                authentic_signing_time
                    .ok_or(EnvelopeError::MissingHeader(HEADER_AUTHENTIC_SIGNING_TIME))?
            }
        };
        if expiry.is_some_and(|e| e <= effective) {
            return Err(EnvelopeError::ExpiryNotAfterSigningTime);
        }

        let crit = check_crit(h, scheme, expiry.is_some())?;
        let extended_attributes = h
            .iter()
            .filter(|(name, _)| !STANDARD_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| ExtendedAttribute {
                name: name.clone(),
                value: value.clone(),
                critical: crit.contains(name.as_str()),
            })
            .collect();

        let leaf = self
            .certificate_chain
            .first()
            .ok_or(EnvelopeError::EmptyCertificateChain)?;
        let key = LeafKey::from_certificate(leaf)?;
        if key.algorithm != alg {
            return Err(EnvelopeError::AlgorithmKeyMismatch {
                alg: alg.as_str(),
                key: key.description,
                expected: key.algorithm.as_str(),
            });
        }
        verify_signature(alg, &key.public_key, &self.signing_input, &self.signature)?;

        let target = parse_payload(&self.payload)?;
        Ok(VerifiedEnvelope {
            target,
            signing_scheme: scheme,
            algorithm: alg,
            signing_time,
            authentic_signing_time,
            expiry,
            certificate_chain: self.certificate_chain.clone(),
            signing_agent: self.signing_agent.clone(),
            timestamp_signature: self.timestamp_signature.clone(),
            extended_attributes,
            signature: self.signature.clone(),
            payload: self.payload.clone(),
        })
    }
}

/// Parse a JWS envelope (flattened JWS JSON serialization): structure, base64, duplicate-free
/// JSON and a non-empty `x5c`. Nothing is verified yet: call [`Envelope::verify_integrity`].
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_SIZE {
        return Err(EnvelopeError::TooLarge {
            size: bytes.len(),
            limit: MAX_ENVELOPE_SIZE,
        });
    }
    let Value::Object(top) = parse_strict_json(bytes, "signature envelope")? else {
        return Err(EnvelopeError::NotAnObject {
            location: "signature envelope",
        });
    };
    if let Some(extra) = top
        .keys()
        .find(|k| !TOP_LEVEL_MEMBERS.contains(&k.as_str()))
    {
        return Err(EnvelopeError::NotFlattened(extra.clone()));
    }
    let member = |name: &'static str| -> Result<&str, EnvelopeError> {
        match top.get(name) {
            None => Err(EnvelopeError::MissingMember(name)),
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(EnvelopeError::MemberType {
                member: name.to_string(),
                expected: "a string",
            }),
        }
    };
    let protected_b64 = member("protected")?;
    let payload_b64 = member("payload")?;
    let signature_b64 = member("signature")?;
    let header = match top.get("header") {
        None => return Err(EnvelopeError::MissingMember("header")),
        Some(Value::Object(h)) => h,
        Some(_) => {
            return Err(EnvelopeError::MemberType {
                member: "header".into(),
                expected: "a JSON object",
            })
        }
    };

    let protected_raw = B64URL
        .decode(protected_b64)
        .map_err(|_| EnvelopeError::Base64Url("protected"))?;
    let payload = B64URL
        .decode(payload_b64)
        .map_err(|_| EnvelopeError::Base64Url("payload"))?;
    let signature = B64URL
        .decode(signature_b64)
        .map_err(|_| EnvelopeError::Base64Url("signature"))?;
    if signature.is_empty() {
        return Err(EnvelopeError::EmptySignature);
    }
    let Value::Object(protected) = parse_strict_json(&protected_raw, "protected header")? else {
        return Err(EnvelopeError::NotAnObject {
            location: "protected header",
        });
    };
    if let Some(both) = header.keys().find(|k| protected.contains_key(k.as_str())) {
        return Err(EnvelopeError::HeaderNamesNotDisjoint(both.clone()));
    }

    let certificate_chain = match header.get("x5c") {
        None => return Err(EnvelopeError::MissingMember("header.x5c")),
        Some(Value::Array(certs)) if certs.is_empty() => {
            return Err(EnvelopeError::EmptyCertificateChain)
        }
        Some(Value::Array(certs)) => certs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let text = c.as_str().ok_or_else(|| EnvelopeError::MemberType {
                    member: format!("header.x5c[{i}]"),
                    expected: "a base64 string",
                })?;
                match B64.decode(text) {
                    Ok(der) if !der.is_empty() => Ok(der),
                    _ => Err(EnvelopeError::Base64(format!("header.x5c[{i}]"))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(EnvelopeError::MemberType {
                member: "header.x5c".into(),
                expected: "an array of base64 strings",
            })
        }
    };

    let timestamp_signature =
        match header.get(HEADER_TIMESTAMP_SIGNATURE) {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(B64.decode(s).map_err(|_| {
                EnvelopeError::Base64(format!("header.{HEADER_TIMESTAMP_SIGNATURE}"))
            })?),
            Some(_) => {
                return Err(EnvelopeError::MemberType {
                    member: format!("header.{HEADER_TIMESTAMP_SIGNATURE}"),
                    expected: "a base64 string",
                })
            }
        };

    // notation-go reads the unprotected header with Go's encoding/json, which matches member
    // names case-insensitively when there is no exact match; notation-go's own test envelopes
    // spell this one "io.cncf.notary.SigningAgent". It is informational only, so accept that.
    let agent = header.get(HEADER_SIGNING_AGENT).or_else(|| {
        header
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(HEADER_SIGNING_AGENT))
            .map(|(_, v)| v)
    });
    let signing_agent = match agent {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(EnvelopeError::MemberType {
                member: format!("header.{HEADER_SIGNING_AGENT}"),
                expected: "a string",
            })
        }
    };

    let mut signing_input = Vec::with_capacity(protected_b64.len() + 1 + payload_b64.len());
    signing_input.extend_from_slice(protected_b64.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(payload_b64.as_bytes());

    Ok(Envelope {
        signing_input,
        protected,
        payload,
        signature,
        certificate_chain,
        signing_agent,
        timestamp_signature,
    })
}

/// Sign `target` as a Notary Project JWS envelope with scheme `notary.x509` and ES256.
///
/// `chain_der` is the certificate chain, signing certificate first (its public key must be
/// `key`'s); it goes into `x5c` as given. `signing_time` and `expiry` are truncated to whole
/// seconds and written as RFC 3339 UTC; the expiry must be later than the signing time. An empty
/// `signing_agent` is omitted. The payload carries the target's media type, digest, size and
/// annotations (nothing else). Returns the envelope bytes, to be stored as a layer of media type
/// [`ENVELOPE_MEDIA_TYPE`] (see [`signature_manifest`]).
pub fn sign_envelope(
    target: &Descriptor,
    key: &crate::SigningKey,
    chain_der: &[Vec<u8>],
    signing_time: SystemTime,
    expiry: Option<SystemTime>,
    signing_agent: &str,
) -> Result<Vec<u8>, EnvelopeError> {
    check_target(target)?;
    let leaf = chain_der
        .first()
        .ok_or(EnvelopeError::EmptyCertificateChain)?;
    for (index, der) in chain_der.iter().enumerate() {
        parse_certificate(der, index)?;
    }
    let leaf_cert = parse_certificate(leaf, 0)?;
    let spki = key
        .public_key_der()
        .map_err(|e| EnvelopeError::SigningKey(e.to_string()))?;
    if leaf_cert.public_key().raw != spki.as_slice() {
        return Err(EnvelopeError::SigningKeyMismatch);
    }

    let signing_secs = unix_seconds(signing_time, "the signing time")?;
    let expiry_secs = expiry.map(|e| unix_seconds(e, "the expiry")).transpose()?;
    if expiry_secs.is_some_and(|e| e <= signing_secs) {
        return Err(EnvelopeError::ExpiryNotAfterSigningTime);
    }

    let mut crit = vec![HEADER_SIGNING_SCHEME];
    if expiry_secs.is_some() {
        crit.push(HEADER_EXPIRY);
    }
    let header = ProtectedHeaderOut {
        alg: Algorithm::Es256.as_str(),
        crit,
        cty: PAYLOAD_CONTENT_TYPE,
        expiry: expiry_secs
            .map(|s| format_rfc3339(s, "the expiry"))
            .transpose()?,
        signing_scheme: SIGNING_SCHEME_X509,
        signing_time: format_rfc3339(signing_secs, "the signing time")?,
    };
    let payload = PayloadOut {
        target_artifact: TargetArtifactOut {
            annotations: &target.annotations,
            digest: &target.digest,
            media_type: &target.media_type,
            size: target.size,
        },
    };
    let protected_b64 = B64URL.encode(encode_json(&header, "protected header")?);
    let payload_b64 = B64URL.encode(encode_json(&payload, "payload")?);
    let signature = key.sign_raw(format!("{protected_b64}.{payload_b64}").as_bytes());

    let envelope = EnvelopeOut {
        payload: payload_b64,
        protected: protected_b64,
        header: UnprotectedOut {
            x5c: chain_der.iter().map(|c| B64.encode(c)).collect(),
            signing_agent: (!signing_agent.is_empty()).then_some(signing_agent),
        },
        signature: B64URL.encode(signature),
    };
    encode_json(&envelope, "signature envelope")
}

/// A signature manifest ready to push: upload [`EMPTY_BLOB`] (the config) and the envelope (the
/// layer), then push [`SignatureManifest::bytes`] exactly as they are.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignatureManifest {
    /// The manifest.
    pub manifest: ImageManifest,
    /// Its serialised bytes (what the digest covers).
    pub bytes: Vec<u8>,
    /// `sha256:` digest of `bytes`.
    pub digest: String,
    /// The envelope's layer descriptor.
    pub envelope_layer: Descriptor,
    /// The config blob (`{}`, media type [`EMPTY_MEDIA_TYPE`]).
    pub config_blob: &'static [u8],
}

/// The OCI 1.1 artifact manifest notation 1.1 and later write for a signature: `artifactType`
/// [`ARTIFACT_TYPE`], the empty config (`application/vnd.oci.empty.v1+json`, `{}`), one layer
/// (the envelope, [`ENVELOPE_MEDIA_TYPE`]), `subject` = the signed manifest (media type, digest,
/// size), and annotations [`THUMBPRINT_ANNOTATION`] (from the envelope's `x5c`) and
/// [`CREATED_ANNOTATION`] (`created`, RFC 3339 UTC).
pub fn signature_manifest(
    envelope: &[u8],
    subject: &Descriptor,
    created: SystemTime,
) -> Result<SignatureManifest, EnvelopeError> {
    let parsed = parse_envelope(envelope)?;
    let thumbprints: Vec<String> = parsed
        .certificate_chain
        .iter()
        .map(|der| Digest::sha256(der).hex().to_string())
        .collect();
    let thumbprints = serde_json::to_string(&thumbprints).map_err(|e| EnvelopeError::Encode {
        what: "thumbprints",
        reason: e.to_string(),
    })?;
    let created = format_rfc3339(
        unix_seconds(created, "the creation time")?,
        "the creation time",
    )?;
    let envelope_layer = Descriptor::of(ENVELOPE_MEDIA_TYPE, envelope);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config: Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_BLOB),
        layers: vec![envelope_layer.clone()],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            size: subject.size,
            digest: subject.digest.clone(),
            ..Descriptor::default()
        }),
        annotations: BTreeMap::from([
            (THUMBPRINT_ANNOTATION.to_string(), thumbprints),
            (CREATED_ANNOTATION.to_string(), created),
        ]),
    };
    let bytes = encode_json(&manifest, "signature manifest")?;
    Ok(SignatureManifest {
        digest: Digest::sha256(&bytes).to_string(),
        manifest,
        bytes,
        envelope_layer,
        config_blob: EMPTY_BLOB,
    })
}

/// True for a Notary Project signature manifest in either shape: OCI 1.1 artifact
/// (`artifactType` = [`ARTIFACT_TYPE`], empty config; notation 1.1+) or the legacy image
/// manifest released notation 1.0 writes (no `artifactType`, `config.mediaType` =
/// [`ARTIFACT_TYPE`]). Use [`envelope_layer`] next to find the envelope.
pub fn is_notation_signature_manifest(manifest: &ImageManifest) -> bool {
    match manifest.artifact_type.as_deref() {
        None | Some("") => manifest.config.media_type == ARTIFACT_TYPE,
        Some(ARTIFACT_TYPE) => {
            manifest.config.media_type == EMPTY_MEDIA_TYPE
                || manifest.config.media_type == ARTIFACT_TYPE
        }
        Some(_) => false,
    }
}

/// The envelope layer of a Notary Project signature manifest: exactly one layer, of media type
/// [`ENVELOPE_MEDIA_TYPE`] (COSE and anything else are refused as unsupported).
pub fn envelope_layer(manifest: &ImageManifest) -> Result<&Descriptor, EnvelopeError> {
    let [layer] = manifest.layers.as_slice() else {
        return Err(EnvelopeError::LayerCount(manifest.layers.len()));
    };
    if layer.media_type != ENVELOPE_MEDIA_TYPE {
        return Err(EnvelopeError::UnsupportedEnvelopeMediaType(
            layer.media_type.clone(),
        ));
    }
    Ok(layer)
}

// ---- writing ----

#[derive(Serialize)]
struct ProtectedHeaderOut {
    alg: &'static str,
    crit: Vec<&'static str>,
    cty: &'static str,
    #[serde(
        rename = "io.cncf.notary.expiry",
        skip_serializing_if = "Option::is_none"
    )]
    expiry: Option<String>,
    #[serde(rename = "io.cncf.notary.signingScheme")]
    signing_scheme: &'static str,
    #[serde(rename = "io.cncf.notary.signingTime")]
    signing_time: String,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifactOut<'a>,
}

#[derive(Serialize)]
struct TargetArtifactOut<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    digest: &'a str,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    payload: String,
    protected: String,
    header: UnprotectedOut<'a>,
    signature: String,
}

#[derive(Serialize)]
struct UnprotectedOut<'a> {
    x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        skip_serializing_if = "Option::is_none"
    )]
    signing_agent: Option<&'a str>,
}

fn encode_json<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    serde_json::to_vec(value).map_err(|e| EnvelopeError::Encode {
        what,
        reason: e.to_string(),
    })
}

fn check_target(target: &Descriptor) -> Result<(), EnvelopeError> {
    if target.media_type.is_empty() {
        return Err(EnvelopeError::InvalidTarget(
            "mediaType is empty; the payload requires it".into(),
        ));
    }
    match target.digest.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty()
                && !hex.is_empty()
                && !target.digest.contains(char::is_whitespace) => {}
        _ => {
            return Err(EnvelopeError::InvalidTarget(format!(
                "digest {:?} is not of the form algorithm:encoded",
                target.digest
            )))
        }
    }
    Ok(())
}

// ---- reading: header rules ----

fn header_str<'a>(h: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, EnvelopeError> {
    match h.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(EnvelopeError::HeaderType {
            header: name.to_string(),
            expected: "a string",
        }),
    }
}

fn header_time(
    h: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<SystemTime>, EnvelopeError> {
    match header_str(h, name)? {
        None => Ok(None),
        Some(text) => parse_rfc3339(text)
            .map(Some)
            .ok_or_else(|| EnvelopeError::InvalidTime {
                header: name,
                value: text.to_string(),
            }),
    }
}

fn check_alg(alg: &str) -> Result<Algorithm, EnvelopeError> {
    if alg == "none" {
        return Err(EnvelopeError::AlgNone);
    }
    if alg.starts_with("HS") {
        return Err(EnvelopeError::SymmetricAlgorithm(alg.to_string()));
    }
    Algorithm::from_jws(alg).ok_or_else(|| EnvelopeError::UnsupportedAlgorithm(alg.to_string()))
}

/// Check `crit` and return the names it lists.
fn check_crit(
    h: &Map<String, Value>,
    scheme: SigningScheme,
    has_expiry: bool,
) -> Result<BTreeSet<String>, EnvelopeError> {
    let list = match h.get("crit") {
        None => return Err(EnvelopeError::MissingCrit),
        Some(Value::Array(list)) if list.is_empty() => return Err(EnvelopeError::MissingCrit),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(EnvelopeError::HeaderType {
                header: "crit".into(),
                expected: "an array of header names",
            })
        }
    };
    let mut names = BTreeSet::new();
    for entry in list {
        let name = entry.as_str().ok_or_else(|| EnvelopeError::HeaderType {
            header: "crit".into(),
            expected: "an array of header names",
        })?;
        if REGISTERED_HEADERS.contains(&name) || name == HEADER_SIGNING_TIME {
            return Err(EnvelopeError::MustNotBeCritical(name.to_string()));
        }
        if !h.contains_key(name) {
            return Err(EnvelopeError::CriticalHeaderAbsent(name.to_string()));
        }
        if !names.insert(name.to_string()) {
            return Err(EnvelopeError::DuplicateCrit(name.to_string()));
        }
    }
    let mut required = vec![HEADER_SIGNING_SCHEME];
    if scheme == SigningScheme::X509SigningAuthority {
        required.push(HEADER_AUTHENTIC_SIGNING_TIME);
    }
    if has_expiry {
        required.push(HEADER_EXPIRY);
    }
    if let Some(missing) = required.into_iter().find(|r| !names.contains(*r)) {
        return Err(EnvelopeError::NotMarkedCritical(missing));
    }
    Ok(names)
}

// ---- reading: the signing certificate's key ----

struct LeafKey {
    /// The algorithm the key calls for (spec "Algorithm Selection" table).
    algorithm: Algorithm,
    /// E.g. `RSA-3072`, `EC P-256`.
    description: String,
    /// What ring verifies with: PKCS#1 RSAPublicKey for RSA, the SEC1 point for EC.
    public_key: Vec<u8>,
}

/// Parse one DER certificate (nothing may follow it); `index` is its `x5c` position.
fn parse_certificate(der: &[u8], index: usize) -> Result<X509Certificate<'_>, EnvelopeError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| EnvelopeError::InvalidCertificate {
            index,
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(EnvelopeError::InvalidCertificate {
            index,
            reason: format!("{} trailing bytes after the certificate", rest.len()),
        });
    }
    Ok(cert)
}

impl LeafKey {
    fn from_certificate(der: &[u8]) -> Result<LeafKey, EnvelopeError> {
        let cert = parse_certificate(der, 0)?;
        let spki = cert.public_key();
        let key_alg = &spki.algorithm.algorithm;
        let key_bits: &[u8] = &spki.subject_public_key.data;
        if *key_alg == OID_PKCS1_RSAENCRYPTION {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
                _ => {
                    return Err(EnvelopeError::InvalidCertificate {
                        index: 0,
                        reason: "malformed RSA public key".into(),
                    })
                }
            };
            let algorithm = match bits {
                2048 => Algorithm::Ps256,
                3072 => Algorithm::Ps384,
                4096 => Algorithm::Ps512,
                _ => return Err(EnvelopeError::UnsupportedKey(format!("RSA-{bits}"))),
            };
            Ok(LeafKey {
                algorithm,
                description: format!("RSA-{bits}"),
                public_key: key_bits.to_vec(),
            })
        } else if *key_alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| Oid::try_from(p).ok());
            let (algorithm, name) = match curve {
                Some(c) if c == OID_EC_P256 => (Algorithm::Es256, "P-256"),
                Some(c) if c == OID_NIST_EC_P384 => (Algorithm::Es384, "P-384"),
                Some(c) if c == OID_NIST_EC_P521 => (Algorithm::Es512, "P-521"),
                Some(c) => {
                    return Err(EnvelopeError::UnsupportedKey(format!(
                        "EC on curve {}",
                        c.to_id_string()
                    )))
                }
                None => {
                    return Err(EnvelopeError::UnsupportedKey(
                        "EC without a named curve".into(),
                    ))
                }
            };
            Ok(LeafKey {
                algorithm,
                description: format!("EC {name}"),
                public_key: key_bits.to_vec(),
            })
        } else {
            Err(EnvelopeError::UnsupportedKey(format!(
                "of algorithm {}",
                key_alg.to_id_string()
            )))
        }
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    8 * (trimmed.len() - 1) + (8 - trimmed[0].leading_zeros() as usize)
}

fn verify_signature(
    alg: Algorithm,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), EnvelopeError> {
    use ring::signature as rs;
    let algorithm: &'static dyn rs::VerificationAlgorithm = match alg {
        Algorithm::Ps256 => &rs::RSA_PSS_2048_8192_SHA256,
        Algorithm::Ps384 => &rs::RSA_PSS_2048_8192_SHA384,
        Algorithm::Ps512 => &rs::RSA_PSS_2048_8192_SHA512,
        Algorithm::Es256 => &rs::ECDSA_P256_SHA256_FIXED,
        Algorithm::Es384 => &rs::ECDSA_P384_SHA384_FIXED,
        Algorithm::Es512 => {
            return Err(EnvelopeError::VerificationUnsupported {
                alg: alg.as_str(),
                reason: "ring has no ECDSA P-521 verifier",
            })
        }
    };
    rs::UnparsedPublicKey::new(algorithm, public_key)
        .verify(message, signature)
        .map_err(|_| EnvelopeError::SignatureInvalid)
}

// ---- reading: payload ----

fn parse_payload(bytes: &[u8]) -> Result<Descriptor, EnvelopeError> {
    let Value::Object(top) = parse_strict_json(bytes, "payload")? else {
        return Err(EnvelopeError::NotAnObject {
            location: "payload",
        });
    };
    let target = match top.get("targetArtifact") {
        Some(Value::Object(t)) => t,
        Some(_) => {
            return Err(EnvelopeError::InvalidPayload(
                "targetArtifact must be a JSON object (an OCI descriptor)".into(),
            ))
        }
        None => {
            return Err(EnvelopeError::InvalidPayload(
                "targetArtifact is required".into(),
            ))
        }
    };
    let text = |name: &str| -> Result<String, EnvelopeError> {
        match target.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(EnvelopeError::InvalidPayload(format!(
                "targetArtifact.{name} is required and must be a non-empty string"
            ))),
        }
    };
    let media_type = text("mediaType")?;
    let digest = text("digest")?;
    let size = target.get("size").and_then(Value::as_u64).ok_or_else(|| {
        EnvelopeError::InvalidPayload(
            "targetArtifact.size is required and must be a non-negative integer".into(),
        )
    })?;
    let annotations = match target.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(a)) => a
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(EnvelopeError::InvalidPayload(format!(
                    "targetArtifact.annotations[{k:?}] must be a string"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(EnvelopeError::InvalidPayload(
                "targetArtifact.annotations must be a string-to-string map".into(),
            ))
        }
    };
    let artifact_type = match target.get("artifactType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(EnvelopeError::InvalidPayload(
                "targetArtifact.artifactType must be a string".into(),
            ))
        }
    };
    Ok(Descriptor {
        media_type,
        size,
        digest,
        annotations,
        platform: None,
        artifact_type,
    })
}

// ---- duplicate-refusing JSON ----

/// Parse JSON into a `Value`, failing on a repeated member name in any object (serde_json
/// itself keeps the last one silently; Go keeps the last one too, other parsers the first).
fn parse_strict_json(bytes: &[u8], location: &'static str) -> Result<Value, EnvelopeError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => match duplicate.into_inner() {
            Some(name) => Err(EnvelopeError::DuplicateMember { location, name }),
            None => Err(EnvelopeError::InvalidJson {
                location,
                reason: e.to_string(),
            }),
        },
    }
}

#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                let message = format!("duplicate member {name:?}");
                *self.duplicate.borrow_mut() = Some(name);
                return Err(de::Error::custom(message));
            }
            let value = map.next_value_seed(self)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

// ---- RFC 3339 ----

/// Whole seconds since the Unix epoch (truncating), or an error before 1970.
fn unix_seconds(t: SystemTime, what: &'static str) -> Result<i64, EnvelopeError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| EnvelopeError::TimeOutOfRange(what))?
        .as_secs();
    i64::try_from(secs).map_err(|_| EnvelopeError::TimeOutOfRange(what))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for non-negative Unix seconds up to year 9999.
fn format_rfc3339(secs: i64, what: &'static str) -> Result<String, EnvelopeError> {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(1970..=9999).contains(&y) {
        return Err(EnvelopeError::TimeOutOfRange(what));
    }
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Parse an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `T`/`Z` may be
/// lower case. Seconds must be 00–59 (Go's parser refuses leap seconds too).
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        let start = i + 1;
        let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        if end == start {
            return None;
        }
        for (k, d) in b[start..end].iter().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - k as u32);
        }
        i = end;
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_round_trips_and_reads_offsets() {
        // From notation-core-go's conformance vector and notation-go's envelopes.
        assert_eq!(
            parse_rfc3339("2022-08-29T13:50:00Z"),
            Some(at(1_661_781_000))
        );
        assert_eq!(
            format_rfc3339(1_661_781_000, "t").unwrap(),
            "2022-08-29T13:50:00Z"
        );
        assert_eq!(
            parse_rfc3339("2023-01-19T00:21:36-08:00"),
            parse_rfc3339("2023-01-19T08:21:36Z")
        );
        assert_eq!(
            parse_rfc3339("2024-06-18T15:21:38+08:00"),
            parse_rfc3339("2024-06-18T07:21:38Z")
        );
        assert_eq!(
            parse_rfc3339("2020-11-09T07:00:00.5Z"),
            Some(at(1_604_905_200) + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_rfc3339("2000-02-29t12:00:00z"), Some(at(951_825_600)));
        for secs in [
            0,
            951_825_600,
            1_661_781_000,
            4_092_599_400,
            253_402_300_799,
        ] {
            let text = format_rfc3339(secs, "t").unwrap();
            assert_eq!(parse_rfc3339(&text), Some(at(secs as u64)), "{text}");
        }
        assert!(format_rfc3339(253_402_300_800, "t").is_err()); // year 10000
    }

    #[test]
    fn rfc3339_refuses_malformed_times() {
        for bad in [
            "",
            "2022-08-29",
            "2022-08-29 13:50:00Z",
            "2022-08-29T13:50:00",
            "2022-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2022-08-29T24:00:00Z",
            "2022-08-29T13:60:00Z",
            "2022-08-29T13:50:60Z",
            "2022-08-29T13:50:00.Z",
            "2022-08-29T13:50:00+0800",
            "2022-08-29T13:50:00+24:00",
            "2022-08-29T13:50:00Zjunk",
            "+022-08-29T13:50:00Z",
            "2022-08-29T13:50:00ü",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strict_json_refuses_duplicates_at_any_depth() {
        assert!(parse_strict_json(br#"{"a":{"b":[{"c":1}]}}"#, "x").is_ok());
        for (input, name) in [
            (&br#"{"a":1,"a":2}"#[..], "a"),
            (br#"{"a":{"b":1,"b":1}}"#, "b"),
            (br#"[{"c":1,"c":1}]"#, "c"),
            (br#"{"ab":1,"a\u0062":2}"#, "ab"),
        ] {
            match parse_strict_json(input, "x") {
                Err(EnvelopeError::DuplicateMember { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse_strict_json(b"{} trailing", "x"),
            Err(EnvelopeError::InvalidJson { .. })
        ));
    }

    #[test]
    fn modulus_bit_lengths() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
        assert_eq!(modulus_bits(&[0; 3]), 0);
        let mut m = vec![0u8; 385];
        m[1] = 0xc1;
        assert_eq!(modulus_bits(&m), 3072);
    }

    #[test]
    fn signature_manifest_shapes_are_recognised() {
        let mut m = ImageManifest {
            schema_version: 2,
            artifact_type: Some(ARTIFACT_TYPE.into()),
            config: Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_BLOB),
            ..ImageManifest::default()
        };
        assert!(is_notation_signature_manifest(&m));
        m.artifact_type = None;
        assert!(!is_notation_signature_manifest(&m));
        m.config.media_type = ARTIFACT_TYPE.into();
        assert!(is_notation_signature_manifest(&m));
        m.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
        assert!(!is_notation_signature_manifest(&m));
        assert!(matches!(
            envelope_layer(&m),
            Err(EnvelopeError::LayerCount(0))
        ));
        m.layers = vec![Descriptor::of(COSE_ENVELOPE_MEDIA_TYPE, b"x")];
        assert!(matches!(
            envelope_layer(&m),
            Err(EnvelopeError::UnsupportedEnvelopeMediaType(_))
        ));
    }
}
