//! Signature formats on the wire: cosign's legacy simple-signing format, Sigstore bundles
//! (cosign v3) and the Notary Project (notation) JWS envelope.

pub mod bundle;
pub mod cosign;
pub mod format;
pub mod notation;
