//! A process-wide memo of certificate signatures already verified.
//!
//! One keyless verification checks the same certificate links several times: path building
//! asks which CA issued the leaf, chain validation checks each link, and the independent
//! rustls-webpki check verifies them again. On P-384 (Fulcio's CAs) each check costs a few
//! milliseconds, and in a long-running process (the admission webhook) the links inside a
//! trusted root never change. This memo records *successful* verifications only, keyed by the
//! SHA-256 of the exact public key, signed bytes and signature (length-prefixed): a later check
//! of the same three byte strings is answered from it, anything else is verified by ring as
//! before. The signed bytes of a certificate include its signature algorithm, and both imgseal's
//! check and webpki's verify a certificate with the algorithm it declares, so an entry never
//! stands in for a different algorithm. Failures are never recorded. The memo holds at most
//! [`CAPACITY`] entries (32 bytes each) and starts over when full.

use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::sync::Mutex;

/// Entries kept before the memo starts over.
pub const CAPACITY: usize = 4096;

static VERIFIED: Mutex<Option<HashSet<[u8; 32]>>> = Mutex::new(None);

/// The memo key of one verification.
pub(crate) fn key(public_key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [public_key, message, signature] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Whether this verification already succeeded in this process.
pub(crate) fn remembered(key: &[u8; 32]) -> bool {
    VERIFIED
        .lock()
        .map(|m| m.as_ref().is_some_and(|s| s.contains(key)))
        .unwrap_or(false)
}

/// Record a verification that succeeded.
pub(crate) fn remember(key: [u8; 32]) {
    if let Ok(mut m) = VERIFIED.lock() {
        let set = m.get_or_insert_with(HashSet::new);
        if set.len() >= CAPACITY {
            set.clear();
        }
        set.insert(key);
    }
}

/// Forget every recorded verification, so the next checks run in full (benchmarks measure a
/// cold first verification with it).
pub fn forget_all() {
    if let Ok(mut m) = VERIFIED.lock() {
        *m = None;
    }
}

/// A rustls-webpki signature algorithm that answers from the memo, and records what its inner
/// algorithm verifies.
#[derive(Debug)]
pub(crate) struct Memoized(
    pub(crate) &'static dyn rustls::pki_types::SignatureVerificationAlgorithm,
);

impl rustls::pki_types::SignatureVerificationAlgorithm for Memoized {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), rustls::pki_types::InvalidSignature> {
        let k = key(public_key, message, signature);
        if remembered(&k) {
            return Ok(());
        }
        self.0.verify_signature(public_key, message, signature)?;
        remember(k);
        Ok(())
    }

    fn public_key_alg_id(&self) -> rustls::pki_types::AlgorithmIdentifier {
        self.0.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> rustls::pki_types::AlgorithmIdentifier {
        self.0.signature_alg_id()
    }

    fn fips(&self) -> bool {
        self.0.fips()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_was_remembered_is_remembered() {
        let a = key(b"k", b"m", b"s");
        // Length prefixes keep the parts apart.
        assert_ne!(a, key(b"km", b"", b"s"));
        assert!(!remembered(&key(b"never", b"seen", b"here")));
        remember(a);
        assert!(remembered(&a));
        assert!(!remembered(&key(b"k", b"m", b"t")));
    }
}
