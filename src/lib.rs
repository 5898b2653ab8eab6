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
//! ## The public API
//!
//! The crate root is the façade: the types above, [`Verification`], [`Signed`] and [`Attach`],
//! the keys ([`SigningKey`], [`PublicKey`]; more in [`keys`]), [`ImageRef`], [`Reference`],
//! [`Digest`], [`StoreOptions`], [`SignatureFormat`], [`Certificate`], [`Error`] and [`Result`].
//! The modules shown in this documentation are the ones a library caller needs beyond that:
//!
//! | module | for |
//! |---|---|
//! | [`digest`] | content digests ([`Digest`]) |
//! | [`reference`](mod@reference) | image references ([`ImageRef`]) and OCI layouts on disk |
//! | [`oci`] | media types, descriptors, image manifests and indexes ([`oci::Manifest`]) |
//! | [`keys`] | P-256 keys and cosign key files ([`SigningKey`], [`PublicKey`]) |
//! | [`store`] | registries and OCI layouts behind one [`store::Store`]; [`StoreOptions`], credentials, TLS |
//! | [`trust`] | trust material: certificate roots ([`trust::CertificateTrust`]), notation trust stores and policies, signed identities, Sigstore trusted roots |
//! | [`sign`], [`verify`] | the options and results of [`Signer`] and [`Verifier`] |
//! | [`attest`] | in-toto attestations: [`Attester`], [`AttestationVerifier`] and their authorities |
//! | [`policy`] | the policy file: [`Policy`], [`Decision`] and the schema types |
//! | [`copy`](mod@copy), [`tree`](mod@tree) | [`copy()`] and [`tree()`] with their options and reports |
//! | [`error`] | [`Error`] and the per-layer error enums it wraps |
//!
//! The other modules (`crypto`, `pki`, `formats`, `util`, `k8s`, `admission`, `webhook`) stay
//! reachable for the `imgseal` binary, the integration tests and the fuzz targets, but are
//! hidden from this documentation and are not a stable API (docs/architecture.md, *Public API*).
//!
//! ## Modules, by layer
//! Each layer uses only the layers above it in this list (`tests/layering.rs` checks it;
//! docs/architecture.md draws it):
//!
//! | layer | modules |
//! |---|---|
//! | L0 basics | `digest`, `reference`, `oci` (media types, descriptors, manifests), `util` (files, time and the injected clock, text for terminals, Go durations) |
//! | L1 crypto and PKI | `crypto` (keys, the one signature-algorithm table, the memo of verified signatures), `pki` (certificates, DNs, chains, CRLs, RFC 3161), `net` (the HTTP client; internal) |
//! | L2 formats and trust | `formats` (cosign simple signing and Sigstore bundles, in-toto statements and DSSE, Notary Project envelopes), `trust` (certificate trust, notation trust stores and policies and where notation keeps them, signed identities, Sigstore trusted roots and transparency logs) |
//! | L3 transport | `store` (registries and OCI layouts behind one `store::Store`) |
//! | L4 pipelines | `sign`, `verify` |
//! | L5 features | `policy`, `copy`, `tree`, `attest` (in-toto attestations), `k8s`, `admission` |
//! | L6 front ends | `webhook` (the admission server); the CLI is the `imgseal` binary |
//!
//! `error` is the one hub: each layer's errors convert into [`Error`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The public API (see the crate documentation above).
pub mod attest;
pub mod copy;
pub mod digest;
pub mod error;
pub mod oci;
pub mod policy;
pub mod reference;
pub mod sign;
pub mod store;
pub mod tree;
pub mod trust;
pub mod verify;

// Internal layers. `#[doc(hidden)] pub`: used by the imgseal binary/tests/fuzz targets; not a
// stable API. Plain `pub(crate)`: used by nothing outside the library.
#[doc(hidden)]
pub mod admission;
#[doc(hidden)]
pub mod crypto;
#[doc(hidden)]
pub mod formats;
#[doc(hidden)]
pub mod k8s;
pub(crate) mod net;
#[doc(hidden)]
pub mod pki;
#[doc(hidden)]
pub mod util;
#[doc(hidden)]
pub mod webhook;

pub use attest::{AttestationVerifier, Attester};
pub use copy::copy;
pub use crypto::keys;
pub use crypto::keys::{PublicKey, SigningKey};
pub use digest::Digest;
pub use error::Error;
pub use formats::SignatureFormat;
pub use pki::Certificate;
pub use policy::{Decision, Policy};
pub use reference::{ImageRef, Reference};
pub use sign::{Attach, Signed, Signer};
pub use store::StoreOptions;
pub use tree::tree;
pub use verify::{Verification, Verifier};

/// Result type used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
