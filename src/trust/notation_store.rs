//! The notation trust store: named stores of root certificates under
//! `x509/{ca,signingAuthority,tsa}`, loaded with notation-go's rules.

use super::*;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::pki::{load_pem_certificates, Certificate};

/// The kind of a named trust store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustStoreKind {
    /// `x509/ca`: certificate authorities for the `notary.x509` signing scheme (and cosign
    /// certificate roots).
    Ca,
    /// `x509/signingAuthority`: roots for the `notary.x509.signingAuthority` scheme.
    SigningAuthority,
    /// `x509/tsa`: timestamping authority roots.
    Tsa,
}

impl TrustStoreKind {
    /// All store types, in directory order.
    pub const ALL: [TrustStoreKind; 3] = [
        TrustStoreKind::Ca,
        TrustStoreKind::SigningAuthority,
        TrustStoreKind::Tsa,
    ];

    /// The name used in policies and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustStoreKind::Ca => "ca",
            TrustStoreKind::SigningAuthority => "signingAuthority",
            TrustStoreKind::Tsa => "tsa",
        }
    }

    pub(super) fn parse(s: &str) -> Option<TrustStoreKind> {
        TrustStoreKind::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for TrustStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `type:name` trust store reference was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustStoreRefError {
    /// Not of the form `type:name`.
    #[error("malformed trust store value {value:?}; the required format is <TrustStoreType>:<TrustStoreName>")]
    Malformed {
        /// The whole value.
        value: String,
    },
    /// A type other than `ca`, `signingAuthority` and `tsa`.
    #[error("unsupported trust store type {kind:?} in {value:?}; supported types are ca, signingAuthority and tsa")]
    UnsupportedType {
        /// The type given.
        kind: String,
        /// The whole value.
        value: String,
    },
    /// A name outside `[a-zA-Z0-9_.-]+`, or `.` / `..`.
    #[error("unsupported trust store name {name:?} in {value:?}; a named store name must match [a-zA-Z0-9_.-]+ and not be . or ..")]
    InvalidName {
        /// The name given.
        name: String,
        /// The whole value.
        value: String,
    },
}

/// A reference to one named store, `type:name` (`ca:acme-rockets`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrustStoreRef {
    /// The store type.
    pub store_type: TrustStoreKind,
    /// The store name: `[a-zA-Z0-9_.-]+`, not `.` or `..`.
    pub name: String,
}

