//! The notation trust policy (`trustpolicy.json`) and blob trust policy
//! (`trustpolicy.blob.json`): parsing and notation's validation rules.

use super::*;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

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
    pub(super) name: String,
    pub(super) registry_scopes: Vec<String>,
    pub(super) level: VerificationLevel,
    pub(super) overrides: BTreeMap<ValidationType, Action>,
    pub(super) verify_timestamp: VerifyTimestamp,
    pub(super) trust_stores: Vec<TrustStoreRef>,
    pub(super) trusted_identities: Vec<TrustedIdentity>,
    pub(super) global: bool,
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
    pub fn trust_stores(&self) -> &[TrustStoreRef] {
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
    pub(super) version: String,
    pub(super) statements: Vec<PolicyStatement>,
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
    pub(super) version: String,
    pub(super) statements: Vec<PolicyStatement>,
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

pub(super) fn read_policy_file(path: &Path) -> Result<Vec<u8>, TrustError> {
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| doc_err(format!("cannot read {shown}: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(doc_err(format!(
            "{shown} is a symlink (symlinks are not supported); give the file itself"
        )));
    }
    crate::util::fs::read_capped(path, MAX_POLICY_FILE, "a trust policy")
        .map_err(|e| doc_err(e.to_string()))
}

#[derive(Deserialize)]
pub(super) struct RawDocument {
    pub(super) version: Option<String>,
    #[serde(rename = "trustPolicies")]
    pub(super) trust_policies: Option<Vec<RawStatement>>,
}

#[derive(Deserialize)]
pub(super) struct RawStatement {
    pub(super) name: Option<String>,
    #[serde(rename = "registryScopes")]
    pub(super) registry_scopes: Option<Vec<String>>,
    #[serde(rename = "signatureVerification")]
    pub(super) signature_verification: Option<RawVerification>,
    #[serde(rename = "trustStores")]
    pub(super) trust_stores: Option<Vec<String>>,
    #[serde(rename = "trustedIdentities")]
    pub(super) trusted_identities: Option<Vec<String>>,
    #[serde(rename = "globalPolicy")]
    pub(super) global_policy: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct RawVerification {
    pub(super) level: Option<String>,
    #[serde(rename = "override")]
    pub(super) overrides: Option<BTreeMap<String, String>>,
    #[serde(rename = "verifyTimestamp")]
    pub(super) verify_timestamp: Option<String>,
}

pub(super) fn parse_document(json: &[u8]) -> Result<RawDocument, TrustError> {
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

pub(super) fn validate_statements(
    doc: &RawDocument,
    blob: bool,
) -> Result<Vec<PolicyStatement>, TrustError> {
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
                .map(|s| TrustStoreRef::parse(s).map_err(|e| stmt_err(&name, e.to_string())))
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

pub(super) fn verification_level(
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

pub(super) fn parse_identities(
    name: &str,
    identities: &[String],
) -> Result<Vec<TrustedIdentity>, TrustError> {
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

pub(super) fn is_subset(small: &[(String, String)], big: &[(String, String)]) -> bool {
    small
        .iter()
        .all(|(t, v)| big.iter().any(|(bt, bv)| bt == t && bv == v))
}

pub(super) fn validate_registry_scopes(statements: &[PolicyStatement]) -> Result<(), TrustError> {
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
                check_scope_format(scope).map_err(|e| stmt_err(&s.name, e.to_string()))?;
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
pub(super) fn check_scope_format(scope: &str) -> Result<(), ScopeError> {
    if scope.contains('*') {
        return Err(ScopeError::Wildcard {
            scope: scope.to_string(),
        });
    }
    let ok = match scope.split_once('/') {
        Some((domain, repo)) => is_scope_domain(domain) && is_scope_repository(repo),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ScopeError::Invalid {
            scope: scope.to_string(),
        })
    }
}

/// Why a `registryScopes` entry breaks notation's scope grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A `*` inside a scope (only `["*"]` alone is allowed).
    #[error("registry scope {scope:?} contains a wildcard; {SCOPE_ADVICE}")]
    Wildcard {
        /// The scope.
        scope: String,
    },
    /// Not `domain/repository`.
    #[error("registry scope {scope:?} is not valid; {SCOPE_ADVICE}")]
    Invalid {
        /// The scope.
        scope: String,
    },
}

const SCOPE_ADVICE: &str = "it must be a fully qualified repository without scheme, tag or digest, e.g. registry.example.com/my/repository";

pub(super) fn is_scope_domain(domain: &str) -> bool {
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

pub(super) fn is_scope_repository(repo: &str) -> bool {
    repo.split('/').all(is_scope_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
pub(super) fn is_scope_component(c: &str) -> bool {
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
