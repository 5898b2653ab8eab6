//! The transparency-log and timestamp evidence of cosign's legacy `.sig` layers, checked
//! offline against a Sigstore trusted root.
//!
//! A layer signed by `cosign sign` (v1/v2) with Rekor carries, beside its signature:
//!
//! - `dev.sigstore.cosign/bundle`: the Rekor v1 "bundle" — JSON
//!   `{"SignedEntryTimestamp": base64, "Payload": {"body": base64, "integratedTime": int,
//!   "logIndex": int, "logID": hex}}`. The SET is the log's signature over the canonical JSON of
//!   `Payload` ([`crate::trust::tlog::verify_inclusion_promise`]), made with the key of the log
//!   `logID` names, which must be valid at `integratedTime`. The entry body (hashedrekord or
//!   rekord) must record *this* layer: the SHA-256 of its payload, its signature and its
//!   certificate or key (GHSA-whqx-f9j3-ch6m: a valid entry for another artifact proves nothing).
//! - `dev.sigstore.cosign/rfc3161timestamp` (optional): JSON `{"SignedRFC3161Timestamp":
//!   base64 DER}`, an RFC 3161 token over the raw signature bytes, verified against the
//!   trusted root's timestamp authorities valid at its `genTime`.
//! - keyless only: `dev.sigstore.cosign/certificate` (the Fulcio leaf) and
//!   `dev.sigstore.cosign/chain` (its issuers), checked at the integrated time (or the
//!   timestamp) rather than now: Fulcio certificates live ten minutes.
//!
//! What each check used is returned as evidence ([`TlogEvidence`], [`TimestampEvidence`],
//! [`CertificateEvidence`]) for the verification output.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use sha2::Digest as _;

use crate::formats::cosign;
use crate::formats::cosign::bundle::DsseEnvelope;
use crate::oci::Descriptor;
use crate::pki::{load_pem_certificates, Certificate};
use crate::trust::keyless::{
    match_identities, CertificateIdentity, CtLogUsed, FulcioCertificate, FulcioChecks,
    FulcioIdentity, FulcioVerified,
};
use crate::trust::sigstore_root::{rfc3339, AuthoritySubject, TrustedRoot};
use crate::trust::tlog::{self, DigestAlgorithm, EntryBody, EntryDigest, EntryVerifier, TlogError};

/// Layer annotation holding an RFC 3161 timestamp over the signature (cosign `--timestamp-server-url`).
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Largest bundle or timestamp annotation read (bytes).
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// Why a layer's transparency-log or timestamp evidence does not count. Each message names
/// the check that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// The Rekor bundle annotation cannot be read.
    #[error("Rekor bundle annotation: {0}")]
    Bundle(String),
    /// The layer carries no Rekor bundle, and one is required.
    #[error("transparency log: the signature carries no Rekor bundle ({} annotation), and the trust requires a transparency-log entry", cosign::BUNDLE_ANNOTATION)]
    NoBundle,
    /// The SET, the log or the entry body failed.
    #[error("transparency log: {0}")]
    Tlog(#[source] TlogError),
    /// The timestamp annotation cannot be read or does not verify.
    #[error("RFC 3161 timestamp: {0}")]
    Timestamp(String),
    /// A timestamp is required and there is none.
    #[error("RFC 3161 timestamp: the signature carries none ({TIMESTAMP_ANNOTATION} annotation), and the trust requires one")]
    NoTimestamp,
    /// Neither a transparency-log entry nor a timestamp says when the certificate was used.
    #[error("signing time: the signature has neither a Rekor bundle nor an RFC 3161 timestamp, so nothing trusted says when its short-lived certificate was used")]
    NoSigningTime,
    /// The signing certificate or chain annotation cannot be read.
    #[error("certificate annotation: {0}")]
    Certificate(String),
    /// The signature does not verify with the attached certificate's key.
    #[error("signature does not verify with the attached certificate ({0})")]
    Signature(String),
    /// The Fulcio certificate does not chain to the trusted root at the signing time, its
    /// SCT does not verify, or its identity is not one of the given identities.
    #[error(transparent)]
    Fulcio(#[from] crate::trust::keyless::KeylessError),
    /// No identity was given, so no keyless signature can count.
    #[error("certificate identity: none was given, and a keyless signature counts only for the identity it must carry (there is no any-identity default)")]
    NoIdentity,
}

type Result<T> = std::result::Result<T, KeylessError>;

/// A Rekor v1 bundle as cosign's legacy `.sig` layers carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorBundle {
    /// `SignedEntryTimestamp`: the log's signature (the inclusion promise).
    pub signed_entry_timestamp: Vec<u8>,
    /// `Payload.body`: the canonicalized entry, decoded.
    pub body: Vec<u8>,
    /// `Payload.integratedTime` (Unix seconds).
    pub integrated_time: i64,
    /// `Payload.logIndex`.
    pub log_index: i64,
    /// `Payload.logID`: SHA-256 of the log's DER public key.
    pub log_id: Vec<u8>,
}