impl TrustStoreRef {
    /// Parse `type:name`.
    pub fn parse(s: &str) -> Result<TrustStoreRef, TrustStoreRefError> {
        let Some((t, name)) = s.split_once(':') else {
            return Err(TrustStoreRefError::Malformed {
                value: s.to_string(),
            });
        };
        let Some(store_type) = TrustStoreKind::parse(t) else {
            return Err(TrustStoreRefError::UnsupportedType {
                kind: t.to_string(),
                value: s.to_string(),
            });
        };
        if !is_valid_store_name(name) {
            return Err(TrustStoreRefError::InvalidName {
                name: name.to_string(),
                value: s.to_string(),
            });
        }
        Ok(TrustStoreRef {
            store_type,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for TrustStoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.store_type, self.name)
    }
}

pub(super) fn is_valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A trust store directory read into memory: every named store under `x509/{ca,
/// signingAuthority,tsa}`, each either its certificates or the reason it cannot be used.
#[derive(Clone, Debug)]
pub struct TrustStore {
    pub(super) dir: PathBuf,
    pub(super) stores: BTreeMap<TrustStoreRef, Result<Vec<Certificate>, TrustError>>,
}

impl TrustStore {
    /// Read the trust store at `dir` (the directory that contains `x509/`).
    ///
    /// Fails only when `dir` itself (or `x509/<type>`) is unusable; a broken named store is
    /// recorded and reported when it is looked up, so one bad store does not hide the others
    /// (notation reads only the stores a policy names).
    pub fn load(dir: impl AsRef<Path>) -> Result<TrustStore, TrustError> {
        let dir = dir.as_ref().to_path_buf();
        let shown = dir.display().to_string();
        let meta = std::fs::metadata(&dir)
            .map_err(|e| store_err(&shown, format!("cannot read the directory: {e}")))?;
        if !meta.is_dir() {
            return Err(store_err(&shown, "is not a directory"));
        }
        let mut stores = BTreeMap::new();
        for store_type in TrustStoreKind::ALL {
            let type_dir = dir.join("x509").join(store_type.as_str());
            let meta = match std::fs::metadata(&type_dir) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(store_err(
                        &shown,
                        format!("cannot read {}: {e}", type_dir.display()),
                    ))
                }
            };
            if !meta.is_dir() {
                return Err(store_err(
                    &shown,
                    format!("{} is not a directory", type_dir.display()),
                ));
            }
            let entries = std::fs::read_dir(&type_dir).map_err(|e| {
                store_err(&shown, format!("cannot list {}: {e}", type_dir.display()))
            })?;
            for entry in entries {
                let entry = entry.map_err(|e| {
                    store_err(&shown, format!("cannot list {}: {e}", type_dir.display()))
                })?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if !is_valid_store_name(&name) {
                    continue; // no policy can name it
                }
                let file_type = entry.file_type().map_err(|e| {
                    store_err(
                        &shown,
                        format!("cannot stat {}: {e}", entry.path().display()),
                    )
                })?;
                let store = TrustStoreRef { store_type, name };
                if file_type.is_symlink() {
                    let reason = format!(
                        "{} is a symlink; symlinked named stores are not supported",
                        entry.path().display()
                    );
                    stores.insert(store.clone(), Err(store_err(&store, reason)));
                } else if file_type.is_dir() {
                    let loaded = load_named_store(&store, &entry.path());
                    stores.insert(store, loaded);
                }
            }
        }
        Ok(TrustStore { dir, stores })
    }

    /// The directory this store was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every named store found, usable or not.
    pub fn named_stores(&self) -> impl Iterator<Item = &TrustStoreRef> {
        self.stores.keys()
    }

    /// The certificates of the named store `store` (`"ca:acme-rockets"`).
    pub fn certificates(&self, store: &str) -> Result<&[Certificate], TrustError> {
        let store = TrustStoreRef::parse(store).map_err(|e| store_err(store, e.to_string()))?;
        self.certificates_of(&store)
    }

    /// The certificates of the named store `store`.
    pub fn certificates_of(&self, store: &TrustStoreRef) -> Result<&[Certificate], TrustError> {
        match self.stores.get(store) {
            Some(Ok(certs)) => Ok(certs),
            Some(Err(e)) => Err(e.clone()),
            None => Err(store_err(
                store,
                format!(
                    "does not exist ({} has no directory x509/{}/{})",
                    self.dir.display(),
                    store.store_type,
                    store.name
                ),
            )),
        }
    }

    /// All certificates of `statement`'s trust stores of type `store_type` (in policy order).
    /// Every store the statement names with that type must exist and be valid, as in notation.
    pub fn roots_for(
        &self,
        statement: &PolicyStatement,
        store_type: TrustStoreKind,
    ) -> Result<Vec<Certificate>, TrustError> {
        let mut out = Vec::new();
        for store in statement
            .trust_stores()
            .iter()
            .filter(|s| s.store_type == store_type)
        {
            out.extend(self.certificates_of(store)?.iter().cloned());
        }
        Ok(out)
    }
}

pub(super) fn load_named_store(
    store: &TrustStoreRef,
    dir: &Path,
) -> Result<Vec<Certificate>, TrustError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| store_err(store, format!("cannot list {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| store_err(store, format!("cannot list {}: {e}", dir.display())))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| store_err(store, format!("cannot stat {}: {e}", path.display())))?;
        if file_type.is_symlink() || file_type.is_dir() {
            return Err(store_err(
                store,
                format!(
                    "{} is not a regular file (directories and symlinks are not supported in a named store)",
                    path.display()
                ),
            ));
        }
        files.push(path);
    }
    files.sort();
    let mut certs = Vec::new();
    for path in files {
        let bytes = crate::util::fs::read_capped(&path, MAX_CERT_FILE, "a certificate file")
            .map_err(|e| store_err(store, e.to_string()))?;
        let file_certs = load_pem_certificates(&bytes).map_err(|e| {
            store_err(
                store,
                format!("failed to read certificates from {}: {e}", path.display()),
            )
        })?;
        for cert in &file_certs {
            check_store_certificate(store, &path, cert)?;
        }
        certs.extend(file_certs);
    }
    if certs.is_empty() {
        return Err(store_err(
            store,
            format!("{} has no x509 certificates", dir.display()),
        ));
    }
    Ok(certs)
}

pub(super) fn check_store_certificate(
    store: &TrustStoreRef,
    path: &Path,
    cert: &Certificate,
) -> Result<(), TrustError> {
    if store.store_type == TrustStoreKind::Tsa {
        if !cert.is_ca() || !cert.is_self_issued() || !cert.is_self_signed() {
            return Err(store_err(
                store,
                format!(
                    "certificate {:?} in {} is not a self-signed root CA; a tsa store holds only root certificates",
                    cert.subject(),
                    path.display()
                ),
            ));
        }
    } else if !cert.is_ca() && !cert.is_self_signed() {
        return Err(store_err(
            store,
            format!(
                "certificate {:?} in {} is neither a CA certificate nor a self-signed signing certificate",
                cert.subject(),
                path.display()
            ),
        ));
    }
    Ok(())
}
