//! `imgseal k8s verify` and `imgseal k8s pin`.

use super::*;

/// Load the policy and manifests and judge every image (shared by `k8s verify` and `k8s pin`).
pub(crate) async fn k8s_report(
    a: &K8sArgs,
) -> Result<(imgseal::k8s::Manifests, imgseal::k8s::Report), Error> {
    use imgseal::policy::Policy;
    if a.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let (policy, warnings) = Policy::load(&a.policy)?;
    render::warnings(&warnings);
    let policy = policy.with_options(
        StoreOptions {
            allow_http: a.allow_http_registry,
            credentials: given_credentials(&a.auth),
            tls: tls_options(&a.auth),
            ..StoreOptions::default()
        }
        .with_timeout(a.timeout.timeout),
    );
    let manifests = imgseal::k8s::Manifests::read(&a.filename)?;
    let bar = render::count_bar("images evaluated");
    let report = imgseal::k8s::verify_with_progress(&policy, &manifests, a.concurrency, |d, t| {
        render::advance(&bar, d, t)
    })
    .await;
    for c in &report.containers {
        for w in &c.warnings {
            errln!("imgseal: warning: {}: {w}", c.object());
        }
    }
    Ok((manifests, report))
}

/// The word for one container's verdict.
pub(crate) fn verdict(allowed: bool, d: Option<&imgseal::policy::Decision>) -> &'static str {
    use imgseal::policy::Mode;
    let failed = d.is_some_and(|d| d.checks.iter().any(|c| !c.passed));
    match (allowed, failed, d.map(|d| d.mode)) {
        (false, _, _) => "DENY",
        (true, true, Some(Mode::Warn)) => "WARN",
        (true, true, Some(Mode::Audit)) => "AUDIT",
        (true, _, _) => "ALLOW",
    }
}

pub(crate) async fn k8s_verify(a: K8sVerifyArgs) -> Result<u8, Error> {
    if a.output == VerifyOutput::Cosign {
        return Err(Error::Usage(COSIGN_OUTPUT_NOT_HERE.into()));
    }
    let (_, report) = k8s_report(&a.k8s).await?;
    match a.output {
        VerifyOutput::Cosign => return Err(Error::Usage(COSIGN_OUTPUT_NOT_HERE.into())),
        VerifyOutput::Json => outln!("{}", render::json(&report)),
        VerifyOutput::Sarif => {
            let items: Vec<_> = report
                .containers
                .iter()
                .filter_map(|c| {
                    c.decision.as_ref().map(|d| {
                        (
                            d,
                            format!("{} {} container {}", c.object(), c.image, c.container),
                            serde_json::json!([{
                                "physicalLocation": {"artifactLocation": {"uri": c.file}},
                                "logicalLocations": [{"name": c.object(), "kind": "resource"}],
                            }]),
                        )
                    })
                })
                .collect();
            outln!("{}", render::raw_json(&sarif_with(&items)))
        }
        VerifyOutput::Text => {
            for c in &report.containers {
                outln!(
                    "{}#{} {} {}: {}  {}",
                    c.file,
                    c.document,
                    c.object(),
                    c.container,
                    c.image,
                    verdict(c.allowed, c.decision.as_ref()),
                );
                if let Some(e) = &c.error {
                    outln!("    FAIL {:<10} {e}", "reference");
                }
                for ch in c.decision.iter().flat_map(|d| d.checks.iter()) {
                    let mark = if ch.passed { "ok  " } else { "FAIL" };
                    outln!("    {mark} {:<10} {}", ch.name, ch.reason);
                }
            }
            let denied = report.containers.iter().filter(|c| !c.allowed).count();
            outln!(
                "{} containers in {} workloads ({} other documents skipped), {} distinct images: {} allowed, {} denied",
                report.containers.len(),
                report.workloads,
                report.skipped,
                report.distinct_images,
                report.containers.len() - denied,
                denied
            );
        }
    }
    Ok(if report.allowed { 0 } else { EXIT_FAILED })
}

pub(crate) async fn k8s_pin(a: K8sPinArgs) -> Result<u8, Error> {
    let stdin = a.k8s.filename.iter().any(|f| f.as_os_str() == "-");
    if a.write && stdin {
        return Err(Error::Usage(
            "k8s pin -w rewrites files in place; standard input (-f -) has no file to rewrite: drop -w to print the result".into(),
        ));
    }
    let (manifests, report) = k8s_report(&a.k8s).await?;
    if !a.write && manifests.texts.len() > 1 {
        return Err(Error::Usage(format!(
            "k8s pin prints one file to standard output, and {} were given: give -w to rewrite them in place",
            manifests.texts.len()
        )));
    }
    if !report.allowed {
        for c in report.containers.iter().filter(|c| !c.allowed) {
            let why: Vec<String> = c
                .error
                .iter()
                .cloned()
                .chain(
                    c.decision
                        .iter()
                        .flat_map(|d| d.checks.iter())
                        .filter(|ch| !ch.passed)
                        .map(|ch| format!("{}: {}", ch.name, ch.reason)),
                )
                .collect();
            errln!(
                "imgseal: denied: {}#{} {} {}: {}: {}",
                c.file,
                c.document,
                c.object(),
                c.container,
                c.image,
                why.join("; ")
            );
        }
        errln!("imgseal: not pinning: the policy denies an image; no file was changed");
        return Ok(EXIT_FAILED);
    }
    let pinned = imgseal::k8s::pin(&manifests, &report)?;
    if a.write {
        for p in &pinned {
            if p.changed.is_empty() {
                continue;
            }
            let path = std::path::Path::new(&p.file);
            let mode = {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::metadata(path)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .unwrap_or(0o644)
            };
            imgseal::util::fs::write_file_atomic(path, p.text.as_bytes(), mode, true)?;
            for (from, to) in &p.changed {
                errln!("{}: {from} -> {to}", p.file);
            }
        }
    } else {
        // One file: print it, pinned or unchanged.
        let text = match pinned.first() {
            Some(p) => p.text.clone(),
            None => manifests.texts.values().next().cloned().unwrap_or_default(),
        };
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        for p in &pinned {
            for (from, to) in &p.changed {
                errln!("{}: {from} -> {to}", p.file);
            }
        }
    }
    Ok(0)
}
