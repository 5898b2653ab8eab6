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
    let password = read_password(&a.password, true)?;
    let key = SigningKey::generate()?;
    let (k, p) =
        imgseal::crypto::keys::write_key_pair(&key, &password, &a.output_key_prefix, a.force)?;
    errln!("Private key written to {}", k.display());
    errln!("Public key written to {}", p.display());
    Ok(0)
}