impl RekorBundle {
    /// Reads the `dev.sigstore.cosign/bundle` annotation's JSON (duplicate members refused).
    pub fn from_json(text: &str) -> Result<RekorBundle> {
        let bad = |m: String| KeylessError::Bundle(m);
        let v = annotation_json(text, "", bad)?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let signed_entry_timestamp = base64_member(&v, "SignedEntryTimestamp", bad)?;
        let p = obj
            .get("Payload")
            .and_then(|p| p.as_object())
            .ok_or_else(|| bad("Payload is missing".into()))?;
        let body = p
            .get("body")
            .and_then(|b| b.as_str())
            .ok_or_else(|| bad("Payload.body is missing or not a string".into()))?;
        let body = B64
            .decode(body)
            .map_err(|_| bad("Payload.body is not base64".into()))?;
        let int = |name: &str| {
            p.get(name)
                .and_then(|n| n.as_i64())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    bad(format!(
                        "Payload.{name} is missing or not a non-negative integer"
                    ))
                })
        };
        let integrated_time = int("integratedTime")?;
        let log_index = int("logIndex")?;
        let log_id = p
            .get("logID")
            .and_then(|l| l.as_str())
            .ok_or_else(|| bad("Payload.logID is missing".into()))?;
        let log_id = hex::decode(log_id).map_err(|_| bad("Payload.logID is not hex".into()))?;
        Ok(RekorBundle {
            signed_entry_timestamp,
            body,
            integrated_time,
            log_index,
            log_id,
        })
    }

    /// The integrated time as an instant.
    pub fn integrated_at(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.integrated_time.unsigned_abs())
    }

    /// Verifies the SET with the key of the trusted-root log `logID` names (valid at the
    /// integrated time), then that the entry body records this signature: `payload`'s
    /// SHA-256, `signature`, and `verifier` (the certificate or key that verified it).
    pub fn verify(
        &self,
        root: &TrustedRoot,
        payload: &[u8],
        signature: &[u8],
        verifier: &EntryVerifier,
    ) -> Result<TlogEvidence> {
        let digest = EntryDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: sha2::Sha256::digest(payload).to_vec(),
        };
        self.verify_body(root, |body| {
            tlog::check_message_signature_body(body, &digest, signature, verifier)
        })
    }

    /// [`RekorBundle::verify`] for a DSSE envelope (an attestation): the SET, then that the
    /// entry body (intoto v0.0.2 or dsse v0.0.1) records this envelope's payload hash and every
    /// one of its `signatures`, each with `verifier`.
    pub fn verify_dsse(
        &self,
        root: &TrustedRoot,
        payload_type: &str,
        payload: &[u8],
        signatures: &[&[u8]],
        verifier: &EntryVerifier,
    ) -> Result<TlogEvidence> {
        self.verify_body(root, |body| {
            tlog::check_dsse_body(body, payload_type, payload, signatures, verifier)
        })
    }

    /// The SET with the key of the log `logID` names (valid at the integrated time), then
    /// `check` over the decoded entry body.
    fn verify_body(
        &self,
        root: &TrustedRoot,
        check: impl FnOnce(&EntryBody) -> std::result::Result<(), TlogError>,
    ) -> Result<TlogEvidence> {
        let at = self.integrated_at();
        let log = root
            .tlog_by_log_id(&self.log_id, at)
            .map_err(|e| KeylessError::Tlog(e.into()))?;
        tlog::verify_inclusion_promise(
            log,
            &self.body,
            self.integrated_time,
            self.log_index,
            &self.signed_entry_timestamp,
        )
        .map_err(KeylessError::Tlog)?;
        let body = EntryBody::decode(&self.body).map_err(KeylessError::Tlog)?;
        check(&body).map_err(KeylessError::Tlog)?;
        Ok(TlogEvidence {
            log_id: hex::encode(&self.log_id),
            base_url: log.base_url().to_string(),
            log_index: self.log_index,
            integrated_time: rfc3339(at),
            entry_kind: format!("{} {}", body.kind, body.api_version),
        })
    }
}

