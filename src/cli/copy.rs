//! `imgseal copy`.

use super::*;

pub(crate) async fn copy(a: CopyArgs) -> Result<u8, Error> {
    let src = ImageRef::parse(&a.src)?;
    let dst = imgseal::copy::destination(&src, &a.dst)?;
    warn_unused_http(a.allow_http_registry, &[&src, &dst]);
    let options = StoreOptions {
        allow_http: a.allow_http_registry,
        credentials: given_credentials(&a.auth),
        tls: tls_options(&a.auth),
        ..StoreOptions::default()
    }
    .with_timeout(a.timeout.timeout);
    use imgseal::copy::AttachmentKind;
    let only = (!a.only.is_empty()).then(|| {
        a.only
            .iter()
            .map(|o| match o {
                OnlyArg::Sig => AttachmentKind::Signature,
                OnlyArg::Att => AttachmentKind::Attestation,
                OnlyArg::Sbom => AttachmentKind::Sbom,
            })
            .collect()
    });
    let bar = render::blob_bar();
    let progress = bar.clone().map(render::copy_progress);
    let how = imgseal::copy::CopyOptions::default()
        .with_force(a.force)
        .with_only(only)
        .with_platform(a.platform.clone())
        .with_progress(progress);
    let r = imgseal::copy::copy_with(&src, &dst, &options, &how).await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r = r?;
    render::warnings(&r.warnings);
    if a.output == Output::Json {
        outln!("{}", render::json(&r));
        return Ok(0);
    }
    errln!("Copied {} ({}) -> {}", r.source, r.digest, r.destination);
    errln!(
        "  manifests: {} written, {} already there",
        r.manifests_copied.len(),
        r.manifests_skipped.len()
    );
    errln!(
        "  blobs: {} copied ({} bytes{}), {} mounted, {} already there",
        r.blobs_copied.len(),
        r.bytes_copied,
        render::human_size(r.bytes_copied),
        r.blobs_mounted.len(),
        r.blobs_skipped.len()
    );
    for att in &r.attachments {
        // How the destination lists a referrer written now (tags say so in `via`).
        let scheme = match (att.via.as_str(), att.outcome) {
            ("tag", _) | (_, imgseal::copy::Outcome::Skipped) => String::new(),
            _ => format!(" via {}", render::scheme_words(&att.scheme)),
        };
        errln!(
            "  {} {} of {}: {}{scheme}",
            att.via,
            att.location,
            att.subject,
            att.outcome
        );
    }
    if r.attachments.is_empty() {
        errln!("  nothing attached to copy");
    }
    outln!("{}", r.pinned);
    Ok(0)
}
