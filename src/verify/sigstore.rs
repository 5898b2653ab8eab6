//! Sigstore bundle verification against a trusted root, offline: one function over bytes,
//! [`verify_bundle`], following sigstore-go's verifier and the Sigstore client specification.
//!
//! In order, the first failure is reported:
//!
//! 1. **structure**: the bundle parses (`crate::formats::cosign::bundle`); a v0.3 bundle
//!    carries a single `certificate` (never an `x509CertificateChain`); in a v0.1/v0.2 chain,
//!    no certificate after the signing one may be self-signed (a chain that includes a root is
//!    refused: the root must come from the trusted root); v0.1 tlog entries need an inclusion
//!    promise, v0.2+ entries an inclusion proof;
//! 2. **material against policy**: with [`BundlePolicy::Key`] the bundle must be key-signed
//!    (no certificate) and is verified with that key only; with
//!    [`BundlePolicy::Identities`] it must carry a certificate — a bare public key is never
//!    accepted where a certificate must be (GHSA-fx35-mq7g-6g98), and a key-signed bundle
//!    never verifies without the key;
//! 3. **content**: a message signature verifies over the artifact, and its `messageDigest`
//!    (an unauthenticated hint) must equal the artifact's digest; a DSSE envelope has payload
//!    type `application/vnd.in-toto+json`, exactly one signature verifying over the PAE, and a
//!    statement subject naming the artifact's digest;
//! 4. **RFC 3161 timestamps**: each is checked against the trusted root's timestamp authorities
//!    valid at its `genTime` (the token's signer must be the authority's certificate, the
//!    chain valid at `genTime`, the imprint over the signature); ones that fail are skipped,
//!    as in sigstore-go, and named if nothing else establishes a time;
//! 5. **transparency-log entries**: the body records exactly this signature, this certificate
//!    or key and this artifact (GHSA-whqx-f9j3-ch6m); then the log checks of
//!    [`crate::trust::tlog::TlogEntry::verify`] (inclusion promise and/or inclusion proof
//!    against a signed checkpoint). Entries of logs the root does not know are skipped (a
//!    staging bundle against the production root fails for lack of a verified entry). A Rekor
//!    v2 entry has no integrated time, so it needs a verified timestamp;
//! 6. **verification times**: the integrated times vouched for by a verified inclusion promise
//!    and the verified timestamps' `genTime`s. With a certificate, each time is checked in
//!    turn ([`FulcioCertificate::verify_with`]): the chain to a Fulcio authority of the root,
//!    every certificate valid at that time, the embedded SCT; then the identity matches one of
//!    the expected ones.
//!
//! [`BundleVerified`] names what was found and which trust-root entries were used.

use std::time::SystemTime;

use crate::crypto::keys::PublicKey;
use crate::digest::Algorithm;
use crate::formats::cosign::bundle::{
    self as bundle_format, Bundle, BundleError, Content, Statement, IN_TOTO_PAYLOAD_TYPE,
};
use crate::pki::Certificate;
use crate::trust::keyless::{
    match_identities, CertificateIdentity, CtLogUsed, FulcioCertificate, FulcioChecks,
    FulcioIdentity, KeylessError, San,
};
use crate::trust::sigstore_root::{rfc3339, AuthoritySubject, SigstoreRootError, TrustedRoot};
use crate::trust::tlog::{
    check_dsse_body, check_message_signature_body, DigestAlgorithm, EntryDigest, EntryVerifier,
    TlogEntry, TlogError,
};
use crate::Digest;

/// What was signed: the artifact's bytes, or only its digest.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact itself.
    Bytes(&'a [u8]),
    /// Its digest (a message signature is then checked over the digest: P-256 keys only).
    Digest(&'a Digest),
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum BundlePolicy {
    /// A key-signed bundle, verified with this key.
    Key(PublicKey),
    /// A keyless bundle whose certificate names one of these identities (none: nothing
    /// verifies).
    Identities(Vec<CertificateIdentity>),
}

/// What is required beyond the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleOptions {
    /// At least one verified transparency-log entry (default: true).
    pub require_tlog: bool,
    /// An embedded SCT in the certificate from a CT log of the root (default: true).
    pub require_sct: bool,
    /// At least one verified RFC 3161 timestamp (default: false).
    pub require_timestamp: bool,
    /// The time to check the certificate at when the bundle establishes none (only used when
    /// neither a tlog entry nor a timestamp is required); `None` is the system clock.
    pub now: Option<SystemTime>,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            require_tlog: true,
            require_sct: true,
            require_timestamp: false,
            now: None,
        }
    }
}

