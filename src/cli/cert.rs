//! `imgseal cert generate-test`.

use super::*;

pub(crate) fn cert_generate_test(
    name: &str,
    trust_store: Option<&std::path::Path>,
    force: bool,
    password: &PasswordArgs,
) -> Result<u8, Error> {
    let key_path = PathBuf::from(format!("{name}.key"));
    let crt_path = PathBuf::from(format!("{name}.crt"));
    let root_path = PathBuf::from(format!("{name}-root.crt"));
    if !force {
        for p in [&key_path, &crt_path, &root_path] {
            if p.exists() {
                return Err(Error::Exists { path: p.clone() });
            }
        }
    }
    let password = read_password(password, true)?;
    let pki = imgseal::pki::generate_test(name)?;
    let key = SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "generated key")?;
    let pem = key.to_cosign_encrypted_pem(&password)?;
    imgseal::util::fs::write_file_atomic(&key_path, pem.as_bytes(), 0o600, force)?;
    imgseal::util::fs::write_file_atomic(&crt_path, pki.chain_pem().as_bytes(), 0o644, force)?;
    imgseal::util::fs::write_file_atomic(&root_path, pki.root_pem.as_bytes(), 0o644, force)?;
    errln!("Private key written to {} (encrypted)", key_path.display());
    errln!(
        "Certificate chain (leaf, root) written to {}",
        crt_path.display()
    );
    errln!("Root certificate written to {}", root_path.display());
    if let Some(dir) = trust_store {
        imgseal::trust::layout::add_certificate(
            dir,
            imgseal::trust::TrustStoreKind::Ca,
            name,
            &format!("{name}-root.crt"),
            pki.root_pem.as_bytes(),
        )?;
        errln!("Root added to trust store {} as ca:{name}", dir.display());
    }
    Ok(0)
}
