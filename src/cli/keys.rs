//! `imgseal generate-key-pair`.

use super::*;

pub(crate) fn generate(a: GenerateArgs) -> Result<u8, Error> {
    // Check before prompting so nobody types a password for nothing.
    if !a.force {
        for ext in ["key", "pub"] {
            let p = PathBuf::from(format!("{}.{ext}", a.output_key_prefix));
            if p.exists() {
                return Err(Error::Exists { path: p });
            }
        }
    }
    check_output_dir(&PathBuf::from(format!("{}.key", a.output_key_prefix)))?;
    let password = read_password(&a.password, true)?;
    let key = SigningKey::generate()?;
    let (k, p) =
        imgseal::crypto::keys::write_key_pair(&key, &password, &a.output_key_prefix, a.force)?;
    errln!("Private key written to {}", k.display());
    errln!("Public key written to {}", p.display());
    Ok(0)
}

/// The largest key read from an environment variable (as the library caps key files).
const MAX_KEY_BYTES: usize = 64 * 1024;

/// cosign's key references that name a key kept elsewhere (a KMS, a hardware token, a
/// Kubernetes or GitLab secret, a URL): imgseal reads keys from files and `env://VAR` only.
const KMS_SCHEMES: &[&str] = &[
    "awskms://",
    "gcpkms://",
    "azurekms://",
    "hashivault://",
    "k8s://",
    "gitlab://",
    "pkcs11:",
    "https://",
    "http://",
];

/// The bytes of the key a `--key` names, and the name errors use for it: a file, or (as
/// cosign's `--key env://VAR`) the PEM text in environment variable VAR. KMS URIs and other
/// schemes are refused with one line, before anything else is read.
pub(crate) fn read_key_arg(arg: &std::path::Path) -> Result<(String, Vec<u8>), Error> {
    let text = arg.to_string_lossy();
    if let Some(var) = text.strip_prefix("env://") {
        if var.is_empty() {
            return Err(Error::Usage(
                "--key env://VAR needs the name of the environment variable holding the PEM key"
                    .into(),
            ));
        }
        let value = match std::env::var_os(var) {
            Some(v) if !v.is_empty() => v,
            Some(_) => {
                return Err(Error::Usage(format!(
                    "--key env://{var}: environment variable {var} is empty"
                )))
            }
            None => {
                return Err(Error::Usage(format!(
                    "--key env://{var}: environment variable {var} is not set"
                )))
            }
        };
        let bytes = value.into_encoded_bytes();
        if bytes.len() > MAX_KEY_BYTES {
            return Err(Error::Usage(format!(
                "--key env://{var}: environment variable {var} holds {} bytes, more than a key could ({MAX_KEY_BYTES})",
                bytes.len()
            )));
        }
        return Ok((format!("env://{var}"), bytes));
    }
    let lower = text.to_ascii_lowercase();
    if let Some(scheme) = KMS_SCHEMES.iter().find(|s| lower.starts_with(*s)) {
        let what = if scheme.starts_with("http") {
            "keys from URLs are not fetched; download the key to a file"
        } else {
            "KMS keys are not supported; export the key to a PEM file"
        };
        return Err(Error::Usage(format!(
            "--key {text}: {what}, or pass its PEM text with --key env://VAR"
        )));
    }
    if let Some((scheme, _)) = text.split_once("://") {
        if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::Usage(format!(
                "--key {text}: {scheme}:// keys are not supported; give a PEM file, or its PEM text with --key env://VAR"
            )));
        }
    }
    let bytes = imgseal::crypto::keys::read_key_file(arg)?;
    Ok((arg.display().to_string(), bytes))
}

/// A public key named by `--key` (a PEM file or `env://VAR`), with the name it is reported by.
pub(crate) fn load_public_key(arg: &std::path::Path) -> Result<(String, PublicKey), Error> {
    let (name, bytes) = read_key_arg(arg)?;
    let key = PublicKey::from_pem(&bytes, &name)?;
    Ok((name, key))
}

/// Refuse, before any password is asked for, a file to be written into a directory that
/// does not exist (`generate-key-pair --output-key-prefix`, `public-key --outfile`).
pub(crate) fn check_output_dir(path: &std::path::Path) -> Result<(), Error> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Load private key PEM text read by [`read_key_arg`] (named `name` in errors), asking for
/// its password only when it is encrypted; a `--password-file` given for a plain key is
/// reported as unused.
pub(crate) fn decrypt_signing_key(
    name: &str,
    pem: &[u8],
    password: &PasswordArgs,
) -> Result<SigningKey, Error> {
    let secret = if SigningKey::pem_is_encrypted(pem) {
        Some(read_password(password, false)?)
    } else {
        if let Some(f) = &password.password_file {
            errln!(
                "imgseal: warning: --password-file {} is not used: {name} is not encrypted",
                f.display(),
            );
        }
        None
    };
    SigningKey::from_pem(pem, secret.as_deref().map(|p| p.as_slice()), name)
}
