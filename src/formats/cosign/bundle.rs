//! Sigstore bundles, the format cosign v3 signs in by default and attaches as an OCI 1.1
//! referrer (`artifactType` [`crate::formats::cosign::BUNDLE_ARTIFACT_TYPE`], one layer holding
//! the bundle JSON).
//!
//! A bundle (protobuf-specs `sigstore_bundle.proto`, JSON encoding) carries:
//!
//! * `verificationMaterial`: a `publicKey.hint` (key-signed), or the signing `certificate`
//!   (v0.3) or an `x509CertificateChain` (v0.1/v0.2), plus `tlogEntries` and
//!   `timestampVerificationData.rfc3161Timestamps`;
//! * the content, exactly one of `dsseEnvelope` (DSSE: the signature is over
//!   `PAE(payloadType, payload)`) or `messageSignature` (the signature is over the artifact,
//!   whose digest `messageDigest` names).
//!
//! For an image signature, cosign v3 writes a DSSE envelope of type
//! `application/vnd.in-toto+json` whose in-toto statement names the image digest as its
//! subject and has predicate type [`COSIGN_SIGN_PREDICATE_TYPE`]; `-a key=value` annotations go
//! on the subject. Signatures are ECDSA ASN.1 DER (as cosign and sigstore-go verify them).
//!
//! This module parses bundles and checks signatures; it keeps the transparency-log entries and
//! RFC 3161 timestamps for `crate::verify` to check against a Sigstore trusted root (with
//! `crate::trust::tlog` and `crate::pki::tsp`).

use crate::crypto::keys::{PublicKey, SigningKey};
use crate::pki::Certificate;
use crate::Digest;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media type of a v0.3 bundle (also cosign's referrer `artifactType` and layer media type).
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Media types of the bundle versions this module reads.
pub(crate) const MEDIA_TYPES: [&str; 4] = [
    MEDIA_TYPE_V03,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];
/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The predicate type of cosign v3 image signatures (`cosign sign`); other predicate types
/// are attestations (`cosign attest`).
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// in-toto statement `_type` v1.
pub(crate) const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// in-toto statement `_type` v0.1 (still written for older attestations).
pub(crate) const IN_TOTO_STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Largest bundle read (bytes).
pub const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;
/// Most DSSE signatures in one envelope.
pub const MAX_SIGNATURES: usize = 16;
/// Most certificates in a bundle's chain.
pub(crate) const MAX_CERTIFICATES: usize = 10;
/// Most subjects in a statement.
pub(crate) const MAX_SUBJECTS: usize = 1024;
/// Most transparency-log entries in a bundle.
pub(crate) const MAX_TLOG_ENTRIES: usize = 16;
/// Most RFC 3161 timestamps in a bundle.
pub(crate) const MAX_TIMESTAMPS: usize = 16;

/// Why a bundle (or its statement) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle is larger than [`MAX_BUNDLE_BYTES`].
    #[error("sigstore bundle: {size} bytes, over the {cap}-byte cap")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Not JSON of the bundle's shape.
    #[error("sigstore bundle: invalid JSON: {0}")]
    Json(String),
    /// A `mediaType` this module does not read.
    #[error("sigstore bundle: unsupported media type {0:?}")]
    MediaType(String),
    /// A required field is missing or empty.
    #[error("sigstore bundle: {0} is missing")]
    Missing(&'static str),
    /// Both or neither of `dsseEnvelope` and `messageSignature`.
    #[error("sigstore bundle: it must hold exactly one of dsseEnvelope and messageSignature")]
    Content,
    /// A field is not valid base64.
    #[error("sigstore bundle: {0} is not valid base64")]
    Base64(&'static str),
    /// Over a count cap.
    #[error("sigstore bundle: more than {cap} {what}")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The cap.
        cap: usize,
    },
    /// A certificate does not parse.
    #[error("sigstore bundle: certificate {index}: {reason}")]
    Certificate {
        /// Its position (0: the signing certificate).
        index: usize,
        /// Why.
        reason: String,
    },
    /// The DSSE payload is not an in-toto statement imgseal reads.
    #[error("in-toto statement: {0}")]
    Statement(String),
    /// The envelope holds no signature.
    #[error("no signatures")]
    NoSignatures,
    /// The certificate's key is of a kind bundles are not verified with.
    #[error("certificate key {0} is not supported")]
    UnsupportedKey(String),
    /// The signature does not verify with the certificate's key.
    #[error("signature does not verify with the bundle's certificate ({subject})")]
    BadSignature {
        /// The certificate's subject.
        subject: String,
    },
}

/// A parsed Sigstore bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// Its `mediaType`.
    pub media_type: String,
    /// Keys, certificates, log entries and timestamps.
    pub verification_material: VerificationMaterial,
    /// The signed content.
    pub content: Content,
}

