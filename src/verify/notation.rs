//! Verifying Notary Project (notation) signatures the way the Notary Project's trust-store and
//! trust-policy specification says: find the trust policy statement for the repository, then
//! run the five validations in the specification's order — integrity, authenticity, expiry,
//! authentic timestamp, revocation — each enforced, logged or skipped according to the
//! statement's level and overrides; the first enforced failure stops there.
//!
//! RFC 3161 timestamp countersignatures are verified (crate::timestamp) when the statement names
//! a `tsa` trust store and `verifyTimestamp` calls for it; certificate validity is then checked
//! at the timestamp. Revocation of the signing chain is checked with CRLs (crate::revocation)
//! when the statement does not skip it: a revoked certificate, or one whose status cannot be
//! determined ("revocation unavailable"), fails the validation, which is then enforced or logged
//! by the level. Certificates without CRL distribution points or OCSP responders need no network
//! access. Not checked: OCSP, and revocation of the TSA chain.

use super::annotations::Required;
use super::SignatureCheck;
use crate::formats::notation::{self, SigningScheme, VerifiedEnvelope};
use crate::oci::Manifest;
use crate::oci::{Descriptor, ImageManifest};
use crate::pki::{validate_chain, Certificate, Profile};
use crate::trust::notation_timestamp::AuthenticTime;
use crate::trust::{
    trusted_identity_matches, Action, PolicyStatement, TrustPolicy, TrustStore, TrustStoreKind,
    ValidationType, VerificationLevel,
};
use crate::Digest;
use std::time::SystemTime;

/// A notation trust policy and the trust store it names, as `notation verify` uses them.
#[derive(Clone, Debug)]
pub struct NotationTrust {
    /// The trust policy (`trustpolicy.json`, version 1.0).
    pub policy: TrustPolicy,
    /// The trust store directory (holding `x509/ca/…`, `x509/signingAuthority/…`, `x509/tsa/…`).
    pub store: TrustStore,
}

impl NotationTrust {
    /// Load `trustpolicy.json` and the trust store directory.
    pub fn load(policy: &std::path::Path, store: &std::path::Path) -> crate::Result<NotationTrust> {
        Ok(NotationTrust {
            policy: TrustPolicy::load(policy)?,
            store: TrustStore::load(store)?,
        })
    }
}

/// The outcome of one notation signature: the check, and notes to log.
pub(crate) struct Outcome {
    pub check: SignatureCheck,
    pub logged: Vec<String>,
}

/// No trust policy statement applies to a repository.
#[derive(Debug, thiserror::Error)]
#[error("no trust policy statement applies to {scope} (add its repository to registryScopes, or a \"*\" statement)")]
#[non_exhaustive]
pub(crate) struct NoStatement {
    /// The repository, as notation writes scopes.
    pub scope: String,
}

/// The trust policy statement for `scope` (`registry/repository`), or why there is none.
pub(crate) fn statement_for<'a>(
    trust: &'a NotationTrust,
    scope: &str,
) -> Result<&'a PolicyStatement, NoStatement> {
    // notation writes Docker Hub scopes as docker.io/…; imgseal's identities spell it as cosign does.
    let scope = match scope.strip_prefix("index.docker.io/") {
        Some(rest) => format!("docker.io/{rest}"),
        None => scope.to_string(),
    };
    let scope = scope.as_str();
    let statement = trust.policy.policy_for(scope);
    tracing::debug!(
        scope,
        statement = statement.map(|s| s.name()).unwrap_or("(none)"),
        "notation trust-policy statement"
    );
    statement.ok_or_else(|| NoStatement {
        scope: scope.to_string(),
    })
}

/// Build the record of one notation signature found at `source`, before it is checked.
pub(crate) fn outcome(source: String) -> Outcome {
    Outcome {
        check: SignatureCheck {
            source,
            format: "notation",
            layer_digest: String::new(),
            verified: false,
            failure: None,
            payload: None,
            signed_by: None,
            signer_key: None,
            ..Default::default()
        },
        logged: Vec::new(),
    }
}

