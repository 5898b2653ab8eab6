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
//! Start with [`Signer`] and [`Verifier`] (and, for signed scan results, SBOMs and provenance,
//! [`Attester`] and [`AttestationVerifier`]); [`Policy`] evaluates many images against one
//! policy file into a [`Decision`] each; [`copy()`] and [`tree()`] move and list what is
//! attached. Everything else is for callers who need one step of the pipeline.
//!
//! ```no_run
//! # async fn demo() -> imgseal::Result<()> {
//! use imgseal::{ImageRef, SigningKey, Signer, Verifier};
//! use std::collections::BTreeMap;
//! let image = ImageRef::parse("registry.example/app:1.0")?;
//! let key = SigningKey::generate()?;
//! let no_annotations = BTreeMap::new();
//! Signer::new(key.clone()).sign(&image, &no_annotations).await?;
//! let verification = Verifier::new(key.public_key()).verify(&image, &no_annotations).await?;
//! assert!(verification.verified, "{}", verification.failure_summary());
//! # Ok(()) }
//! ```
//!
//! ## Modules, by layer
//! Each layer uses only the layers above it in this list (`tests/layering.rs` checks it;
//! docs/architecture.md draws it):
//!
//! | layer | modules |
//! |---|---|
//! | L0 basics | [`digest`], [`reference`](mod@reference), [`oci`] (media types, descriptors, manifests), [`util`] (files, time and the injected clock, text for terminals, Go durations) |
//! | L1 crypto and PKI | [`crypto`] (keys, the one signature-algorithm table, the memo of verified signatures), [`pki`] (certificates, DNs, chains, CRLs, RFC 3161), `net` (the HTTP client; internal) |
//! | L2 formats and trust | [`formats`] (cosign simple signing and Sigstore bundles, in-toto statements and DSSE, Notary Project envelopes), [`trust`] (certificate trust, notation trust stores and policies and where notation keeps them, signed identities, Sigstore trusted roots and transparency logs) |
//! | L3 transport | [`store`] (registries and OCI layouts behind one [`store::Store`]) |
//! | L4 pipelines | [`sign`], [`verify`] |
//! | L5 features | [`policy`], [`copy`](mod@copy), [`tree`](mod@tree), [`attest`] (in-toto attestations: [`Attester`], [`AttestationVerifier`]), [`k8s`], [`admission`] |
//! | L6 front ends | [`webhook`] (the admission server); the CLI is the `imgseal` binary |
//!
//! [`error`] is the one hub: each layer's errors convert into [`Error`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod attest;
pub mod copy;
pub mod crypto;
pub mod digest;
pub mod error;
pub mod formats;
pub mod k8s;
pub(crate) mod net;
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

pub use attest::{AttestationVerifier, Attester};
pub use copy::copy;
pub use crypto::keys::{PublicKey, SigningKey};
pub use digest::Digest;
pub use error::Error;
pub use policy::{Decision, Policy};
pub use reference::{ImageRef, Reference};
pub use sign::{Attach, Signed, Signer};
pub use store::StoreOptions;
pub use tree::tree;
pub use verify::{Verification, Verifier};

/// Result type used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
