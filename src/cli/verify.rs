//! `imgseal verify` (without `--policy`; see `policy.rs` for that).

use super::*;

/// Flags `verify --policy` cannot apply on top of the policy file, and what to do instead.
pub(crate) fn policy_conflicts(a: &VerifyArgs) -> Option<String> {
    let given = |name: &str, set: bool| set.then(|| name.to_string());
    let certificate = [
        given("--certificate-chain", a.certificate_chain.is_some()),
        given("--certificate-identity", a.certificate_identity.is_some()),
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
    let nota = flags(&notation);
    if !nota.is_empty() {
        return Some(format!("{nota} cannot be combined with --policy: the policy file names who must sign; add an authority with notation: {{trustPolicy, trustStore}} to it and list it in the rule, or drop --policy"));
    }
    if a.format.is_some() {
        return Some("--format cannot be combined with --policy: each rule's authorities decide which signature formats count (key and certificateRoots authorities: cosign; notation authorities: notation); change the rule, or drop --policy".into());
    }
    None
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
    let notation = match (&a.trust_policy, &a.trust_store) {
        (Some(p), Some(d)) => Some(NotationTrust::load(p, d)?),
        _ => None,
    };
    let format = a.format.map(SignatureFormat::from);
    let can_cosign = !keys.is_empty() || certificates.is_some();
    match format {
        Some(SignatureFormat::Cosign) if !can_cosign => {
            return Err(Error::Usage(
                "--format cosign needs --key or --certificate-chain".into(),
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
        let mut why = part.failure_summary();
        if part.reason.is_none() && part.signatures.len() > imgseal::util::text::MAX_LISTED_REASONS
        {
            why.push_str(" (see --output json)");
        }
        if let Some(hint) = error::identity_hint(&v.refused_identities()) {
            why.push_str("; ");
            why.push_str(&hint);
        }
        errln!(
            "imgseal: verification failed for {} ({}): {why}",
            part.image,
            part.digest
        );
        return Ok(EXIT_FAILED);
    }
    if a.output == VerifyOutput::Text {
        errln!("\nVerification for {} --", v.image);
        errln!("The following checks were performed on each of these signatures:");
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
            }
            for p in part.verified_payloads() {
                outln!("{}", serde_json::to_string(p).unwrap_or_default());
            }
        }
    }
    Ok(0)
}