/// `verificationMaterial`.
#[derive(Clone, Debug, Default)]
pub struct VerificationMaterial {
    /// `publicKey.hint` for key-signed bundles (unauthenticated: never used for decisions).
    pub public_key_hint: Option<String>,
    /// The signing certificate then its issuers (`certificate`, or `x509CertificateChain`).
    pub certificates: Vec<Certificate>,
    /// How many transparency-log entries the bundle carries (not verified).
    pub tlog_entries: usize,
    /// How many RFC 3161 timestamps the bundle carries (not verified).
    pub rfc3161_timestamps: usize,
    /// True when the certificates came from `x509CertificateChain` (v0.1/v0.2), false for a
    /// single `certificate` (v0.3) or none.
    pub from_chain: bool,
    /// The `tlogEntries`, as protobuf JSON (read by `crate::trust::tlog::TlogEntry`).
    pub tlog_entry_values: Vec<serde_json::Value>,
    /// The `rfc3161Timestamps[].signedTimestamp` values, decoded (DER `TimeStampResp`).
    pub signed_timestamps: Vec<Vec<u8>>,
}

/// The signed content of a bundle.
#[derive(Clone, Debug)]
pub enum Content {
    /// A DSSE envelope.
    Dsse(DsseEnvelope),
    /// A signature over an artifact.
    MessageSignature(MessageSignature),
}

/// A DSSE envelope (decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseEnvelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The payload bytes (the serialized body).
    pub payload: Vec<u8>,
    /// Its signatures.
    pub signatures: Vec<DsseSignature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseSignature {
    /// Signature bytes (ECDSA: ASN.1 DER).
    pub sig: Vec<u8>,
    /// `keyid` hint (may be empty; unauthenticated).
    pub keyid: String,
}

/// `messageSignature`: a signature over an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSignature {
    /// `messageDigest`: the hash algorithm (`SHA2_256`…) and the artifact's digest.
    pub message_digest: Option<(String, Vec<u8>)>,
    /// The signature over the artifact's bytes.
    pub signature: Vec<u8>,
}

/// An in-toto statement (v1 or v0.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `_type`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// What the statement is about.
    #[serde(default)]
    pub subject: Vec<Subject>,
    /// `predicateType`.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// `predicate` (absent in older cosign v3 signatures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// One statement subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// `name` (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm → lowercase hex digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// Annotations (cosign puts `-a key=value` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    #[serde(default)]
    media_type: String,
    verification_material: Option<RawMaterial>,
    dsse_envelope: Option<RawDsse>,
    message_signature: Option<RawMessageSignature>,
}

#[derive(Deserialize)]
struct RawMaterial {
    #[serde(rename = "publicKey")]
    public_key: Option<RawHint>,
    certificate: Option<RawCertificate>,
    #[serde(rename = "x509CertificateChain")]
    chain: Option<RawChain>,
    #[serde(rename = "tlogEntries", default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(rename = "timestampVerificationData")]
    timestamps: Option<RawTimestamps>,
}

#[derive(Deserialize)]
struct RawHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
struct RawCertificate {
    #[serde(rename = "rawBytes", default)]
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCertificate>,
}

