//! Signature formats on the wire: cosign's legacy simple-signing format and Sigstore bundles
//! (cosign v3) in [`cosign`], and the Notary Project (notation) JWS envelope in [`notation`].

pub mod cosign;
pub(crate) mod format;
pub mod intoto;
pub mod notation;

pub use format::SignatureFormat;
