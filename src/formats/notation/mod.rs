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

mod envelope;
pub mod inspect;
mod rfc3339;
mod signature_manifest;
mod strict_json;

pub use envelope::*;
use rfc3339::*;
pub use signature_manifest::*;
use strict_json::*;

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
pub(crate) const SIGNING_SCHEME_X509: &str = "notary.x509";
/// Signing scheme `notary.x509.signingAuthority`: the signing time is authenticated.
pub(crate) const SIGNING_SCHEME_X509_SIGNING_AUTHORITY: &str = "notary.x509.signingAuthority";
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
pub(crate) const HEADER_VERIFICATION_PLUGIN_MIN_VERSION: &str =
    "io.cncf.notary.verificationPluginMinVersion";
/// Unprotected header: the software that produced the signature.
pub(crate) const HEADER_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// Unprotected header: RFC 3161 timestamp countersignature (base64).
pub(crate) const HEADER_TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{Descriptor, ImageManifest, EMPTY_BLOB, EMPTY_MEDIA_TYPE};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_wrappers_name_what_is_out_of_range() {
        // Parsing and formatting are util::time's (tested there); notation adds the error
        // that names the header or annotation.
        assert_eq!(
            format_rfc3339(1_661_781_000, "t").unwrap(),
            "2022-08-29T13:50:00Z"
        );
        assert_eq!(
            parse_rfc3339("2022-08-29T13:50:00Z"),
            Some(at(1_661_781_000))
        );
        assert!(matches!(
            format_rfc3339(253_402_300_800, "t"), // year 10000
            Err(EnvelopeError::TimeOutOfRange("t"))
        ));
        assert!(matches!(
            rfc3339::unix_seconds(UNIX_EPOCH - Duration::from_secs(1), "x"),
            Err(EnvelopeError::TimeOutOfRange("x"))
        ));
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