#[derive(Deserialize)]
struct RawTimestamps {
    #[serde(rename = "rfc3161Timestamps", default)]
    rfc3161: Vec<RawSignedTimestamp>,
}

#[derive(Deserialize)]
struct RawSignedTimestamp {
    #[serde(rename = "signedTimestamp", default)]
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDsse {
    #[serde(default)]
    payload: String,
    #[serde(default)]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    sig: String,
    #[serde(default)]
    keyid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawMessageDigest>,
    #[serde(default)]
    signature: String,
}

#[derive(Deserialize)]
struct RawMessageDigest {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    digest: String,
}

/// DSSE's Pre-Authentication Encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(payload.len() + t.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Decode standard or URL-safe base64, padded or not (DSSE and protobuf JSON accept both).
fn b64(s: &str, field: &'static str) -> Result<Vec<u8>, BundleError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(&s)
        .or_else(|_| STANDARD_NO_PAD.decode(&s))
        .or_else(|_| URL_SAFE.decode(&s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(&s))
        .map_err(|_| BundleError::Base64(field))
}

/// `publicKey.hint` as sigstore-go writes it for a key: base64 of SHA-256 of its PKIX DER.
pub(crate) fn public_key_hint(key: &PublicKey) -> String {
    let der = pem::parse(key.to_pem())
        .map(|p| p.contents().to_vec())
        .unwrap_or_default();
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&der))
}