/// Why a bundle did not verify; each message names the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreError {
    /// The bundle cannot be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle breaks a rule of its format version.
    #[error("sigstore bundle: {0}")]
    Structure(String),
    /// The bundle's material does not fit the policy (key vs certificate).
    #[error("sigstore bundle: {0}")]
    Material(String),
    /// The signature does not verify.
    #[error("sigstore bundle signature: {0}")]
    Signature(String),
    /// The bundle is not about this artifact.
    #[error("sigstore bundle artifact: {0}")]
    Artifact(String),
    /// A transparency-log entry is refused.
    #[error("sigstore bundle tlogEntries[{index}]: {source}")]
    Tlog {
        /// Position in `tlogEntries`.
        index: usize,
        /// Why.
        #[source]
        source: TlogError,
    },
    /// Not enough verified transparency-log entries.
    #[error("sigstore bundle: no verified transparency-log entry ({0})")]
    NoTlogEntry(String),
    /// Not enough verified timestamps.
    #[error("sigstore bundle: no verified RFC 3161 timestamp ({0})")]
    NoTimestamp(String),
    /// No time to check the certificate at.
    #[error("sigstore bundle: no verified time for the signature ({0})")]
    NoTime(String),
    /// The certificate is refused, or names another identity.
    #[error(transparent)]
    Certificate(#[from] KeylessError),
}

type Result<T> = std::result::Result<T, SigstoreError>;

/// The signer, as verified.
#[derive(Debug, Clone)]
#[non_exhaustive]
// One value per verified bundle: boxing would only add an indirection to every match.
#[allow(clippy::large_enum_variant)]
pub enum SignerVerified {
    /// A Fulcio certificate.
    Certificate {
        /// What the certificate names.
        identity: FulcioIdentity,
        /// The SAN that matched.
        san: San,
        /// The index of the expected identity that matched.
        matched: usize,
        /// The trusted-root Fulcio authority's `uri`.
        authority_uri: String,
        /// Its subject.
        authority_subject: AuthoritySubject,
        /// The CT log whose SCT verified.
        ct_log: Option<CtLogUsed>,
        /// `sha256:` of the certificate's key.
        key_fingerprint: String,
    },
    /// The given key.
    Key {
        /// `sha256:` of its SubjectPublicKeyInfo.
        fingerprint: String,
    },
}

/// A verified transparency-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogUsed {
    /// The trusted-root log's `baseUrl`.
    pub base_url: String,
    /// Its log ID, lowercase hex.
    pub log_id: String,
    /// Rekor v2 (no inclusion promise or integrated time).
    pub rekor_v2: bool,
    /// The entry's `logIndex`.
    pub log_index: i64,
    /// The integrated time, when an inclusion promise vouched for it.
    pub integrated_time: Option<SystemTime>,
    /// An inclusion promise (SET) was verified.
    pub promise_verified: bool,
    /// An inclusion proof against a signed checkpoint was verified.
    pub proof_verified: bool,
    /// The checkpoint's origin and tree size.
    pub checkpoint: Option<(String, u64)>,
    /// The entry body's kind and version (`dsse 0.0.1`, `hashedrekord 0.0.1`, …).
    pub entry_kind: String,
}

/// A verified RFC 3161 timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampUsed {
    /// The trusted-root timestamp authority's `uri`.
    pub authority_uri: String,
    /// The TSA certificate's subject.
    pub tsa_subject: String,
    /// `genTime`.
    pub gen_time: SystemTime,
}

/// What [`verify_bundle`] established.
#[derive(Debug, Clone)]
pub struct BundleVerified {
    /// The bundle's media type.
    pub media_type: String,
    /// Who signed.
    pub signer: SignerVerified,
    /// The verified transparency-log entries.
    pub tlog: Vec<TlogUsed>,
    /// The verified timestamps.
    pub timestamps: Vec<TimestampUsed>,
    /// The instants the certificate was checked at.
    pub verification_times: Vec<SystemTime>,
    /// The DSSE statement, for DSSE bundles.
    pub statement: Option<Statement>,
    /// Entries and timestamps that were skipped, and why.
    pub skipped: Vec<String>,
}

