//! `imgseal verify-blob`: a file (or its digest) against a Sigstore bundle, offline, with a
//! pinned trusted root (cosign's verb and flags).

use super::*;
use imgseal::trust::keyless::CertificateIdentity;
use imgseal::trust::sigstore_root::TrustedRoot;
use imgseal::util::time::format_rfc3339 as rfc3339;
use imgseal::verify::sigstore::{
    verify_bundle, Artifact, BundleOptions, BundlePolicy, BundleVerified, SignerVerified,
};
use imgseal::Digest;

/// Largest artifact read (it is hashed and its signature checked in memory).
const MAX_ARTIFACT: u64 = 1 << 30;
/// Largest trusted root read.
const MAX_TRUSTED_ROOT: u64 = 4 * 1024 * 1024;

/// Reads and checks `--trusted-root`.
pub(crate) fn load_trusted_root(path: Option<&std::path::Path>) -> Result<TrustedRoot, Error> {
    let path = path.ok_or_else(|| {
        Error::Usage(
            "keyless and bundle verification needs --trusted-root FILE: imgseal bundles no Sigstore \
             trusted root and runs no TUF client (pin one, e.g. the trusted_root.json of your \
             Sigstore deployment, or build one with `imgseal trusted-root create`)"
                .into(),
        )
    })?;
    let bytes = imgseal::util::fs::read_capped(path, MAX_TRUSTED_ROOT, "trusted root")?;
    TrustedRoot::from_json(&bytes).map_err(|e| Error::Invalid {
        what: format!("--trusted-root {}", path.display()),
        reason: e.to_string(),
    })
}

/// The identity the flags describe (with --key: none; the flags conflict with it).
fn identity(a: &VerifyBlobArgs) -> Result<Option<CertificateIdentity>, Error> {
    match keyless_identity(&a.keyless)? {
        Some(id) => Ok(Some(id)),
        None if a.key.is_some() => Ok(None),
        None => Err(Error::Usage(
            "verify-blob needs --key, or a certificate identity: --certificate-identity or \
             --certificate-identity-regexp, and --certificate-oidc-issuer or \
             --certificate-oidc-issuer-regexp (there is no \"any identity\")"
                .into(),
        )),
    }
}

pub(crate) fn verify_blob(a: VerifyBlobArgs) -> Result<u8, Error> {
    let id = identity(&a)?;
    let root = load_trusted_root(a.trusted_root.as_deref())?;
    let policy = match (&a.key, id) {
        (Some(k), _) => BundlePolicy::Key(PublicKey::from_file(k)?),
        (None, Some(id)) => BundlePolicy::Identities(vec![id]),
        (None, None) => {
            return Err(Error::Usage(
                "verify-blob needs --key or a certificate identity".into(),
            ))
        }
    };
    let bundle = imgseal::util::fs::read_capped(
        &a.bundle,
        imgseal::formats::cosign::bundle::MAX_BUNDLE_BYTES,
        "bundle",
    )?;
    let digest_arg = a.artifact.starts_with("sha256:") || a.artifact.starts_with("sha512:");
    let (bytes, digest) = if digest_arg {
        (None, Some(a.artifact.parse::<Digest>()?))
    } else {
        (
            Some(imgseal::util::fs::read_capped(
                std::path::Path::new(&a.artifact),
                MAX_ARTIFACT,
                "artifact",
            )?),
            None,
        )
    };
    let artifact = match (&bytes, &digest) {
        (Some(b), _) => Artifact::Bytes(b),
        (None, Some(d)) => Artifact::Digest(d),
        (None, None) => return Err(Error::Usage("no artifact".into())),
    };
    let options = BundleOptions {
        require_tlog: !a.insecure_ignore_tlog,
        require_sct: !a.insecure_ignore_sct,
        require_timestamp: a.use_signed_timestamps,
        now: None,
    };
    match verify_bundle(&bundle, artifact, &policy, &root, &options) {
        Ok(v) => {
            match a.output {
                Output::Json => outln!("{}", json(&a.artifact, Some(&v), None)),
                Output::Text => render_text(&v),
            }
            errln!("Verified OK");
            Ok(0)
        }
        Err(e) => {
            if a.output == Output::Json {
                outln!("{}", json(&a.artifact, None, Some(&e.to_string())));
            }
            errln!(
                "imgseal: verification failed for {}: {}",
                imgseal::util::text::escape_control(&a.artifact),
                imgseal::util::text::escape_control(&e.to_string())
            );
            Ok(EXIT_FAILED)
        }
    }
}