impl Bundle {
    /// Parse bundle JSON (at most [`MAX_BUNDLE_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                size: bytes.len() as u64,
                cap: MAX_BUNDLE_BYTES,
            });
        }
        let raw: RawBundle =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        if !MEDIA_TYPES.contains(&raw.media_type.as_str()) {
            return Err(BundleError::MediaType(raw.media_type));
        }
        let vm = raw
            .verification_material
            .ok_or(BundleError::Missing("verificationMaterial"))?;
        if vm.tlog_entries.len() > MAX_TLOG_ENTRIES {
            return Err(BundleError::TooMany {
                what: "transparency log entries",
                cap: MAX_TLOG_ENTRIES,
            });
        }
        let timestamps = vm.timestamps.map(|t| t.rfc3161).unwrap_or_default();
        if timestamps.len() > MAX_TIMESTAMPS {
            return Err(BundleError::TooMany {
                what: "RFC 3161 timestamps",
                cap: MAX_TIMESTAMPS,
            });
        }
        let mut material = VerificationMaterial {
            public_key_hint: vm.public_key.map(|h| h.hint),
            tlog_entries: vm.tlog_entries.len(),
            rfc3161_timestamps: timestamps.len(),
            from_chain: vm.certificate.is_none() && vm.chain.is_some(),
            signed_timestamps: timestamps
                .iter()
                .map(|t| b64(&t.signed_timestamp, "rfc3161Timestamps signedTimestamp"))
                .collect::<Result<_, _>>()?,
            tlog_entry_values: vm.tlog_entries,
            ..VerificationMaterial::default()
        };
        let raw_certs: Vec<RawCertificate> = match (vm.certificate, vm.chain) {
            (Some(c), _) => vec![c],
            (None, Some(chain)) => chain.certificates,
            (None, None) => Vec::new(),
        };
        if raw_certs.len() > MAX_CERTIFICATES {
            return Err(BundleError::TooMany {
                what: "certificates",
                cap: MAX_CERTIFICATES,
            });
        }
        for (index, c) in raw_certs.iter().enumerate() {
            let der = b64(&c.raw_bytes, "certificate rawBytes")?;
            let cert = Certificate::from_der(&der).map_err(|e| BundleError::Certificate {
                index,
                reason: e.to_string(),
            })?;
            material.certificates.push(cert);
        }
        if material.public_key_hint.is_none() && material.certificates.is_empty() {
            return Err(BundleError::Missing(
                "verificationMaterial publicKey, certificate or x509CertificateChain",
            ));
        }
        let content = match (raw.dsse_envelope, raw.message_signature) {
            (Some(d), None) => {
                if d.payload_type.is_empty() {
                    return Err(BundleError::Missing("dsseEnvelope payloadType"));
                }
                if d.signatures.is_empty() {
                    return Err(BundleError::Missing("dsseEnvelope signatures"));
                }
                if d.signatures.len() > MAX_SIGNATURES {
                    return Err(BundleError::TooMany {
                        what: "DSSE signatures",
                        cap: MAX_SIGNATURES,
                    });
                }
                let mut signatures = Vec::new();
                for s in &d.signatures {
                    signatures.push(DsseSignature {
                        sig: b64(&s.sig, "dsseEnvelope signature")?,
                        keyid: s.keyid.clone(),
                    });
                }
                Content::Dsse(DsseEnvelope {
                    payload_type: d.payload_type,
                    payload: b64(&d.payload, "dsseEnvelope payload")?,
                    signatures,
                })
            }
            (None, Some(m)) => {
                if m.signature.is_empty() {
                    return Err(BundleError::Missing("messageSignature signature"));
                }
                let message_digest = match m.message_digest {
                    Some(d) => Some((d.algorithm, b64(&d.digest, "messageDigest digest")?)),
                    None => None,
                };
                Content::MessageSignature(MessageSignature {
                    message_digest,
                    signature: b64(&m.signature, "messageSignature signature")?,
                })
            }
            _ => return Err(BundleError::Content),
        };
        Ok(Bundle {
            media_type: raw.media_type,
            verification_material: material,
            content,
        })
    }

    /// A v0.3 bundle of `envelope` signed by a key (`publicKey.hint`), as cosign v3
    /// `sign --key` writes it (without transparency-log entries).
    pub fn with_public_key(envelope: &DsseEnvelope, key: &PublicKey) -> Bundle {
        Bundle {
            media_type: MEDIA_TYPE_V03.to_string(),
            verification_material: VerificationMaterial {
                public_key_hint: Some(public_key_hint(key)),
                ..VerificationMaterial::default()
            },
            content: Content::Dsse(envelope.clone()),
        }
    }

    /// The bundle as JSON (protobuf-specs JSON field names, standard base64).
    pub fn to_bytes(&self) -> Vec<u8> {
        use base64::engine::general_purpose::STANDARD;
        let vm = &self.verification_material;
        let mut material = serde_json::Map::new();
        if let Some(h) = &vm.public_key_hint {
            material.insert("publicKey".into(), serde_json::json!({ "hint": h }));
        }
        if let Some(leaf) = vm.certificates.first() {
            material.insert(
                "certificate".into(),
                serde_json::json!({ "rawBytes": STANDARD.encode(leaf.der()) }),
            );
        }
        material.insert("tlogEntries".into(), serde_json::json!([]));
        let mut out = serde_json::Map::new();
        out.insert("mediaType".into(), self.media_type.clone().into());
        out.insert("verificationMaterial".into(), material.into());
        match &self.content {
            Content::Dsse(e) => {
                out.insert(
                    "dsseEnvelope".into(),
                    serde_json::json!({
                        "payload": STANDARD.encode(&e.payload),
                        "payloadType": e.payload_type,
                        "signatures": e.signatures.iter().map(|s| {
                            let mut m = serde_json::Map::new();
                            m.insert("sig".into(), STANDARD.encode(&s.sig).into());
                            if !s.keyid.is_empty() {
                                m.insert("keyid".into(), s.keyid.clone().into());
                            }
                            serde_json::Value::Object(m)
                        }).collect::<Vec<_>>(),
                    }),
                );
            }
            Content::MessageSignature(m) => {
                let mut v = serde_json::Map::new();
                if let Some((alg, d)) = &m.message_digest {
                    v.insert(
                        "messageDigest".into(),
                        serde_json::json!({ "algorithm": alg, "digest": STANDARD.encode(d) }),
                    );
                }
                v.insert("signature".into(), STANDARD.encode(&m.signature).into());
                out.insert("messageSignature".into(), v.into());
            }
        }
        serde_json::to_vec(&serde_json::Value::Object(out)).unwrap_or_default()
    }

    /// The signing certificate and the rest of the chain, when the bundle has certificates.
    pub fn certificate_chain(&self) -> Option<(&Certificate, &[Certificate])> {
        self.verification_material.certificates.split_first()
    }

    /// The bundle format's minor version from its media type (`0.1` → 1, `v0.3` → 3).
    pub(crate) fn minor_version(&self) -> u8 {
        if self.media_type.ends_with("version=0.1") {
            1
        } else if self.media_type.ends_with("version=0.2") {
            2
        } else {
            3
        }
    }

    /// The bytes RFC 3161 timestamps of this bundle cover: the message signature, or the
    /// first DSSE signature.
    pub fn signature_bytes(&self) -> &[u8] {
        match &self.content {
            Content::MessageSignature(m) => &m.signature,
            Content::Dsse(e) => e
                .signatures
                .first()
                .map(|s| s.sig.as_slice())
                .unwrap_or(&[]),
        }
    }
}

