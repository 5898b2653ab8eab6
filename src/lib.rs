//! # imgseal
//!
//! Sign container images and verify them before they run.
//!
//! imgseal writes and reads cosign's signature format (the simple-signing payload stored at the
//! `sha256-<hex>.sig` tag), so what it signs verifies with the sigstore/cosign ecosystem and what
//! cosign signs verifies here. Images live in an OCI registry or in an OCI image layout on disk;
//! both are reached through [`store::Store`].
//!
//! The pipeline, shared by the CLI and library callers:
//!
//! ```text
//! ImageRef ─open─▶ Store ─resolve─▶ digest (bytes re-hashed)
//!   sign:   payload ─sign(key)─▶ layer ─attach─▶ sha256-<hex>.sig
//!   verify: sha256-<hex>.sig ─▶ [layers] ─check(key, digest, repository, annotations)─▶ Verification
//! ```
//!
//! Start with [`Signer`] and [`Verifier`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod copy;
pub mod digest;
pub mod error;
pub mod formats;
pub mod keys;
pub mod oci;
pub mod policy;
pub mod reference;
pub mod sign;
pub mod store;
pub mod timestamp;
pub mod tree;
pub mod trust;
pub mod verify;
pub mod x509;

pub use digest::Digest;
pub use error::Error;
pub use keys::{PublicKey, SigningKey};
pub use reference::{ImageRef, Reference};
pub use sign::{Attach, Signed, Signer};
pub use store::StoreOptions;
pub use verify::{Verification, Verifier};

/// Result type used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