fn render_text(v: &BundleVerified) {
    let t = |s: &str| imgseal::util::text::escape_control(s).into_owned();
    errln!("bundle: {}", t(&v.media_type));
    match &v.signer {
        SignerVerified::Certificate {
            identity,
            san,
            authority_uri,
            authority_subject,
            ct_log,
            ..
        } => {
            errln!(
                "signer: certificate identity {} (issuer {})",
                t(san.value()),
                t(identity.issuer.as_deref().unwrap_or("?"))
            );
            let w = &identity.github_workflow;
            let fields: Vec<String> = [
                ("repository", &w.repository),
                ("ref", &w.git_ref),
                ("sha", &w.sha),
                ("trigger", &w.trigger),
                ("name", &w.name),
            ]
            .iter()
            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n} {}", t(v))))
            .collect();
            if !fields.is_empty() {
                errln!("github workflow: {}", fields.join(", "));
            }
            errln!(
                "certificate authority: {} ({})",
                t(authority_uri),
                t(&subject_text(authority_subject))
            );
            if let Some(ct) = ct_log {
                errln!(
                    "certificate transparency: SCT from {} (log ID {}) at {}",
                    t(&ct.base_url),
                    ct.log_id,
                    rfc3339(ct.timestamp)
                );
            }
        }
        SignerVerified::Key { fingerprint } => errln!("signer: the given key {fingerprint}"),
        _ => {}
    }
    for e in &v.tlog {
        let mut how = Vec::new();
        if e.promise_verified {
            how.push("inclusion promise".to_string());
        }
        if let Some((origin, size)) = &e.checkpoint {
            how.push(format!(
                "inclusion proof to checkpoint {} at tree size {size}",
                t(origin)
            ));
        }
        errln!(
            "transparency log: {}{} entry {}{} ({})",
            t(&e.base_url),
            if e.rekor_v2 { " (Rekor v2)" } else { "" },
            e.log_index,
            e.integrated_time
                .map(|i| format!(", integrated at {}", rfc3339(i)))
                .unwrap_or_default(),
            how.join(", ")
        );
    }
    for ts in &v.timestamps {
        errln!(
            "timestamp: {} from {} ({})",
            rfc3339(ts.gen_time),
            t(&ts.authority_uri),
            t(&ts.tsa_subject)
        );
    }
    let times: Vec<String> = v.verification_times.iter().map(|x| rfc3339(*x)).collect();
    errln!("checked at: {}", times.join(", "));
    for s in &v.skipped {
        errln!("imgseal: warning: skipped {}", t(s));
    }
}

fn subject_text(s: &imgseal::trust::sigstore_root::AuthoritySubject) -> String {
    let mut parts = Vec::new();
    if let Some(o) = &s.organization {
        parts.push(format!("O={o}"));
    }
    if let Some(cn) = &s.common_name {
        parts.push(format!("CN={cn}"));
    }
    parts.join(", ")
}

/// The `-o json` document.
fn json(artifact: &str, v: Option<&BundleVerified>, error: Option<&str>) -> String {
    let Some(v) = v else {
        return serde_json::json!({
            "schemaVersion": render::SCHEMA_VERSION,
            "artifact": artifact,
            "verified": false,
            "error": error,
        })
        .to_string();
    };
    let signer = match &v.signer {
        SignerVerified::Certificate {
            identity,
            san,
            matched,
            authority_uri,
            authority_subject,
            ct_log,
            key_fingerprint,
        } => serde_json::json!({
            "certificate": {
                "san": san,
                "sans": identity.sans,
                "issuer": identity.issuer,
                "githubWorkflow": identity.github_workflow,
                "matchedIdentity": matched,
                "keyFingerprint": key_fingerprint,
            },
            "certificateAuthority": {
                "uri": authority_uri,
                "organization": authority_subject.organization,
                "commonName": authority_subject.common_name,
            },
            "ctLog": ct_log.as_ref().map(|c| serde_json::json!({
                "baseUrl": c.base_url,
                "logId": c.log_id,
                "sctTime": rfc3339(c.timestamp),
            })),
        }),
        SignerVerified::Key { fingerprint } => serde_json::json!({ "key": fingerprint }),
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "schemaVersion": render::SCHEMA_VERSION,
        "artifact": artifact,
        "verified": true,
        "mediaType": v.media_type,
        "signer": signer,
        "tlogEntries": v.tlog.iter().map(|e| serde_json::json!({
            "baseUrl": e.base_url,
            "logId": e.log_id,
            "rekorV2": e.rekor_v2,
            "logIndex": e.log_index,
            "integratedTime": e.integrated_time.map(rfc3339),
            "inclusionPromise": e.promise_verified,
            "inclusionProof": e.proof_verified,
            "checkpoint": e.checkpoint.as_ref().map(|(o, s)| serde_json::json!({"origin": o, "treeSize": s})),
        })).collect::<Vec<_>>(),
        "timestamps": v.timestamps.iter().map(|t| serde_json::json!({
            "authority": t.authority_uri,
            "tsaSubject": t.tsa_subject,
            "genTime": rfc3339(t.gen_time),
        })).collect::<Vec<_>>(),
        "verificationTimes": v.verification_times.iter().map(|t| rfc3339(*t)).collect::<Vec<_>>(),
        "statement": v.statement.as_ref().map(|s| serde_json::json!({
            "predicateType": s.predicate_type,
            "subjects": s.subject.len(),
        })),
        "skipped": v.skipped,
    })
    .to_string()
}
