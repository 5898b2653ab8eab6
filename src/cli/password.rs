//! Reading the password of an encrypted key: `--password-file`, `IMGSEAL_PASSWORD` /
//! `COSIGN_PASSWORD`, or a terminal prompt.

use super::*;

/// A password file holds one line.
pub(crate) const MAX_PASSWORD_FILE: u64 = 64 * 1024;

pub(crate) fn read_password(
    args: &PasswordArgs,
    confirm: bool,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use zeroize::Zeroizing;
    if let Some(path) = &args.password_file {
        let bytes = imgseal::util::fs::read_capped(path, MAX_PASSWORD_FILE, "a password file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Usage(format!("password file {} is not UTF-8", path.display())))?;
        let first = text.lines().next().unwrap_or("");
        tracing::debug!(target: "imgseal::password", "key password: from --password-file {}", path.display());
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    for var in ["IMGSEAL_PASSWORD", "COSIGN_PASSWORD"] {
        if let Ok(v) = std::env::var(var) {
            tracing::debug!(target: "imgseal::password", "key password: from {var}");
            return Ok(Zeroizing::new(v.into_bytes()));
        }
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NoPassword);
    }
    let first = rpassword::prompt_password("Enter password for private key: ")
        .map_err(|e| Error::Usage(format!("cannot read password from the terminal: {e}")))?;
    if confirm {
        let again = rpassword::prompt_password("Enter password for private key again: ")
            .map_err(|e| Error::Usage(format!("cannot read password from the terminal: {e}")))?;
        if again != first {
            return Err(Error::Usage(
                "passwords do not match; nothing was written".into(),
            ));
        }
    }
    Ok(Zeroizing::new(first.into_bytes()))
}
