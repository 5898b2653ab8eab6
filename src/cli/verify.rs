//! `imgseal verify` (without `--policy`; see `policy.rs` for that).

use super::*;

/// Flags `verify --policy` cannot apply on top of the policy file, and what to do instead.
pub(crate) fn policy_conflicts(a: &VerifyArgs) -> Option<String> {
    let given = |name: &str, set: bool| set.then(|| name.to_string());
    let certificate = [
        given("--certificate-chain", a.certificate_chain.is_some()),
        given("--certificate-identity", a.certificate_identity.is_some()),
    ];
    let keyless = [
        given("--trusted-root", a.trusted_root.is_some()),
        given("--insecure-ignore-sct", a.insecure_ignore_sct),
        given(
            "--certificate-identity-regexp",
            a.certificate_identity_regexp.is_some(),
        ),
        given(
            "--certificate-oidc-issuer",
            a.certificate_oidc_issuer.is_some(),
        ),
        given(
            "--certificate-oidc-issuer-regexp",
            a.certificate_oidc_issuer_regexp.is_some(),
        ),
        given("--certificate-github-workflow-*", workflow_given(a)),
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
fn workflow_given(a: &VerifyArgs) -> bool {
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

/// The keyless identity the flags name: none when no identity flag was given; a usage error
/// when only half of one (subject or issuer) was.
fn keyless_identity(
    a: &VerifyArgs,
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
            "--concurrency is for verify --policy (several images); drop it when verifying one image".into(),
        ));
    }
    let [image] = a.image.as_slice() else {
        return Err(Error::Usage(
            "verify --key takes one image; to verify several, use --policy".into(),
        ));
    };
    let image = image_ref(image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let mut keys = Vec::new();
    if let Some(k) = &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
    }
    let certificates = match &a.certificate_chain {
        Some(roots) => Some(
            CertificateTrust::load(roots, a.certificate_identity.clone())?
                .with_subject(a.certificate_subject.clone()),
        ),
        None => None,
    };
    if a.certificate_identity.is_some() && a.certificate_chain.is_none() && a.trusted_root.is_none()
    {
        return Err(Error::Usage(
            "--certificate-identity needs --certificate-chain (your own PKI) or --trusted-root (keyless)".into(),
        ));
    }
    let keyless = match &a.trusted_root {
        Some(path) => {
            let identity = keyless_identity(&a)?;
            if identity.is_none() && keys.is_empty() {
                return Err(Error::Usage(
                    "keyless verification needs the signer's identity: --certificate-identity or --certificate-identity-regexp, and --certificate-oidc-issuer or --certificate-oidc-issuer-regexp (there is no any-identity default); or give --key to check a key signature's Rekor entry".into(),
                ));
            }
            let mut t = imgseal::verify::KeylessTrust::load(path)?
                .with_identities(identity.into_iter().collect());
            t.require_sct = !a.insecure_ignore_sct;
            Some(t)
        }
        None => None,
    };
    let notation = match (&a.trust_policy, &a.trust_store) {
        (Some(p), Some(d)) => Some(NotationTrust::load(p, d)?),
        _ => None,
    };
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
    let required: BTreeMap<_, _> = a.annotations.into_iter().collect();
    let identity = a
        .identity
        .as_deref()
        .map(imgseal::trust::signed_identity::SignedIdentity::exact_repository)
        .transpose()?;
    let mut verifier = Verifier::with_keys(keys);
    if let Some(rule) = identity {
        verifier = verifier.with_signed_identity(rule);
    }
    let verifier_identity = verifier.signed_identity().to_string();
    let v = verifier
        .with_certificate_trust(certificates)
        .with_keyless(keyless)
        .with_notation_trust(notation)
        .with_format(format)
        .with_platform(a.platform.clone())
        .with_options(store_options(&a.store))
        .verify(&image, &required)
        .await?;
    if a.output == VerifyOutput::Json {
        outln!("{}", render::json(&v));
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
        return Ok(EXIT_FAILED);
    }
    render::tag_warning(&image, &v.digest);
    if a.output == VerifyOutput::Text {
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
                for line in evidence_lines(s) {
                    errln!("    {line}");
                }
            }
            for p in part.verified_payloads() {
                outln!("{}", serde_json::to_string(p).unwrap_or_default());
            }
        }
    }
    Ok(0)
}

/// What a verified signature's keyless certificate, log entry and timestamp were checked
/// against, one line each (terminal-escaped: the values come from the signature).
fn evidence_lines(s: &imgseal::verify::SignatureCheck) -> Vec<String> {
    use imgseal::util::text::escape_control as esc;
    let mut out = Vec::new();
    if let Some(c) = &s.certificate {
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
    if let Some(t) = &s.tlog {
        out.push(format!(
            "transparency log: {} (log ID {}), index {}, integrated {}, {} entry",
            esc(&t.base_url),
            t.log_id,
            t.log_index,
            t.integrated_time,
            t.entry_kind
        ));
    }
    if let Some(t) = &s.timestamp {
        out.push(format!(
            "timestamp: {} by {} ({})",
            t.time,
            esc(&t.tsa_subject),
            esc(&t.tsa_uri)
        ));
    }
    out
}