/// The verifier of the signature: a certificate or a key.
enum Verifier<'a> {
    Certificate(&'a Certificate),
    Key(&'a PublicKey),
}

fn key_spki(key: &PublicKey) -> Vec<u8> {
    pem::parse(key.to_pem())
        .map(|p| p.into_contents())
        .unwrap_or_default()
}

impl Verifier<'_> {
    fn entry_verifier(&self) -> EntryVerifier {
        match self {
            Verifier::Certificate(c) => EntryVerifier::Certificate(c.der().to_vec()),
            Verifier::Key(k) => EntryVerifier::PublicKey(key_spki(k)),
        }
    }

    fn verify(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), SignatureFailure> {
        match self {
            Verifier::Certificate(c) => {
                bundle_format::verify_with_certificate_key(c, message, signature).map_err(|e| {
                    match e {
                        BundleError::BadSignature { .. } => SignatureFailure::CertificateKey,
                        other => SignatureFailure::Certificate(other),
                    }
                })
            }
            Verifier::Key(k) => {
                if k.verify(message, signature) {
                    Ok(())
                } else {
                    Err(SignatureFailure::GivenKey)
                }
            }
        }
    }

    /// ECDSA P-256 over a SHA-256 digest given as such.
    fn verify_prehash(
        &self,
        digest: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), SignatureFailure> {
        use ecdsa::signature::hazmat::PrehashVerifier;
        let spki = match self {
            Verifier::Certificate(c) => c.public_key_spki().to_vec(),
            Verifier::Key(k) => key_spki(k),
        };
        use p256::pkcs8::DecodePublicKey;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
            .map_err(|_| SignatureFailure::PrehashNeedsP256)?;
        let sig =
            p256::ecdsa::Signature::from_der(signature).map_err(|_| SignatureFailure::NotDer)?;
        key.verify_prehash(digest, &sig)
            .map_err(|_| SignatureFailure::OverDigest)
    }
}

/// Why a bundle's signature does not verify (the detail of [`SigstoreError::Signature`]).
#[derive(Debug, thiserror::Error)]
enum SignatureFailure {
    #[error("the signature does not verify with the certificate's key")]
    CertificateKey,
    #[error(transparent)]
    Certificate(BundleError),
    #[error("the signature does not verify with the given key")]
    GivenKey,
    #[error("only a P-256 key can be checked against a digest; give the artifact itself")]
    PrehashNeedsP256,
    #[error("the signature is not an ASN.1 DER ECDSA signature")]
    NotDer,
    #[error("the signature does not verify over the artifact's digest")]
    OverDigest,
    #[error("a message signature is checked over the artifact's sha256 digest")]
    NeedsSha256,
}

