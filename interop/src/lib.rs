//! Independent peer implementation of cosign's legacy (`.sig` tag,
//! simple-signing) key-based flow, built on the `sigstore` crate
//! (sigstore-rs) 0.15. Used only by imgseal's interop tests.
//!
//! Everything here is done "the sigstore-rs way": keys are read and written
//! by [`SigStoreKeyPair`], payloads are built by
//! [`SignatureLayer::new_unsigned`] plus the [`AnnotationMarker`] and
//! [`PrivateKeySigner`] constraints, signatures are pushed by
//! [`CosignCapabilities::push_signature`] and verified with
//! [`CosignCapabilities::trusted_signature_layers`] +
//! [`verify_constraints`] using [`PublicKeyVerifier`] /
//! [`AnnotationVerifier`]. Nothing is shared with the imgseal crate.
//!
//! Only key-based mode is used: no Fulcio, no Rekor, no TUF trust root, and
//! the only network peer allowed is a registry on a loopback address, spoken
//! to over plain HTTP.
//!
//! Errors are plain `String`s so tests can print them without extra crates.

use std::collections::{BTreeMap, HashMap};

use sigstore::cosign::constraint::{AnnotationMarker, PrivateKeySigner};
use sigstore::cosign::verification_constraint::{
    AnnotationVerifier, PublicKeyVerifier, VerificationConstraint, VerificationConstraintVec,
};
use sigstore::cosign::{
    apply_constraints, verify_constraints, Client, ClientBuilder, Constraint, CosignCapabilities,
    SignatureLayer,
};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::SigningScheme;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

/// The only signing scheme this peer uses (cosign's default key type).
const SCHEME: SigningScheme = SigningScheme::ECDSA_P256_SHA256_ASN1;

