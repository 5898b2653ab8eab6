//! Notary Project trust stores and trust policies, read exactly as notation lays them out.
//!
//! # Trust store
//!
//! [`TrustStore::load`] reads a directory laid out as notation's
//! `$XDG_CONFIG_HOME/notation/truststore`:
//!
//! ```text
//! <dir>/x509/ca/<name>/*                 root CAs (or self-signed signing certificates)
//! <dir>/x509/signingAuthority/<name>/*   roots for the notary.x509.signingAuthority scheme
//! <dir>/x509/tsa/<name>/*                timestamping roots (self-signed CA certificates only)
//! ```
//!
//! Each file holds one or more PEM or DER certificates. As in notation-go, a named store that
//! is a symlink, or that contains a symlink or a subdirectory, is refused (the specification
//! says subdirectories are ignored; notation errors, and so does imgseal), as is a store with
//! no certificate, a file with none, and a certificate that is neither a CA nor self-signed.
//! Stores are looked up with the strings trust policies use: `"ca:acme-rockets"`.
//!
//! # Trust policy
//!
//! [`TrustPolicy`] is notation's `trustpolicy.json` (OCI artifacts, `"version": "1.0"`), accepted
//! unchanged and validated with notation's rules: unique statement names; `registryScopes`
//! either `["*"]` alone or fully qualified repositories without tag or digest; a repository (or
//! `*`) in at most one statement; `signatureVerification.level` one of `strict`, `permissive`,
//! `audit`, `skip`, with an optional `override` map (integrity cannot be overridden; only
//! revocation may be skipped; `skip` cannot be customised) and an optional `verifyTimestamp`
//! (`always` or `afterCertExpiry`); `skip` statements have no trust stores or identities,
//! others need both; trust stores `type:name` with type `ca`, `signingAuthority` or `tsa`;
//! trusted identities either `*` alone or `x509.subject: <DN>` where the DN names at least `C`,
//! `ST` and `O`, has no repeated or multi-valued attributes and does not overlap another
//! identity of the same statement. Unknown JSON fields are ignored, as notation's decoder does.
//! [`BlobTrustPolicy`] is the companion `trustpolicy.blob.json` (no scopes, `globalPolicy`).
//!
//! [`PolicyStatement::action`] applies the specification's verification-level table and the
//! statement's overrides; [`trusted_identity_matches`] applies its trusted-identity rule.
//!
//! Divergences from notation, all stricter or safer: store names `.` and `..` are refused;
//! JSON keys are matched case-sensitively (Go's decoder folds case); duplicate JSON keys are
//! refused; attribute type names in identities are case-insensitive (`cn=` is `CN=`) and `S` is
//! read as `ST`; a certificate attribute shown in `#hex` form never matches but does not stop
//! the other attributes from matching.

pub mod sigstore_root;
pub mod tlog;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::x509::{load_pem_certificates, CertError, Certificate};

const MAX_CERT_FILE: u64 = 4 * 1024 * 1024;
const MAX_POLICY_FILE: u64 = 4 * 1024 * 1024;

/// Errors from trust stores and trust policies. Messages are one line and name the store or
/// policy statement and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A trust store directory, or one named store in it, cannot be used.
    #[error("trust store {store}: {reason}")]
    Store {
        /// The store: `ca:name`, or the trust store directory.
        store: String,
        /// What is wrong and where.
        reason: String,
    },
    /// A trust policy document is invalid as a whole (JSON, version, no statements).
    #[error("trust policy: {reason}")]
    PolicyDocument {
        /// What is wrong.
        reason: String,
    },
    /// A trust policy statement breaks a rule.
    #[error("trust policy statement {name:?}: {rule}")]
    PolicyStatement {
        /// The statement's name.
        name: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A certificate problem.
    #[error(transparent)]
    Cert(#[from] CertError),
}

fn store_err(store: impl fmt::Display, reason: impl Into<String>) -> TrustError {
    TrustError::Store {
        store: store.to_string(),
        reason: reason.into(),
    }
}

fn doc_err(reason: impl Into<String>) -> TrustError {
    TrustError::PolicyDocument {
        reason: reason.into(),
    }
}

fn stmt_err(name: &str, rule: impl Into<String>) -> TrustError {
    TrustError::PolicyStatement {
        name: name.to_string(),
        rule: rule.into(),
    }
}

/// The kind of a named trust store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreType {
    /// `x509/ca`: certificate authorities for the `notary.x509` signing scheme (and cosign
    /// certificate roots).
    Ca,
    /// `x509/signingAuthority`: roots for the `notary.x509.signingAuthority` scheme.
    SigningAuthority,
    /// `x509/tsa`: timestamping authority roots.
    Tsa,
}

