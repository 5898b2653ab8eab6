//! The Notary Project trust-store directory layout, for writing: certificates of kind `KIND`
//! (`ca`, `signingAuthority`, `tsa`) of the named store `NAME` live in `DIR/x509/KIND/NAME/`,
//! which is what [`TrustStore::load`](crate::trust::TrustStore::load) reads and what
//! `notation cert add` writes.

use crate::trust::TrustStoreKind;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The directory holding the certificates of kind `kind` of the named store `name` in the
/// trust store at `dir`.
pub fn store_dir(dir: &Path, kind: TrustStoreKind, name: &str) -> PathBuf {
    dir.join("x509").join(kind.as_str()).join(name)
}

/// Add the PEM certificate `pem` as `file_name` to the named store `name` of kind `kind` in
/// the trust store at `dir`, creating its directories and replacing a file of that name.
/// Returns the file written.
pub fn add_certificate(
    dir: &Path,
    kind: TrustStoreKind,
    name: &str,
    file_name: &str,
    pem: &[u8],
) -> Result<PathBuf> {
    let store_dir = store_dir(dir, kind, name);
    std::fs::create_dir_all(&store_dir)
        .map_err(|e| Error::io(format!("cannot create {}", store_dir.display()), e))?;
    let dest = store_dir.join(file_name);
    crate::util::fs::write_file_atomic(&dest, pem, 0o644, true)?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_go_where_the_trust_store_loader_reads_them() {
        let dir = std::env::temp_dir().join(format!("imgseal-layout-{}", std::process::id()));
        let pki = crate::pki::generate_test("layout").unwrap();
        let written = add_certificate(
            &dir,
            TrustStoreKind::Ca,
            "layout",
            "layout-root.crt",
            pki.root_pem.as_bytes(),
        )
        .unwrap();
        assert_eq!(written, dir.join("x509/ca/layout/layout-root.crt"));
        crate::trust::TrustStore::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
