//! `imgseal policy validate` and `imgseal verify --policy`.

use super::*;

pub(crate) fn policy_validate(file: &std::path::Path) -> Result<u8, Error> {
    if let Some(kind) = notation_policy_kind(file)? {
        return notation_policy_validate(file, kind);
    }
    let (policy, warnings) = imgseal::policy::Policy::load(file)?;
    render::warnings(&warnings);
    outln!(
        "{}: valid ({} rules, {} authorities, defaultAction {:?})",
        file.display(),
        policy.file().rules.len(),
        policy.file().authorities.len(),
        policy.file().default_action
    );
    Ok(0)
}

/// Which notation trust policy `file` is, when it is one: a JSON object with `trustPolicies`
/// (an imgseal policy never has that key). Blob policies (`trustpolicy.blob.json`) are told
/// apart by statements with `globalPolicy` and none with `registryScopes`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NotationPolicyKind {
    Oci,
    Blob,
}

fn notation_policy_kind(file: &std::path::Path) -> Result<Option<NotationPolicyKind>, Error> {
    const CAP: u64 = 4 * 1024 * 1024;
    let bytes = imgseal::util::fs::read_capped(file, CAP, "a policy file")?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Ok(None);
    }
    // Only a look at the shape; the trust policy parser decides validity.
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return Ok(None);
    };
    let Some(statements) = doc.get("trustPolicies") else {
        return Ok(None);
    };
    let has = |key: &str| {
        statements
            .as_array()
            .is_some_and(|v| v.iter().any(|s| s.get(key).is_some()))
    };
    Ok(Some(if !has("registryScopes") && has("globalPolicy") {
        NotationPolicyKind::Blob
    } else {
        NotationPolicyKind::Oci
    }))
}

/// `policy validate` of a notation trust policy: the library's trust-policy parser, with its
/// errors reported as for imgseal policies.
fn notation_policy_validate(file: &std::path::Path, kind: NotationPolicyKind) -> Result<u8, Error> {
    use imgseal::trust::{BlobTrustPolicy, TrustPolicy};
    let (what, version, names): (&str, String, Vec<String>) = match kind {
        NotationPolicyKind::Oci => {
            let p = TrustPolicy::load(file)?;
            let names = p
                .statements()
                .iter()
                .map(|s| s.name().to_string())
                .collect();
            ("notation trust policy", p.version().to_string(), names)
        }
        NotationPolicyKind::Blob => {
            let p = BlobTrustPolicy::load(file)?;
            let names = p
                .statements()
                .iter()
                .map(|s| s.name().to_string())
                .collect();
            ("notation blob trust policy", p.version().to_string(), names)
        }
    };
    outln!(
        "{}: valid {what} (version {version}, {} statement{}: {})",
        file.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        imgseal::util::text::escape_control(&names.join(", "))
    );
    Ok(0)
}

pub(crate) async fn verify_policy(a: &VerifyArgs, file: &std::path::Path) -> Result<u8, Error> {
    use imgseal::policy::Policy;
    let (policy, warnings) = Policy::load(file)?;
    render::warnings(&warnings);
    let images = a
        .image
        .iter()
        .map(|i| image_ref(i, &a.store))
        .collect::<Result<Vec<_>, _>>()?;
    warn_unused_http(
        a.store.allow_http_registry,
        &images.iter().collect::<Vec<_>>(),
    );
    let concurrency = match a.concurrency {
        Some(0) => return Err(Error::Usage("--concurrency must be at least 1".into())),
        Some(n) => n,
        None => 16,
    };
    // Flags that apply on top of the policy file, to every image's signature check.
    // --identity is honoured: it replaces every rule's signedIdentity for this run.
    let identity = a
        .identity
        .as_deref()
        .map(imgseal::trust::signed_identity::SignedIdentity::exact_repository)
        .transpose()?;
    let policy = policy
        .with_options(store_options(&a.store))
        .with_required_annotations(a.annotations.iter().cloned().collect())
        .with_signed_identity(identity)
        .with_platform(a.platform.clone());
    let show_progress = images.len() > 5 && std::io::stderr().is_terminal();
    let decisions = policy
        .evaluate_many(&images, concurrency, |done, total| {
            if show_progress {
                err!("\r[{done}/{total}] images evaluated");
                if done == total {
                    errln!();
                }
            }
        })
        .await;
    render_decisions(
        a.output,
        &file.display().to_string(),
        &decisions,
        "RULE",
        "policy",
    )
}

/// Print decisions as `verify --policy` does (text table, JSON under `json_key`, or SARIF)
/// and return the exit code: 1 when any image is denied.
pub(crate) fn render_decisions(
    output: VerifyOutput,
    file: &str,
    decisions: &[imgseal::Decision],
    rule_header: &str,
    json_key: &str,
) -> Result<u8, Error> {
    use imgseal::policy::Mode;
    let denied = decisions.iter().filter(|d| !d.allowed).count();
    match output {
        VerifyOutput::Sarif => outln!("{}", render::json(&sarif(decisions))),
        VerifyOutput::Cosign => return Err(Error::Usage(COSIGN_OUTPUT_NOT_HERE.into())),
        VerifyOutput::Json => {
            let mut doc = serde_json::Map::new();
            doc.insert(json_key.to_string(), serde_json::Value::from(file));
            doc.insert("allowed".into(), serde_json::Value::Bool(denied == 0));
            doc.insert(
                "decisions".into(),
                serde_json::to_value(decisions).unwrap_or_default(),
            );
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())
        }
        VerifyOutput::Text => {
            let width = decisions
                .iter()
                .map(|d| d.image.len())
                .max()
                .unwrap_or(5)
                .max(5);
            outln!(
                "{:<width$}  {:<8}  {:<7}  {rule_header}",
                "IMAGE",
                "DECISION",
                "MODE"
            );
            for d in decisions {
                let failed = d.checks.iter().any(|c| !c.passed);
                let decision = match (d.allowed, failed, d.mode) {
                    (false, _, _) => "DENY",
                    (true, true, Mode::Warn) => "WARN",
                    (true, true, Mode::Audit) => "AUDIT",
                    (true, _, _) => "ALLOW",
                };
                let mode = format!("{:?}", d.mode).to_lowercase();
                outln!(
                    "{:<width$}  {:<8}  {:<7}  {}",
                    d.image,
                    decision,
                    mode,
                    d.rule.as_deref().unwrap_or("(default)")
                );
                for c in &d.checks {
                    let mark = if c.passed { "ok  " } else { "FAIL" };
                    outln!("    {mark} {:<10} {}", c.name, c.reason);
                }
            }
            outln!(
                "{} images: {} allowed, {} denied",
                decisions.len(),
                decisions.len() - denied,
                denied
            );
        }
    }
    Ok(if denied > 0 { EXIT_FAILED } else { 0 })
}