impl DsseEnvelope {
    /// Sign `payload` of `payload_type` with `key` (ECDSA P-256, DER).
    pub fn sign(key: &SigningKey, payload_type: &str, payload: &[u8]) -> DsseEnvelope {
        DsseEnvelope {
            payload_type: payload_type.to_string(),
            payload: payload.to_vec(),
            signatures: vec![DsseSignature {
                sig: key.sign(&pae(payload_type, payload)),
                keyid: String::new(),
            }],
        }
    }

    /// The bytes every signature is over.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// True when one of the signatures verifies with `key` (ECDSA P-256 DER over SHA-256 of
    /// the PAE).
    pub fn verify_with(&self, key: &PublicKey) -> bool {
        let pae = self.pae();
        self.signatures.iter().any(|s| key.verify(&pae, &s.sig))
    }

    /// Check that one of the signatures verifies with `cert`'s key (signature only: the
    /// certificate itself is not judged here).
    pub fn verify_with_certificate(&self, cert: &Certificate) -> Result<(), BundleError> {
        let pae = self.pae();
        let mut last = BundleError::NoSignatures;
        for s in &self.signatures {
            match verify_with_certificate_key(cert, &pae, &s.sig) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The payload as an in-toto statement (payload type `application/vnd.in-toto+json`).
    pub fn statement(&self) -> Result<Statement, BundleError> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(BundleError::Statement(format!(
                "DSSE payload type is {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}",
                self.payload_type
            )));
        }
        Statement::from_bytes(&self.payload)
    }
}

/// Verify `signature` over `message` with the key of `cert` (ECDSA P-256/SHA-256 or
/// P-384/SHA-384, DER; RSA PKCS#1 v1.5 SHA-256).
pub(crate) fn verify_with_certificate_key(
    cert: &Certificate,
    message: &[u8],
    signature: &[u8],
) -> Result<(), BundleError> {
    let key = cert.key_algorithm();
    let alg = crate::crypto::algorithms::key_default_verifier(key)
        .ok_or_else(|| BundleError::UnsupportedKey(key.to_string()))?;
    ring::signature::UnparsedPublicKey::new(alg, cert.public_key_raw())
        .verify(message, signature)
        .map_err(|_| BundleError::BadSignature {
            subject: cert.subject().to_string(),
        })
}

/// `sha256` for `sha256:…`.
fn algorithm_name(digest: &Digest) -> String {
    let s = digest.to_string();
    s.split_once(':').map(|(a, _)| a.to_string()).unwrap_or(s)
}

