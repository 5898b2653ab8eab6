//! L1 cryptography: keys and cosign key files ([`keys`]) and the one signature-algorithm table
//! ([`algorithms`]).

pub mod algorithms;
pub mod keys;
pub mod verified;
