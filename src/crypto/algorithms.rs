//! The one signature-algorithm table: which algorithm identifiers imgseal verifies, and with
//! which ring verifier.
//!
//! Every signature imgseal checks goes through [`verifier`]: X.509 certificate links, CRLs,
//! RFC 3161 timestamp tokens, JWS envelopes ([`jws_verifier`]) and cosign signatures and Sigstore
//! bundles made with a certificate's key ([`key_default_verifier`]). What the identifiers say is
//! read into a [`SignatureAlgorithm`] ([`from_algorithm_identifier`] for X.509/CMS
//! `AlgorithmIdentifier`s), and the table pairs it with the signer's [`KeyAlgorithm`]:
//!
//! | signature | key | ring verifier |
//! |---|---|---|
//! | RSA PKCS#1 v1.5, SHA-256/384/512 | RSA ≥ 2048 bits | `RSA_PKCS1_2048_8192_SHA*` |
//! | RSA-PSS (MGF1 with the same hash, salt = hash length), SHA-256/384/512 | RSA ≥ 2048 bits | `RSA_PSS_2048_8192_SHA*` |
//! | ECDSA SHA-256 or SHA-384 | EC P-256 or P-384 | `ECDSA_P256/P384_SHA256/SHA384_ASN1` |
//! | JWS `ES256`, `ES384` (fixed `r‖s`) | EC P-256, P-384 | `ECDSA_P256_SHA256_FIXED`, `ECDSA_P384_SHA384_FIXED` |
//!
//! Everything else is refused: SHA-1 and MD5 based algorithms always ([`AlgorithmError::Insecure`]),
//! Ed25519, ECDSA with SHA-512 and ECDSA on P-521 because ring does not verify them.
//! The independent rustls-webpki path check uses [`WEBPKI_ALGORITHMS`], the same set.

use std::fmt;

use x509_parser::x509::AlgorithmIdentifier;

use ring::signature as rs;

use crate::crypto::verified::Memoized;

/// Hash function inside a signature algorithm (and of a timestamp's `messageImprint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The hash named by an `AlgorithmIdentifier` OID (dotted), if imgseal accepts it.
    pub(crate) fn from_oid(oid: &str) -> Option<HashAlgorithm> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Some(HashAlgorithm::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(HashAlgorithm::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Output length in bytes.
    pub(crate) fn output_len(self) -> u32 {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// Name as written in messages (`SHA-256`).
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha384 => "SHA-384",
            HashAlgorithm::Sha512 => "SHA-512",
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            HashAlgorithm::Sha256 => &ring::digest::SHA256,
            HashAlgorithm::Sha384 => &ring::digest::SHA384,
            HashAlgorithm::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, data).as_ref().to_vec()
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature algorithm, as an X.509 `signatureAlgorithm`, a CMS `signatureAlgorithm` or a JWS
/// `alg` names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 (`sha256WithRSAEncryption`, ...).
    RsaPkcs1(HashAlgorithm),
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss(HashAlgorithm),
    /// ECDSA (`ecdsa-with-SHA256`, ...).
    Ecdsa(HashAlgorithm),
    /// Ed25519.
    Ed25519,
    /// A broken algorithm (SHA-1 or MD5 based), named; always refused.
    Insecure(String),
    /// Anything else, by OID or description; refused.
    Other(String),
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureAlgorithm::RsaPkcs1(h) => write!(f, "RSA PKCS#1 v1.5 with {h}"),
            SignatureAlgorithm::RsaPss(h) => write!(f, "RSA-PSS with {h}"),
            SignatureAlgorithm::Ecdsa(h) => write!(f, "ECDSA with {h}"),
            SignatureAlgorithm::Ed25519 => f.write_str("Ed25519"),
            SignatureAlgorithm::Insecure(name) => f.write_str(name),
            SignatureAlgorithm::Other(name) => write!(f, "unsupported algorithm {name}"),
        }
    }
}

/// Named elliptic curve of an EC public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// Another curve, by OID.
    Other(String),
}

/// A public key's algorithm and size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA key on a named curve.
    Ec(EcCurve),
    /// Ed25519.
    Ed25519,
    /// Anything else, by OID.
    Other(String),
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyAlgorithm::Ec(EcCurve::P256) => f.write_str("EC P-256"),
            KeyAlgorithm::Ec(EcCurve::P384) => f.write_str("EC P-384"),
            KeyAlgorithm::Ec(EcCurve::P521) => f.write_str("EC P-521"),
            KeyAlgorithm::Ec(EcCurve::Other(oid)) => write!(f, "EC on curve {oid}"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Other(oid) => write!(f, "key algorithm {oid}"),
        }
    }
}