/// Why one RFC 3161 timestamp of a bundle does not count.
#[derive(Debug, thiserror::Error)]
enum TimestampFailure {
    #[error(transparent)]
    Token(#[from] crate::pki::tsp::TimestampError),
    #[error("no timestamp authority of the trusted root is valid at its genTime {0}")]
    NoAuthority(String),
    #[error("{0}")]
    Untrusted(String),
}

/// The artifact's digest with `algorithm` (the digest of a [`Artifact::Digest`] only when the
/// algorithm is its own).
fn artifact_digest(artifact: Artifact<'_>, algorithm: DigestAlgorithm) -> Option<Vec<u8>> {
    match artifact {
        Artifact::Bytes(b) => Some(algorithm.hash(b)),
        Artifact::Digest(d) => {
            let same = matches!(
                (d.algorithm(), algorithm),
                (Algorithm::Sha256, DigestAlgorithm::Sha256)
                    | (Algorithm::Sha512, DigestAlgorithm::Sha512)
            );
            if same {
                hex::decode(d.hex()).ok()
            } else {
                None
            }
        }
    }
}

fn describe(artifact: Artifact<'_>) -> String {
    match artifact {
        Artifact::Bytes(b) => Digest::sha256(b).to_string(),
        Artifact::Digest(d) => d.to_string(),
    }
}

/// Verifies a Sigstore bundle over `artifact` under `policy` against `root` (see the module
/// docs for the checks and their order).
pub fn verify_bundle(
    bundle_bytes: &[u8],
    artifact: Artifact<'_>,
    policy: &BundlePolicy,
    root: &TrustedRoot,
    options: &BundleOptions,
) -> Result<BundleVerified> {
    let bundle = Bundle::from_bytes(bundle_bytes)?;
    verify_parsed(&bundle, artifact, policy, root, options)
}

/// [`verify_bundle`] over an already parsed bundle.
pub fn verify_parsed(
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: &BundlePolicy,
    root: &TrustedRoot,
    options: &BundleOptions,
) -> Result<BundleVerified> {
    let vm = &bundle.verification_material;
    let version = bundle.minor_version();

    // 1. Structure.
    if version >= 3 && vm.from_chain {
        return Err(SigstoreError::Structure(
            "a v0.3 bundle must carry a single certificate, not an x509CertificateChain".into(),
        ));
    }
    if let Some((_, rest)) = bundle.certificate_chain() {
        if let Some(root_cert) = rest.iter().find(|c| c.is_self_signed()) {
            return Err(SigstoreError::Structure(format!(
                "the certificate chain includes the root certificate {:?}: roots come only from the trusted root",
                root_cert.subject()
            )));
        }
    }
    let entries = vm
        .tlog_entry_values
        .iter()
        .enumerate()
        .map(|(index, v)| {
            TlogEntry::from_json(v).map_err(|source| SigstoreError::Tlog { index, source })
        })
        .collect::<Result<Vec<_>>>()?;
    for (index, e) in entries.iter().enumerate() {
        if version == 1 && e.inclusion_promise.is_none() {
            return Err(SigstoreError::Structure(format!(
                "tlogEntries[{index}] of a v0.1 bundle has no inclusion promise"
            )));
        }
        if version >= 2 && e.inclusion_proof.is_none() {
            return Err(SigstoreError::Structure(format!(
                "tlogEntries[{index}] of a v{}.{} bundle has no inclusion proof",
                0, version
            )));
        }
    }

    // 2. Material against policy.
    let leaf = bundle.certificate_chain().map(|(leaf, _)| leaf);
    let verifier = match (policy, leaf) {
        (BundlePolicy::Key(_), Some(_)) => {
            return Err(SigstoreError::Material(
                "the bundle is signed with a certificate, not a key: verify it with certificate identities".into(),
            ))
        }
        (BundlePolicy::Key(k), None) => Verifier::Key(k),
        (BundlePolicy::Identities(_), None) => {
            return Err(SigstoreError::Material(
                "the bundle is signed with a key (publicKey), not a certificate: it verifies only with that key".into(),
            ))
        }
        (BundlePolicy::Identities(ids), Some(_)) if ids.is_empty() => {
            return Err(SigstoreError::Material(
                "no certificate identity to verify a keyless bundle against".into(),
            ))
        }
        (BundlePolicy::Identities(_), Some(c)) => Verifier::Certificate(c),
    };

    // 3. Content.
    let mut statement = None;
    let signature: &[u8] = match &bundle.content {
        Content::MessageSignature(m) => {
            if let Some((alg, d)) = &m.message_digest {
                let algorithm = match alg.as_str() {
                    "SHA2_256" => DigestAlgorithm::Sha256,
                    "SHA2_384" => DigestAlgorithm::Sha384,
                    "SHA2_512" => DigestAlgorithm::Sha512,
                    other => {
                        return Err(SigstoreError::Artifact(format!(
                            "messageDigest algorithm {other:?} is not supported"
                        )))
                    }
                };
                match artifact_digest(artifact, algorithm) {
                    Some(actual) if actual == *d => {}
                    Some(_) => {
                        return Err(SigstoreError::Artifact(format!(
                            "the bundle's messageDigest {alg} {} is not the artifact's ({})",
                            hex::encode(d),
                            describe(artifact)
                        )))
                    }
                    None => {
                        return Err(SigstoreError::Artifact(format!(
                            "the bundle's messageDigest is {alg}; the artifact's digest is {}",
                            describe(artifact)
                        )))
                    }
                }
            }
            match artifact {
                Artifact::Bytes(b) => verifier.verify(b, &m.signature),
                Artifact::Digest(d) if d.algorithm() == Algorithm::Sha256 => {
                    let raw = hex::decode(d.hex()).unwrap_or_default();
                    verifier.verify_prehash(&raw, &m.signature)
                }
                Artifact::Digest(_) => Err(SignatureFailure::NeedsSha256),
            }
            .map_err(|e| SigstoreError::Signature(e.to_string()))?;
            &m.signature
        }
        Content::Dsse(env) => {
            if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(SigstoreError::Artifact(format!(
                    "DSSE payload type {:?} is not {IN_TOTO_PAYLOAD_TYPE:?}",
                    env.payload_type
                )));
            }
            let [sig] = env.signatures.as_slice() else {
                return Err(SigstoreError::Signature(format!(
                    "the DSSE envelope must hold exactly one signature, it holds {}",
                    env.signatures.len()
                )));
            };
            verifier
                .verify(&env.pae(), &sig.sig)
                .map_err(|e| SigstoreError::Signature(format!("DSSE envelope: {e}")))?;
            let st = env.statement()?;
            let wanted = match artifact {
                Artifact::Bytes(b) => Digest::sha256(b),
                Artifact::Digest(d) => d.clone(),
            };
            if st.subject_for(&wanted).is_none() {
                let named: Vec<String> = st
                    .subject
                    .iter()
                    .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
                    .collect();
                return Err(SigstoreError::Artifact(format!(
                    "the statement's subjects name {}, not the artifact's {wanted}",
                    if named.is_empty() {
                        "no digest".to_string()
                    } else {
                        named.join(", ")
                    }
                )));
            }
            statement = Some(st);
            &sig.sig
        }
    };

