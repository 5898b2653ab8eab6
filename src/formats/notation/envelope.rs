//! The JWS envelope: parsing and its header rules, the signing certificate's key, the
//! payload, signing, and integrity verification.

use super::*;
use crate::oci::Descriptor;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};
use x509_parser::asn1_rs::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::prelude::{FromDer, X509Certificate};

pub(super) const TOP_LEVEL_MEMBERS: [&str; 4] = ["payload", "protected", "header", "signature"];
/// Header names registered by RFC 7515 §4.1; `crit` must not list them (RFC 7515 §4.1.11).
pub(super) const REGISTERED_HEADERS: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];
/// Protected header members with a meaning in the Notary Project spec (not extended attributes).
pub(super) const STANDARD_HEADERS: [&str; 7] = [
    "alg",
    "cty",
    "crit",
    HEADER_SIGNING_SCHEME,
    HEADER_SIGNING_TIME,
    HEADER_AUTHENTIC_SIGNING_TIME,
    HEADER_EXPIRY,
];

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
    pub(crate) fn from_wire(s: &str) -> Option<SigningScheme> {
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
    pub(crate) fn from_jws(alg: &str) -> Option<Algorithm> {
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
    pub(super) signing_input: Vec<u8>,
    pub(super) protected: Map<String, Value>,
    pub(super) payload: Vec<u8>,
    pub(super) signature: Vec<u8>,
    pub(super) certificate_chain: Vec<Vec<u8>>,
    pub(super) signing_agent: Option<String>,
    pub(super) timestamp_signature: Option<Vec<u8>>,
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
/// [`ENVELOPE_MEDIA_TYPE`] (see `signature_manifest`).
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

// ---- writing ----

#[derive(Serialize)]
pub(super) struct ProtectedHeaderOut {
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
pub(super) struct PayloadOut<'a> {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifactOut<'a>,
}

#[derive(Serialize)]
pub(super) struct TargetArtifactOut<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    digest: &'a str,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
}

#[derive(Serialize)]
pub(super) struct EnvelopeOut<'a> {
    payload: String,
    protected: String,
    header: UnprotectedOut<'a>,
    signature: String,
}

#[derive(Serialize)]
pub(super) struct UnprotectedOut<'a> {
    x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        skip_serializing_if = "Option::is_none"
    )]
    signing_agent: Option<&'a str>,
}

pub(super) fn encode_json<T: Serialize>(
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, EnvelopeError> {
    serde_json::to_vec(value).map_err(|e| EnvelopeError::Encode {
        what,
        reason: e.to_string(),
    })
}

pub(super) fn check_target(target: &Descriptor) -> Result<(), EnvelopeError> {
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

pub(super) fn header_str<'a>(
    h: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, EnvelopeError> {
    match h.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(EnvelopeError::HeaderType {
            header: name.to_string(),
            expected: "a string",
        }),
    }
}

pub(super) fn header_time(
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

pub(super) fn check_alg(alg: &str) -> Result<Algorithm, EnvelopeError> {
    if alg == "none" {
        return Err(EnvelopeError::AlgNone);
    }
    if alg.starts_with("HS") {
        return Err(EnvelopeError::SymmetricAlgorithm(alg.to_string()));
    }
    Algorithm::from_jws(alg).ok_or_else(|| EnvelopeError::UnsupportedAlgorithm(alg.to_string()))
}

/// Check `crit` and return the names it lists.
pub(super) fn check_crit(
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

pub(super) struct LeafKey {
    /// The algorithm the key calls for (spec "Algorithm Selection" table).
    algorithm: Algorithm,
    /// E.g. `RSA-3072`, `EC P-256`.
    description: String,
    /// What ring verifies with: PKCS#1 RSAPublicKey for RSA, the SEC1 point for EC.
    public_key: Vec<u8>,
}

/// Parse one DER certificate (nothing may follow it); `index` is its `x5c` position.
pub(super) fn parse_certificate(
    der: &[u8],
    index: usize,
) -> Result<X509Certificate<'_>, EnvelopeError> {
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
pub(super) fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    8 * (trimmed.len() - 1) + (8 - trimmed[0].leading_zeros() as usize)
}

pub(super) fn verify_signature(
    alg: Algorithm,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), EnvelopeError> {
    // The one algorithm table decides; of notation's algorithms only ES512 has no verifier.
    let algorithm = crate::crypto::algorithms::jws_verifier(alg.as_str()).map_err(|_| {
        EnvelopeError::VerificationUnsupported {
            alg: alg.as_str(),
            reason: "ring has no ECDSA P-521 verifier",
        }
    })?;
    ring::signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(message, signature)
        .map_err(|_| EnvelopeError::SignatureInvalid)
}

// ---- reading: payload ----

pub(super) fn parse_payload(bytes: &[u8]) -> Result<Descriptor, EnvelopeError> {
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
