//! Signature formats on the wire: cosign's legacy simple-signing format and the Notary Project
//! (notation) JWS envelope.

pub mod cosign;
pub mod notation;
