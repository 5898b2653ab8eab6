//! # imgseal
//!
//! Sign container images and verify them before they run.
//!
//! imgseal writes and reads cosign's signature format (the simple-signing payload at the
//! `sha256-<hex>.sig` tag, or as an OCI 1.1 referrer), so what it signs verifies with the
//! sigstore/cosign ecosystem and what cosign signs verifies here; and the Notary Project
//! (notation) JWS format with notation's trust store and trust policy. Images live in an OCI
//! registry or in an OCI image layout on disk; both are reached through [`store::Store`].
//!
//! The pipeline, shared by the CLI and library callers:
//!
//! ```text
//! ImageRef ─open─▶ Store ─resolve─▶ Manifest (bytes re-hashed, size-capped)
//!   sign:   payload ─sign(key)─▶ layer ─attach─▶ sha256-<hex>.sig | referrer (API or tag schema)
//!   verify: .sig tag, referrers ─▶ [candidates] ─check(keys | certificate roots | trust policy)─▶ Verification
//!   policy: rules(image) ─▶ checks (signatures, registry, tag, labels, size, base image) ─▶ Decision
//! ```
//!
//! Start with [`Signer`] and [`Verifier`]; [`policy::Policy`] evaluates many images against
//! one policy file; [`copy::copy`] and [`tree::tree`] move and list what is attached.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod copy;
pub mod crypto;
pub mod digest;
pub mod error;
pub mod formats;
pub mod k8s;
pub mod net;
pub mod oci;
pub mod pki;
pub mod policy;
pub mod reference;
pub mod sign;
pub mod store;
pub mod tree;
pub mod trust;
pub mod util;
pub mod verify;
pub mod webhook;

pub use crypto::keys::{PublicKey, SigningKey};
pub use digest::Digest;
pub use error::Error;
pub use reference::{ImageRef, Reference};
pub use sign::{Attach, Signed, Signer};
pub use store::StoreOptions;
pub use verify::{Verification, Verifier};

/// Result type used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
