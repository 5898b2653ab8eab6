//! Keys: ECDSA P-256 generation, signing and verification; PEM in PKCS#8, SEC1 and PKIX; and
//! cosign's encrypted private-key format.
//!
//! cosign's format is a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign:
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<base64 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<base64 24 bytes>"},
//!  "ciphertext":"<base64 secretbox(PKCS#8 DER)>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p)` (32 bytes). imgseal writes N = 32768
//! and loads N = 32768, 65536 or 131072 with r = 8, p = 1; anything else is refused so a
//! hostile key file cannot burn minutes of CPU and gigabytes of memory.

use crate::util::fs::persist;
use crate::util::fs::write_temp;
use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// PEM label cosign 2.x and later write for encrypted private keys.
pub(crate) const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign releases write for encrypted private keys.
pub(crate) const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The scrypt work factors accepted when loading (cosign's default, and 2x/4x).
pub(crate) const ACCEPTED_SCRYPT_N: [u64; 3] = [32768, 65536, 131072];
const WRITE_SCRYPT_LOG_N: u8 = 15;
const MAX_KEY_FILE: u64 = 64 * 1024;

/// An ECDSA P-256 private key used to sign.
#[derive(Clone)]
pub struct SigningKey {
    inner: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key().to_pem())
            .finish_non_exhaustive()
    }
}

/// An ECDSA P-256 public key used to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    inner: VerifyingKey,
}

impl SigningKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<SigningKey> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut())
                .map_err(|e| Error::key("-", format!("the system random generator failed: {e}")))?;
            // A random 256-bit string is a valid scalar except with negligible probability.
            if let Ok(inner) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                return Ok(SigningKey { inner });
            }
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: *self.inner.verifying_key(),
        }
    }

    /// Sign `message` with ECDSA over its SHA-256 digest (RFC 6979 deterministic nonces);
    /// returns the ASN.1 DER signature, as cosign stores it.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.inner.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// Sign `message` like [`SigningKey::sign`] but return the fixed-size `r || s` encoding
    /// (64 bytes) that JWS `ES256` uses.
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.inner.sign(message);
        sig.to_bytes().to_vec()
    }

    /// The key's SubjectPublicKeyInfo DER (for certificates).
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        self.inner
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| Error::key("-", format!("cannot encode public key: {e}")))
    }

    /// The key as unencrypted PKCS#8 DER (secret: handle with care).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = self
            .inner
            .to_pkcs8_der()
            .map_err(|e| Error::key("-", format!("cannot encode as PKCS#8: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The key in cosign's encrypted PEM format (label `ENCRYPTED SIGSTORE PRIVATE KEY`,
    /// scrypt N=32768 r=8 p=1, nacl/secretbox).
    pub fn to_cosign_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        let der = self.to_pkcs8_der()?;
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut salt)
            .and_then(|_| getrandom::fill(&mut nonce))
            .map_err(|e| Error::key("-", format!("the system random generator failed: {e}")))?;
        let params = scrypt::Params::new(WRITE_SCRYPT_LOG_N, 8, 1)
            .map_err(|e| Error::key("-", format!("scrypt parameters: {e}")))?;
        let box_key = derive_key(password, &salt, &params)?;
        let cipher = XSalsa20Poly1305::new(box_key.as_ref().into());
        let ciphertext = cipher
            .encrypt((&nonce).into(), der.as_slice())
            .map_err(|_| Error::key("-", "encryption failed"))?;
        let envelope = Envelope {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    n: 1 << WRITE_SCRYPT_LOG_N,
                    r: 8,
                    p: 1,
                },
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(ciphertext),
        };
        let json = serde_json::to_vec(&envelope)
            .map_err(|e| Error::key("-", format!("cannot encode key envelope: {e}")))?;
        Ok(pem::encode_config(
            &pem::Pem::new(SIGSTORE_PRIVATE_KEY_LABEL, json),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ))
    }

    /// True when `pem_text` holds an encrypted cosign key (so a password is needed).
    pub fn pem_is_encrypted(pem_text: &[u8]) -> bool {
        match pem::parse(pem_text) {
            Ok(p) => matches!(
                p.tag(),
                SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL
            ),
            Err(_) => false,
        }
    }

    /// Load a private key from PEM: cosign's encrypted format (either label), or plain PKCS#8
    /// (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). `path` names the source in errors; the
    /// password is used only for encrypted keys.
    pub fn from_pem(pem_text: &[u8], password: Option<&[u8]>, path: &str) -> Result<SigningKey> {
        let block = pem::parse(pem_text).map_err(|e| {
            Error::key(
                path,
                format!("not a PEM private key ({e}); expected a cosign/imgseal .key file"),
            )
        })?;
        match block.tag() {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let password = password.ok_or(Error::NoPassword)?;
                let der = decrypt_envelope(block.contents(), password, path)?;
                // cosign requires PKCS#8 inside the envelope; so do we.
                p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                    .map(|inner| SigningKey { inner })
                    .map_err(|_| {
                        if p256::SecretKey::from_sec1_der(&der).is_ok() {
                            Error::key(path, "the encrypted key holds a SEC1 key, not PKCS#8; cosign refuses this too — re-create it with generate-key-pair")
                        } else {
                            unsupported(path)
                        }
                    })
            }
            "PRIVATE KEY" => p256::ecdsa::SigningKey::from_pkcs8_der(block.contents())
                .map(|inner| SigningKey { inner })
                .map_err(|_| unsupported(path)),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(block.contents())
                .map(|sk| SigningKey { inner: sk.into() })
                .map_err(|_| unsupported(path)),
            "PUBLIC KEY" => Err(Error::key(
                path,
                "this is a public key; sign with the matching private .key file",
            )),
            other => Err(Error::key(
                path,
                format!("unsupported PEM block {other:?}; expected an ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY"),
            )),
        }
    }

    /// Read and load a private key file (see [`SigningKey::from_pem`]).
    pub fn from_file(path: &std::path::Path, password: Option<&[u8]>) -> Result<SigningKey> {
        let bytes = read_key_file(path)?;
        SigningKey::from_pem(&bytes, password, &path.display().to_string())
    }
}

