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

// Files per concept (issue 14). Keep this `mod` section at the top: other branches add lines.
mod cosign;
// The notation timestamp rules and CRL fetching that sit on top of `pki` (issue 14).
mod identity;
pub mod keyless;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod layout;
mod levels;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod notation_config;
mod notation_policy;
mod notation_store;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod notation_timestamp;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod revocation_fetch;
pub mod signed_identity;
pub mod sigstore_root;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod tlog;

pub use cosign::*;
pub use identity::*;
pub use levels::*;
pub use notation_policy::*;
pub use notation_store::*;

use std::fmt;

use crate::pki::CertError;

pub(super) const MAX_CERT_FILE: u64 = 4 * 1024 * 1024;
pub(super) const MAX_POLICY_FILE: u64 = 4 * 1024 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

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