/// Why the table has no verifier for a signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// A SHA-1 or MD5 based algorithm: refused before any cryptography happens.
    #[error("signature algorithm {0} is refused (SHA-1 and MD5 signatures can be forged)")]
    Insecure(String),
    /// An algorithm imgseal does not verify (by OID or description).
    #[error("signature algorithm {0} is not supported")]
    Unsupported(String),
    /// Ed25519.
    #[error("Ed25519 certificate signatures are not supported")]
    Ed25519,
    /// ECDSA with a curve/hash pair ring does not verify.
    #[error("{signature} signatures by an {key} key are not supported")]
    Curve {
        /// The signature algorithm.
        signature: SignatureAlgorithm,
        /// The signer's key.
        key: KeyAlgorithm,
    },
    /// The signer's key cannot make this kind of signature (an EC key and an RSA algorithm, ...).
    #[error("the issuer's {key} key cannot make {signature} signatures")]
    KeyMismatch {
        /// The signature algorithm.
        signature: SignatureAlgorithm,
        /// The signer's key.
        key: KeyAlgorithm,
    },
}

/// The ring verifier for a `signature` made by a `key` (ECDSA signatures DER-encoded, as X.509,
/// CMS and cosign carry them). This is the table; see the module documentation.
pub fn verifier(
    signature: &SignatureAlgorithm,
    key: &KeyAlgorithm,
) -> Result<&'static dyn rs::VerificationAlgorithm, AlgorithmError> {
    verifier_for(signature, key, false)
}

fn verifier_for(
    signature: &SignatureAlgorithm,
    key: &KeyAlgorithm,
    fixed: bool,
) -> Result<&'static dyn rs::VerificationAlgorithm, AlgorithmError> {
    use HashAlgorithm::*;
    Ok(match (signature, key) {
        (SignatureAlgorithm::Insecure(name), _) => {
            return Err(AlgorithmError::Insecure(name.clone()))
        }
        (SignatureAlgorithm::Other(name), _) => {
            return Err(AlgorithmError::Unsupported(name.clone()))
        }
        (SignatureAlgorithm::Ed25519, _) => return Err(AlgorithmError::Ed25519),
        (SignatureAlgorithm::RsaPkcs1(h), KeyAlgorithm::Rsa { .. }) => match h {
            Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
            Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
            Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        },
        (SignatureAlgorithm::RsaPss(h), KeyAlgorithm::Rsa { .. }) => match h {
            Sha256 => &rs::RSA_PSS_2048_8192_SHA256,
            Sha384 => &rs::RSA_PSS_2048_8192_SHA384,
            Sha512 => &rs::RSA_PSS_2048_8192_SHA512,
        },
        (SignatureAlgorithm::Ecdsa(h), KeyAlgorithm::Ec(curve)) => match (curve, h, fixed) {
            (EcCurve::P256, Sha256, false) => &rs::ECDSA_P256_SHA256_ASN1,
            (EcCurve::P256, Sha384, false) => &rs::ECDSA_P256_SHA384_ASN1,
            (EcCurve::P384, Sha256, false) => &rs::ECDSA_P384_SHA256_ASN1,
            (EcCurve::P384, Sha384, false) => &rs::ECDSA_P384_SHA384_ASN1,
            (EcCurve::P256, Sha256, true) => &rs::ECDSA_P256_SHA256_FIXED,
            (EcCurve::P384, Sha384, true) => &rs::ECDSA_P384_SHA384_FIXED,
            _ => {
                return Err(AlgorithmError::Curve {
                    signature: signature.clone(),
                    key: key.clone(),
                })
            }
        },
        (signature, key) => {
            return Err(AlgorithmError::KeyMismatch {
                signature: signature.clone(),
                key: key.clone(),
            })
        }
    })
}

/// The signature algorithm an X.509 or CMS `AlgorithmIdentifier` names. RSASSA-PSS is accepted
/// only with MGF1 over the same hash, a salt as long as the hash and the standard trailer.
pub fn from_algorithm_identifier(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    let oid = alg.algorithm.to_id_string();
    if oid == "1.2.840.113549.1.1.10" {
        return pss_algorithm(alg);
    }
    from_oid(&oid)
}

