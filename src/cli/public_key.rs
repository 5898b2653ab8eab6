//! `imgseal public-key --key K`: print the public key of a private key file (as `cosign
//! public-key`), to a file with `--outfile`.

use super::*;

pub(crate) fn public_key(a: PublicKeyArgs) -> Result<u8, Error> {
    // Checked before the password is asked for.
    if let Some(out) = &a.outfile {
        if out.exists() && !a.force {
            return Err(Error::Exists { path: out.clone() });
        }
        check_output_dir(out)?;
    }
    let key = load_signing_key(&a.key, &a.password)?;
    let pem = key.public_key().to_pem();
    match &a.outfile {
        Some(out) => {
            imgseal::util::fs::write_file_atomic(out, pem.as_bytes(), 0o644, a.force)?;
            errln!("Public key written to {}", out.display());
        }
        None => outln!("{}", pem.trim_end()),
    }
    Ok(0)
}

/// Read a private key (a file or `env://VAR`), asking for its password only when it is
/// encrypted (a password file given for a plain key is reported as unused).
pub(crate) fn load_signing_key(
    path: &std::path::Path,
    password: &PasswordArgs,
) -> Result<SigningKey, Error> {
    let (name, pem) = read_key_arg(path)?;
    decrypt_signing_key(&name, &pem, password)
}