impl StoreType {
    /// All store types, in directory order.
    pub const ALL: [StoreType; 3] = [StoreType::Ca, StoreType::SigningAuthority, StoreType::Tsa];

    /// The name used in policies and on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }

    fn parse(s: &str) -> Option<StoreType> {
        StoreType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to one named store, `type:name` (`ca:acme-rockets`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreRef {
    /// The store type.
    pub store_type: StoreType,
    /// The store name: `[a-zA-Z0-9_.-]+`, not `.` or `..`.
    pub name: String,
}

impl StoreRef {
    /// Parse `type:name`.
    pub fn parse(s: &str) -> Result<StoreRef, String> {
        let Some((t, name)) = s.split_once(':') else {
            return Err(format!(
                "malformed trust store value {s:?}; the required format is <TrustStoreType>:<TrustStoreName>"
            ));
        };
        let Some(store_type) = StoreType::parse(t) else {
            return Err(format!(
                "unsupported trust store type {t:?} in {s:?}; supported types are ca, signingAuthority and tsa"
            ));
        };
        if !is_valid_store_name(name) {
            return Err(format!(
                "unsupported trust store name {name:?} in {s:?}; a named store name must match [a-zA-Z0-9_.-]+ and not be . or .."
            ));
        }
        Ok(StoreRef {
            store_type,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.store_type, self.name)
    }
}

fn is_valid_store_name(name: &str) -> bool {
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
    dir: PathBuf,
    stores: BTreeMap<StoreRef, Result<Vec<Certificate>, TrustError>>,
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
        for store_type in StoreType::ALL {
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
                let store = StoreRef { store_type, name };
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
    pub fn named_stores(&self) -> impl Iterator<Item = &StoreRef> {
        self.stores.keys()
    }

    /// The certificates of the named store `store` (`"ca:acme-rockets"`).
    pub fn certificates(&self, store: &str) -> Result<&[Certificate], TrustError> {
        let store = StoreRef::parse(store).map_err(|reason| store_err(store, reason))?;
        self.certificates_of(&store)
    }

    /// The certificates of the named store `store`.
    pub fn certificates_of(&self, store: &StoreRef) -> Result<&[Certificate], TrustError> {
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
        store_type: StoreType,
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

fn load_named_store(store: &StoreRef, dir: &Path) -> Result<Vec<Certificate>, TrustError> {
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
        let bytes = crate::fsutil::read_capped(&path, MAX_CERT_FILE, "a certificate file")
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

fn check_store_certificate(
    store: &StoreRef,
    path: &Path,
    cert: &Certificate,
) -> Result<(), TrustError> {
    if store.store_type == StoreType::Tsa {
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

/// The kinds of check a signature verification performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValidationType {
    /// The artifact is unaltered and the signature intact.
    Integrity,
    /// The signature comes from a trusted identity.
    Authenticity,
    /// The signature was made while the certificate chain was valid (timestamp or
    /// verification time within every certificate's validity).
    AuthenticTimestamp,
    /// The signature's own expiry time has not passed.
    Expiry,
    /// No certificate in the chain is revoked.
    Revocation,
}

impl ValidationType {
    /// All validation types, in the specification's order.
    pub const ALL: [ValidationType; 5] = [
        ValidationType::Integrity,
        ValidationType::Authenticity,
        ValidationType::AuthenticTimestamp,
        ValidationType::Expiry,
        ValidationType::Revocation,
    ];

    /// The name used in `override` maps.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationType::Integrity => "integrity",
            ValidationType::Authenticity => "authenticity",
            ValidationType::AuthenticTimestamp => "authenticTimestamp",
            ValidationType::Expiry => "expiry",
            ValidationType::Revocation => "revocation",
        }
    }

    fn parse(s: &str) -> Option<ValidationType> {
        ValidationType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ValidationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failed validation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The failure fails the verification.
    Enforce,
    /// The failure is logged and verification goes on.
    Log,
    /// The validation is not performed.
    Skip,
}

impl Action {
    /// The name used in `override` maps.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enforce => "enforce",
            Action::Log => "log",
            Action::Skip => "skip",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [Action::Enforce, Action::Log, Action::Skip]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A predefined verification level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VerificationLevel {
    /// Every validation enforced.
    Strict,
    /// Integrity and authenticity enforced; the rest logged.
    Permissive,
    /// Integrity enforced; the rest logged.
    Audit,
    /// Nothing verified (signatures are not even fetched).
    Skip,
}

impl VerificationLevel {
    /// The name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationLevel::Strict => "strict",
            VerificationLevel::Permissive => "permissive",
            VerificationLevel::Audit => "audit",
            VerificationLevel::Skip => "skip",
        }
    }

    fn parse(s: &str) -> Option<VerificationLevel> {
        [
            VerificationLevel::Strict,
            VerificationLevel::Permissive,
            VerificationLevel::Audit,
            VerificationLevel::Skip,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }

    /// The specification's table: the action of `validation` at this level, before overrides.
    ///
    /// | level      | integrity | authenticity | authentic timestamp | expiry | revocation |
    /// |------------|-----------|--------------|---------------------|--------|------------|
    /// | strict     | enforce   | enforce      | enforce             | enforce| enforce    |
    /// | permissive | enforce   | enforce      | log                 | log    | log        |
    /// | audit      | enforce   | log          | log                 | log    | log        |
    /// | skip       | skip      | skip         | skip                | skip   | skip       |
    pub fn action(self, validation: ValidationType) -> Action {
        use ValidationType::*;
        match (self, validation) {
            (VerificationLevel::Skip, _) => Action::Skip,
            (VerificationLevel::Strict, _) => Action::Enforce,
            (_, Integrity) => Action::Enforce,
            (VerificationLevel::Permissive, Authenticity) => Action::Enforce,
            (VerificationLevel::Permissive | VerificationLevel::Audit, _) => Action::Log,
        }
    }
}

impl fmt::Display for VerificationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a timestamp countersignature is verified (`signatureVerification.verifyTimestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VerifyTimestamp {
    /// Always (the default).
    #[default]
    Always,
    /// Only when the signing certificate chain has expired.
    AfterCertExpiry,
}

/// One entry of `trustedIdentities`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustedIdentity {
    /// `*`: any signing certificate that chains to the statement's trust stores.
    Any,
    /// `x509.subject: <DN>`: the signing certificate's subject must contain every attribute of
    /// `dn` with an equal value.
    X509Subject {
        /// The text as written in the policy.
        raw: String,
        /// The parsed DN, attribute types normalised (`CN`, `O`, `ST`, ... or a dotted OID).
        dn: Vec<(String, String)>,
    },
    /// An identity with another prefix (for plugins); accepted and never matched by imgseal.
    Other {
        /// The text as written in the policy.
        raw: String,
    },
}

/// One statement of a trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyStatement {
    name: String,
    registry_scopes: Vec<String>,
    level: VerificationLevel,
    overrides: BTreeMap<ValidationType, Action>,
    verify_timestamp: VerifyTimestamp,
    trust_stores: Vec<StoreRef>,
    trusted_identities: Vec<TrustedIdentity>,
    global: bool,
}

impl PolicyStatement {
    /// The statement's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `registryScopes` (empty in a blob policy).
    pub fn registry_scopes(&self) -> &[String] {
        &self.registry_scopes
    }

    /// The predefined level the statement starts from.
    pub fn level(&self) -> VerificationLevel {
        self.level
    }

    /// The `override` map.
    pub fn overrides(&self) -> &BTreeMap<ValidationType, Action> {
        &self.overrides
    }

    /// `verifyTimestamp` (default [`VerifyTimestamp::Always`]).
    pub fn verify_timestamp(&self) -> VerifyTimestamp {
        self.verify_timestamp
    }

    /// The named trust stores, in policy order.
    pub fn trust_stores(&self) -> &[StoreRef] {
        &self.trust_stores
    }

    /// The trusted identities, in policy order.
    pub fn trusted_identities(&self) -> &[TrustedIdentity] {
        &self.trusted_identities
    }

    /// True for a blob policy statement marked `globalPolicy`.
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// What a failure of `validation` does under this statement: the level's table entry,
    /// replaced by the statement's override if it has one.
    pub fn action(&self, validation: ValidationType) -> Action {
        if self.level == VerificationLevel::Skip {
            return Action::Skip;
        }
        self.overrides
            .get(&validation)
            .copied()
            .unwrap_or_else(|| self.level.action(validation))
    }
}

/// A validated OCI trust policy (`trustpolicy.json` / `trustpolicy.oci.json`, version 1.0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicy {
    version: String,
    statements: Vec<PolicyStatement>,
}

impl TrustPolicy {
    /// Parse and validate a trust policy document.
    pub fn from_json(json: &[u8]) -> Result<TrustPolicy, TrustError> {
        let doc = parse_document(json)?;
        let statements = validate_statements(&doc, false)?;
        validate_registry_scopes(&statements)?;
        Ok(TrustPolicy {
            version: doc.version.unwrap_or_default(),
            statements,
        })
    }

    /// Read, parse and validate a trust policy file. A symlink is refused, as notation does.
    pub fn load(path: impl AsRef<Path>) -> Result<TrustPolicy, TrustError> {
        TrustPolicy::from_json(&read_policy_file(path.as_ref())?)
    }

    /// The document version (`1.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[PolicyStatement] {
        &self.statements
    }

    /// The statement that applies to `repository` (fully qualified, no tag or digest:
    /// `registry.example.com/team/app`, `docker.io/library/nginx`): the one whose scopes list it,
    /// else the `*` statement, else none (the artifact is then untrusted).
    ///
    /// Scopes and `repository` are compared in canonical form (lowercase registry host, port
    /// without leading zeros or default value, Docker Hub aliases folded: see
    /// [`crate::reference::canonical_registry`]), so `LOCALHOST:5000/app` cannot escape the
    /// statement written for `localhost:5000/app` into a more lenient `*` statement.
    pub fn policy_for(&self, repository: &str) -> Option<&PolicyStatement> {
        let canonical =
            |r: &str| crate::reference::canonical_repository(r).unwrap_or_else(|| r.to_string());
        let repository = canonical(repository);
        self.statements
            .iter()
            .find(|s| {
                s.registry_scopes
                    .iter()
                    .any(|r| r != "*" && canonical(r) == repository)
            })
            .or_else(|| {
                self.statements
                    .iter()
                    .find(|s| s.registry_scopes.iter().any(|r| r == "*"))
            })
    }
}

/// A validated blob trust policy (`trustpolicy.blob.json`, version 1.0): statements are chosen
/// by name, or the one marked `globalPolicy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobTrustPolicy {
    version: String,
    statements: Vec<PolicyStatement>,
}

impl BlobTrustPolicy {
    /// Parse and validate a blob trust policy document.
    pub fn from_json(json: &[u8]) -> Result<BlobTrustPolicy, TrustError> {
        let doc = parse_document(json)?;
        let statements = validate_statements(&doc, true)?;
        if statements.iter().filter(|s| s.global).count() > 1 {
            return Err(doc_err(
                "multiple statements have globalPolicy set to true; only one may be the global policy",
            ));
        }
        Ok(BlobTrustPolicy {
            version: doc.version.unwrap_or_default(),
            statements,
        })
    }

    /// Read, parse and validate a blob trust policy file (symlinks refused).
    pub fn load(path: impl AsRef<Path>) -> Result<BlobTrustPolicy, TrustError> {
        BlobTrustPolicy::from_json(&read_policy_file(path.as_ref())?)
    }

    /// The document version (`1.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[PolicyStatement] {
        &self.statements
    }

    /// The statement called `name`.
    pub fn policy_named(&self, name: &str) -> Option<&PolicyStatement> {
        self.statements.iter().find(|s| s.name == name)
    }

    /// The statement marked `globalPolicy`, if any.
    pub fn global_policy(&self) -> Option<&PolicyStatement> {
        self.statements.iter().find(|s| s.global)
    }
}

fn read_policy_file(path: &Path) -> Result<Vec<u8>, TrustError> {
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| doc_err(format!("cannot read {shown}: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(doc_err(format!(
            "{shown} is a symlink (symlinks are not supported); give the file itself"
        )));
    }
    crate::fsutil::read_capped(path, MAX_POLICY_FILE, "a trust policy")
        .map_err(|e| doc_err(e.to_string()))
}

#[derive(Deserialize)]
struct RawDocument {
    version: Option<String>,
    #[serde(rename = "trustPolicies")]
    trust_policies: Option<Vec<RawStatement>>,
}

#[derive(Deserialize)]
struct RawStatement {
    name: Option<String>,
    #[serde(rename = "registryScopes")]
    registry_scopes: Option<Vec<String>>,
    #[serde(rename = "signatureVerification")]
    signature_verification: Option<RawVerification>,
    #[serde(rename = "trustStores")]
    trust_stores: Option<Vec<String>>,
    #[serde(rename = "trustedIdentities")]
    trusted_identities: Option<Vec<String>>,
    #[serde(rename = "globalPolicy")]
    global_policy: Option<bool>,
}

#[derive(Deserialize)]
struct RawVerification {
    level: Option<String>,
    #[serde(rename = "override")]
    overrides: Option<BTreeMap<String, String>>,
    #[serde(rename = "verifyTimestamp")]
    verify_timestamp: Option<String>,
}

fn parse_document(json: &[u8]) -> Result<RawDocument, TrustError> {
    let doc: RawDocument =
        serde_json::from_slice(json).map_err(|e| doc_err(format!("malformed JSON: {e}")))?;
    match doc.version.as_deref() {
        None | Some("") => {
            return Err(doc_err(
                "the document has no version; \"version\": \"1.0\" is required",
            ))
        }
        Some("1.0") => {}
        Some(v) => {
            return Err(doc_err(format!(
                "unsupported version {v:?}; the supported version is \"1.0\""
            )))
        }
    }
    if doc.trust_policies.as_ref().is_none_or(|p| p.is_empty()) {
        return Err(doc_err("the document has no trust policy statements"));
    }
    Ok(doc)
}

fn validate_statements(doc: &RawDocument, blob: bool) -> Result<Vec<PolicyStatement>, TrustError> {
    let mut out: Vec<PolicyStatement> = Vec::new();
    for raw in doc.trust_policies.iter().flatten() {
        let name = raw.name.clone().unwrap_or_default();
        if out.iter().any(|s| s.name == name) {
            return Err(stmt_err(
                &name,
                "more than one statement uses this name; statement names must be unique",
            ));
        }
        if name.is_empty() {
            return Err(doc_err(
                "a trust policy statement has no name; every statement needs one",
            ));
        }
        let empty = RawVerification {
            level: None,
            overrides: None,
            verify_timestamp: None,
        };
        let sv = raw.signature_verification.as_ref().unwrap_or(&empty);
        let (level, overrides) = verification_level(&name, sv)?;
        let verify_timestamp = match sv.verify_timestamp.as_deref() {
            None | Some("") | Some("always") => VerifyTimestamp::Always,
            Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
            Some(other) => {
                return Err(stmt_err(
                    &name,
                    format!(
                        "signatureVerification.verifyTimestamp must be \"always\" or \"afterCertExpiry\", not {other:?}"
                    ),
                ))
            }
        };
        let stores = raw.trust_stores.clone().unwrap_or_default();
        let identities = raw.trusted_identities.clone().unwrap_or_default();
        let (trust_stores, trusted_identities) = if level == VerificationLevel::Skip {
            if !stores.is_empty() || !identities.is_empty() {
                return Err(stmt_err(
                    &name,
                    "is set to skip signature verification but configures trust stores and/or trusted identities; remove them to skip verification",
                ));
            }
            (Vec::new(), Vec::new())
        } else {
            if stores.is_empty() || identities.is_empty() {
                return Err(stmt_err(
                    &name,
                    "is missing trust stores or trusted identities; both must be specified",
                ));
            }
            let trust_stores = stores
                .iter()
                .map(|s| StoreRef::parse(s).map_err(|reason| stmt_err(&name, reason)))
                .collect::<Result<Vec<_>, _>>()?;
            (trust_stores, parse_identities(&name, &identities)?)
        };
        out.push(PolicyStatement {
            registry_scopes: if blob {
                Vec::new()
            } else {
                raw.registry_scopes.clone().unwrap_or_default()
            },
            level,
            overrides,
            verify_timestamp,
            trust_stores,
            trusted_identities,
            global: blob && raw.global_policy.unwrap_or(false),
            name,
        });
    }
    Ok(out)
}

fn verification_level(
    name: &str,
    sv: &RawVerification,
) -> Result<(VerificationLevel, BTreeMap<ValidationType, Action>), TrustError> {
    let invalid = |rule: String| stmt_err(name, format!("invalid signatureVerification: {rule}"));
    let level = match sv.level.as_deref() {
        None | Some("") => {
            return Err(invalid(
                "the verification level is empty or missing".to_string(),
            ))
        }
        Some(l) => VerificationLevel::parse(l).ok_or_else(|| {
            invalid(format!(
                "invalid verification level {l:?}; use strict, permissive, audit or skip"
            ))
        })?,
    };
    let mut overrides = BTreeMap::new();
    let raw = match &sv.overrides {
        Some(map) if !map.is_empty() => map,
        _ => return Ok((level, overrides)),
    };
    if level == VerificationLevel::Skip {
        return Err(invalid(
            "level \"skip\" cannot be customised with override".to_string(),
        ));
    }
    for (key, value) in raw {
        let validation = ValidationType::parse(key).ok_or_else(|| {
            invalid(format!(
                "override of {key:?} is not supported; use authenticity, authenticTimestamp, expiry or revocation"
            ))
        })?;
        let action = Action::parse(value).ok_or_else(|| {
            invalid(format!(
                "override action {value:?} for {key:?} is not supported; use enforce, log or skip"
            ))
        })?;
        if validation == ValidationType::Integrity {
            return Err(invalid(
                "\"integrity\" verification cannot be overridden".to_string(),
            ));
        }
        if validation != ValidationType::Revocation && action == Action::Skip {
            return Err(invalid(format!(
                "{key:?} verification cannot be skipped (only revocation can)"
            )));
        }
        overrides.insert(validation, action);
    }
    Ok((level, overrides))
}

fn parse_identities(name: &str, identities: &[String]) -> Result<Vec<TrustedIdentity>, TrustError> {
    if identities.len() > 1 && identities.iter().any(|i| i == "*") {
        return Err(stmt_err(
            name,
            "uses the wildcard trusted identity '*' together with other values; '*' must stand alone",
        ));
    }
    let mut out = Vec::new();
    for identity in identities {
        if identity.is_empty() {
            return Err(stmt_err(name, "has an empty trusted identity"));
        }
        if identity == "*" {
            out.push(TrustedIdentity::Any);
            continue;
        }
        let Some((prefix, value)) = identity.split_once(':') else {
            return Err(stmt_err(
                name,
                format!("trusted identity {identity:?} has no prefix separator ':'"),
            ));
        };
        if prefix != "x509.subject" {
            out.push(TrustedIdentity::Other {
                raw: identity.clone(),
            });
            continue;
        }
        if value.is_empty() {
            return Err(stmt_err(
                name,
                format!("trusted identity {identity:?} has no value"),
            ));
        }
        let dn = parse_identity_dn(value)
            .map_err(|reason| stmt_err(name, format!("trusted identity {identity:?}: {reason}")))?;
        out.push(TrustedIdentity::X509Subject {
            raw: identity.clone(),
            dn,
        });
    }
    // No identity may be a subset of another (a certificate would match both).
    let dns: Vec<(&String, &Vec<(String, String)>)> = out
        .iter()
        .filter_map(|i| match i {
            TrustedIdentity::X509Subject { raw, dn } => Some((raw, dn)),
            _ => None,
        })
        .collect();
    for (i, (raw1, dn1)) in dns.iter().enumerate() {
        for (j, (raw2, dn2)) in dns.iter().enumerate() {
            if i != j && is_subset(dn1, dn2) {
                return Err(stmt_err(
                    name,
                    format!(
                        "has overlapping x509 trusted identities: {raw1:?} overlaps with {raw2:?}"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn is_subset(small: &[(String, String)], big: &[(String, String)]) -> bool {
    small
        .iter()
        .all(|(t, v)| big.iter().any(|(bt, bv)| bt == t && bv == v))
}

fn validate_registry_scopes(statements: &[PolicyStatement]) -> Result<(), TrustError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for s in statements {
        if s.registry_scopes.is_empty() {
            return Err(stmt_err(
                &s.name,
                "has no registry scopes; registryScopes needs at least one value",
            ));
        }
        if s.registry_scopes.len() > 1 && s.registry_scopes.iter().any(|r| r == "*") {
            return Err(stmt_err(
                &s.name,
                "uses the wildcard registry scope '*' together with other scopes; '*' must stand alone",
            ));
        }
        for scope in &s.registry_scopes {
            if scope != "*" {
                check_scope_format(scope).map_err(|rule| stmt_err(&s.name, rule))?;
            }
            if let Some(other) = seen.insert(scope, &s.name) {
                let rule = if scope == "*" {
                    format!("uses the wildcard scope '*', which statement {other:?} already uses; only one statement may be global")
                } else {
                    format!("registry scope {scope:?} is also in statement {other:?}; a repository may belong to one statement only")
                };
                return Err(stmt_err(&s.name, rule));
            }
        }
    }
    Ok(())
}

/// notation's scope grammar: `domain/repository`, domain and repository as in the
/// distribution reference grammar, no `*`, no tag, no digest.
fn check_scope_format(scope: &str) -> Result<(), String> {
    let advice = "it must be a fully qualified repository without scheme, tag or digest, e.g. registry.example.com/my/repository";
    if scope.contains('*') {
        return Err(format!(
            "registry scope {scope:?} contains a wildcard; {advice}"
        ));
    }
    let ok = match scope.split_once('/') {
        Some((domain, repo)) => is_scope_domain(domain) && is_scope_repository(repo),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("registry scope {scope:?} is not valid; {advice}"))
    }
}

fn is_scope_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn is_scope_repository(repo: &str) -> bool {
    repo.split('/').all(is_scope_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_scope_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// One parsed attribute value: text, or the RFC 4514 `#hex` form (never matched).
#[derive(Clone, Debug, PartialEq, Eq)]
enum DnValue {
    Text(String),
    Hex,
}

/// Parse an RFC 4514 DN into RDNs of (normalised type, value).
fn parse_dn(input: &str) -> Result<Vec<Vec<(String, DnValue)>>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut rdns: Vec<Vec<(String, DnValue)>> = Vec::new();
    let mut rdn: Vec<(String, DnValue)> = Vec::new();
    if input.trim().is_empty() {
        return Err("the distinguished name is empty".into());
    }
    loop {
        // attribute type
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            if matches!(chars[i], ',' | '+' | ';') {
                return Err(format!(
                    "expected type=value at {:?}",
                    chars[start..].iter().collect::<String>()
                ));
            }
            i += 1;
        }
        if i == chars.len() {
            return Err(format!(
                "missing '=' in {:?}",
                chars[start..].iter().collect::<String>()
            ));
        }
        let raw_type: String = chars[start..i].iter().collect();
        let attr_type = normalise_type(raw_type.trim())?;
        i += 1; // '='
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        // attribute value
        let value = if i < chars.len() && chars[i] == '#' {
            while i < chars.len() && !matches!(chars[i], ',' | '+' | ';') {
                i += 1;
            }
            DnValue::Hex
        } else if i < chars.len() && chars[i] == '"' {
            return Err(
                "quoted attribute values are not supported; escape with '\\' instead".into(),
            );
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            let mut keep = 0; // length of `bytes` up to the last character that is not a trailing unescaped space
            while i < chars.len() && !matches!(chars[i], ',' | '+' | ';') {
                let c = chars[i];
                if c == '\\' {
                    let next = chars
                        .get(i + 1)
                        .copied()
                        .ok_or("a value ends with a lone '\\'")?;
                    if next.is_ascii_hexdigit() {
                        let lo = chars
                            .get(i + 2)
                            .copied()
                            .filter(char::is_ascii_hexdigit)
                            .ok_or(
                                "'\\' must be followed by a special character or two hex digits",
                            )?;
                        let byte = u8::from_str_radix(&format!("{next}{lo}"), 16)
                            .map_err(|e| e.to_string())?;
                        bytes.push(byte);
                        i += 3;
                    } else if matches!(
                        next,
                        ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | ' ' | '#'
                    ) {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                        i += 2;
                    } else {
                        return Err(format!("invalid escape '\\{next}'"));
                    }
                    keep = bytes.len();
                } else {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    if c != ' ' {
                        keep = bytes.len();
                    }
                    i += 1;
                }
            }
            bytes.truncate(keep);
            DnValue::Text(
                String::from_utf8(bytes).map_err(|_| "an escaped value is not valid UTF-8")?,
            )
        };
        rdn.push((attr_type, value));
        if i == chars.len() {
            rdns.push(std::mem::take(&mut rdn));
            break;
        }
        let sep = chars[i];
        i += 1;
        if sep != '+' {
            rdns.push(std::mem::take(&mut rdn));
        }
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if i == chars.len() {
            return Err(format!("the distinguished name ends with '{sep}'"));
        }
    }
    Ok(rdns)
}

fn normalise_type(t: &str) -> Result<String, String> {
    if t.is_empty() {
        return Err("an attribute type is empty".into());
    }
    let b = t.as_bytes();
    if b[0].is_ascii_digit() {
        let ok = t
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("attribute type {t:?} is not a keyword or an OID"));
        }
        let named = crate::x509::attribute_name(t).unwrap_or(t);
        return Ok(named.to_string());
    }
    if !b[0].is_ascii_alphabetic() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return Err(format!("attribute type {t:?} is not a keyword or an OID"));
    }
    let upper = t.to_ascii_uppercase();
    Ok(if upper == "S" { "ST".into() } else { upper })
}

/// A trusted identity's DN under notation's rules: parseable, no `=#`, no multi-valued RDNs,
/// no repeated attribute types, and `C`, `ST` and `O` present.
fn parse_identity_dn(value: &str) -> Result<Vec<(String, String)>, String> {
    if value.contains("=#") {
        return Err("DNs containing \"=#\" (hex-encoded values) are not supported".into());
    }
    let rdns = parse_dn(value)
        .map_err(|e| format!("{e}; a DN must follow RFC 4514 and contain at least C, ST and O"))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return Err("multi-valued RDNs ('+') are not supported".into());
        }
        for (t, v) in rdn {
            let DnValue::Text(v) = v else {
                return Err("hex-encoded values are not supported".into());
            };
            if out.iter().any(|(seen, _)| *seen == t) {
                return Err(format!("attribute {t} appears more than once"));
            }
            out.push((t, v));
        }
    }
    for required in ["C", "ST", "O"] {
        if !out.iter().any(|(t, v)| t == required && !v.is_empty()) {
            return Err(format!(
                "the mandatory attribute {required} is missing; a DN must contain at least C, ST and O"
            ));
        }
    }
    Ok(out)
}

/// True when the signing certificate whose subject DN is `leaf_subject_dn` (as
/// [`Certificate::subject`] renders it) satisfies `statement`'s trusted identities: `*`
/// matches anything; `x509.subject: <DN>` matches when every attribute of the DN is present in
/// the subject with an equal value (case-sensitive), other attributes of the subject being
/// ignored. A subject with multi-valued RDNs or a repeated attribute type matches no
/// `x509.subject` identity (as in notation). Identities with other prefixes never match here.
pub fn trusted_identity_matches(statement: &PolicyStatement, leaf_subject_dn: &str) -> bool {
    if statement
        .trusted_identities
        .iter()
        .any(|i| matches!(i, TrustedIdentity::Any))
    {
        return true;
    }
    let Some(subject) = subject_attributes(leaf_subject_dn) else {
        return false;
    };
    statement
        .trusted_identities
        .iter()
        .any(|identity| match identity {
            TrustedIdentity::X509Subject { dn, .. } => dn.iter().all(|(t, v)| {
                subject
                    .iter()
                    .any(|(st, sv)| st == t && sv.as_ref() == Some(v))
            }),
            _ => false,
        })
}

/// The certificate subject as type → value (`None` for `#hex` values); `None` when it has a
/// multi-valued RDN, a repeated type, or does not parse.
fn subject_attributes(dn: &str) -> Option<Vec<(String, Option<String>)>> {
    let rdns = parse_dn(dn).ok()?;
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return None;
        }
        for (t, v) in rdn {
            if out.iter().any(|(seen, _)| *seen == t) {
                return None;
            }
            out.push((
                t,
                match v {
                    DnValue::Text(s) => Some(s),
                    DnValue::Hex => None,
                },
            ));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_round_trips_through_escaping() {
        for value in [
            "Bad=#CN",
            "a,b+c;d",
            " lead",
            "trail ",
            "#hash",
            "back\\slash",
            "q\"<>",
        ] {
            let rendered = format!("CN={},O=o,ST=s,C=c", crate::x509::escape_dn_value(value));
            let attrs = subject_attributes(&rendered).unwrap();
            assert_eq!(
                attrs[0],
                ("CN".to_string(), Some(value.to_string())),
                "{rendered}"
            );
        }
    }

    #[test]
    fn identity_dn_rules() {
        assert!(parse_identity_dn("C=US, ST=WA, O=Notary").is_ok());
        assert!(parse_identity_dn("C=US,S=WA,O=Notary").is_ok());
        assert!(parse_identity_dn("C=US, ST=WA").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a, O=b").is_err());
        assert!(parse_identity_dn("C=US+ST=WA, O=a").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a, CN=#0403").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a,").is_err());
    }

    #[test]
    fn scope_grammar() {
        assert!(check_scope_format("registry.acme-rockets.io/software/net-monitor").is_ok());
        assert!(check_scope_format("localhost:5000/net-monitor").is_ok());
        assert!(check_scope_format("docker.io/library/a__b.c-d").is_ok());
        assert!(check_scope_format("example.com/repo:tag").is_err());
        assert!(check_scope_format("example.com/repo@sha256:00").is_err());
        assert!(check_scope_format("example.com/Repo").is_err());
        assert!(check_scope_format("example.com/*").is_err());
        assert!(check_scope_format("repo").is_err());
        assert!(check_scope_format("example.com/a..b").is_err());
    }

    #[test]
    fn scopes_match_every_spelling_of_a_registry() {
        // Security: LOCALHOST:PORT must not fall through to a lenient "*" statement.
        let policy = TrustPolicy::from_json(br#"{"version":"1.0","trustPolicies":[
            {"name":"strict","registryScopes":["localhost:5000/nota/x","registry.example/app"],
             "signatureVerification":{"level":"strict"},"trustStores":["ca:a"],"trustedIdentities":["*"]},
            {"name":"rest","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}"#)
        .unwrap();
        for repo in [
            "localhost:5000/nota/x",
            "LOCALHOST:5000/nota/x",
            "localhost:05000/nota/x",
            "Registry.Example:443/app",
        ] {
            assert_eq!(
                policy.policy_for(repo).map(|s| s.name()),
                Some("strict"),
                "{repo}"
            );
        }
        assert_eq!(
            policy.policy_for("localhost:5001/nota/x").map(|s| s.name()),
            Some("rest")
        );
    }

    #[test]
    fn level_table() {
        use ValidationType::*;
        assert_eq!(
            VerificationLevel::Permissive.action(Authenticity),
            Action::Enforce
        );
        assert_eq!(VerificationLevel::Permissive.action(Expiry), Action::Log);
        assert_eq!(VerificationLevel::Audit.action(Integrity), Action::Enforce);
        assert_eq!(VerificationLevel::Audit.action(Authenticity), Action::Log);
        assert_eq!(VerificationLevel::Skip.action(Integrity), Action::Skip);
    }
}