/// The signature algorithm an `AlgorithmIdentifier` OID (dotted) names when it has no
/// parameters (absent or NULL). RSASSA-PSS needs parameters: without them it is unsupported.
pub(crate) fn from_oid(oid: &str) -> SignatureAlgorithm {
    use HashAlgorithm::*;
    use SignatureAlgorithm as S;
    match oid {
        "1.2.840.113549.1.1.11" => S::RsaPkcs1(Sha256),
        "1.2.840.113549.1.1.12" => S::RsaPkcs1(Sha384),
        "1.2.840.113549.1.1.13" => S::RsaPkcs1(Sha512),
        "1.2.840.10045.4.3.2" => S::Ecdsa(Sha256),
        "1.2.840.10045.4.3.3" => S::Ecdsa(Sha384),
        "1.2.840.10045.4.3.4" => S::Ecdsa(Sha512),
        "1.3.101.112" => S::Ed25519,
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => S::Insecure("sha1WithRSAEncryption".into()),
        "1.2.840.113549.1.1.4" => S::Insecure("md5WithRSAEncryption".into()),
        "1.2.840.113549.1.1.2" => S::Insecure("md2WithRSAEncryption".into()),
        "1.2.840.10045.4.1" => S::Insecure("ecdsa-with-SHA1".into()),
        "1.2.840.10040.4.3" => S::Insecure("dsa-with-SHA1".into()),
        "1.2.840.113549.1.1.10" => S::Other("RSASSA-PSS with unsupported parameters".into()),
        _ => S::Other(oid.to_string()),
    }
}

fn pss_algorithm(alg: &AlgorithmIdentifier<'_>) -> SignatureAlgorithm {
    use x509_parser::signature_algorithm::RsaSsaPssParams;
    let unsupported = || SignatureAlgorithm::Other("RSASSA-PSS with unsupported parameters".into());
    let Some(params) = alg.parameters.as_ref() else {
        return unsupported();
    };
    let Ok(params) = RsaSsaPssParams::try_from(params) else {
        return unsupported();
    };
    let hash_oid = params.hash_algorithm_oid().to_id_string();
    if hash_oid == "1.3.14.3.2.26" {
        return SignatureAlgorithm::Insecure("RSASSA-PSS with SHA-1".into());
    }
    let Some(hash) = HashAlgorithm::from_oid(&hash_oid) else {
        return unsupported();
    };
    let mgf_ok = params.mask_gen_algorithm().is_ok_and(|m| {
        m.mgf.to_id_string() == "1.2.840.113549.1.1.8" && m.hash.to_id_string() == hash_oid
    });
    if !mgf_ok || params.salt_length() != hash.output_len() || params.trailer_field() != 1 {
        return unsupported();
    }
    SignatureAlgorithm::RsaPss(hash)
}

/// The signature algorithm a JWS `alg` value names (the Notary Project's table: `PS256`,
/// `PS384`, `PS512`, `ES256`, `ES384`, `ES512`), and the key it needs: RSA for `PS*`, the
/// matching curve for `ES*`.
pub(crate) fn from_jws(alg: &str) -> Option<(SignatureAlgorithm, KeyAlgorithm)> {
    use HashAlgorithm::*;
    let rsa = KeyAlgorithm::Rsa { bits: 0 };
    Some(match alg {
        "PS256" => (SignatureAlgorithm::RsaPss(Sha256), rsa),
        "PS384" => (SignatureAlgorithm::RsaPss(Sha384), rsa),
        "PS512" => (SignatureAlgorithm::RsaPss(Sha512), rsa),
        "ES256" => (
            SignatureAlgorithm::Ecdsa(Sha256),
            KeyAlgorithm::Ec(EcCurve::P256),
        ),
        "ES384" => (
            SignatureAlgorithm::Ecdsa(Sha384),
            KeyAlgorithm::Ec(EcCurve::P384),
        ),
        "ES512" => (
            SignatureAlgorithm::Ecdsa(Sha512),
            KeyAlgorithm::Ec(EcCurve::P521),
        ),
        _ => return None,
    })
}

/// The ring verifier for a JWS `alg` (ECDSA signatures in the fixed `r || s` form JWS uses).
/// `ES512` and unknown names have none (ring has no P-521 verifier).
pub fn jws_verifier(alg: &str) -> Result<&'static dyn rs::VerificationAlgorithm, AlgorithmError> {
    let (signature, key) =
        from_jws(alg).ok_or_else(|| AlgorithmError::Unsupported(alg.to_string()))?;
    verifier_for(&signature, &key, true)
}