/// Returns true when `registry` (`host[:port]`) names a loopback host.
fn is_loopback_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        // "[::1]:5000"
        match rest.split_once(']') {
            Some((h, _)) => h,
            None => return false,
        }
    } else {
        registry.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Builds a sigstore-rs cosign client that talks plain HTTP to `registry`
/// (and to nothing else). Fulcio/Rekor integration is left disabled, which
/// is exactly key-based mode.
fn build_client(registry: &str) -> Result<Client, String> {
    if !is_loopback_registry(registry) {
        return Err(format!(
            "peer only talks to loopback registries, got {registry:?}"
        ));
    }
    ClientBuilder::default()
        .with_oci_client_config(ClientConfig {
            // oci-client compares this against the reference's registry
            // ("127.0.0.1:PORT"), so it must include the port.
            protocol: ClientProtocol::HttpsExcept(vec![registry.to_string()]),
            ..Default::default()
        })
        .build()
        .map_err(|e| format!("building sigstore cosign client: {e}"))
}

/// Parses `registry/repo@digest` into sigstore-rs' reference type.
fn digest_reference(
    registry: &str,
    repo: &str,
    image_digest: &str,
) -> Result<OciReference, String> {
    if !image_digest.starts_with("sha256:") {
        return Err(format!(
            "image digest must be sha256:<hex>, got {image_digest:?}"
        ));
    }
    let s = format!("{registry}/{repo}@{image_digest}");
    s.parse::<OciReference>()
        .map_err(|e| format!("parsing image reference {s:?}: {e}"))
}

/// Verifies the cosign signatures of `registry/repo@image_digest` with
/// sigstore-rs, the way a sigstore-rs user verifies a key-signed image:
///
/// 1. `Client::trusted_signature_layers` (which triangulates to
///    `sha256-<hex>.sig` internally, also looks at OCI referrers, and keeps
///    only well-formed simple-signing layers whose
///    `critical.image.docker-manifest-digest` equals the image digest);
/// 2. `verify_constraints` with a [`PublicKeyVerifier`] for
///    `public_key_pem` (PKIX "PUBLIC KEY" PEM, P-256) and, when
///    `annotations` is non-empty, an [`AnnotationVerifier`] (keys/values
///    must appear in the payload's `optional` object).
///
/// `registry` is `"127.0.0.1:PORT"` (loopback only; plain HTTP). `repo` is
/// the repository path, `image_digest` is `"sha256:<hex>"`.
///
/// Returns the payload JSON (exact bytes as stored in the registry, as
/// UTF-8) of every layer that satisfies *all* constraints. Note that
/// sigstore-rs' `verify_constraints` only requires each constraint to be
/// satisfied by *some* layer (possibly different layers); this function
/// additionally requires at least one layer to satisfy all of them and
/// returns only such layers. Returns `Err` when nothing verifies.
pub async fn peer_verify(
    registry: &str,
    repo: &str,
    image_digest: &str,
    public_key_pem: &str,
    annotations: &[(String, String)],
) -> Result<Vec<String>, String> {
    let image = digest_reference(registry, repo, image_digest)?;
    let mut client = build_client(registry)?;

    let mut constraints: VerificationConstraintVec = Vec::new();
    let pk = PublicKeyVerifier::new(public_key_pem.as_bytes(), &SCHEME)
        .map_err(|e| format!("loading public key: {e}"))?;
    constraints.push(Box::new(pk));
    if !annotations.is_empty() {
        let annotations: BTreeMap<String, String> = annotations.iter().cloned().collect();
        constraints.push(Box::new(AnnotationVerifier { annotations }));
    }

    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await
        .map_err(|e| format!("fetching signature layers for {image}: {e}"))?;
    if layers.is_empty() {
        return Err(format!("no signature layers found for {image}"));
    }

    if let Err(e) = verify_constraints(&layers, constraints.iter()) {
        let unsatisfied: Vec<String> = e
            .unsatisfied_constraints
            .iter()
            .map(|c| describe_constraint(c.as_ref()))
            .collect();
        return Err(format!(
            "verification failed for {image} ({} layer(s)); unsatisfied constraints: {}",
            layers.len(),
            unsatisfied.join(", ")
        ));
    }

    let mut verified = Vec::new();
    for layer in &layers {
        if layer_satisfies_all(layer, &constraints) {
            let payload = String::from_utf8(layer.raw_data.clone())
                .map_err(|e| format!("payload of layer {} is not UTF-8: {e}", layer.oci_digest))?;
            verified.push(payload);
        }
    }
    if verified.is_empty() {
        return Err(format!(
            "no single signature layer of {image} satisfies every constraint"
        ));
    }
    Ok(verified)
}

/// Short human-readable name of a constraint (the `Debug` output of
/// `PublicKeyVerifier` is a dump of the key bytes).
fn describe_constraint(c: &dyn VerificationConstraint) -> String {
    let debug = format!("{c:?}");
    if debug.starts_with("PublicKeyVerifier") {
        "PublicKeyVerifier (no layer is signed by the given key)".to_string()
    } else {
        debug
    }
}

fn layer_satisfies_all(layer: &SignatureLayer, constraints: &VerificationConstraintVec) -> bool {
    constraints.iter().all(|c| c.verify(layer).unwrap_or(false))
}

/// Signs `registry/repo@image_digest` with sigstore-rs and pushes the
/// signature to the cosign tag `sha256-<hex>.sig`.
///
/// * The key is read with [`SigStoreKeyPair::from_encrypted_pem`] (accepts
///   `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY`
///   PEM; an empty password is passed through as-is) and must be P-256.
/// * The digest reference is triangulated with `Client::triangulate` (a
///   HEAD on the manifest), so the image must exist in the registry.
/// * The payload is [`SignatureLayer::new_unsigned`] for the digest
///   reference; `annotations` (if any) are added with [`AnnotationMarker`]
///   into the payload's `optional` object, then [`PrivateKeySigner`] signs
///   the serialized payload.
/// * `push_signature` writes a fresh OCI manifest containing only this one
///   layer: like sigstore-rs itself, this REPLACES any signatures that were
///   already at the `.sig` tag (cosign would append).
pub async fn peer_sign(
    registry: &str,
    repo: &str,
    image_digest: &str,
    encrypted_private_key_pem: &[u8],
    password: &[u8],
    annotations: &[(String, String)],
) -> Result<(), String> {
    let image = digest_reference(registry, repo, image_digest)?;

    let keypair = SigStoreKeyPair::from_encrypted_pem(encrypted_private_key_pem, password)
        .map_err(|e| format!("loading encrypted private key: {e}"))?;
    let signer = keypair
        .to_sigstore_signer(&SCHEME)
        .map_err(|e| format!("private key is not usable for ECDSA P-256: {e}"))?;

    let mut client = build_client(registry)?;
    let (sig_ref, digest) = client
        .triangulate(&image, &Auth::Anonymous)
        .await
        .map_err(|e| format!("triangulating {image}: {e}"))?;
    if digest != image_digest {
        return Err(format!(
            "registry reports digest {digest} for {image}, expected {image_digest}"
        ));
    }

    let mut layer = SignatureLayer::new_unsigned(&image, &digest)
        .map_err(|e| format!("building simple-signing payload: {e}"))?;

    let mut steps: Vec<Box<dyn Constraint>> = Vec::new();
    if !annotations.is_empty() {
        let map: HashMap<String, String> = annotations.iter().cloned().collect();
        steps.push(Box::new(AnnotationMarker::new(map)));
    }
    // The signer must run last: it signs the payload as it is at that moment.
    steps.push(Box::new(PrivateKeySigner::new_with_signer(signer)));
    apply_constraints(&mut layer, steps.iter()).map_err(|e| {
        let failed: Vec<String> = e
            .unapplied_constraints
            .iter()
            .map(|c| format!("{c:?}"))
            .collect();
        format!("signing payload failed: {}", failed.join(", "))
    })?;

    client
        .push_signature(None, &Auth::Anonymous, &sig_ref, vec![layer])
        .await
        .map_err(|e| format!("pushing signature to {sig_ref}: {e}"))?;
    Ok(())
}

/// Loads an encrypted cosign/sigstore private key with sigstore-rs
/// ([`SigStoreKeyPair::from_encrypted_pem`]) and returns its public key as
/// PKIX ("PUBLIC KEY") PEM, as written by sigstore-rs.
///
/// Used to prove that keys written by imgseal load in sigstore-rs. Fails
/// unless the key is an ECDSA P-256 key (the only type imgseal uses).
pub fn peer_load_private_key(encrypted_pem: &[u8], password: &[u8]) -> Result<String, String> {
    let keypair = SigStoreKeyPair::from_encrypted_pem(encrypted_pem, password)
        .map_err(|e| format!("loading encrypted private key: {e}"))?;
    // Reject non-P-256 keys (RSA, Ed25519, P-384, ...).
    keypair
        .to_sigstore_signer(&SCHEME)
        .map_err(|e| format!("private key is not ECDSA P-256: {e}"))?;
    keypair
        .public_key_to_pem()
        .map_err(|e| format!("exporting public key: {e}"))
}

/// Generates a fresh ECDSA P-256 key pair with sigstore-rs and returns
/// `(encrypted private key PEM, public key PEM)`.
///
/// The private key is sigstore-rs' encrypted format: PEM label
/// `ENCRYPTED SIGSTORE PRIVATE KEY`, body is JSON
/// `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":..},
/// "cipher":{"name":"nacl/secretbox","nonce":..},"ciphertext":..}` sealing a
/// PKCS#8 DER key. The public key is PKIX `PUBLIC KEY` PEM.
pub fn peer_generate_encrypted_key(password: &[u8]) -> Result<(String, String), String> {
    let signer = SCHEME
        .create_signer()
        .map_err(|e| format!("generating P-256 key: {e}"))?;
    let keypair = signer
        .to_sigstore_keypair()
        .map_err(|e| format!("exporting key pair: {e}"))?;
    let private_pem = keypair
        .private_key_to_encrypted_pem(password)
        .map_err(|e| format!("encrypting private key: {e}"))?;
    let public_pem = keypair
        .public_key_to_pem()
        .map_err(|e| format!("exporting public key: {e}"))?;
    Ok((private_pem.to_string(), public_pem))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_registry;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_registry("127.0.0.1:5000"));
        assert!(is_loopback_registry("localhost:5000"));
        assert!(is_loopback_registry("[::1]:5000"));
        assert!(!is_loopback_registry("ghcr.io"));
        assert!(!is_loopback_registry("127.0.0.1.evil.example:5000"));
    }
}
