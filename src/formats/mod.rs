//! Signature formats on the wire. Today: cosign's legacy simple-signing format.

pub mod cosign;