    // 4. Timestamps.
    let mut skipped = Vec::new();
    let mut timestamps: Vec<TimestampUsed> = Vec::new();
    for (i, der) in vm.signed_timestamps.iter().enumerate() {
        match verify_timestamp(der, signature, root) {
            Ok(t) => {
                if timestamps
                    .iter()
                    .any(|u| u.authority_uri == t.authority_uri)
                {
                    skipped.push(format!(
                        "rfc3161Timestamps[{i}]: a second timestamp from {}",
                        t.authority_uri
                    ));
                } else {
                    timestamps.push(t);
                }
            }
            Err(e) => skipped.push(format!("rfc3161Timestamps[{i}]: {e}")),
        }
    }
    if options.require_timestamp && timestamps.is_empty() {
        return Err(SigstoreError::NoTimestamp(reasons(
            &skipped,
            "the bundle has none",
        )));
    }
    let tsa_time = timestamps.first().map(|t| t.gen_time);

    // 5. Transparency-log entries.
    let entry_verifier = verifier.entry_verifier();
    let mut tlog = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let tlog_err = |source: TlogError| SigstoreError::Tlog { index, source };
        if entry.integrated_time.is_none() && tsa_time.is_none() {
            return Err(SigstoreError::NoTime(format!(
                "tlogEntries[{index}] has no integrated time (Rekor v2) and no RFC 3161 timestamp verified: {}",
                reasons(&skipped, "the bundle has no timestamp")
            )));
        }
        let verified = match entry.verify(root, tsa_time) {
            Ok(v) => v,
            Err(TlogError::Root(SigstoreRootError::UnknownLog { log_id, .. })) => {
                skipped.push(format!(
                    "tlogEntries[{index}]: the trusted root has no transparency log with log ID {log_id}"
                ));
                continue;
            }
            Err(e) => return Err(tlog_err(e)),
        };
        let body = entry.body().map_err(tlog_err)?;
        match &bundle.content {
            Content::MessageSignature(m) => {
                let algorithm = body
                    .artifact_digest
                    .as_ref()
                    .map(|d| d.algorithm)
                    .unwrap_or(DigestAlgorithm::Sha256);
                let value = artifact_digest(artifact, algorithm).ok_or_else(|| {
                    SigstoreError::Artifact(format!(
                        "the log entry names a digest of another algorithm than the artifact's {}",
                        describe(artifact)
                    ))
                })?;
                let digest = EntryDigest { algorithm, value };
                check_message_signature_body(&body, &digest, &m.signature, &entry_verifier)
                    .map_err(tlog_err)?;
            }
            Content::Dsse(env) => {
                let sigs: Vec<&[u8]> = env.signatures.iter().map(|s| s.sig.as_slice()).collect();
                check_dsse_body(
                    &body,
                    &env.payload_type,
                    &env.payload,
                    &sigs,
                    &entry_verifier,
                )
                .map_err(tlog_err)?;
            }
        }
        if !verified.promise_verified && !verified.proof_verified {
            return Err(tlog_err(TlogError::Missing(
                "neither an inclusion promise nor an inclusion proof with a signed checkpoint verified"
                    .into(),
            )));
        }
        tlog.push(TlogUsed {
            base_url: verified.log.base_url().to_string(),
            log_id: hex::encode(verified.log.log_id()),
            rekor_v2: verified.log.is_rekor_v2(),
            log_index: verified.log_index,
            integrated_time: verified
                .integrated_time
                .filter(|_| verified.promise_verified),
            promise_verified: verified.promise_verified,
            proof_verified: verified.proof_verified,
            checkpoint: verified
                .checkpoint
                .as_ref()
                .map(|c| (c.origin.clone(), c.tree_size)),
            entry_kind: format!("{} {}", body.kind, body.api_version),
        });
    }
    if options.require_tlog && tlog.is_empty() {
        return Err(SigstoreError::NoTlogEntry(reasons(
            &skipped,
            "the bundle has no transparency-log entry",
        )));
    }

    // 6. Verification times, certificate and identity.
    let mut times: Vec<SystemTime> = tlog.iter().filter_map(|t| t.integrated_time).collect();
    times.extend(timestamps.iter().map(|t| t.gen_time));
    if times.is_empty() {
        if options.require_tlog || options.require_timestamp {
            return Err(SigstoreError::NoTime(reasons(
                &skipped,
                "no inclusion promise or RFC 3161 timestamp establishes when it was signed",
            )));
        }
        times.push(options.now.unwrap_or_else(SystemTime::now));
    }
    let signer = match (&verifier, policy) {
        (Verifier::Certificate(leaf), BundlePolicy::Identities(ids)) => {
            let rest = bundle
                .certificate_chain()
                .map(|(_, r)| r)
                .unwrap_or_default();
            let checks = FulcioChecks {
                require_sct: options.require_sct,
            };
            let mut first = None;
            for t in &times {
                let v = FulcioCertificate::verify_with(leaf, rest, root, *t, checks)?;
                first.get_or_insert(v);
            }
            let Some(v) = first else {
                return Err(SigstoreError::NoTime(
                    "no time to check the certificate at".into(),
                ));
            };
            let (matched, san) = match_identities(ids, &v.identity)?;
            SignerVerified::Certificate {
                san: san.clone(),
                matched,
                identity: v.identity.clone(),
                authority_uri: v.authority_uri,
                authority_subject: v.authority_subject,
                ct_log: v.ct_log,
                key_fingerprint: crate::crypto::keys::spki_fingerprint(leaf.public_key_spki()),
            }
        }
        (Verifier::Key(k), _) => SignerVerified::Key {
            fingerprint: k.fingerprint(),
        },
        (Verifier::Certificate(_), BundlePolicy::Key(_)) => {
            return Err(SigstoreError::Material(
                "the bundle is signed with a certificate, not a key".into(),
            ))
        }
    };
    times.sort();
    times.dedup();
    Ok(BundleVerified {
        media_type: bundle.media_type.clone(),
        signer,
        tlog,
        timestamps,
        verification_times: times,
        statement,
        skipped,
    })
}

