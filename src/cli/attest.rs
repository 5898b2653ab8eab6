//! `imgseal attest`.

use super::*;
use imgseal::attest::Attester;

pub(crate) async fn attest(a: AttestArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    cosign_sign_flags(&a.cosign_sign)?;
    let predicate = imgseal::util::fs::read_capped(
        &a.predicate,
        imgseal::formats::intoto::MAX_PREDICATE_BYTES,
        "a predicate file",
    )?;
    // The predicate and its type are checked before the key is decrypted or anything fetched.
    let probe = Attester::new(SigningKey::generate()?);
    probe
        .predicate(&a.kind, &predicate)
        .map_err(|e| Error::Usage(format!("{}: {e}", a.predicate.display())))?;
    // As for sign: the key and certificate files, and the image, before the password.
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
        imgseal::store::resolve::resolve(&image, &store_options(&a.store), true).await?;
    }
    let key = decrypt_signing_key(&key_name, &key_pem, &a.password)?;
    let attested = Attester::new(key)
        .with_certificate_chain(chain)?
        .with_bundle(a.bundle)
        .with_options(store_options(&a.store))
        .attest(&image, &a.kind, &predicate)
        .await?;
    match a.output {
        Output::Json => outln!("{}", render::json(&attested)),
        Output::Text => {
            let place = match (&attested.attestation_tag, &attested.referrer) {
                (Some(t), _) => format!("tag {t}"),
                (None, Some((d, scheme))) => format!("sigstore bundle {d} ({scheme})"),
                (None, None) => "nowhere".to_string(),
            };
            let verb = if attested.added {
                "Attested"
            } else {
                "Already attested (nothing added)"
            };
            errln!(
                "{verb}: {} ({}) -> {place}",
                attested.digest,
                attested.predicate_type
            );
            let name = attested
                .statement
                .subject
                .first()
                .and_then(|s| s.name.clone())
                .unwrap_or_default();
            outln!("{name}@{}", attested.digest);
        }
    }
    Ok(0)
}