fn unsupported(path: &str) -> Error {
    Error::key(
        path,
        "unsupported key: imgseal signs with ECDSA P-256 keys (PKCS#8 or SEC1)",
    )
}

/// `sha256:<hex>` of a DER SubjectPublicKeyInfo: how imgseal names a signing key when it
/// counts distinct signers (see [`PublicKey::fingerprint`]).
pub(crate) fn spki_fingerprint(spki_der: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(spki_der)))
}

/// Read a key file, refusing anything larger than a key could be.
pub fn read_key_file(path: &std::path::Path) -> Result<Vec<u8>> {
    Ok(crate::util::fs::read_capped(
        path,
        MAX_KEY_FILE,
        "a key file",
    )?)
}

impl PublicKey {
    /// Load a PKIX `PUBLIC KEY` PEM (what `generate-key-pair` and cosign write).
    pub fn from_pem(pem_text: &[u8], path: &str) -> Result<PublicKey> {
        let block = pem::parse(pem_text)
            .map_err(|e| Error::key(path, format!("not a PEM public key ({e})")))?;
        if block.tag() != "PUBLIC KEY" {
            return Err(Error::key(
                path,
                format!(
                    "expected a PUBLIC KEY PEM block, found {:?}; verify with the .pub file",
                    block.tag()
                ),
            ));
        }
        VerifyingKey::from_public_key_der(block.contents())
            .map(|inner| PublicKey { inner })
            .map_err(|_| {
                Error::key(
                    path,
                    "unsupported public key: imgseal verifies ECDSA P-256 keys",
                )
            })
    }

    /// Read and load a public key file.
    pub fn from_file(path: &std::path::Path) -> Result<PublicKey> {
        let bytes = read_key_file(path)?;
        PublicKey::from_pem(&bytes, &path.display().to_string())
    }

