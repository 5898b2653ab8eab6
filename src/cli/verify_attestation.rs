//! `imgseal verify-attestation`.

use super::*;
use imgseal::attest::{AttestationVerifier, Authority, EnvelopeSignatures};

pub(crate) async fn verify_attestation(a: VerifyAttestationArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    cosign_verify_flags(&a.cosign_verify, a.policy.is_some(), false)?;
    if let Some(policy) = &a.policy {
        return verify_attestation_policy(&a, policy, &image).await;
    }
    let mut authorities = Vec::new();
    if let Some(k) = &a.key {
        let (name, key) = load_public_key(k)?;
        authorities.push(Authority::key(name, key));
    }
    if let Some(roots) = &a.certificate_chain {
        authorities.push(Authority::certificate(
            format!("certificate roots {}", roots.display()),
            CertificateTrust::load(roots, a.keyless.certificate_identity.clone())?
                .with_subject(a.certificate_subject.clone()),
        ));
    }
    if a.keyless.certificate_identity.is_some()
        && a.certificate_chain.is_none()
        && a.trusted_root.is_none()
    {
        return Err(Error::Usage(
            "--certificate-identity needs --certificate-chain (your own PKI) or --trusted-root (keyless)".into(),
        ));
    }
    if let Some(path) = &a.trusted_root {
        let Some(identity) = keyless_identity(&a.keyless)? else {
            return Err(Error::Usage(
                "keyless attestation verification needs the signer's identity: --certificate-identity or --certificate-identity-regexp, and --certificate-oidc-issuer or --certificate-oidc-issuer-regexp (there is no any-identity default)".into(),
            ));
        };
        let mut trust = imgseal::verify::KeylessTrust::load(path)?.with_identities(vec![identity]);
        trust.require_sct = !a.insecure_ignore_sct;
        authorities.push(Authority::keyless(
            format!("keyless (trusted root {})", path.display()),
            trust,
        ));
    }
    let v = AttestationVerifier::new(authorities)
        .with_predicate_type(Some(&a.kind))?
        .with_envelope_signatures(if a.any_signature {
            EnvelopeSignatures::Any
        } else {
            EnvelopeSignatures::Every
        })
        .with_options(store_options(&a.store))
        .verify(&image)
        .await?;
    render::warnings(&v.warnings);
    if a.output == Output::Json {
        outln!("{}", render::json(&v));
    }
    if !v.verified {
        let failed: Vec<String> = v
            .attestations
            .iter()
            .filter(|c| !c.verified)
            .map(|c| {
                format!(
                    "{}: {}",
                    c.source,
                    c.failure.as_deref().unwrap_or("not valid")
                )
            })
            .collect();
        // One attestation (or a reason for the image): one line, as before; several: a
        // headline, then one line each.
        let why = match (&v.reason, failed.len()) {
            (None, n) if n > 1 => format!("none of {n} attestations verified"),
            _ => v.failure_summary(),
        };
        errln!(
            "imgseal: attestation verification failed for {} ({}): no valid {} attestation: {why}",
            v.image,
            v.digest,
            v.predicate_type.as_deref().unwrap_or("any"),
        );
        if v.reason.is_none() && failed.len() > 1 {
            render::failure_lines(&failed);
        }
        return Ok(EXIT_FAILED);
    }
    if a.output == Output::Text {
        for c in &v.attestations {
            let what = c
                .predicate_type
                .as_deref()
                .unwrap_or("unknown predicate type");
            if c.verified {
                errln!(
                    "{}: verified ({}, {what}, signed by {})",
                    c.source,
                    c.format,
                    c.signed_by.join(", ")
                );
                for line in evidence_lines(
                    c.certificate.as_ref(),
                    c.tlog.as_ref(),
                    c.timestamp.as_ref(),
                ) {
                    errln!("    {line}");
                }
            } else {
                errln!(
                    "{}: not accepted ({}): {}",
                    c.source,
                    c.format,
                    imgseal::util::text::escape_control(
                        c.failure.as_deref().unwrap_or("not valid")
                    )
                );
            }
        }
        errln!("\nVerification for {} --", v.image);
        errln!("The following checks were performed on each verified attestation:");
        errln!("  - the DSSE signatures over the PAE verified with the given key or a certificate chaining to the given roots ({})", if a.any_signature { "at least one signature" } else { "every signature the envelope carries" });
        if v.verified_attestations().any(|c| c.certificate.is_some()) {
            errln!("  - keyless: the Fulcio certificate chains to a Fulcio CA of the trusted root at the signing time the transparency log (or an RFC 3161 timestamp) established, carries an SCT verified with a CT log key of the root (unless --insecure-ignore-sct), and names the given identity and OIDC issuer; the Rekor entry verified with the log's key and records this envelope");
        }
        errln!("  - the payload is an in-toto statement whose subject names this image's digest and whose predicate type is the one asked for");
        for st in v.statements() {
            outln!("{}", serde_json::to_string(st).unwrap_or_default());
        }
    }
    Ok(0)
}

/// `verify-attestation --policy`: the attestation checks of the rule that applies.
async fn verify_attestation_policy(
    a: &VerifyAttestationArgs,
    path: &std::path::Path,
    image: &ImageRef,
) -> Result<u8, Error> {
    let (policy, warnings) = imgseal::Policy::load(path)?;
    render::warnings(&warnings);
    let policy = policy.with_options(store_options(&a.store));
    // `--type` keeps its cosign default; with a policy only an explicit type filters.
    let kind = (a.kind != "custom").then_some(a.kind.as_str());
    let d = policy.evaluate_attestations(image, kind).await?;
    if a.output == Output::Json {
        outln!("{}", render::json(&d));
    } else {
        for c in &d.checks {
            errln!(
                "{} {}: {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                imgseal::util::text::escape_control(&c.reason)
            );
        }
    }
    if !d.allowed {
        errln!(
            "imgseal: {} is denied by {} ({} failed)",
            d.image,
            path.display(),
            d.checks.iter().filter(|c| !c.passed).count()
        );
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}
