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

use super::SignatureCheck;
use crate::formats::notation::{self, SigningScheme, VerifiedEnvelope};
use crate::oci::{Descriptor, ImageManifest};
use crate::revocation;
use crate::store::{Manifest, ManifestRef, Store};
use crate::timestamp::{self, AuthenticTime};
use crate::trust::{
    trusted_identity_matches, Action, PolicyStatement, StoreType, TrustPolicy, TrustStore,
    ValidationType, VerificationLevel,
};
use crate::x509::{validate_chain, Certificate, Profile};
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

/// The trust policy statement for `scope` (`registry/repository`), or why there is none.
pub(crate) fn statement_for<'a>(
    trust: &'a NotationTrust,
    scope: &str,
) -> Result<&'a PolicyStatement, String> {
    // notation writes Docker Hub scopes as docker.io/…; imgseal's identities spell it as cosign does.
    let scope = match scope.strip_prefix("index.docker.io/") {
        Some(rest) => format!("docker.io/{rest}"),
        None => scope.to_string(),
    };
    let scope = scope.as_str();
    trust
        .policy
        .policy_for(scope)
        .ok_or_else(|| format!("no trust policy statement applies to {scope} (add its repository to registryScopes, or a \"*\" statement)"))
}

/// Check one referrer that claims to be a notation signature of `subject`.
/// What a notation signature must carry beyond the trust policy: user metadata (the target's
/// annotations), as exact values and as keys that must be present.
pub(crate) struct Required<'a> {
    pub values: &'a std::collections::BTreeMap<String, String>,
    pub keys: &'a [String],
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn check(
    store: &Store,
    entry: &Descriptor,
    subject: &Manifest,
    statement: &PolicyStatement,
    trust: &NotationTrust,
    max_manifest: u64,
    source: String,
    required: &Required<'_>,
) -> Outcome {
    let mut out = Outcome {
        check: SignatureCheck {
            source,
            format: "notation",
            layer_digest: String::new(),
            verified: false,
            failure: None,
            payload: None,
            signed_by: None,
            signer_key: None,
        },
        logged: Vec::new(),
    };
    match check_inner(
        store,
        entry,
        subject,
        statement,
        trust,
        max_manifest,
        required,
        &mut out,
    )
    .await
    {
        Ok((signer, key)) => {
            out.check.verified = true;
            out.check.signed_by = Some(signer);
            out.check.signer_key = Some(key);
        }
        Err(why) => out.check.failure = Some(why),
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn check_inner(
    store: &Store,
    entry: &Descriptor,
    subject: &Manifest,
    statement: &PolicyStatement,
    trust: &NotationTrust,
    max_manifest: u64,
    required: &Required<'_>,
    out: &mut Outcome,
) -> Result<(String, String), String> {
    // Fetch the signature manifest and its envelope; both capped and re-hashed.
    let d = entry.digest().map_err(|e| e.to_string())?;
    if entry.size > max_manifest {
        return Err(format!(
            "signature manifest announces {} bytes, over the cap",
            entry.size
        ));
    }
    let m = store
        .get_manifest(&ManifestRef::Digest(d))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("signature manifest listed but missing")?;
    let manifest = ImageManifest::from_bytes(&m.bytes).map_err(|e| e.to_string())?;
    if !notation::is_notation_signature_manifest(&manifest) {
        return Err("not a notation signature manifest".into());
    }
    match &manifest.subject {
        Some(s) if s.digest == subject.digest.to_string() => {}
        Some(s) => return Err(format!("its subject is {}, another image", s.digest)),
        None => return Err("it has no subject".into()),
    }
    // Integrity: always enforced.
    let layer = notation::envelope_layer(&manifest).map_err(|e| format!("integrity: {e}"))?;
    out.check.layer_digest = layer.digest.clone();
    let layer_digest = layer.digest().map_err(|e| format!("integrity: {e}"))?;
    let bytes = store
        .get_blob(
            &layer_digest,
            layer.size,
            notation::MAX_ENVELOPE_SIZE as u64,
        )
        .await
        .map_err(|e| format!("integrity: envelope could not be fetched: {e}"))?;
    let envelope = notation::parse_envelope(&bytes)
        .and_then(|e| e.verify_integrity())
        .map_err(|e| format!("integrity: {e}"))?;
    let target = Descriptor {
        media_type: subject.media_type.clone(),
        size: subject.bytes.len() as u64,
        digest: subject.digest.to_string(),
        ..Descriptor::default()
    };
    if !envelope.matches_target(&target) {
        return Err(format!(
            "integrity: the envelope signs {} ({}, {} bytes), not this image ({}, {} bytes)",
            envelope.target.digest,
            envelope.target.media_type,
            envelope.target.size,
            target.media_type,
            target.size
        ));
    }
    if let Some(attr) = envelope.critical_extended_attributes().next() {
        return Err(format!(
            "the envelope has critical attribute {:?} (verification plugin {}), which imgseal cannot evaluate; verification is inconclusive",
            attr.name,
            envelope.verification_plugin().unwrap_or("none named")
        ));
    }
    let chain = envelope
        .certificate_chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("integrity: x5c: {e}"))?;
    let leaf_subject = chain
        .first()
        .map(|c| c.subject().to_string())
        .unwrap_or_default();

    let now = SystemTime::now();
    let mut logged = Vec::new();
    let mut apply = |v: ValidationType, result: Result<(), String>| -> Result<(), String> {
        match (result, statement.action(v)) {
            (Ok(()), _) | (_, Action::Skip) => Ok(()),
            (Err(e), Action::Log) => {
                logged.push(format!(
                    "{} (logged, level {:?}): {e}",
                    v.as_str(),
                    statement.level()
                ));
                Ok(())
            }
            (Err(e), Action::Enforce) => Err(format!("{}: {e}", v.as_str())),
        }
    };

    // Authenticity: the chain reaches a root in the statement's trust stores of the type the
    // signing scheme calls for, and the leaf's subject is a trusted identity.
    let store_type = match envelope.signing_scheme {
        SigningScheme::X509 => StoreType::Ca,
        SigningScheme::X509SigningAuthority => StoreType::SigningAuthority,
    };
    let validity_at = match envelope.signing_scheme {
        SigningScheme::X509SigningAuthority => envelope.authentic_signing_time.unwrap_or(now),
        SigningScheme::X509 => now,
    };
    let roots = trust
        .store
        .roots_for(statement, store_type)
        .map_err(|e| format!("authenticity: {e}"))?;
    let mut validity_problem = None;
    // Set once the chain is known to lead to a trusted root (validity periods aside): only
    // then are the CRL URLs its certificates name fetched.
    let mut chain_trusted = false;
    let authenticity = (|| {
        if roots.is_empty() {
            return Err(format!(
                "the trust policy statement {:?} names no {} trust store",
                statement.name(),
                store_type.as_str()
            ));
        }
        if chain.last().is_some_and(|c| !c.is_self_signed()) {
            return Err(
                "the envelope's certificate chain does not end in a self-signed root".to_string(),
            );
        }
        match validate_chain(&chain, &roots, validity_at, Profile::Notary) {
            Ok(()) => chain_trusted = true,
            Err(e) if e.is_validity_period() => {
                chain_trusted = true;
                validity_problem = Some(e.to_string())
            }
            Err(e) => return Err(e.to_string()),
        }
        if !trusted_identity_matches(statement, &leaf_subject) {
            return Err(format!(
                "signing certificate subject {leaf_subject:?} is not a trusted identity of statement {:?}",
                statement.name()
            ));
        }
        Ok(())
    })();
    apply(ValidationType::Authenticity, authenticity)?;

    // Expiry, before the authentic timestamp: the specification's order (and notation-go's
    // processSignature) is integrity, authenticity, expiry, authentic timestamp, revocation,
    // and the first enforced failure is the one reported.
    let expiry = match envelope.expiry {
        Some(t) if t < now => Err(format!("the signature expired at {}", rfc3339(t))),
        _ => Ok(()),
    };
    apply(ValidationType::Expiry, expiry)?;

    // Authentic timestamp: certificates valid at the authentic signing time (signing
    // authority); for notary.x509, over the verified RFC 3161 timestamp when the statement
    // names a tsa trust store (see timestamp::notation_authentic_timestamp), else now.
    let mut timestamped_at = None;
    let authentic_timestamp = match envelope.signing_scheme {
        SigningScheme::X509SigningAuthority => validity_problem.map_or(Ok(()), Err),
        SigningScheme::X509 => {
            match timestamp::notation_authentic_timestamp(
                &envelope,
                &chain,
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
                        out.logged.push(
                            "authenticTimestamp: the RFC 3161 timestamp countersignature was not verified (the trust policy statement names no tsa trust store, or verifyTimestamp is afterCertExpiry and the certificates are unexpired); certificate validity was checked at the current time".to_string(),
                        );
                    }
                    validity_problem.map_or(Ok(()), Err)
                }
                Err(e) => Err(e),
            }
        }
    };
    apply(ValidationType::AuthenticTimestamp, authentic_timestamp)?;

    // Revocation: CRLs of every certificate but the root. Revoked, or status unknown
    // ("revocation unavailable"), fails the validation (specification: Certificate Revocation
    // Evaluation); the level then enforces or logs it.
    if statement.action(ValidationType::Revocation) != Action::Skip {
        let signing_time = match envelope.signing_scheme {
            SigningScheme::X509SigningAuthority => envelope.authentic_signing_time,
            SigningScheme::X509 => timestamped_at,
        };
        // An untrusted chain's CRL URLs are the signer's choice: fetching them (at a level
        // that only logs authenticity) would let anyone who can push make imgseal probe
        // addresses from wherever it runs. Its status stays unknown.
        let revocation = match revocation::Checker::new() {
            Ok(_) if !chain_trusted => Err(
                "not checked: the signing chain does not lead to a trusted root, so the CRL URLs its certificates name are not fetched (status unknown)"
                    .to_string(),
            ),
            Ok(checker) => checker
                .check_chain(&chain, now, signing_time)
                .await
                .failure()
                .map_or(Ok(()), Err),
            Err(e) => Err(e.to_string()),
        };
        apply(ValidationType::Revocation, revocation)?;
    }
    // User metadata the caller requires (like `notation verify --user-metadata`), after the
    // trust policy's validations as in notation-go; always enforced.
    let meta = &envelope.target.annotations;
    for (k, v) in required.values {
        match meta.get(k) {
            Some(found) if found == v => {}
            Some(found) => return Err(format!("annotation {k} is {found:?}, not {v:?}")),
            None => return Err(format!("annotation {k}={v} is missing")),
        }
    }
    for k in required.keys {
        if !meta.contains_key(k) {
            return Err(format!("annotation {k} is missing"));
        }
    }
    out.logged.extend(logged);
    let key = chain
        .first()
        .map(|c| crate::keys::spki_fingerprint(c.public_key_spki()))
        .unwrap_or_default();
    Ok((identity_label(&envelope, &leaf_subject), key))
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
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(dt) => dt
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| secs.to_string()),
        Err(_) => secs.to_string(),
    }
}

/// True when the statement's level is `skip` (notation does not verify at all).
pub(crate) fn is_skip(statement: &PolicyStatement) -> bool {
    statement.level() == VerificationLevel::Skip
}