/// The signature algorithm cosign implies by a key alone (a cosign signature names no
/// algorithm): ECDSA with SHA-256 for P-256, ECDSA with SHA-384 for P-384, RSA PKCS#1 v1.5 with
/// SHA-256 for RSA; none for other keys.
pub fn key_default(key: &KeyAlgorithm) -> Option<SignatureAlgorithm> {
    use HashAlgorithm::*;
    match key {
        KeyAlgorithm::Ec(EcCurve::P256) => Some(SignatureAlgorithm::Ecdsa(Sha256)),
        KeyAlgorithm::Ec(EcCurve::P384) => Some(SignatureAlgorithm::Ecdsa(Sha384)),
        KeyAlgorithm::Rsa { .. } => Some(SignatureAlgorithm::RsaPkcs1(Sha256)),
        _ => None,
    }
}

/// The ring verifier for a cosign signature (or a Sigstore bundle's message signature) by
/// `key`: [`key_default`] through the table. `None` for keys cosign signatures cannot use.
pub fn key_default_verifier(key: &KeyAlgorithm) -> Option<&'static dyn rs::VerificationAlgorithm> {
    verifier(&key_default(key)?, key).ok()
}

/// The algorithms the independent rustls-webpki path check accepts: the same set as
/// [`verifier`] for certificates (webpki has its own verifier type), each answering from the
/// memo of verified signatures ([`crate::crypto::verified`]).
pub static WEBPKI_ALGORITHMS: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm] = &[
    &Memoized(webpki::ring::ECDSA_P256_SHA256),
    &Memoized(webpki::ring::ECDSA_P256_SHA384),
    &Memoized(webpki::ring::ECDSA_P384_SHA256),
    &Memoized(webpki::ring::ECDSA_P384_SHA384),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA256),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA384),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA512),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS),
    &Memoized(webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS),
    &Memoized(webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY),
    &Memoized(webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY),
    &Memoized(webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY),
];

#[cfg(test)]
mod tests {
    use super::*;
    use HashAlgorithm::*;

    const RSA: KeyAlgorithm = KeyAlgorithm::Rsa { bits: 2048 };

    #[test]
    fn table_accepts_the_documented_set_only() {
        let p256 = KeyAlgorithm::Ec(EcCurve::P256);
        let p384 = KeyAlgorithm::Ec(EcCurve::P384);
        let p521 = KeyAlgorithm::Ec(EcCurve::P521);
        for h in [Sha256, Sha384, Sha512] {
            assert!(verifier(&SignatureAlgorithm::RsaPkcs1(h), &RSA).is_ok());
            assert!(verifier(&SignatureAlgorithm::RsaPss(h), &RSA).is_ok());
            assert!(matches!(
                verifier(&SignatureAlgorithm::RsaPss(h), &p256),
                Err(AlgorithmError::KeyMismatch { .. })
            ));
        }
        for key in [&p256, &p384] {
            for h in [Sha256, Sha384] {
                assert!(verifier(&SignatureAlgorithm::Ecdsa(h), key).is_ok());
            }
            assert!(matches!(
                verifier(&SignatureAlgorithm::Ecdsa(Sha512), key),
                Err(AlgorithmError::Curve { .. })
            ));
        }
        assert!(verifier(&SignatureAlgorithm::Ecdsa(Sha256), &p521).is_err());
        let sha1 = SignatureAlgorithm::Insecure("ecdsa-with-SHA1".into());
        let e = verifier(&sha1, &p256).unwrap_err();
        assert!(e.to_string().contains("ecdsa-with-SHA1 is refused"), "{e}");
        assert!(verifier(&SignatureAlgorithm::Ed25519, &KeyAlgorithm::Ed25519).is_err());
    }

    #[test]
    fn jws_and_cosign_defaults() {
        for alg in ["PS256", "PS384", "PS512", "ES256", "ES384"] {
            assert!(jws_verifier(alg).is_ok(), "{alg}");
        }
        assert!(jws_verifier("ES512").is_err());
        assert!(jws_verifier("RS256").is_err());
        assert!(key_default_verifier(&KeyAlgorithm::Ec(EcCurve::P256)).is_some());
        assert!(key_default_verifier(&KeyAlgorithm::Ec(EcCurve::P384)).is_some());
        assert!(key_default_verifier(&RSA).is_some());
        assert!(key_default_verifier(&KeyAlgorithm::Ec(EcCurve::P521)).is_none());
        assert!(key_default_verifier(&KeyAlgorithm::Ed25519).is_none());
    }
}