impl Statement {
    /// Parse a statement (v1 or v0.1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Statement, BundleError> {
        let st: Statement =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Statement(e.to_string()))?;
        if st.kind != IN_TOTO_STATEMENT_V1 && st.kind != IN_TOTO_STATEMENT_V01 {
            return Err(BundleError::Statement(format!(
                "unsupported _type {:?}",
                st.kind
            )));
        }
        if st.subject.len() > MAX_SUBJECTS {
            return Err(BundleError::Statement(format!(
                "more than {MAX_SUBJECTS} subjects"
            )));
        }
        Ok(st)
    }

    /// The statement cosign v3 signs for image `digest` with `annotations` (on the subject).
    pub fn cosign_signature(digest: &Digest, annotations: &BTreeMap<String, String>) -> Statement {
        Statement {
            kind: IN_TOTO_STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: None,
                digest: BTreeMap::from([(algorithm_name(digest), digest.hex().to_string())]),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect(),
                ),
            }],
            predicate_type: COSIGN_SIGN_PREDICATE_TYPE.to_string(),
            predicate: None,
        }
    }

    /// Compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The subject naming `digest` (same algorithm, hex compared case-insensitively).
    pub fn subject_for(&self, digest: &Digest) -> Option<&Subject> {
        self.subject.iter().find(|s| {
            s.digest
                .get(&algorithm_name(digest))
                .is_some_and(|h| h.eq_ignore_ascii_case(digest.hex()))
        })
    }

    /// True for a cosign image signature (not an attestation).
    pub fn is_cosign_signature(&self) -> bool {
        self.predicate_type == COSIGN_SIGN_PREDICATE_TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        // DSSE protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        // Byte lengths, not characters; an empty body keeps its trailing space.
        assert_eq!(pae("é", b""), "DSSEv1 2 é 0 ".as_bytes().to_vec());
    }

    #[test]
    fn dsse_spec_signature_verifies_over_pae() {
        // The spec's key (X, Y in decimal there) and raw r||s signature over the PAE above.
        use p256::ecdsa::signature::Verifier as _;
        let point = spec_point();
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        let sig = b64(
            "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==",
            "sig",
        )
        .unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        let msg = pae("http://example.com/HelloWorld", b"hello world");
        assert!(key.verify(&msg, &sig).is_ok());
        let mut bad = msg.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(key.verify(&bad, &sig).is_err());
    }

    fn spec_point() -> Vec<u8> {
        let mut p = vec![4u8];
        p.extend(hex::decode(SPEC_X).unwrap());
        p.extend(hex::decode(SPEC_Y).unwrap());
        p
    }

    const SPEC_X: &str = "67cd390f77aa359cb08c2235f652270493a9ed832b0abcc01f70954c0390d238";
    const SPEC_Y: &str = "0c782bd54e269125a44f4433aff1432ce94e12bca73aa67ac80cea12608ddf74";

    #[test]
    fn key_signed_bundle_round_trips() {
        let key = SigningKey::generate().unwrap();
        let d = Digest::sha256(b"image");
        let st = Statement::cosign_signature(&d, &BTreeMap::new());
        let env = DsseEnvelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, &st.to_bytes());
        let b = Bundle::with_public_key(&env, &key.public_key());
        let parsed = Bundle::from_bytes(&b.to_bytes()).unwrap();
        let Content::Dsse(e) = &parsed.content else {
            panic!("not DSSE")
        };
        assert!(e.verify_with(&key.public_key()));
        assert!(!e.verify_with(&SigningKey::generate().unwrap().public_key()));
        let st2 = e.statement().unwrap();
        assert!(st2.is_cosign_signature());
        assert!(st2.subject_for(&d).is_some());
        assert!(st2.subject_for(&Digest::sha256(b"other")).is_none());
    }

    #[test]
    fn malformed_bundles_are_refused() {
        for (json, want) in [
            (&b"{"[..], "invalid JSON"),
            (br#"{"mediaType":"x"}"#, "unsupported media type"),
            (
                br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
                "verificationMaterial is missing",
            ),
            (
                br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"h"}}}"#,
                "exactly one",
            ),
            (
                br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"h"}},"dsseEnvelope":{"payload":"!!","payloadType":"t","signatures":[{"sig":"AA=="}]}}"#,
                "not valid base64",
            ),
        ] {
            let e = Bundle::from_bytes(json).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains('\n'));
        }
        let big = vec![b' '; MAX_BUNDLE_BYTES as usize + 1];
        assert!(matches!(
            Bundle::from_bytes(&big),
            Err(BundleError::TooLarge { .. })
        ));
    }
}
