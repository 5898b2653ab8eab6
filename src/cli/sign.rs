//! `imgseal sign`.

use super::*;

pub(crate) async fn sign(a: SignArgs) -> Result<u8, Error> {
    let images = image_refs(&a.image, &a.store)?;
    cosign_sign_flags(&a.cosign_sign)?;
    let annotations: BTreeMap<_, _> = a.annotations.iter().cloned().collect();
    let configure = |key: SigningKey| -> Result<Signer, Error> {
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
        Ok(signer)
    };
    // Everything that needs no key fails before the password is asked for and scrypt runs:
    // format, attachment and expiry that do not go together, the key and certificate files,
    // and the image itself (its registry or layout, and its manifest).
    configure(SigningKey::generate()?)?.check()?;
    let (key_name, key_pem) = read_key_arg(&a.key)?;
    let mut chain = Vec::new();
    for path in a.certificate.iter().chain(a.certificate_chain.iter()) {
        let bytes =
            imgseal::util::fs::read_capped(path, MAX_CERTIFICATE_FILE, "a certificate file")?;
        chain.extend(
            imgseal::pki::load_pem_certificates(&bytes)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?,
        );
    }
    if SigningKey::pem_is_encrypted(&key_pem) {
        for image in &images {
            imgseal::store::resolve::resolve(image, &store_options(&a.store), true).await?;
        }
    }
    let key = decrypt_signing_key(&key_name, &key_pem, &a.password)?;
    let signer = configure(key)?
        .with_certificate_chain(chain)?
        .recursive(a.recursive)
        .with_options(store_options(&a.store));
    // Several images (as cosign takes them): each signed and reported in turn, stopping at
    // the first error as cosign does.
    for (given, image) in a.image.iter().zip(&images) {
        let signed = signer.sign(image, &annotations).await?;
        render::tag_warning(image, &signed.digest);
        report(&a, given, &signed);
    }
    Ok(0)
}

/// Print what signing `given` did, as `--output` asks.
fn report(a: &SignArgs, given: &str, signed: &imgseal::Signed) {
    if signed.identity == imgseal::trust::signed_identity::UNNAMED_LAYOUT_IDENTITY
        && a.format == FormatArg::Cosign
        && a.identity.is_none()
    {
        errln!(
            "imgseal: note: {} has no registry name (its ref name is not a full reference such as registry.example/app:v1), so the signature names {}, which verifies only for layout images without one; to sign for the repository it will be published under, pass --identity REPOSITORY",
            given,
            signed.identity
        );
    }
    if a.recursive && !signed.manifests.iter().any(|m| m.platform.is_some()) {
        errln!(
            "imgseal: warning: --recursive had nothing to add: {given} is not an image index listing platform manifests",
        );
    }
    match a.output {
        Output::Json => outln!("{}", render::json(signed)),
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
}

/// cosign's `--tlog-upload` and `-y/--yes` (sign and attest): refused when imgseal cannot do
/// what they ask, else one note on stderr each, since they change nothing.
pub(crate) fn cosign_sign_flags(a: &CosignSignArgs) -> Result<(), Error> {
    match a.tlog_upload {
        Some(true) => {
            return Err(Error::Usage(
                "--tlog-upload: imgseal never uploads signatures to a transparency log (Rekor); drop the flag or pass --tlog-upload=false".into(),
            ))
        }
        Some(false) => errln!(
            "imgseal: note: --tlog-upload=false changes nothing: imgseal never uploads to a transparency log"
        ),
        None => {}
    }
    if a.yes.is_some() {
        errln!("imgseal: note: -y/--yes changes nothing: imgseal asks no confirmation questions");
    }
    Ok(())
}