    /// PKIX `PUBLIC KEY` PEM.
    pub fn to_pem(&self) -> String {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER: the same for this key whether it
    /// signs bare or inside a certificate, so one key is counted once.
    pub fn fingerprint(&self) -> String {
        let der = self
            .inner
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        spki_fingerprint(&der)
    }

    /// Check an ASN.1 DER ECDSA signature over SHA-256 of `message`.
    ///
    /// The check itself runs in ring (the same implementation rustls and the certificate
    /// paths use), which is several times faster than the pure-Rust one: it sits on the
    /// admission path once per candidate signature.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> bool {
        let point = self.inner.to_sec1_point(false);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            point.as_bytes(),
        )
        .verify(message, der_signature)
        .is_ok()
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    params: &scrypt::Params,
) -> Result<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, params, out.as_mut())
        .map_err(|e| Error::key("-", format!("scrypt: {e}")))?;
    Ok(out)
}

fn decrypt_envelope(json: &[u8], password: &[u8], path: &str) -> Result<Zeroizing<Vec<u8>>> {
    let env: Envelope = serde_json::from_slice(json).map_err(|e| {
        Error::key(
            path,
            format!("corrupt encrypted key (bad JSON envelope: {e})"),
        )
    })?;
    if env.kdf.name != "scrypt" {
        return Err(Error::key(
            path,
            format!(
                "unsupported key derivation {:?}; only scrypt is supported",
                env.kdf.name
            ),
        ));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(Error::key(
            path,
            format!(
                "unsupported cipher {:?}; only nacl/secretbox is supported",
                env.cipher.name
            ),
        ));
    }
    let ScryptParams { n, r, p } = env.kdf.params;
    if !ACCEPTED_SCRYPT_N.contains(&n) || r != 8 || p != 1 {
        return Err(Error::key(
            path,
            format!("refusing scrypt parameters N={n} r={r} p={p}; accepted: N=32768, 65536 or 131072 with r=8, p=1"),
        ));
    }
    let corrupt = |what: &str| Error::key(path, format!("corrupt encrypted key ({what})"));
    let salt = B64
        .decode(&env.kdf.salt)
        .map_err(|_| corrupt("salt is not base64"))?;
    let nonce = B64
        .decode(&env.cipher.nonce)
        .map_err(|_| corrupt("nonce is not base64"))?;
    let ciphertext = B64
        .decode(&env.ciphertext)
        .map_err(|_| corrupt("ciphertext is not base64"))?;
    if nonce.len() != 24 {
        return Err(corrupt("nonce is not 24 bytes"));
    }
    let log_n = n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| corrupt("scrypt parameters"))?;
    let box_key = derive_key(password, &salt, &params)?;
    let cipher = XSalsa20Poly1305::new(box_key.as_ref().into());
    let nonce: [u8; 24] = nonce
        .try_into()
        .map_err(|_| corrupt("nonce is not 24 bytes"))?;
    cipher
        .decrypt((&nonce).into(), ciphertext.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| Error::WrongPassword {
            path: path.to_string(),
        })
}

