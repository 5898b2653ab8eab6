//! `imgseal verify` (without `--policy`; see `policy.rs` for that).

use super::*;

/// Flags `verify --policy` cannot apply on top of the policy file, and what to do instead.
pub(crate) fn policy_conflicts(a: &VerifyArgs) -> Option<String> {
    let given = |name: &str, set: bool| set.then(|| name.to_string());
    let certificate = [
        given("--certificate-chain", a.certificate_chain.is_some()),
        given(
            "--certificate-identity",
            a.keyless.certificate_identity.is_some(),
        ),
    ];
    let keyless = [
        given("--trusted-root", a.trusted_root.is_some()),
        given("--insecure-ignore-sct", a.insecure_ignore_sct),
        given(
            "--certificate-identity-regexp",
            a.keyless.certificate_identity_regexp.is_some(),
        ),
        given(
            "--certificate-oidc-issuer",
            a.keyless.certificate_oidc_issuer.is_some(),
        ),
        given(
            "--certificate-oidc-issuer-regexp",
            a.keyless.certificate_oidc_issuer_regexp.is_some(),
        ),
        given(
            "--certificate-github-workflow-*",
            workflow_given(&a.keyless),
        ),
    ];
    let notation = [
        given("--trust-policy", a.trust_policy.is_some()),
        given("--trust-store", a.trust_store.is_some()),
    ];
    let flags = |v: &[Option<String>]| {
        v.iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let cert = flags(&certificate);
    if !cert.is_empty() {
        return Some(format!("{cert} cannot be combined with --policy: the policy file names who must sign; add an authority with certificateRoots (and identity) to it and list it in the rule, or drop --policy"));
    }
    let kl = flags(&keyless);
    if !kl.is_empty() {
        return Some(format!("{kl} cannot be combined with --policy: the policy file names who must sign; add an authority with keyless: {{trustedRoot, identities: [{{issuer, subject}}]}} to it and list it in the rule, or drop --policy"));
    }
    let nota = flags(&notation);
    if !nota.is_empty() {
        return Some(format!("{nota} cannot be combined with --policy: the policy file names who must sign; add an authority with notation: {{trustPolicy, trustStore}} to it and list it in the rule, or drop --policy"));
    }
    if a.format.is_some() {
        return Some("--format cannot be combined with --policy: each rule's authorities decide which signature formats count (key and certificateRoots authorities: cosign; notation authorities: notation); change the rule, or drop --policy".into());
    }
    None
}

/// True when a `--certificate-github-workflow-*` flag was given.
fn workflow_given(a: &KeylessIdentityArgs) -> bool {
    [
        &a.certificate_github_workflow_repository,
        &a.certificate_github_workflow_ref,
        &a.certificate_github_workflow_sha,
        &a.certificate_github_workflow_trigger,
        &a.certificate_github_workflow_name,
    ]
    .iter()
    .any(|f| f.is_some())
}

/// The keyless identity the flags name (`verify`, `verify-blob` and `verify-attestation` share
/// it): none when no identity flag was given; a usage error when only half of one (subject or
/// issuer) was.
pub(crate) fn keyless_identity(
    a: &KeylessIdentityArgs,
) -> Result<Option<imgseal::trust::keyless::CertificateIdentity>, Error> {
    use imgseal::trust::keyless::{CertificateIdentity, GithubWorkflow, Matcher};
    let subject_flag = a.certificate_identity.is_some() || a.certificate_identity_regexp.is_some();
    let issuer_flag =
        a.certificate_oidc_issuer.is_some() || a.certificate_oidc_issuer_regexp.is_some();
    if !subject_flag && !issuer_flag && !workflow_given(a) {
        return Ok(None);
    }
    let matcher = |exact: &Option<String>, re: &Option<String>, flag: &str| {
        match (exact, re) {
            (Some(e), _) => Ok(Matcher::exact(e.clone())),
            (None, Some(r)) => Matcher::regex(r)
                .map_err(|e| Error::Usage(format!("{flag}-regexp: {e}"))),
            (None, None) => Err(Error::Usage(format!(
                "keyless verification needs {flag} or {flag}-regexp too: a keyless signature counts only for the identity (--certificate-identity…) and OIDC issuer (--certificate-oidc-issuer…) it must carry"
            ))),
        }
    };
    let subject = matcher(
        &a.certificate_identity,
        &a.certificate_identity_regexp,
        "--certificate-identity",
    )?;
    let issuer = matcher(
        &a.certificate_oidc_issuer,
        &a.certificate_oidc_issuer_regexp,
        "--certificate-oidc-issuer",
    )?;
    Ok(Some(
        CertificateIdentity::new(subject, issuer).with_github_workflow(GithubWorkflow {
            repository: a.certificate_github_workflow_repository.clone(),
            git_ref: a.certificate_github_workflow_ref.clone(),
            sha: a.certificate_github_workflow_sha.clone(),
            trigger: a.certificate_github_workflow_trigger.clone(),
            name: a.certificate_github_workflow_name.clone(),
        }),
    ))
}

pub(crate) async fn verify(a: VerifyArgs) -> Result<u8, Error> {
    cosign_verify_flags(
        &a.cosign_verify,
        a.policy.is_some() || a.containers_policy.is_some(),
        a.trusted_root.is_some(),
    )?;
    if a.output == VerifyOutput::Cosign {
        if let Some(why) = cosign_output_conflicts(&a) {
            return Err(Error::Usage(why));
        }
    }
    if let Some(file) = &a.containers_policy {
        return verify_containers(&a, file).await;
    }
    if let Some(policy) = &a.policy {
        if let Some(why) = policy_conflicts(&a) {
            return Err(Error::Usage(why));
        }
        return verify_policy(&a, policy).await;
    }
    if a.output == VerifyOutput::Sarif {
        return Err(Error::Usage("--output sarif is for verify --policy".into()));
    }
    if a.concurrency.is_some() {
        return Err(Error::Usage(
            "--concurrency is for verify --policy; without it the images are verified one after another: drop the flag".into(),
        ));
    }
    let images = image_refs(&a.image, &a.store)?;
    let mut keys = Vec::new();
    if let Some(k) = &a.key {
        keys.push(load_public_key(k)?);
    }
    let certificates = match &a.certificate_chain {
        Some(roots) => Some(
            CertificateTrust::load(roots, a.keyless.certificate_identity.clone())?
                .with_subject(a.certificate_subject.clone()),
        ),
        None => None,
    };
    if a.keyless.certificate_identity.is_some()
        && a.certificate_chain.is_none()
        && a.trusted_root.is_none()
    {
        return Err(Error::Usage(
            "--certificate-identity needs --certificate-chain (your own PKI) or --trusted-root (keyless)".into(),
        ));
    }
    let keyless = match &a.trusted_root {
        Some(path) => {
            let identity = keyless_identity(&a.keyless)?;
            if identity.is_none() && keys.is_empty() {
                return Err(Error::Usage(
                    "keyless verification needs the signer's identity: --certificate-identity or --certificate-identity-regexp, and --certificate-oidc-issuer or --certificate-oidc-issuer-regexp (there is no any-identity default); or give --key to check a key signature's Rekor entry".into(),
                ));
            }
            let mut t = imgseal::verify::KeylessTrust::load(path)?
                .with_identities(identity.into_iter().collect());
            t.require_sct = !a.insecure_ignore_sct;
            if a.cosign_verify.insecure_ignore_tlog == Some(true) {
                t.require_tlog = false;
                errln!("imgseal: warning: --insecure-ignore-tlog: signatures without a transparency-log (Rekor) entry are accepted (an entry that is present is still verified)");
            }
            Some(t)
        }
        None => None,
    };
    let notation = notation_trust(&a)?;
    let notation_used = notation.is_some();
    let format = a.format.map(SignatureFormat::from);
    let can_cosign = !keys.is_empty()
        || certificates.is_some()
        || keyless.as_ref().is_some_and(|k| !k.identities.is_empty());
    match format {
        Some(SignatureFormat::Cosign) if !can_cosign => {
            return Err(Error::Usage(
                "--format cosign needs --key, --certificate-chain, or --trusted-root with --certificate-identity…".into(),
            ))
        }
        Some(SignatureFormat::Notation) if notation.is_none() => {
            return Err(Error::Usage(
                "--format notation needs --trust-policy and --trust-store".into(),
            ))
        }
        _ => {}
    }
    // --scope applies to every (layout) image; each image is checked.
    let mut scope = None;
    for image in &images {
        scope = scope.or(layout_scope(&a, image)?);
    }
    let required: BTreeMap<_, _> = a.annotations.iter().cloned().collect();
    let identity = a
        .identity
        .clone()
        .or(scope)
        .as_deref()
        .map(imgseal::trust::signed_identity::SignedIdentity::exact_repository)
        .transpose()?;
    let mut verifier = Verifier::with_keys(keys);
    if let Some(rule) = identity {
        verifier = verifier.with_signed_identity(rule);
    }
    let verifier_identity = verifier.signed_identity().to_string();
    let verifier = verifier
        .with_certificate_trust(certificates)
        .with_keyless(keyless)
        .with_notation_trust(notation)
        .with_format(format)
        .with_platform(a.platform.clone())
        .with_options(store_options(&a.store));
    // Each image is verified and reported on its own; the exit code is the worst of them
    // (2 for an error, 1 for a failed verification). One image's error is returned as is.
    if let [image] = images.as_slice() {
        let v = verifier.verify(image, &required).await?;
        return Ok(report(
            &a,
            &v,
            image,
            notation_used,
            &verifier_identity,
            &required,
        ));
    }
    let mut code = 0;
    for image in &images {
        code = code.max(match verifier.verify(image, &required).await {
            Ok(v) => report(&a, &v, image, notation_used, &verifier_identity, &required),
            Err(e) => {
                errln!("imgseal: error: {}", error::render(&e));
                if e.is_integrity_failure() {
                    EXIT_FAILED
                } else {
                    EXIT_ERROR
                }
            }
        });
    }
    Ok(code)
}

/// Print one image's verification as `--output` asks (the text block and verified payloads,
/// imgseal's JSON, or cosign's array) and return its exit code.
fn report(
    a: &VerifyArgs,
    v: &imgseal::Verification,
    image: &ImageRef,
    notation_used: bool,
    verifier_identity: &str,
    required: &BTreeMap<String, String>,
) -> u8 {
    if a.output == VerifyOutput::Json {
        outln!("{}", render::json(v));
    }
    render::warnings(
        v.warnings
            .iter()
            .chain(v.platform.iter().flat_map(|p| p.warnings.iter())),
    );
    if let Some(part) = v.first_failed() {
        let failed = render::failed_signatures(part);
        let mut why = match (&part.reason, failed.as_slice()) {
            (Some(_), _) | (None, [] | [_]) => part.failure_summary(),
            (None, many) => format!("none of {} signatures verified", many.len()),
        };
        if let Some(hint) = error::identity_hint(&v.refused_identities()) {
            why.push_str("; ");
            why.push_str(&hint);
        }
        errln!(
            "imgseal: verification failed for {} ({}): {why}",
            part.image,
            part.digest
        );
        if part.reason.is_none() && failed.len() > 1 {
            render::failure_lines(&failed);
        }
        return EXIT_FAILED;
    }
    render::tag_warning(image, &v.digest);
    if a.output == VerifyOutput::Text {
        print_notation_success(v, image, notation_used);
    }
    if matches!(a.output, VerifyOutput::Text | VerifyOutput::Cosign) {
        errln!("\nVerification for {} --", v.image);
        errln!("The following checks were performed on each of these signatures:");
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign" && s.certificate.is_some())
        {
            errln!("  - cosign keyless: the signature verified with the attached Fulcio certificate, which chains to a Fulcio CA of the trusted root at the signing time the transparency log (and any RFC 3161 timestamp) established, carries an SCT verified with a CT log key of the root (unless --insecure-ignore-sct), and names the given identity and OIDC issuer");
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign" && s.tlog.is_some())
        {
            errln!("  - cosign transparency log: the Rekor SET verified with the key of the log it names, valid at the integrated time, and the entry body records this signature, its certificate or key, and the payload's digest");
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign")
        {
            errln!("  - cosign: the claims were validated, the signature verified with the given key or a certificate chaining to the given roots, and the payload names this image's digest and an accepted repository ({verifier_identity})");
            if !required.is_empty() {
                errln!("  - cosign: the required annotations are present");
            }
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "cosign-bundle")
        {
            errln!("  - cosign bundle: the DSSE signature verified with the given key or a certificate chaining to the given roots, and the in-toto statement names this image's digest (transparency-log entries and timestamps in the bundle are not checked)");
        }
        if v.signatures
            .iter()
            .any(|s| s.verified && s.format == "notation")
        {
            errln!("  - notation: integrity, authenticity (trust store and trusted identities), expiry, authentic timestamp and revocation, in that order, as the trust policy's level requires");
        }
        errln!();
        for part in v.parts() {
            for s in part.signatures.iter().filter(|s| s.verified) {
                errln!(
                    "{} ({}): verified, found at {} ({} signature by {})",
                    part.image,
                    part.digest,
                    s.source,
                    s.format,
                    s.signed_by.as_deref().unwrap_or("?"),
                );
                for line in evidence_lines(
                    s.certificate.as_ref(),
                    s.tlog.as_ref(),
                    s.timestamp.as_ref(),
                ) {
                    errln!("    {line}");
                }
            }
            if a.output == VerifyOutput::Text {
                for p in part.verified_payloads() {
                    outln!("{}", serde_json::to_string(p).unwrap_or_default());
                }
            }
        }
    }
    if a.output == VerifyOutput::Cosign {
        // As `cosign verify` prints: an empty line, then the array on one line.
        outln!("\n{}", cosign_json(v));
    }
    0
}

/// `cosign verify`'s default output for one image: the verified simple-signing payloads as
/// a JSON array, a keyless certificate's identity added to `optional` as cosign adds it
/// (`Subject`, `Issuer`, and the Fulcio extensions by OID and by name).
pub(crate) fn cosign_json(v: &imgseal::Verification) -> String {
    let mut out = Vec::new();
    for part in v.parts() {
        for s in part.signatures.iter().filter(|s| s.verified) {
            let Some(payload) = &s.payload else { continue };
            let mut p = payload.clone();
            if let Some(c) = &s.certificate {
                let optional = p.optional.get_or_insert_with(BTreeMap::new);
                let mut put = |k: &str, v: &str| {
                    optional.insert(k.to_string(), serde_json::Value::from(v));
                };
                put("Subject", &c.subject_alternative_name);
                if let Some(issuer) = &c.issuer {
                    put("Issuer", issuer);
                    put("1.3.6.1.4.1.57264.1.1", issuer);
                }
                for (oid, name, value) in [
                    (
                        "1.3.6.1.4.1.57264.1.2",
                        "githubWorkflowTrigger",
                        &c.github_workflow_trigger,
                    ),
                    (
                        "1.3.6.1.4.1.57264.1.3",
                        "githubWorkflowSha",
                        &c.github_workflow_sha,
                    ),
                    (
                        "1.3.6.1.4.1.57264.1.4",
                        "githubWorkflowName",
                        &c.github_workflow_name,
                    ),
                    (
                        "1.3.6.1.4.1.57264.1.5",
                        "githubWorkflowRepository",
                        &c.github_workflow_repository,
                    ),
                    (
                        "1.3.6.1.4.1.57264.1.6",
                        "githubWorkflowRef",
                        &c.github_workflow_ref,
                    ),
                ] {
                    if let Some(value) = value {
                        put(name, value);
                        put(oid, value);
                    }
                }
            }
            out.push(p);
        }
    }
    serde_json::to_string(&out).unwrap_or_default()
}

/// `--output cosign` where there are no images' simple-signing payloads to print.
pub(crate) const COSIGN_OUTPUT_NOT_HERE: &str = "--output cosign is for verify with --key, --certificate-chain or --trusted-root; use --output json or text here";

/// Why `--output cosign` cannot be used with these flags (cosign's array holds simple-signing
/// payloads: signatures checked with a key, certificate roots or a trusted root).
fn cosign_output_conflicts(a: &VerifyArgs) -> Option<String> {
    if a.policy.is_some() || a.containers_policy.is_some() {
        return Some(COSIGN_OUTPUT_NOT_HERE.into());
    }
    if a.trust_policy.is_some() || a.format == Some(FormatArg::Notation) {
        return Some("--output cosign prints cosign simple-signing payloads; notation signatures have none: use --output json or text with --trust-policy".into());
    }
    None
}

/// cosign's `--check-claims` and `--insecure-ignore-tlog` (`verify`, `verify-attestation`),
/// given with a policy file or a trusted root or neither: applied (by the caller, with a
/// trusted root), noted on stderr when they change nothing, or refused when imgseal cannot do
/// what they ask.
pub(crate) fn cosign_verify_flags(
    a: &CosignVerifyArgs,
    policy: bool,
    trusted_root: bool,
) -> Result<(), Error> {
    match a.check_claims {
        Some(false) => return Err(Error::Usage(
            "--check-claims=false: imgseal always checks the claims (the payload's digest, repository and annotations); drop the flag".into(),
        )),
        Some(true) => errln!("imgseal: note: --check-claims changes nothing: imgseal always checks the claims"),
        None => {}
    }
    match (a.insecure_ignore_tlog, policy, trusted_root) {
        (Some(true), true, _) => return Err(Error::Usage(
            "--insecure-ignore-tlog cannot be combined with --policy or --containers-policy: the policy file decides (requireTlog: false in a keyless authority); drop the flag".into(),
        )),
        (Some(false), true, _) => errln!("imgseal: note: --insecure-ignore-tlog=false changes nothing: the policy file decides which transparency-log entries are required"),
        (Some(true), false, false) => errln!("imgseal: note: --insecure-ignore-tlog changes nothing: without --trusted-root imgseal checks no transparency log"),
        (Some(false), false, false) => errln!("imgseal: note: --insecure-ignore-tlog=false changes nothing: imgseal checks transparency-log entries only with --trusted-root"),
        // With --trusted-root: =false is the default; =true is applied where trust is loaded.
        _ => {}
    }
    Ok(())
}

/// What a verified signature's keyless certificate, log entry and timestamp were checked
/// against, one line each (terminal-escaped: the values come from the signature).
pub(crate) fn evidence_lines(
    certificate: Option<&imgseal::verify::CertificateEvidence>,
    tlog: Option<&imgseal::verify::TlogEvidence>,
    timestamp: Option<&imgseal::verify::TimestampEvidence>,
) -> Vec<String> {
    use imgseal::util::text::escape_control as esc;
    let mut out = Vec::new();
    if let Some(c) = certificate {
        out.push(format!(
            "identity: {} (issuer {})",
            esc(&c.subject_alternative_name),
            esc(c.issuer.as_deref().unwrap_or("none"))
        ));
        let wf: Vec<String> = [
            ("repository", &c.github_workflow_repository),
            ("ref", &c.github_workflow_ref),
            ("sha", &c.github_workflow_sha),
            ("trigger", &c.github_workflow_trigger),
            ("name", &c.github_workflow_name),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {}", esc(v))))
        .collect();
        if !wf.is_empty() {
            out.push(format!("github workflow: {}", wf.join(", ")));
        }
        out.push(format!(
            "certificate: Fulcio CA {} ({}), checked at {}",
            esc(&c.fulcio_ca_uri),
            esc(&c.fulcio_ca_subject),
            c.checked_at
        ));
        out.push(match &c.ct_log_id {
            Some(id) => format!("SCT: CT log {id}"),
            None => "SCT: not checked (--insecure-ignore-sct)".to_string(),
        });
    }
    if let Some(t) = tlog {
        out.push(format!(
            "transparency log: {} (log ID {}), index {}, integrated {}, {} entry",
            esc(&t.base_url),
            t.log_id,
            t.log_index,
            t.integrated_time,
            t.entry_kind
        ));
    }
    if let Some(t) = timestamp {
        out.push(format!(
            "timestamp: {} by {} ({})",
            t.time,
            esc(&t.tsa_subject),
            esc(&t.tsa_uri)
        ));
    }
    out
}