/// The checks on a referrer's manifest `bytes` before its envelope is fetched: a notation
/// signature manifest whose subject is `subject`; its envelope layer (integrity).
pub(crate) fn envelope_layer(bytes: &[u8], subject: &Digest) -> Result<Descriptor, FetchError> {
    let manifest = ImageManifest::from_bytes(bytes)?;
    if !notation::is_notation_signature_manifest(&manifest) {
        return Err(FetchError::NotNotation);
    }
    match &manifest.subject {
        Some(s) if s.digest == subject.to_string() => {}
        Some(s) => return Err(FetchError::OtherSubject(s.digest.clone())),
        None => return Err(FetchError::NoSubject),
    }
    // Integrity: always enforced.
    notation::envelope_layer(&manifest)
        .cloned()
        .map_err(FetchError::Layer)
}

/// Why a notation signature's manifest or envelope could not be fetched or is not one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FetchError {
    /// Its digest is malformed, it could not be fetched, or it is not a manifest.
    #[error(transparent)]
    Unusable(#[from] crate::Error),
    /// Its descriptor announces more than the manifest cap.
    #[error("signature manifest announces {size} bytes, over the cap")]
    TooLarge {
        /// The announced size.
        size: u64,
    },
    /// Listed, but the store does not have it.
    #[error("signature manifest listed but missing")]
    Missing,
    /// A manifest, but not a notation signature manifest.
    #[error("not a notation signature manifest")]
    NotNotation,
    /// Its subject is another image (this digest).
    #[error("its subject is {0}, another image")]
    OtherSubject(String),
    /// It has no subject.
    #[error("it has no subject")]
    NoSubject,
    /// Its envelope layer is missing or not one (integrity).
    #[error("integrity: {0}")]
    Layer(#[source] notation::EnvelopeError),
    /// The envelope layer's digest is malformed (integrity).
    #[error("integrity: {0}")]
    LayerDigest(#[source] crate::Error),
    /// The envelope could not be fetched (integrity).
    #[error("integrity: envelope could not be fetched: {0}")]
    Envelope(#[source] crate::Error),
}

/// The outcome of one of the five validations, as notation-go's `ValidationResult`: which
/// validation, what the trust policy statement does with a failure, and the failure.
pub(crate) struct ValidationResult {
    /// The validation.
    pub validation: ValidationType,
    /// Enforce, log or skip, from the statement's level and overrides.
    pub action: Action,
    /// Why it failed, if it did.
    pub error: Option<ValidationFailure>,
}

/// Why one of the validations after integrity failed (rendered after the validation's name).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ValidationFailure {
    /// The statement names no trust store of the kind the signing scheme needs.
    #[error("the trust policy statement {statement:?} names no {kind} trust store")]
    NoTrustStore {
        /// The statement's name.
        statement: String,
        /// `ca` or `signingAuthority`.
        kind: &'static str,
    },
    /// The envelope's chain stops short of a root.
    #[error("the envelope's certificate chain does not end in a self-signed root")]
    NotRooted,
    /// The chain does not validate to a root of the trust store (or a certificate was outside
    /// its validity period).
    #[error(transparent)]
    Chain(#[from] crate::pki::CertError),
    /// The leaf's subject is not one of the statement's trusted identities.
    #[error("signing certificate subject {subject:?} is not a trusted identity of statement {statement:?}")]
    UntrustedIdentity {
        /// The leaf certificate's subject.
        subject: String,
        /// The statement's name.
        statement: String,
    },
    /// The signature's own expiry has passed.
    #[error("the signature expired at {0}")]
    Expired(String),
    /// The RFC 3161 timestamp countersignature does not hold.
    #[error(transparent)]
    Timestamp(#[from] crate::trust::notation_timestamp::AuthenticTimestampError),
    /// A certificate of the chain is revoked or its status is unknown (the CRL check's report).
    #[error("{0}")]
    Revocation(String),
    /// The chain is untrusted, so the CRL URLs it names are not fetched.
    #[error("not checked: the signing chain does not lead to a trusted root, so the CRL URLs its certificates name are not fetched (status unknown)")]
    RevocationNotChecked,
    /// The CRL fetcher could not be built.
    #[error(transparent)]
    RevocationUnavailable(#[from] crate::pki::crl::RevocationError),
}

/// Why a notation signature does not count: integrity (always enforced), a trust store that
/// cannot be read, the first enforced validation failure, or missing user metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum NotationFailure {
    /// The envelope does not parse or its signature does not verify with its own leaf.
    #[error("integrity: {0}")]
    Envelope(#[source] notation::EnvelopeError),
    /// The envelope signs another manifest.
    #[error("integrity: the envelope signs {signed} ({signed_media_type}, {signed_size} bytes), not this image ({media_type}, {size} bytes)")]
    OtherTarget {
        /// The digest the envelope signs.
        signed: String,
        /// Its media type.
        signed_media_type: String,
        /// Its size.
        signed_size: u64,
        /// This image's media type.
        media_type: String,
        /// This image's size.
        size: u64,
    },
    /// A critical extended attribute imgseal cannot evaluate (a verification plugin's).
    #[error("the envelope has critical attribute {name:?} (verification plugin {plugin}), which imgseal cannot evaluate; verification is inconclusive")]
    CriticalAttribute {
        /// The attribute's name.
        name: String,
        /// The plugin the envelope names, or "none named".
        plugin: String,
    },
    /// A certificate of the envelope's `x5c` chain does not parse.
    #[error("integrity: x5c: {0}")]
    Chain(#[source] crate::pki::CertError),
    /// The statement's trust store cannot be read (fails whatever the level).
    #[error("authenticity: {0}")]
    TrustStore(#[source] crate::trust::TrustError),
    /// A validation failed and the statement enforces it.
    #[error("{validation}: {failure}")]
    Enforced {
        /// The validation's name.
        validation: &'static str,
        /// Why it failed.
        failure: ValidationFailure,
    },
    /// User metadata the caller requires is missing or different.
    #[error(transparent)]
    Metadata(#[from] super::annotations::AnnotationMismatch),
}

impl ValidationResult {
    fn new(
        statement: &PolicyStatement,
        validation: ValidationType,
        result: Result<(), ValidationFailure>,
    ) -> Self {
        ValidationResult {
            validation,
            action: statement.action(validation),
            error: result.err(),
        }
    }
}

/// The envelope once integrity holds: the verified envelope, its parsed `x5c` chain and the
/// leaf's subject.
pub(crate) struct Integrity {
    envelope: VerifiedEnvelope,
    chain: Vec<Certificate>,
    leaf_subject: String,
}

/// What authenticity found out beyond pass/fail, for the validations after it.
struct Authenticity {
    /// The chain leads to a trusted root (validity periods aside): only then are the CRL URLs
    /// its certificates name fetched.
    chain_trusted: bool,
    /// The chain is trusted but a certificate was outside its validity period then.
    validity_problem: Option<crate::pki::CertError>,
}

/// Verify the envelope `bytes` of a notation signature of `subject`, with the trust policy
/// `statement` and `trust`'s trust store, at `now`: the five validations in the
/// specification's order (integrity, authenticity, expiry, authentic timestamp, revocation),
/// each enforced, logged or skipped by the statement; the first enforced failure stops there.
/// Then the user metadata `required`, always enforced. Returns the signer's label and key
/// fingerprint; logged failures go to `out.logged`.
pub(crate) async fn verify_envelope(
    bytes: &[u8],
    subject: &Manifest,
    statement: &PolicyStatement,
    trust: &NotationTrust,
    required: &Required<'_>,
    now: SystemTime,
    out: &mut Outcome,
) -> Result<(String, String), NotationFailure> {
    let Integrity {
        envelope,
        chain,
        leaf_subject,
    } = verify_integrity(bytes, subject)?;
    let mut logged = Vec::new();
    let mut apply = |r: ValidationResult| -> Result<(), NotationFailure> {
        match (r.error, r.action) {
            (None, _) | (_, Action::Skip) => Ok(()),
            (Some(e), Action::Log) => {
                logged.push(format!(
                    "{} (logged, level {:?}): {e}",
                    r.validation.as_str(),
                    statement.level()
                ));
                Ok(())
            }
            (Some(failure), Action::Enforce) => Err(NotationFailure::Enforced {
                validation: r.validation.as_str(),
                failure,
            }),
        }
    };
    let (result, facts) =
        verify_authenticity(&envelope, &chain, &leaf_subject, statement, trust, now)?;
    apply(result)?;
    // Expiry, before the authentic timestamp: the specification's order (and notation-go's
    // processSignature) is integrity, authenticity, expiry, authentic timestamp, revocation,
    // and the first enforced failure is the one reported.
    apply(verify_expiry(&envelope, statement, now))?;
    let (result, timestamped_at) = verify_authentic_timestamp(
        &envelope,
        &chain,
        statement,
        trust,
        now,
        facts.validity_problem,
        &mut out.logged,
    );
    apply(result)?;
    if let Some(result) = verify_revocation(
        &envelope,
        &chain,
        statement,
        now,
        timestamped_at,
        facts.chain_trusted,
    )
    .await
    {
        apply(result)?;
    }
    // User metadata the caller requires (like `notation verify --user-metadata`), after the
    // trust policy's validations as in notation-go; always enforced.
    let meta = &envelope.target.annotations;
    required.check(|k| meta.get(k).map(|v| serde_json::Value::String(v.clone())))?;
    out.logged.extend(logged);
    let key = chain
        .first()
        .map(|c| crate::crypto::keys::spki_fingerprint(c.public_key_spki()))
        .unwrap_or_default();
    Ok((identity_label(&envelope, &leaf_subject), key))
}

/// Integrity (always enforced): the envelope parses, its signature verifies with its own
/// leaf certificate, it signs exactly `subject`, it has no critical attribute imgseal cannot
/// evaluate, and its `x5c` chain parses.
pub(crate) fn verify_integrity(
    bytes: &[u8],
    subject: &Manifest,
) -> Result<Integrity, NotationFailure> {
    let envelope = notation::parse_envelope(bytes)
        .and_then(|e| e.verify_integrity())
        .map_err(NotationFailure::Envelope)?;
    let target = Descriptor {
        media_type: subject.media_type.clone(),
        size: subject.bytes.len() as u64,
        digest: subject.digest.to_string(),
        ..Descriptor::default()
    };
    if !envelope.matches_target(&target) {
        return Err(NotationFailure::OtherTarget {
            signed: envelope.target.digest.clone(),
            signed_media_type: envelope.target.media_type.clone(),
            signed_size: envelope.target.size,
            media_type: target.media_type,
            size: target.size,
        });
    }
    if let Some(attr) = envelope.critical_extended_attributes().next() {
        return Err(NotationFailure::CriticalAttribute {
            name: attr.name.clone(),
            plugin: envelope
                .verification_plugin()
                .unwrap_or("none named")
                .to_string(),
        });
    }
    let chain = envelope
        .certificate_chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(NotationFailure::Chain)?;
    let leaf_subject = chain
        .first()
        .map(|c| c.subject().to_string())
        .unwrap_or_default();
    Ok(Integrity {
        envelope,
        chain,
        leaf_subject,
    })
}

/// Authenticity: the chain reaches a root in the statement's trust stores of the type the
/// signing scheme calls for, and the leaf's subject is a trusted identity. A trust store that
/// cannot be read fails outright (whatever the level).
fn verify_authenticity(
    envelope: &VerifiedEnvelope,
    chain: &[Certificate],
    leaf_subject: &str,
    statement: &PolicyStatement,
    trust: &NotationTrust,
    now: SystemTime,
) -> Result<(ValidationResult, Authenticity), NotationFailure> {
    let store_type = match envelope.signing_scheme {
        SigningScheme::X509 => TrustStoreKind::Ca,
        SigningScheme::X509SigningAuthority => TrustStoreKind::SigningAuthority,
    };
    let validity_at = match envelope.signing_scheme {
        SigningScheme::X509SigningAuthority => envelope.authentic_signing_time.unwrap_or(now),
        SigningScheme::X509 => now,
    };
    let roots = trust
        .store
        .roots_for(statement, store_type)
        .map_err(NotationFailure::TrustStore)?;
    let mut facts = Authenticity {
        chain_trusted: false,
        validity_problem: None,
    };
    let result = (|| {
        if roots.is_empty() {
            return Err(ValidationFailure::NoTrustStore {
                statement: statement.name().to_string(),
                kind: store_type.as_str(),
            });
        }
        if chain.last().is_some_and(|c| !c.is_self_signed()) {
            return Err(ValidationFailure::NotRooted);
        }
        match validate_chain(chain, &roots, validity_at, Profile::Notary) {
            Ok(()) => facts.chain_trusted = true,
            Err(e) if e.is_validity_period() => {
                facts.chain_trusted = true;
                facts.validity_problem = Some(e)
            }
            Err(e) => return Err(e.into()),
        }
        if !trusted_identity_matches(statement, leaf_subject) {
            return Err(ValidationFailure::UntrustedIdentity {
                subject: leaf_subject.to_string(),
                statement: statement.name().to_string(),
            });
        }
        Ok(())
    })();
    Ok((
        ValidationResult::new(statement, ValidationType::Authenticity, result),
        facts,
    ))
}

/// Expiry: the signature's own expiry time has not passed at `now`.
fn verify_expiry(
    envelope: &VerifiedEnvelope,
    statement: &PolicyStatement,
    now: SystemTime,
) -> ValidationResult {
    let result = match envelope.expiry {
        Some(t) if t < now => Err(ValidationFailure::Expired(rfc3339(t))),
        _ => Ok(()),
    };
    ValidationResult::new(statement, ValidationType::Expiry, result)
}

/// Authentic timestamp: certificates valid at the authentic signing time (signing
/// authority); for notary.x509, over the verified RFC 3161 timestamp when the statement names
/// a tsa trust store (see timestamp::notation_authentic_timestamp), else now. Also returns
/// the verified timestamp's time; a note that the token was not verified goes to `notes`.
fn verify_authentic_timestamp(
    envelope: &VerifiedEnvelope,
    chain: &[Certificate],
    statement: &PolicyStatement,
    trust: &NotationTrust,
    now: SystemTime,
    validity_problem: Option<crate::pki::CertError>,
    notes: &mut Vec<String>,
) -> (ValidationResult, Option<SystemTime>) {
    let mut timestamped_at = None;
    let result = match envelope.signing_scheme {
        SigningScheme::X509SigningAuthority => validity_problem.map_or(Ok(()), |e| Err(e.into())),
        SigningScheme::X509 => {
            match crate::trust::notation_timestamp::notation_authentic_timestamp(
                envelope,
                chain,
                statement,
                &trust.store,
                now,
            ) {
                Ok(AuthenticTime::Timestamp(ts)) => {
                    timestamped_at = Some(ts.gen_time);
                    Ok(())
                }
                Ok(AuthenticTime::Now { token_ignored }) => {
                    if token_ignored {
                        notes.push(
                            "authenticTimestamp: the RFC 3161 timestamp countersignature was not verified (the trust policy statement names no tsa trust store, or verifyTimestamp is afterCertExpiry and the certificates are unexpired); certificate validity was checked at the current time".to_string(),
                        );
                    }
                    validity_problem.map_or(Ok(()), |e| Err(e.into()))
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    (
        ValidationResult::new(statement, ValidationType::AuthenticTimestamp, result),
        timestamped_at,
    )
}

/// Revocation: CRLs of every certificate but the root. Revoked, or status unknown
/// ("revocation unavailable"), fails the validation (specification: Certificate Revocation
/// Evaluation); the level then enforces or logs it. `None` when the statement skips it.
async fn verify_revocation(
    envelope: &VerifiedEnvelope,
    chain: &[Certificate],
    statement: &PolicyStatement,
    now: SystemTime,
    timestamped_at: Option<SystemTime>,
    chain_trusted: bool,
) -> Option<ValidationResult> {
    if statement.action(ValidationType::Revocation) == Action::Skip {
        return None;
    }
    let signing_time = match envelope.signing_scheme {
        SigningScheme::X509SigningAuthority => envelope.authentic_signing_time,
        SigningScheme::X509 => timestamped_at,
    };
    // An untrusted chain's CRL URLs are the signer's choice: fetching them (at a level that
    // only logs authenticity) would let anyone who can push make imgseal probe addresses from
    // wherever it runs. Its status stays unknown.
    let result = match crate::trust::revocation_fetch::Checker::new() {
        Ok(_) if !chain_trusted => Err(ValidationFailure::RevocationNotChecked),
        Ok(checker) => checker
            .check_chain(chain, now, signing_time)
            .await
            .failure()
            .map_or(Ok(()), |report| Err(ValidationFailure::Revocation(report))),
        Err(e) => Err(e.into()),
    };
    Some(ValidationResult::new(
        statement,
        ValidationType::Revocation,
        result,
    ))
}

fn identity_label(envelope: &VerifiedEnvelope, subject: &str) -> String {
    match envelope.signing_scheme {
        SigningScheme::X509 => format!("x509.subject: {subject}"),
        SigningScheme::X509SigningAuthority => {
            format!("x509.subject: {subject} (signing authority)")
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::util::time::format_rfc3339_seconds(secs).unwrap_or_else(|| secs.to_string())
}

/// True when the statement's level is `skip` (notation does not verify at all).
pub(crate) fn is_skip(statement: &PolicyStatement) -> bool {
    statement.level() == VerificationLevel::Skip
}