/// Write `PREFIX.key` (encrypted, mode 0600) and `PREFIX.pub` for `key`. Refuses to replace
/// existing files unless `force`; both files are written to temporary names first and moved
/// into place, so a failure leaves nothing half-written. Without `force` the move cannot
/// replace a file (a hard link, which fails if the name exists), so of several concurrent runs
/// exactly one writes the pair and `PREFIX.pub` is always the public half of `PREFIX.key`.
pub fn write_key_pair(
    key: &SigningKey,
    password: &[u8],
    prefix: &str,
    force: bool,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let key_path = std::path::PathBuf::from(format!("{prefix}.key"));
    let pub_path = std::path::PathBuf::from(format!("{prefix}.pub"));
    if !force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(Error::Exists { path: p.clone() });
            }
        }
    }
    let private_pem = key.to_cosign_encrypted_pem(password)?;
    let public_pem = key.public_key().to_pem();
    let key_tmp = write_temp(&key_path, private_pem.as_bytes(), 0o600)?;
    let pub_tmp = match write_temp(&pub_path, public_pem.as_bytes(), 0o644) {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&key_tmp);
            return Err(e);
        }
    };
    // The private key first: whoever places it owns the pair, so a concurrent run that loses
    // never touches the .pub.
    if let Err(e) = persist(&key_tmp, &key_path, force) {
        let _ = std::fs::remove_file(&pub_tmp);
        return Err(e);
    }
    if let Err(e) = persist(&pub_tmp, &pub_path, force) {
        if !force {
            // A .pub appeared that is not ours: take back our .key rather than leave a
            // mismatched pair. (With force the old .key is already replaced.)
            let _ = std::fs::remove_file(&key_path);
        }
        return Err(e);
    }
    Ok((key_path, pub_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip() {
        let k = SigningKey::generate().unwrap();
        let sig = k.sign(b"hello");
        assert!(k.public_key().verify(b"hello", &sig));
        assert!(!k.public_key().verify(b"hellO", &sig));
        assert!(!k.public_key().verify(b"hello", b"garbage"));
        let other = SigningKey::generate().unwrap();
        assert!(!other.public_key().verify(b"hello", &sig));
    }

    #[test]
    fn encrypted_round_trip_and_wrong_password() {
        let k = SigningKey::generate().unwrap();
        let pem = k.to_cosign_encrypted_pem(b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = SigningKey::from_pem(pem.as_bytes(), Some(b"pw"), "k").unwrap();
        assert_eq!(back.public_key(), k.public_key());
        assert!(matches!(
            SigningKey::from_pem(pem.as_bytes(), Some(b"nope"), "k"),
            Err(Error::WrongPassword { .. })
        ));
        assert!(matches!(
            SigningKey::from_pem(pem.as_bytes(), None, "k"),
            Err(Error::NoPassword)
        ));
    }

    #[test]
    fn refuses_hostile_scrypt_parameters() {
        let env = r#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAA"}"#;
        let pem = pem::encode(&pem::Pem::new(SIGSTORE_PRIVATE_KEY_LABEL, env.as_bytes()));
        let err = SigningKey::from_pem(pem.as_bytes(), Some(b""), "k").unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing scrypt parameters N=1048576"),
            "{err}"
        );
    }

    #[test]
    fn plain_pkcs8_and_sec1() {
        let k = SigningKey::generate().unwrap();
        let der = k.to_pkcs8_der().unwrap();
        let pkcs8 = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
        assert_eq!(
            SigningKey::from_pem(pkcs8.as_bytes(), None, "k")
                .unwrap()
                .public_key(),
            k.public_key()
        );
        let sk = p256::SecretKey::from_pkcs8_der(&der).unwrap();
        let sec1 = sk.to_sec1_pem(LineEnding::LF).unwrap();
        assert_eq!(
            SigningKey::from_pem(sec1.as_bytes(), None, "k")
                .unwrap()
                .public_key(),
            k.public_key()
        );
        let public = PublicKey::from_pem(k.public_key().to_pem().as_bytes(), "p").unwrap();
        assert_eq!(public, k.public_key());
    }

    #[test]
    fn corrupt_input_is_an_error() {
        for bad in [
            &b""[..],
            b"hello",
            b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
        ] {
            assert!(SigningKey::from_pem(bad, Some(b""), "k").is_err());
            assert!(PublicKey::from_pem(bad, "k").is_err());
        }
        let pem = pem::encode(&pem::Pem::new(
            SIGSTORE_PRIVATE_KEY_LABEL,
            &b"{not json"[..],
        ));
        let e = SigningKey::from_pem(pem.as_bytes(), Some(b""), "k").unwrap_err();
        assert!(e.to_string().contains("corrupt encrypted key"), "{e}");
    }
}