/// The transparency-log entry a signature was checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEvidence {
    /// The log ID (hex SHA-256 of the log's key) of the trusted-root log whose key verified
    /// the entry.
    pub log_id: String,
    /// That log's `baseUrl` in the trusted root.
    pub base_url: String,
    /// The entry's index in the log.
    pub log_index: i64,
    /// The integrated time the log signed, RFC 3339.
    pub integrated_time: String,
    /// The entry's kind and version (`hashedrekord 0.0.1`, `rekord 0.0.1`).
    pub entry_kind: String,
}

/// The RFC 3161 timestamp a signature was checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampEvidence {
    /// The time the authority states (`genTime`), RFC 3339.
    pub time: String,
    /// Subject of the TSA certificate that signed the token.
    pub tsa_subject: String,
    /// The `uri` of the trusted-root timestamp authority it chains to.
    pub tsa_uri: String,
}

/// The signing certificate of a keyless signature: the identity it carries and the trust-root
/// entries it was checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateEvidence {
    /// The subject alternative name matched (email, URI or otherName).
    pub subject_alternative_name: String,
    /// The OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// GitHub Actions workflow fields, when the certificate has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_workflow_repository: Option<String>,
    /// GitHub workflow ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_workflow_ref: Option<String>,
    /// GitHub workflow commit SHA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_workflow_sha: Option<String>,
    /// GitHub workflow trigger (event name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_workflow_trigger: Option<String>,
    /// GitHub workflow name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_workflow_name: Option<String>,
    /// The trusted-root Fulcio authority the certificate chains to: its `uri`.
    pub fulcio_ca_uri: String,
    /// That authority's subject (organization and common name).
    pub fulcio_ca_subject: String,
    /// The CT log whose key verified the embedded SCT (hex log ID); `None` when SCTs were not
    /// required and the certificate has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ct_log_id: Option<String>,
    /// The instant the certificate was checked at (the integrated time or the timestamp), RFC 3339.
    pub checked_at: String,
}

/// An evidence annotation's JSON (duplicate members refused, at most
/// [`MAX_ANNOTATION_BYTES`]); `what` starts the messages (`bad` makes them errors).
fn annotation_json(
    text: &str,
    what: &str,
    bad: impl Fn(String) -> KeylessError,
) -> Result<serde_json::Value> {
    if text.len() > MAX_ANNOTATION_BYTES {
        return Err(bad(format!(
            "{what}{} bytes, over the {MAX_ANNOTATION_BYTES}-byte limit",
            text.len()
        )));
    }
    crate::util::json::parse_strict(text.as_bytes())
        .map_err(|e| bad(format!("{what}not JSON ({e})")))
}

/// The base64 string member `name` of `v`, decoded.
fn base64_member(
    v: &serde_json::Value,
    name: &str,
    bad: impl Fn(String) -> KeylessError,
) -> Result<Vec<u8>> {
    let text = v
        .get(name)
        .and_then(|s| s.as_str())
        .ok_or_else(|| bad(format!("{name} is missing")))?;
    B64.decode(text)
        .map_err(|_| bad(format!("{name} is not base64")))
}

/// The layer's Rekor bundle annotation, when it has one.
pub(crate) fn bundle_of(layer: &Descriptor) -> Result<Option<RekorBundle>> {
    layer
        .annotations
        .get(cosign::BUNDLE_ANNOTATION)
        .map(|t| RekorBundle::from_json(t))
        .transpose()
}

