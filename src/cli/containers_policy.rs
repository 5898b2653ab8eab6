//! `imgseal verify --containers-policy FILE IMAGE…` (containers/image's policy.json, as podman
//! and CRI-O enforce it) and `imgseal policy import-containers FILE`.

use super::*;
use imgseal::policy::containers::ContainersPolicy;
use imgseal::policy::containers_eval::ContainersEvaluator;

/// Flags `verify --containers-policy` cannot apply: the file says who must sign and which
/// identity a signature may name.
fn conflicts(a: &VerifyArgs) -> Option<String> {
    let given: Vec<&str> = [
        ("--identity", a.identity.is_some()),
        ("-a/--annotations", !a.annotations.is_empty()),
        ("--certificate-chain", a.certificate_chain.is_some()),
        (
            "--certificate-identity",
            a.keyless.certificate_identity.is_some(),
        ),
        ("--certificate-subject", a.certificate_subject.is_some()),
        ("--trust-policy", a.trust_policy.is_some()),
        ("--trust-store", a.trust_store.is_some()),
        ("--format", a.format.is_some()),
        ("--platform", a.platform.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect();
    if given.is_empty() {
        return None;
    }
    Some(format!(
        "{} cannot be combined with --containers-policy: the policy.json decides who must sign and which identity a signature may name (write a signedIdentity such as {{\"type\": \"remapIdentity\", …}} into its requirement), as podman and CRI-O read it",
        given.join(" and ")
    ))
}

pub(crate) async fn verify_containers(a: &VerifyArgs, file: &std::path::Path) -> Result<u8, Error> {
    if let Some(why) = conflicts(a) {
        return Err(Error::Usage(why));
    }
    if a.output == VerifyOutput::Sarif {
        return Err(Error::Usage(
            "--output sarif is for verify --policy; use --output json or text with --containers-policy".into(),
        ));
    }
    let policy = ContainersPolicy::load(file)?;
    for w in policy.warnings() {
        errln!("imgseal: warning: {file}: {w}", file = file.display());
    }
    let evaluator = ContainersEvaluator::new(policy).with_options(store_options(&a.store));
    let images = image_refs(&a.image, &a.store)?;
    let concurrency = match a.concurrency {
        Some(0) => return Err(Error::Usage("--concurrency must be at least 1".into())),
        Some(n) => n,
        None => 16,
    };
    let decisions = evaluator.evaluate_many(&images, concurrency).await;
    render_decisions(
        a.output,
        &file.display().to_string(),
        &decisions,
        "SCOPE",
        "containersPolicy",
    )
}

pub(crate) fn import_containers(file: &std::path::Path) -> Result<u8, Error> {
    let policy = ContainersPolicy::load(file)?;
    for w in policy.warnings() {
        errln!("imgseal: warning: {file}: {w}", file = file.display());
    }
    let base = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the working directory: {e}")))?;
    let imported =
        imgseal::policy::containers_import::import(&policy, &file.display().to_string(), &base)?;
    for n in &imported.notes {
        errln!("imgseal: note: {n}");
    }
    outln!("{}", imported.yaml.trim_end());
    Ok(0)
}
