//! L1 cryptography: keys and cosign key files ([`keys`]).

pub mod keys;
