//! The library's error type.
//!
//! Every variant says what was wrong (not how it was discovered) and carries enough context for
//! a one-line message. The CLI renders these once and maps them to exit codes with
//! [`Error::is_integrity_failure`].
//!
//! Each layer has its own `#[non_exhaustive]` error enum, converted into [`Error`] here; the
//! ones from internal modules are re-exported here ([`CertError`], [`EnvelopeError`],
//! [`FileError`], [`IntotoError`], [`SigstoreError`], [`ContainersPolicyError`]).

use std::path::PathBuf;

// The per-layer errors [`Error`] wraps whose modules are internal, re-exported so a caller can
// match on them.
pub use crate::formats::intoto::IntotoError;
pub use crate::formats::notation::EnvelopeError;
pub use crate::pki::CertError;
pub use crate::policy::containers::ContainersPolicyError;
pub use crate::util::fs::FileError;
pub use crate::verify::sigstore::SigstoreError;

/// Everything that can go wrong in imgseal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference does not follow the docker/OCI grammar.
    #[error("invalid image reference {input:?}: {reason}")]
    InvalidReference {
        /// What the user typed.
        input: String,
        /// Which rule it broke.
        reason: String,
    },
    /// A digest string is malformed or uses an unsupported algorithm.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// The offending text.
        input: String,
        /// Which rule it broke.
        reason: String,
    },
    /// A key file could not be used.
    #[error("key {path}: {reason}")]
    Key {
        /// The key file (or `-` for in-memory keys).
        path: String,
        /// What is wrong with it and what to do.
        reason: String,
    },
    /// The password did not decrypt the key.
    #[error("key {path}: wrong password (decryption failed)")]
    WrongPassword {
        /// The key file.
        path: String,
    },
    /// No password was available and none could be prompted for.
    #[error("a password is needed")]
    NoPassword,
    /// Refused to overwrite an existing file.
    #[error("{path} already exists")]
    Exists {
        /// The file that exists.
        path: PathBuf,
    },
    /// A local file or directory could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The registry could not be reached or answered with an error.
    #[error("registry {registry}: {reason}")]
    Registry {
        /// Registry host.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// A registry did not answer before the run's overall deadline
    /// ([`StoreOptions::deadline`](crate::store::StoreOptions)).
    #[error("registry {registry} did not answer within the {} deadline ({doing} timed out)", crate::util::text::go_duration(*budget))]
    Deadline {
        /// Registry host.
        registry: String,
        /// The whole run's time budget.
        budget: std::time::Duration,
        /// What was under way when time ran out.
        doing: String,
    },
    /// The registry's TLS certificate is not trusted (or not valid for its name).
    #[error("registry {registry}: its TLS certificate is not trusted ({reason}); give the CA that issued it")]
    UntrustedCertificate {
        /// Registry host.
        registry: String,
        /// What rustls said of the certificate.
        reason: String,
    },
    /// A registry reached over plain HTTP answered that it speaks HTTPS.
    #[error("registry {registry} speaks HTTPS, not plain HTTP (a loopback registry is reached over plain HTTP unless TLS settings are given for it)")]
    HttpsOnly {
        /// Registry host.
        registry: String,
    },
    /// The registry refused our credentials (or demanded some we do not have).
    #[error("registry {registry} refused access: {reason}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What the registry said and what to do.
        reason: String,
    },
    /// An image, tag or blob does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Content did not hash to the digest it was fetched by or announced with.
    #[error("{what}: content does not match its digest (expected {expected}, got {actual}); refusing it")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest we asked for or were promised.
        expected: String,
        /// The digest of the bytes we received.
        actual: String,
    },
    /// Content exceeds a size cap and was refused before being buffered whole.
    #[error("{what} is larger than the {limit}-byte limit; refusing it")]
    TooLarge {
        /// What was fetched.
        what: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// A manifest, index or layout file is not valid.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was parsed.
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// A certificate, certificate chain, trust store or trust policy was refused
    /// (see [`crate::pki::CertError`] and [`crate::trust::TrustError`]).
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// A local file could not be read: missing, not a regular file, or larger than its cap.
    #[error(transparent)]
    File(#[from] crate::util::fs::FileError),
    /// A Notary Project signature envelope could not be made or read.
    #[error("notation envelope: {0}")]
    Envelope(#[from] crate::formats::notation::EnvelopeError),
    /// A [`Signer`](crate::Signer) was configured in a way that cannot sign
    /// (see [`crate::sign::SignError`]).
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// A signed-identity rule (which `docker-reference` a signature may name) is not valid
    /// (see [`crate::trust::signed_identity::IdentityRuleError`]).
    #[error(transparent)]
    IdentityRule(#[from] crate::trust::signed_identity::IdentityRuleError),
    /// An imgseal policy file cannot be used: every problem found in it, each with its field
    /// path and line (see [`crate::policy::PolicyError`]).
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// A containers/image `policy.json` cannot be read, or an image cannot be evaluated
    /// against it (see [`crate::policy::containers::ContainersPolicyError`]).
    #[error(transparent)]
    ContainersPolicy(#[from] crate::policy::containers::ContainersPolicyError),
    /// A Sigstore trusted root cannot be loaded or built.
    #[error(transparent)]
    SigstoreRoot(#[from] crate::trust::sigstore_root::SigstoreRootError),
    /// A keyless identity matcher is invalid (see [`crate::trust::keyless::KeylessError`]).
    #[error(transparent)]
    Keyless(#[from] crate::trust::keyless::KeylessError),
    /// A Sigstore bundle did not verify (see [`crate::verify::sigstore::SigstoreError`]).
    #[error(transparent)]
    Sigstore(#[from] crate::verify::sigstore::SigstoreError),
    /// An attestation could not be made or verified as asked (see
    /// [`crate::attest::AttestError`]).
    #[error(transparent)]
    Attest(#[from] crate::attest::AttestError),
    /// A copy was refused (see [`crate::copy::CopyError`]).
    #[error(transparent)]
    Copy(#[from] crate::copy::CopyError),
}

impl Error {
    /// True for failures that mean "this content cannot be trusted" (digest mismatches,
    /// oversized content) rather than "the tool could not run". The CLI exits 1 for these, like
    /// a failed verification, and 2 for everything else.
    pub fn is_integrity_failure(&self) -> bool {
        matches!(self, Error::DigestMismatch { .. } | Error::TooLarge { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn key(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Key {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<crate::formats::intoto::IntotoError> for Error {
    fn from(e: crate::formats::intoto::IntotoError) -> Self {
        Error::Attest(crate::attest::AttestError::Predicate(e))
    }
}

impl From<crate::pki::cert::CertError> for Error {
    fn from(e: crate::pki::cert::CertError) -> Self {
        Error::Trust(crate::trust::TrustError::Cert(e))
    }
}