/// Verifies the layer's RFC 3161 timestamp annotation, when it has one: a token over the raw
/// `signature` bytes from a timestamp authority of `root` valid at the token's time.
pub(crate) fn verify_timestamp(
    layer: &Descriptor,
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<Option<(SystemTime, TimestampEvidence)>> {
    let Some(text) = layer.annotations.get(TIMESTAMP_ANNOTATION) else {
        return Ok(None);
    };
    let bad = |m: String| KeylessError::Timestamp(m);
    let v = annotation_json(text, "the annotation is ", bad)?;
    let der = base64_member(&v, "SignedRFC3161Timestamp", bad)?;
    let token = crate::pki::tsp::parse(&der).map_err(|e| bad(e.to_string()))?;
    let authorities = root.timestamp_authorities_at(token.gen_time());
    if authorities.is_empty() {
        return Err(bad(format!(
            "the trusted root has no timestamp authority valid at {}",
            rfc3339(token.gen_time())
        )));
    }
    let mut last = None;
    for tsa in authorities {
        match token.verify(signature, tsa.chain()) {
            Ok(v) => {
                return Ok(Some((
                    v.gen_time,
                    TimestampEvidence {
                        time: rfc3339(v.gen_time),
                        tsa_subject: v.tsa_subject,
                        tsa_uri: tsa.uri().to_string(),
                    },
                )))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(bad(last.map_or_else(
        || "no timestamp authority verifies it".to_string(),
        |e| e.to_string(),
    )))
}

/// What a trusted root requires of the signatures checked against it, and the identities a
/// keyless signature's certificate may carry.
#[derive(Clone, Debug)]
pub struct KeylessTrust {
    /// The Sigstore trusted root (Fulcio CAs, Rekor and CT log keys, TSAs).
    pub root: Arc<TrustedRoot>,
    /// Who may have signed keylessly: a certificate matching any one counts. Empty: keyless
    /// signatures are refused (only key signatures' log entries are checked).
    pub identities: Vec<CertificateIdentity>,
    /// A transparency-log entry (Rekor bundle) must be present and verify (default true).
    /// Present evidence is verified whatever this says.
    pub require_tlog: bool,
    /// A keyless certificate must carry an SCT that verifies with a CT log key (default true).
    pub require_sct: bool,
    /// An RFC 3161 timestamp must be present and verify (default false).
    pub require_timestamp: bool,
}

/// Largest `trusted_root.json` read.
const MAX_TRUSTED_ROOT_BYTES: u64 = 4 * 1024 * 1024;

impl KeylessTrust {
    /// Trust in `root` with the secure defaults: transparency-log entry and SCT required,
    /// timestamp verified when present.
    pub fn new(root: Arc<TrustedRoot>) -> KeylessTrust {
        KeylessTrust {
            root,
            identities: Vec::new(),
            require_tlog: true,
            require_sct: true,
            require_timestamp: false,
        }
    }

    /// Accept keyless signatures whose certificate matches one of `identities`.
    pub fn with_identities(mut self, identities: Vec<CertificateIdentity>) -> KeylessTrust {
        self.identities = identities;
        self
    }

    /// Reads a `trusted_root.json` file into trust with the secure defaults.
    pub fn load(path: &std::path::Path) -> crate::Result<KeylessTrust> {
        Ok(KeylessTrust::new(Arc::new(load_trusted_root(path)?)))
    }
}

/// Reads and validates a `trusted_root.json` file.
pub fn load_trusted_root(path: &std::path::Path) -> crate::Result<TrustedRoot> {
    let bytes =
        crate::util::fs::read_capped(path, MAX_TRUSTED_ROOT_BYTES, "a Sigstore trusted root")?;
    TrustedRoot::from_json(&bytes)
        .map_err(|e| crate::Error::invalid(path.display().to_string(), e.to_string()))
}

/// The evidence a signature's transparency-log entry and timestamp gave.
#[derive(Clone, Debug, Default)]
pub(crate) struct Evidence {
    pub tlog: Option<TlogEvidence>,
    pub timestamp: Option<TimestampEvidence>,
    /// The instants the signature is known to have been made at: the integrated time and the
    /// timestamp's time.
    pub times: Vec<SystemTime>,
}

/// Checks the Rekor bundle and timestamp of `layer` against `trust`, for a signature whose
/// certificate or key is `verifier`.
pub(crate) fn check_evidence(
    trust: &KeylessTrust,
    layer: &Descriptor,
    payload: &[u8],
    signature: &[u8],
    verifier: &EntryVerifier,
) -> Result<Evidence> {
    gather_evidence(trust, layer, signature, |bundle| {
        bundle.verify(&trust.root, payload, signature, verifier)
    })
}

/// The layer's Rekor bundle, checked by `tlog` (required when `trust` says so), then its
/// timestamp over `timestamped` (likewise).
fn gather_evidence(
    trust: &KeylessTrust,
    layer: &Descriptor,
    timestamped: &[u8],
    tlog: impl FnOnce(&RekorBundle) -> Result<TlogEvidence>,
) -> Result<Evidence> {
    let mut out = Evidence::default();
    match bundle_of(layer)? {
        Some(bundle) => {
            let ev = tlog(&bundle)?;
            out.times.push(bundle.integrated_at());
            out.tlog = Some(ev);
        }
        None if trust.require_tlog => return Err(KeylessError::NoBundle),
        None => {}
    }
    match verify_timestamp(layer, timestamped, &trust.root)? {
        Some((at, ev)) => {
            out.times.push(at);
            out.timestamp = Some(ev);
        }
        None if trust.require_timestamp => return Err(KeylessError::NoTimestamp),
        None => {}
    }
    Ok(out)
}

/// A keyless signature that passed every check.
pub(crate) struct KeylessVerified {
    /// `keyless <SAN> (issuer <issuer>)`.
    pub signed_by: String,
    /// `sha256:` fingerprint of the (ephemeral) certificate key.
    pub signer_key: String,
    /// The certificate's identity and the trust-root entries it was checked against.
    pub certificate: CertificateEvidence,
    /// The log entry and timestamp.
    pub evidence: Evidence,
}

/// Verifies a keyless layer: the signature with the attached Fulcio certificate's key, the
/// Rekor bundle (SET, and a body recording this payload, signature and certificate) and the
/// timestamp, then the certificate at each trusted signing time (the integrated time, the
/// timestamp's time): chained to a Fulcio CA of the root valid then, with an SCT from a CT log
/// of the root unless not required; then its identity against `trust`'s identities.
pub(crate) fn verify_keyless(
    trust: &KeylessTrust,
    layer: &Descriptor,
    payload: &[u8],
    signature: &[u8],
) -> Result<KeylessVerified> {
    if trust.identities.is_empty() {
        return Err(KeylessError::NoIdentity);
    }
    let (leaf, chain) = certificates_of(layer)?;
    certificate_signature(&leaf, payload, signature)?;
    let evidence = check_evidence(
        trust,
        layer,
        payload,
        signature,
        &EntryVerifier::Certificate(leaf.der().to_vec()),
    )?;
    finish_keyless(trust, &leaf, &chain, evidence)
}

/// The certificate part of a keyless verification, once the signature and its evidence
/// verified: the chain at each trusted signing time, the SCT, then the identity.
fn finish_keyless(
    trust: &KeylessTrust,
    leaf: &Certificate,
    chain: &[Certificate],
    evidence: Evidence,
) -> Result<KeylessVerified> {
    if evidence.times.is_empty() {
        return Err(KeylessError::NoSigningTime);
    }
    let checks = FulcioChecks {
        require_sct: trust.require_sct,
    };
    let mut verified: Option<FulcioVerified> = None;
    for at in &evidence.times {
        let v = FulcioCertificate::verify_with(leaf, chain, &trust.root, *at, checks)?;
        verified.get_or_insert(v);
    }
    let verified = verified.ok_or(KeylessError::NoSigningTime)?;
    let (_, san) = match_identities(&trust.identities, &verified.identity)?;
    let id = &verified.identity;
    let certificate = certificate_evidence(
        id,
        san.value(),
        &verified.authority_uri,
        &verified.authority_subject,
        verified.ct_log.as_ref(),
        verified.at,
    );
    Ok(KeylessVerified {
        signed_by: signed_by(san.value(), id),
        signer_key: crate::crypto::keys::spki_fingerprint(leaf.public_key_spki()),
        certificate,
        evidence,
    })
}

/// `keyless <SAN> (issuer <issuer>)`.
fn signed_by(san: &str, id: &FulcioIdentity) -> String {
    format!(
        "keyless {san} (issuer {})",
        id.issuer.as_deref().unwrap_or("?")
    )
}

fn certificate_evidence(
    id: &FulcioIdentity,
    san: &str,
    authority_uri: &str,
    authority_subject: &AuthoritySubject,
    ct_log: Option<&CtLogUsed>,
    at: SystemTime,
) -> CertificateEvidence {
    let wf = &id.github_workflow;
    CertificateEvidence {
        subject_alternative_name: san.to_string(),
        issuer: id.issuer.clone(),
        github_workflow_repository: wf.repository.clone(),
        github_workflow_ref: wf.git_ref.clone(),
        github_workflow_sha: wf.sha.clone(),
        github_workflow_trigger: wf.trigger.clone(),
        github_workflow_name: wf.name.clone(),
        fulcio_ca_uri: authority_uri.to_string(),
        fulcio_ca_subject: describe_subject(authority_subject),
        ct_log_id: ct_log.map(|l| l.log_id.clone()),
        checked_at: rfc3339(at),
    }
}

/// A keyless signature (of an attestation, or a Sigstore bundle's) that passed every check:
/// who signed, and the trust-root entries each check used.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KeylessSigned {
    /// `keyless <SAN> (issuer <issuer>)`.
    pub signed_by: String,
    /// `sha256:` fingerprint of the (ephemeral) certificate key.
    pub signer_key: String,
    /// The certificate's identity, Fulcio CA, CT log and the instant it was checked at.
    pub certificate: CertificateEvidence,
    /// The transparency-log entry verified (the first, for a bundle with several).
    pub tlog: Option<TlogEvidence>,
    /// The RFC 3161 timestamp verified (the first, for a bundle with several).
    pub timestamp: Option<TimestampEvidence>,
}

/// Verifies a keyless DSSE envelope as `cosign attest` (v1, v2) attaches it to the `.att`
/// tag: the layer's `dev.sigstore.cosign/certificate` (and `…/chain`) carry the Fulcio
/// certificate; its `dev.sigstore.cosign/bundle` the Rekor SET of an intoto v0.0.2 or dsse
/// v0.0.1 entry, which must record this envelope (payload hash, signature, certificate); its
/// optional `dev.sigstore.cosign/rfc3161timestamp` is a token over the envelope's bytes
/// (`envelope_bytes`: cosign timestamps an attestation's whole envelope, having no bare
/// signature). The envelope must hold one signature, over its PAE, verifying with the
/// certificate's key; then the certificate is checked as a keyless `.sig` layer's is: chained to
/// a Fulcio CA of the root at the integrated time (and timestamp), with an SCT, naming one of
/// `trust`'s identities. The statement inside is not read here.
pub fn verify_keyless_envelope(
    trust: &KeylessTrust,
    layer: &Descriptor,
    envelope_bytes: &[u8],
    envelope: &DsseEnvelope,
) -> Result<KeylessSigned> {
    if trust.identities.is_empty() {
        return Err(KeylessError::NoIdentity);
    }
    let (leaf, chain) = certificates_of(layer)?;
    let signatures: Vec<&[u8]> = envelope
        .signatures
        .iter()
        .map(|s| s.sig.as_slice())
        .collect();
    let [signature] = signatures.as_slice() else {
        return Err(KeylessError::Signature(format!(
            "a keyless DSSE envelope must hold exactly one signature, this one holds {}",
            signatures.len()
        )));
    };
    certificate_signature(&leaf, &envelope.pae(), signature)?;
    let verifier = EntryVerifier::Certificate(leaf.der().to_vec());
    let evidence = gather_evidence(trust, layer, envelope_bytes, |bundle| {
        bundle.verify_dsse(
            &trust.root,
            &envelope.payload_type,
            &envelope.payload,
            &signatures,
            &verifier,
        )
    })?;
    let v = finish_keyless(trust, &leaf, &chain, evidence)?;
    Ok(KeylessSigned {
        signed_by: v.signed_by,
        signer_key: v.signer_key,
        certificate: v.certificate,
        tlog: v.evidence.tlog,
        timestamp: v.evidence.timestamp,
    })
}

/// What a keyless Sigstore bundle verified by [`super::sigstore::verify_parsed`] was checked
/// against, in the form keyless layers report it; `None` for a key-signed bundle.
pub fn bundle_evidence(v: &super::sigstore::BundleVerified) -> Option<KeylessSigned> {
    let super::sigstore::SignerVerified::Certificate {
        identity,
        san,
        authority_uri,
        authority_subject,
        ct_log,
        key_fingerprint,
        ..
    } = &v.signer
    else {
        return None;
    };
    let at = v
        .verification_times
        .first()
        .copied()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Some(KeylessSigned {
        signed_by: signed_by(san.value(), identity),
        signer_key: key_fingerprint.clone(),
        certificate: certificate_evidence(
            identity,
            san.value(),
            authority_uri,
            authority_subject,
            ct_log.as_ref(),
            at,
        ),
        tlog: v.tlog.first().map(|t| TlogEvidence {
            log_id: t.log_id.clone(),
            base_url: t.base_url.clone(),
            log_index: t.log_index,
            integrated_time: t.integrated_time.map(rfc3339).unwrap_or_default(),
            entry_kind: t.entry_kind.clone(),
        }),
        timestamp: v.timestamps.first().map(|t| TimestampEvidence {
            time: rfc3339(t.gen_time),
            tsa_subject: t.tsa_subject.clone(),
            tsa_uri: t.authority_uri.clone(),
        }),
    })
}

/// `O=…, CN=…` of a trusted-root authority.
fn describe_subject(s: &AuthoritySubject) -> String {
    let parts: Vec<String> = [("O", &s.organization), ("CN", &s.common_name)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    parts.join(", ")
}

/// The signing certificate and the chain the layer carries.
fn certificates_of(layer: &Descriptor) -> Result<(Certificate, Vec<Certificate>)> {
    let bad = |m: String| KeylessError::Certificate(m);
    let pem = layer
        .annotations
        .get(cosign::CERTIFICATE_ANNOTATION)
        .ok_or_else(|| bad("no signing certificate attached".into()))?;
    let leaf = load_pem_certificates(pem.as_bytes())
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| bad("the annotation holds no certificate".into()))?;
    let chain = match layer.annotations.get(cosign::CHAIN_ANNOTATION) {
        Some(pem) => load_pem_certificates(pem.as_bytes())
            .map_err(|e| bad(format!("chain annotation: {e}")))?,
        None => Vec::new(),
    };
    Ok((leaf, chain))
}

/// The signature over `payload` verifies with `leaf`'s key.
fn certificate_signature(leaf: &Certificate, payload: &[u8], signature: &[u8]) -> Result<()> {
    let key = leaf.key_algorithm();
    let alg = crate::crypto::algorithms::key_default_verifier(key).ok_or_else(|| {
        KeylessError::Signature(format!("certificate key {key} is not supported"))
    })?;
    ring::signature::UnparsedPublicKey::new(alg, leaf.public_key_raw())
        .verify(payload, signature)
        .map_err(|_| KeylessError::Signature(leaf.subject().to_string()))
}

/// The DER SubjectPublicKeyInfo of `key`, as an entry body names it.
pub(crate) fn key_verifier(key: &crate::PublicKey) -> EntryVerifier {
    let der = pem::parse(key.to_pem())
        .map(|b| b.into_contents())
        .unwrap_or_default();
    EntryVerifier::PublicKey(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Option<Vec<u8>> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/interop/keyless")
            .join(rel);
        match std::fs::read(&p) {
            Ok(b) => Some(b),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("interop fixture missing: {}", p.display())
            }
            Err(_) => {
                eprintln!("note: {} is absent; skipping", p.display());
                None
            }
        }
    }

    /// The layer of a containers/image fixture: (descriptor annotations, payload).
    fn layer(dir: &str) -> Option<(Descriptor, Vec<u8>, Vec<u8>)> {
        let bytes = fixture(&format!("containers-container-libs/{dir}/signature-1"))?;
        let json = bytes.strip_prefix(b"\x00sigstore-json\n".as_slice())?;
        let v: serde_json::Value = serde_json::from_slice(json).ok()?;
        let payload = B64.decode(v["payload"].as_str()?).ok()?;
        let annotations = v["annotations"]
            .as_object()?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let d = Descriptor {
            media_type: v["mimeType"].as_str()?.to_string(),
            size: payload.len() as u64,
            digest: crate::Digest::sha256(&payload).to_string(),
            annotations,
            ..Descriptor::default()
        };
        let sig = B64
            .decode(d.annotations.get(cosign::SIGNATURE_ANNOTATION)?)
            .ok()?;
        Some((d, payload, sig))
    }

    fn production() -> Option<KeylessTrust> {
        let b = fixture("trust-roots/public-good-production.trusted_root.json")?;
        Some(KeylessTrust::new(Arc::new(
            TrustedRoot::from_json(&b).unwrap(),
        )))
    }

    /// The key that signed `dir-img-cosign-key-rekor-valid`.
    fn cosign2_key() -> crate::PublicKey {
        crate::PublicKey::from_pem(
            &fixture("containers-container-libs/cosign2.pub").unwrap(),
            "cosign2.pub",
        )
        .unwrap()
    }

    #[test]
    fn key_and_rekor_layer_verifies_its_set_and_body() {
        let (Some((layer, payload, sig)), Some(trust)) =
            (layer("dir-img-cosign-key-rekor-valid"), production())
        else {
            return;
        };
        let key = cosign2_key();
        let ev = check_evidence(&trust, &layer, &payload, &sig, &key_verifier(&key)).unwrap();
        let tlog = ev.tlog.unwrap();
        assert_eq!(tlog.base_url, "https://rekor.sigstore.dev");
        assert!(tlog.log_id.starts_with("c0d23d6a"), "{}", tlog.log_id);
        assert_eq!(tlog.integrated_time, "2023-01-20T21:57:39Z");
        // Another key: the entry records cosign2.pub, not it.
        let other = crate::SigningKey::generate().unwrap().public_key();
        let e = check_evidence(&trust, &layer, &payload, &sig, &key_verifier(&other))
            .unwrap_err()
            .to_string();
        assert!(e.contains("transparency log entry body"), "{e}");
        // Another payload: the entry is for another artifact.
        let e = check_evidence(&trust, &layer, b"{}", &sig, &key_verifier(&key))
            .unwrap_err()
            .to_string();
        assert!(e.contains("artifact digest is not the artifact's"), "{e}");
    }

    #[test]
    fn bundles_that_do_not_count() {
        let (Some((mut layer, payload, sig)), Some(trust)) =
            (layer("dir-img-cosign-key-rekor-valid"), production())
        else {
            return;
        };
        let key = cosign2_key();
        let v = key_verifier(&key);
        let original = layer.annotations[cosign::BUNDLE_ANNOTATION].clone();
        // Another integrated time: the SET no longer verifies.
        let t = original.replace(
            "\"integratedTime\":1674251859",
            "\"integratedTime\":1674251860",
        );
        assert_ne!(t, original);
        layer
            .annotations
            .insert(cosign::BUNDLE_ANNOTATION.into(), t);
        let e = check_evidence(&trust, &layer, &payload, &sig, &v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inclusion promise"), "{e}");
        // A log the root does not know.
        let log_id = RekorBundle::from_json(&original).unwrap().log_id;
        let u = original.replace(&hex::encode(&log_id), &"ab".repeat(32));
        layer
            .annotations
            .insert(cosign::BUNDLE_ANNOTATION.into(), u);
        let e = check_evidence(&trust, &layer, &payload, &sig, &v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no transparency log with log ID"), "{e}");
        // Duplicate members, garbage.
        for (text, why) in [
            (
                r#"{"SignedEntryTimestamp":"AA==","SignedEntryTimestamp":"AA=="}"#,
                "duplicate member",
            ),
            ("garbage", "not JSON"),
            (r#"{"SignedEntryTimestamp":"AA=="}"#, "Payload is missing"),
        ] {
            layer
                .annotations
                .insert(cosign::BUNDLE_ANNOTATION.into(), text.into());
            let e = check_evidence(&trust, &layer, &payload, &sig, &v)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("Rekor bundle annotation") && e.contains(why),
                "{e}"
            );
        }
        // No bundle: refused when required, accepted (with no evidence) when not.
        layer.annotations.remove(cosign::BUNDLE_ANNOTATION);
        let e = check_evidence(&trust, &layer, &payload, &sig, &v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("carries no Rekor bundle"), "{e}");
        let relaxed = KeylessTrust {
            require_tlog: false,
            ..trust.clone()
        };
        let ev = check_evidence(&relaxed, &layer, &payload, &sig, &v).unwrap();
        assert!(ev.tlog.is_none() && ev.times.is_empty());
        let strict = KeylessTrust {
            require_tlog: false,
            require_timestamp: true,
            ..trust
        };
        let e = check_evidence(&strict, &layer, &payload, &sig, &v)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RFC 3161 timestamp: the signature carries none"),
            "{e}"
        );
    }
}