fn reasons(skipped: &[String], none: &str) -> String {
    if skipped.is_empty() {
        none.to_string()
    } else {
        crate::util::text::bounded_join(
            skipped.iter().cloned(),
            "; ",
            crate::util::text::MAX_LISTED_REASONS,
        )
    }
}

/// One RFC 3161 timestamp over `signature`, against the root's authorities valid at its
/// `genTime`.
fn verify_timestamp(
    der: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> std::result::Result<TimestampUsed, TimestampFailure> {
    let token = crate::pki::tsp::parse_response(der)?;
    let at = token.gen_time();
    let authorities = root.timestamp_authorities_at(at);
    if authorities.is_empty() {
        return Err(TimestampFailure::NoAuthority(rfc3339(at)));
    }
    let mut errors = Vec::new();
    for ca in authorities {
        match token.verify_with_chain(signature, ca.chain()) {
            Ok(v) => {
                return Ok(TimestampUsed {
                    authority_uri: ca.uri().to_string(),
                    tsa_subject: v.tsa_subject,
                    gen_time: v.gen_time,
                })
            }
            Err(e) => errors.push(format!("{}: {e}", ca.uri())),
        }
    }
    Err(TimestampFailure::Untrusted(errors.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_secure_requirements() {
        let o = BundleOptions::default();
        assert!(o.require_tlog && o.require_sct && !o.require_timestamp);
    }
}
