//! `imgseal cert generate-test`, and `cert add`/`list`/`delete` for notation's trust-store
//! layout (`DIR/x509/TYPE/STORE/FILE`).

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
    // What a notation trust policy's trustedIdentities must name to trust this signer.
    errln!(
        "Signing certificate subject, for a trust policy's trustedIdentities: \"x509.subject: {}\"",
        pki.leaf.subject()
    );
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

/// `imgseal cert add|list|delete` (generate-test is dispatched on its own).
pub(crate) fn cert(c: CertCommand) -> Result<u8, Error> {
    match c {
        CertCommand::GenerateTest { .. } => Err(Error::Usage("cert generate-test".into())),
        CertCommand::Add(a) => cert_add(&a),
        CertCommand::List(a) => cert_list(&a),
        CertCommand::Delete(a) => cert_delete(&a),
    }
}

/// `--trust-store DIR`, else notation's own trust store directory.
fn trust_store_dir(given: Option<&std::path::Path>) -> Result<PathBuf, Error> {
    if let Some(d) = given {
        return Ok(d.to_path_buf());
    }
    let c = imgseal::trust::notation_config::NotationConfig::discover(|k| std::env::var_os(k))
        .ok_or_else(|| {
            Error::Usage(
                "no notation configuration directory (NOTATION_CONFIG, XDG_CONFIG_HOME and HOME are unset): give --trust-store DIR".into(),
            )
        })?;
    tracing::debug!(target: "imgseal::notation", "trust store {} (notation configuration directory from {})", c.trust_store.display(), c.source.as_str());
    Ok(c.trust_store)
}

/// A store name notation accepts: letters, digits, `_`, `.` and `-`, not `.` or `..`.
fn check_store_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--store {name:?}: a store name is letters, digits, '_', '.' and '-' only"
        )))
    }
}

fn cert_add(a: &CertAddArgs) -> Result<u8, Error> {
    use imgseal::trust::TrustStoreKind;
    check_store_name(&a.store)?;
    let kind = TrustStoreKind::from(a.kind);
    let dir = trust_store_dir(a.trust_store.as_deref())?;
    let store_dir = imgseal::trust::layout::store_dir(&dir, kind, &a.store);
    // Every file is checked before any is added.
    let mut adding: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &a.files {
        let shown = path.display();
        let bytes =
            imgseal::util::fs::read_capped(path, MAX_CERTIFICATE_FILE, "a certificate file")?;
        let certs = imgseal::pki::load_pem_certificates(&bytes)
            .map_err(|e| Error::Usage(format!("{shown} is not a certificate file: {e}")))?;
        for c in &certs {
            let fit = match kind {
                TrustStoreKind::Tsa => c.is_ca() && c.is_self_signed(),
                _ => c.is_ca() || c.is_self_signed(),
            };
            if !fit {
                let need = if kind == TrustStoreKind::Tsa {
                    "a self-signed CA certificate"
                } else {
                    "a CA certificate or a self-signed one"
                };
                return Err(Error::Usage(format!(
                    "{shown}: {} is not {need}, which a {kind} store holds",
                    c.subject()
                )));
            }
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.starts_with('.'))
            .ok_or_else(|| Error::Usage(format!("{shown}: the file name cannot be a store entry")))?
            .to_string();
        if store_dir.join(&name).exists() || adding.iter().any(|(n, _)| *n == name) {
            return Err(Error::Usage(format!(
                "{name} is already in trust store {kind}:{} ({}); delete it first, or rename the file",
                a.store,
                store_dir.display()
            )));
        }
        adding.push((name, bytes));
    }
    for (name, bytes) in &adding {
        let written = imgseal::trust::layout::add_certificate(&dir, kind, &a.store, name, bytes)?;
        errln!(
            "Added {} to trust store {kind}:{}",
            written.display(),
            a.store
        );
    }
    Ok(0)
}

/// The entries of `dir` (sorted), or none when it does not exist.
fn sorted_entries(dir: &std::path::Path) -> Result<Vec<PathBuf>, Error> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::Io {
            context: format!("cannot list {}", dir.display()),
            source: e,
        }),
    }
}

fn cert_list(a: &CertListArgs) -> Result<u8, Error> {
    use imgseal::trust::TrustStoreKind;
    if let Some(s) = &a.store {
        check_store_name(s)?;
    }
    let dir = trust_store_dir(a.trust_store.as_deref())?;
    for kind in TrustStoreKind::ALL {
        if a.kind.is_some_and(|k| TrustStoreKind::from(k) != kind) {
            continue;
        }
        for store in sorted_entries(&dir.join("x509").join(kind.as_str()))? {
            let name = store.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if a.store.as_deref().is_some_and(|s| s != name) || !store.is_dir() {
                continue;
            }
            for file in sorted_entries(&store)? {
                if file.is_file() {
                    outln!(
                        "{}",
                        imgseal::util::text::escape_control(&file.display().to_string())
                    );
                }
            }
        }
    }
    Ok(0)
}

fn cert_delete(a: &CertDeleteArgs) -> Result<u8, Error> {
    use imgseal::trust::TrustStoreKind;
    check_store_name(&a.store)?;
    if !a.yes {
        return Err(Error::Usage(
            "cert delete removes files and does not prompt: add -y/--yes to confirm".into(),
        ));
    }
    let kind = TrustStoreKind::from(a.kind);
    let dir = trust_store_dir(a.trust_store.as_deref())?;
    let store_dir = imgseal::trust::layout::store_dir(&dir, kind, &a.store);
    if !store_dir.is_dir() {
        return Err(Error::Usage(format!(
            "there is no trust store {kind}:{} ({})",
            a.store,
            store_dir.display()
        )));
    }
    if a.all {
        std::fs::remove_dir_all(&store_dir).map_err(|e| Error::Io {
            context: format!("cannot delete {}", store_dir.display()),
            source: e,
        })?;
        errln!(
            "Deleted trust store {kind}:{} ({})",
            a.store,
            store_dir.display()
        );
        return Ok(0);
    }
    let name = a.file.as_deref().unwrap_or_default();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::Usage(format!(
            "{name:?} is not a file name in trust store {kind}:{}",
            a.store
        )));
    }
    let path = store_dir.join(name);
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "{name} is not in trust store {kind}:{} (imgseal cert list --type {kind} --store {} lists it)",
            a.store, a.store
        )));
    }
    std::fs::remove_file(&path).map_err(|e| Error::Io {
        context: format!("cannot delete {}", path.display()),
        source: e,
    })?;
    errln!(
        "Deleted {} from trust store {kind}:{}",
        path.display(),
        a.store
    );
    Ok(0)
}
