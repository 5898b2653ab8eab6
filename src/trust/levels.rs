//! Verification levels (`strict`, `permissive`, `audit`, `skip`): the validations a
//! signature verification performs and what a failure of each one does.

use std::fmt;

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

    pub(super) fn parse(s: &str) -> Option<ValidationType> {
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

    pub(super) fn parse(s: &str) -> Option<Action> {
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

    pub(super) fn parse(s: &str) -> Option<VerificationLevel> {
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
