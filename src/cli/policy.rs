//! `imgseal policy validate` and `imgseal verify --policy`.

use super::*;

/// One problem `policy validate -o json` reports: the message and, when the parser names
/// it, the line and column.
#[derive(serde::Serialize)]
struct Problem {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u64>,
}

impl Problem {
    /// `message`, with the position serde_yaml's "at line N column M" names.
    fn of(message: String) -> Problem {
        let number_after = |word: &str| {
            let at = message.find(word)? + word.len();
            let digits: String = message[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        };
        Problem {
            line: number_after("line "),
            column: number_after("column "),
            message,
        }
    }
}

pub(crate) fn policy_validate(
    file: &std::path::Path,
    output: Output,
    strict: bool,
) -> Result<u8, Error> {
    if let Some(kind) = notation_policy_kind(file)? {
        if output == Output::Json || strict {
            return Err(Error::Usage(
                "-o json and --strict are for imgseal policy files; a notation trust policy is validated with text output".into(),
            ));
        }
        return notation_policy_validate(file, kind);
    }
    let loaded = imgseal::policy::Policy::load(file);
    let shown = file.display().to_string();
    if output == Output::Json {
        let mut doc = serde_json::json!({
            "file": shown,
            "valid": false,
            "errors": [],
            "warnings": [],
        });
        let code = match &loaded {
            Ok((policy, warnings)) => {
                let problems: Vec<Problem> = warnings.iter().cloned().map(Problem::of).collect();
                let failed = strict && !problems.is_empty();
                doc["valid"] = (!failed).into();
                doc[if strict { "errors" } else { "warnings" }] =
                    serde_json::to_value(problems).unwrap_or_default();
                doc["rules"] = policy.file().rules.len().into();
                doc["authorities"] = policy.file().authorities.len().into();
                doc["defaultAction"] = serde_json::to_value(policy.file().default_action)
                    .unwrap_or_default()
                    .as_str()
                    .map(str::to_lowercase)
                    .into();
                if failed {
                    EXIT_FAILED
                } else {
                    0
                }
            }
            Err(Error::Policy(e)) => {
                doc["errors"] = serde_json::to_value(e.problems()).unwrap_or_default();
                EXIT_ERROR
            }
            Err(e) => {
                doc["errors"] =
                    serde_json::to_value([Problem::of(e.to_string())]).unwrap_or_default();
                EXIT_ERROR
            }
        };
        outln!("{}", render::json(&doc));
        return match loaded {
            Err(Error::Policy(e)) => Ok(report_problems(&shown, &e)),
            Err(e) => Err(e),
            Ok(_) => Ok(code),
        };
    }
    if let Err(Error::Policy(e)) = &loaded {
        return Ok(report_problems(&shown, e));
    }
    let (policy, warnings) = loaded?;
    if strict && !warnings.is_empty() {
        for w in &warnings {
            errln!("imgseal: error: {w}");
        }
        errln!(
            "imgseal: {}: {} warning(s) are errors with --strict",
            file.display(),
            warnings.len()
        );
        return Ok(EXIT_FAILED);
    }
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

/// Print every problem of an invalid policy on its own line (`FILE:LINE:COLUMN: PATH:
/// MESSAGE`), then how many there are when more than one; the exit code of an invalid policy.
fn report_problems(shown: &str, e: &imgseal::policy::PolicyError) -> u8 {
    let problems = e.problems();
    for p in problems {
        errln!(
            "imgseal: error: {}",
            imgseal::util::text::escape_control(&p.render(shown))
        );
    }
    if problems.len() > 1 {
        errln!("imgseal: {shown}: {} errors", problems.len());
    }
    EXIT_ERROR
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
    let images = image_refs(&a.image, &a.store)?;
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
    let bar = if images.len() > 1 {
        render::count_bar("images evaluated")
    } else {
        None
    };
    let decisions = policy
        .evaluate_many(&images, concurrency, |done, total| {
            render::advance(&bar, done, total)
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
        VerifyOutput::Cosign => return Err(Error::Usage(COSIGN_OUTPUT_NOT_HERE.into())),
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
