//! `imgseal sign`.

use super::*;

pub(crate) async fn sign(a: SignArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let key = load_signing_key(&a.key, &a.password)?;
    let annotations: BTreeMap<_, _> = a.annotations.into_iter().collect();
    let mut signer = Signer::new(key)
        .with_format(SignatureFormat::from(a.format))
        .with_expiry(a.expiry)
        .with_bundle(a.bundle)
        .with_identity(a.identity.as_deref())?;
    if let Some(attach) = a.attach {
        signer = signer.with_attach(match attach {
            AttachArg::Tag => Attach::Tag,
            AttachArg::Referrers => Attach::Referrers,
            AttachArg::Both => Attach::Both,
        });
    }
    // Format, attachment and expiry that do not go together fail before any file is read.
    signer.check()?;
    let mut chain = Vec::new();
    for path in a.certificate.iter().chain(a.certificate_chain.iter()) {
        let bytes =
            imgseal::util::fs::read_capped(path, MAX_CERTIFICATE_FILE, "a certificate file")?;
        chain.extend(
            imgseal::pki::load_pem_certificates(&bytes)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?,
        );
    }
    let signed = signer
        .with_certificate_chain(chain)?
        .recursive(a.recursive)
        .with_options(store_options(&a.store))
        .sign(&image, &annotations)
        .await?;
    render::tag_warning(&image, &signed.digest);
    if signed.identity == imgseal::trust::signed_identity::UNNAMED_LAYOUT_IDENTITY
        && a.format == FormatArg::Cosign
        && a.identity.is_none()
    {
        errln!(
            "imgseal: note: {} has no registry name (its ref name is not a full reference such as registry.example/app:v1), so the signature names {}, which verifies only for layout images without one; to sign for the repository it will be published under, pass --identity REPOSITORY",
            a.image,
            signed.identity
        );
    }
    if a.recursive && !signed.manifests.iter().any(|m| m.platform.is_some()) {
        errln!(
            "imgseal: warning: --recursive had nothing to add: {} is not an image index listing platform manifests",
            a.image
        );
    }
    match a.output {
        Output::Json => outln!("{}", render::json(&signed)),
        Output::Text => {
            for m in &signed.manifests {
                let what = match &m.platform {
                    Some(p) => format!("{} ({p})", m.digest),
                    None => m.digest.to_string(),
                };
                let mut places = Vec::new();
                if let Some(t) = &m.signature_tag {
                    places.push(format!("tag {t}"));
                }
                if let Some((d, scheme)) = &m.referrer {
                    places.push(format!("artifact {d} ({scheme})"));
                }
                let verb = if m.added {
                    "Signed"
                } else {
                    "Already signed (nothing added)"
                };
                errln!("{verb}: {what} -> {}", places.join(", "));
            }
            outln!("{}@{}", signed.identity, signed.digest);
        }
    }
    Ok(0)
}
