//! `imgseal policy validate` and `imgseal verify --policy`.

use super::*;

pub(crate) fn policy_validate(file: &std::path::Path) -> Result<u8, Error> {
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
        VerifyOutput::Sarif => outln!("{}", render::raw_json(&sarif(decisions))),
        VerifyOutput::Json => {
            let mut doc = serde_json::Map::new();
            doc.insert(json_key.to_string(), serde_json::Value::from(file));
            doc.insert("allowed".into(), serde_json::Value::Bool(denied == 0));
            doc.insert(
                "decisions".into(),
                serde_json::to_value(decisions).unwrap_or_default(),
            );
            outln!("{}", render::json(&doc))
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
