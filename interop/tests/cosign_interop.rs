//! Interop, both directions, on a real registry (Debian's docker-registry,
//! started per test on a free loopback port): what imgseal signs verifies with
//! sigstore-rs, what sigstore-rs signs verifies with imgseal, keys written by
//! either load in the other, and real cosign-generated keys load in both.
//!
//! imgseal's side uses only the imgseal library API (`Signer`, `Verifier`,
//! `SigningKey`, `PublicKey`, `ImageRef`); the peer's side is the sigstore-rs
//! wrapper in this crate (`imgseal_interop::peer_*`).

#[path = "../../tests/support/registry.rs"]
mod common;
#[path = "../../tests/support/interop.rs"]
mod interop_data;

use common::{push_image, unique_repo, Registry};
use imgseal::formats::cosign::{Payload, SignatureManifest};
use imgseal::store::{ManifestRef, Store, StoreOptions};
use imgseal::{Digest, Error, ImageRef, PublicKey, Signer, SigningKey, Verification, Verifier};
use imgseal_interop::{peer_generate_encrypted_key, peer_load_private_key, peer_sign, peer_verify};
use interop_data::interop_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PASSWORD: &[u8] = b"interop password";

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pairs(map: &BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A fresh repository with one image pushed at `:v1`.
async fn new_image(reg: &Registry, prefix: &str) -> (String, Digest, ImageRef) {
    let repo = unique_repo(prefix);
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = ImageRef::parse(&format!("{}/{repo}:v1", reg.host)).unwrap();
    (repo, digest, image)
}

async fn imgseal_verify(
    public: &PublicKey,
    image: &ImageRef,
    required: &BTreeMap<String, String>,
) -> Verification {
    Verifier::new(public.clone())
        .verify(image, required)
        .await
        .unwrap_or_else(|e| panic!("imgseal could not examine {image}: {e}"))
}

/// Every check's failure, for assertion messages.
fn failures(v: &Verification) -> String {
    let mut out: Vec<String> = v
        .signatures
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s.source,
                s.failure.as_deref().unwrap_or("verified")
            )
        })
        .collect();
    if let Some(r) = &v.reason {
        out.push(r.clone());
    }
    out.join("; ")
}

/// The optional (annotation) object of a payload, values as strings.
fn optional_strings(p: &Payload) -> BTreeMap<String, String> {
    p.optional
        .iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

/// The layers of the signature manifest at `sha256-<hex>.sig` for `digest`.
async fn signature_layers(
    image: &ImageRef,
    digest: &Digest,
) -> Vec<imgseal::formats::cosign::Descriptor> {
    let store = Store::open(image, &StoreOptions::default(), false).unwrap();
    let sig = store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .expect("a signature manifest");
    SignatureManifest::from_bytes(&sig.bytes)
        .expect("imgseal parses the signature manifest")
        .layers
}

fn public_from_pem(pem: &str, what: &str) -> PublicKey {
    PublicKey::from_pem(pem.as_bytes(), what)
        .unwrap_or_else(|e| panic!("imgseal cannot load the public key {what}: {e}\n{pem}"))
}

// ---------------------------------------------------------------------------
// 1. imgseal signs → sigstore-rs verifies
// ---------------------------------------------------------------------------

#[tokio::test]
async fn imgseal_signature_verifies_in_sigstore_rs() {
    let reg = Registry::start();
    let (repo, digest, image) = new_image(&reg, "imgseal-to-peer").await;
    let key = SigningKey::generate().unwrap();
    let public_pem = key.public_key().to_pem();
    let ann = annotations(&[("build", "42"), ("team", "interop")]);

    let signed = Signer::new(key).sign(&image, &ann).await.unwrap();
    assert!(signed.added);
    assert_eq!(signed.digest, digest);
    assert_eq!(signed.identity, format!("{}/{repo}", reg.host));

    // sigstore-rs accepts it with the public key alone…
    let payloads = peer_verify(&reg.host, &repo, &digest.to_string(), &public_pem, &[])
        .await
        .unwrap_or_else(|e| panic!("sigstore-rs rejected imgseal's signature: {e}"));
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    // …and what it verified is byte for byte the payload imgseal writes.
    let expected = Payload::new(&signed.identity, &digest, &ann)
        .to_bytes()
        .unwrap();
    assert_eq!(payloads[0].as_bytes(), expected.as_slice());
    let payload = Payload::from_bytes(payloads[0].as_bytes()).unwrap();
    assert_eq!(
        payload.critical.image.docker_manifest_digest,
        digest.to_string()
    );
    assert_eq!(optional_strings(&payload), ann);

    // …with the annotation constraint (all of them, and a subset)…
    peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &public_pem,
        &pairs(&ann),
    )
    .await
    .unwrap_or_else(|e| panic!("sigstore-rs rejected the annotations: {e}"));
    peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &public_pem,
        &[("team".into(), "interop".into())],
    )
    .await
    .unwrap();

    // …but not an annotation value that was not signed…
    let err = peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &public_pem,
        &[("build".into(), "43".into())],
    )
    .await
    .expect_err("sigstore-rs accepted an annotation value that was never signed");
    assert!(err.contains("Annotation"), "{err}");

    // …and not another key.
    let other = SigningKey::generate().unwrap().public_key().to_pem();
    let err = peer_verify(&reg.host, &repo, &digest.to_string(), &other, &[])
        .await
        .expect_err("sigstore-rs accepted imgseal's signature with an unrelated key");
    assert!(err.contains("PublicKeyVerifier"), "{err}");
}

// ---------------------------------------------------------------------------
// 2. sigstore-rs signs → imgseal verifies
// ---------------------------------------------------------------------------

#[tokio::test]
async fn sigstore_rs_signature_verifies_in_imgseal() {
    let reg = Registry::start();
    let (repo, digest, image) = new_image(&reg, "peer-to-imgseal").await;
    let (private_pem, public_pem) = peer_generate_encrypted_key(PASSWORD).unwrap();
    let public = public_from_pem(&public_pem, "sigstore-rs.pub");
    let ann = annotations(&[("build", "7"), ("signed-by", "sigstore-rs")]);

    peer_sign(
        &reg.host,
        &repo,
        &digest.to_string(),
        private_pem.as_bytes(),
        PASSWORD,
        &pairs(&ann),
    )
    .await
    .unwrap();

    // Accepted by tag and by digest.
    let by_digest = ImageRef::parse(&format!("{}/{repo}@{digest}", reg.host)).unwrap();
    for img in [&image, &by_digest] {
        let v = imgseal_verify(&public, img, &BTreeMap::new()).await;
        assert!(
            v.verified,
            "imgseal rejected sigstore-rs' signature on {img}: {}",
            failures(&v)
        );
        assert_eq!(v.digest, digest);
    }

    let v = imgseal_verify(&public, &image, &ann).await;
    assert!(v.verified, "required annotations: {}", failures(&v));
    let payload = v.verified_payloads().next().expect("a verified payload");
    assert_eq!(optional_strings(payload), ann);
    assert_eq!(
        payload.critical.image.docker_manifest_digest,
        digest.to_string()
    );
    // sigstore-rs names the full digest reference in docker-reference; imgseal accepts it
    // because it compares repositories only. Make sure that is really what was checked.
    assert_eq!(
        payload.critical.identity.docker_reference,
        format!("{}/{repo}@{digest}", reg.host),
        "sigstore-rs' docker-reference format changed; revisit this test"
    );

    // An annotation value that was not signed, or one that is absent, is refused.
    let v = imgseal_verify(&public, &image, &annotations(&[("build", "8")])).await;
    assert!(!v.verified);
    assert!(
        failures(&v).contains("annotation build"),
        "{}",
        failures(&v)
    );
    let v = imgseal_verify(&public, &image, &annotations(&[("env", "prod")])).await;
    assert!(!v.verified);
    assert!(
        failures(&v).contains("env=prod is missing"),
        "{}",
        failures(&v)
    );

    // Another key is refused.
    let (_, other_pem) = peer_generate_encrypted_key(b"").unwrap();
    let other = public_from_pem(&other_pem, "other.pub");
    let v = imgseal_verify(&other, &image, &BTreeMap::new()).await;
    assert!(
        !v.verified,
        "imgseal accepted sigstore-rs' signature with an unrelated key"
    );
    assert_eq!(v.signatures.len(), 1, "{}", failures(&v));
    assert!(
        failures(&v).contains("does not verify with the given public key"),
        "{}",
        failures(&v)
    );
}

/// The repository in sigstore-rs' digest-pinned docker-reference is still checked: the same
/// signature copied to another repository holding the same image is refused there.
#[tokio::test]
async fn sigstore_rs_signature_is_bound_to_its_repository() {
    let reg = Registry::start();
    let (private_pem, public_pem) = peer_generate_encrypted_key(PASSWORD).unwrap();
    let public = public_from_pem(&public_pem, "sigstore-rs.pub");
    let content = common::random_bytes(64);

    let repo_a = unique_repo("peer-repo-a");
    let repo_b = unique_repo("peer-repo-b");
    let image_a = ImageRef::parse(&format!("{}/{repo_a}:v1", reg.host)).unwrap();
    let image_b = ImageRef::parse(&format!("{}/{repo_b}:v1", reg.host)).unwrap();
    let store_a = Store::open(&image_a, &StoreOptions::default(), true).unwrap();
    let store_b = Store::open(&image_b, &StoreOptions::default(), true).unwrap();
    let digest = common::push_image_to(&store_a, "v1", &content).await;
    assert_eq!(
        common::push_image_to(&store_b, "v1", &content).await,
        digest
    );

    peer_sign(
        &reg.host,
        &repo_a,
        &digest.to_string(),
        private_pem.as_bytes(),
        PASSWORD,
        &[],
    )
    .await
    .unwrap();
    let v = imgseal_verify(&public, &image_a, &BTreeMap::new()).await;
    assert!(v.verified, "{}", failures(&v));

    // Copy the signature manifest and its blobs from repo A to repo B, byte for byte.
    let tag = digest.signature_tag();
    let sig = store_a
        .get_manifest(&ManifestRef::Tag(tag.clone()))
        .await
        .unwrap()
        .unwrap();
    let parsed = SignatureManifest::from_bytes(&sig.bytes).unwrap();
    for d in std::iter::once(&parsed.config).chain(parsed.layers.iter()) {
        let blob = store_a
            .get_blob(&d.digest.parse().unwrap(), d.size, 1 << 20)
            .await
            .unwrap();
        store_b.put_blob(&blob).await.unwrap();
    }
    store_b
        .put_manifest(&sig.bytes, &sig.media_type, Some(&tag))
        .await
        .unwrap();

    let v = imgseal_verify(&public, &image_b, &BTreeMap::new()).await;
    assert!(
        !v.verified,
        "a signature for {repo_a} was accepted for {repo_b}"
    );
    assert!(
        failures(&v).contains(&format!(
            "payload names repository \"{}/{repo_a}@",
            reg.host
        )),
        "{}",
        failures(&v)
    );
}

// ---------------------------------------------------------------------------
// 3. Keys written by one load in the other
// ---------------------------------------------------------------------------

#[test]
fn imgseal_written_keys_load_in_sigstore_rs() {
    for password in [PASSWORD, b"".as_slice()] {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_cosign_encrypted_pem(password).unwrap();
        let peer_public = peer_load_private_key(pem.as_bytes(), password)
            .unwrap_or_else(|e| panic!("sigstore-rs cannot load imgseal's key: {e}\n{pem}"));
        assert_eq!(public_from_pem(&peer_public, "peer"), key.public_key());
        assert!(
            peer_load_private_key(pem.as_bytes(), b"not the password").is_err(),
            "sigstore-rs loaded imgseal's key with a wrong password"
        );
    }

    // The files `generate-key-pair` writes (keys::write_key_pair).
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("imgseal");
    let key = SigningKey::generate().unwrap();
    let (key_path, pub_path) =
        imgseal::crypto::keys::write_key_pair(&key, PASSWORD, prefix.to_str().unwrap(), false)
            .unwrap();
    let peer_public = peer_load_private_key(&std::fs::read(&key_path).unwrap(), PASSWORD).unwrap();
    let written_public = std::fs::read_to_string(&pub_path).unwrap();
    assert_eq!(
        public_from_pem(&peer_public, "peer"),
        public_from_pem(&written_public, "imgseal.pub")
    );
    assert_eq!(
        public_from_pem(&written_public, "imgseal.pub"),
        key.public_key()
    );
}

#[test]
fn sigstore_rs_written_keys_load_in_imgseal() {
    for password in [PASSWORD, b"".as_slice()] {
        let (private_pem, public_pem) = peer_generate_encrypted_key(password).unwrap();
        let key = SigningKey::from_pem(private_pem.as_bytes(), Some(password), "peer.key")
            .unwrap_or_else(|e| panic!("imgseal cannot load sigstore-rs' key: {e}\n{private_pem}"));
        let public = public_from_pem(&public_pem, "peer.pub");
        assert_eq!(key.public_key(), public);
        // A signature made with the loaded key verifies with sigstore-rs' public key.
        let sig = key.sign(b"payload");
        assert!(public.verify(b"payload", &sig));
        assert!(matches!(
            SigningKey::from_pem(private_pem.as_bytes(), Some(b"wrong"), "peer.key"),
            Err(Error::WrongPassword { .. })
        ));
    }
}

/// Keys cross over and are used to sign on the registry: sigstore-rs signs with an
/// imgseal-written key, imgseal signs with a sigstore-rs-written key; each side verifies.
#[tokio::test]
async fn cross_written_keys_sign_on_the_registry() {
    let reg = Registry::start();

    // imgseal-written key, used by sigstore-rs to sign; verified by imgseal and sigstore-rs.
    let (repo, digest, image) = new_image(&reg, "imgseal-key-peer-signs").await;
    let dir = tempfile::tempdir().unwrap();
    let (key_path, pub_path) = imgseal::crypto::keys::write_key_pair(
        &SigningKey::generate().unwrap(),
        PASSWORD,
        dir.path().join("k").to_str().unwrap(),
        false,
    )
    .unwrap();
    let imgseal_pub = PublicKey::from_file(&pub_path).unwrap();
    peer_sign(
        &reg.host,
        &repo,
        &digest.to_string(),
        &std::fs::read(&key_path).unwrap(),
        PASSWORD,
        &[],
    )
    .await
    .unwrap();
    let v = imgseal_verify(&imgseal_pub, &image, &BTreeMap::new()).await;
    assert!(v.verified, "{}", failures(&v));
    peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &std::fs::read_to_string(&pub_path).unwrap(),
        &[],
    )
    .await
    .unwrap();

    // sigstore-rs-written key, loaded and used by imgseal; verified by both.
    let (repo, digest, image) = new_image(&reg, "peer-key-imgseal-signs").await;
    let (private_pem, public_pem) = peer_generate_encrypted_key(PASSWORD).unwrap();
    let key = SigningKey::from_pem(private_pem.as_bytes(), Some(PASSWORD), "peer.key").unwrap();
    Signer::new(key)
        .sign(&image, &BTreeMap::new())
        .await
        .unwrap();
    peer_verify(&reg.host, &repo, &digest.to_string(), &public_pem, &[])
        .await
        .unwrap_or_else(|e| panic!("sigstore-rs rejected a signature by its own key: {e}"));
    let v = imgseal_verify(
        &public_from_pem(&public_pem, "peer.pub"),
        &image,
        &BTreeMap::new(),
    )
    .await;
    assert!(v.verified, "{}", failures(&v));
}

// ---------------------------------------------------------------------------
// 4. Mixed: sigstore-rs signs, then imgseal adds a second signature
// ---------------------------------------------------------------------------

#[tokio::test]
async fn imgseal_appends_to_a_sigstore_rs_signature() {
    let reg = Registry::start();
    let (repo, digest, image) = new_image(&reg, "mixed").await;

    let (peer_private, peer_public_pem) = peer_generate_encrypted_key(PASSWORD).unwrap();
    let peer_public = public_from_pem(&peer_public_pem, "peer.pub");
    peer_sign(
        &reg.host,
        &repo,
        &digest.to_string(),
        peer_private.as_bytes(),
        PASSWORD,
        &[("by".into(), "sigstore-rs".into())],
    )
    .await
    .unwrap();
    let peer_layers = signature_layers(&image, &digest).await;
    assert_eq!(peer_layers.len(), 1);

    let key = SigningKey::generate().unwrap();
    let imgseal_public = key.public_key();
    let signed = Signer::new(key)
        .sign(&image, &annotations(&[("by", "imgseal")]))
        .await
        .unwrap_or_else(|e| {
            panic!("imgseal could not add to sigstore-rs' signature manifest: {e}")
        });
    assert!(signed.added);

    // imgseal appended: sigstore-rs' layer is kept, untouched, first.
    let layers = signature_layers(&image, &digest).await;
    assert_eq!(layers.len(), 2, "{layers:?}");
    assert_eq!(layers[0], peer_layers[0]);

    // Both keys verify with imgseal, each finding its own signature.
    let v = imgseal_verify(&peer_public, &image, &BTreeMap::new()).await;
    assert!(v.verified, "{}", failures(&v));
    assert_eq!(
        optional_strings(v.verified_payloads().next().unwrap())["by"],
        "sigstore-rs"
    );
    let v = imgseal_verify(&imgseal_public, &image, &BTreeMap::new()).await;
    assert!(v.verified, "{}", failures(&v));
    assert_eq!(v.signatures.len(), 2, "layer 0 is tried first and refused");
    assert_eq!(
        optional_strings(v.verified_payloads().next().unwrap())["by"],
        "imgseal"
    );
    let v = imgseal_verify(
        &imgseal_public,
        &image,
        &annotations(&[("by", "sigstore-rs")]),
    )
    .await;
    assert!(
        !v.verified,
        "an annotation from the other signer's payload must not count"
    );

    // sigstore-rs still verifies both, each key matching exactly its own layer.
    let by_imgseal = peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &imgseal_public.to_pem(),
        &[("by".into(), "imgseal".into())],
    )
    .await
    .unwrap_or_else(|e| panic!("sigstore-rs rejected imgseal's appended signature: {e}"));
    assert_eq!(by_imgseal.len(), 1);
    let by_peer = peer_verify(&reg.host, &repo, &digest.to_string(), &peer_public_pem, &[])
        .await
        .unwrap();
    assert_eq!(by_peer.len(), 1);
    assert!(by_peer[0].contains("sigstore-rs"), "{}", by_peer[0]);
    assert!(
        peer_verify(
            &reg.host,
            &repo,
            &digest.to_string(),
            &imgseal_public.to_pem(),
            &[("by".into(), "sigstore-rs".into())],
        )
        .await
        .is_err(),
        "sigstore-rs combined one layer's key with another layer's annotations"
    );
}

// ---------------------------------------------------------------------------
// 5. Real cosign-generated keys (../shared/interop/cosign)
// ---------------------------------------------------------------------------

fn cosign_data() -> Option<PathBuf> {
    match interop_dir() {
        Some(d) => Some(d.join("cosign")),
        None => {
            interop_data::absent("../shared/interop");
            None
        }
    }
}

/// (file, password, matching .pub if the fixture set has one)
const COSIGN_KEYS: &[(&str, &[u8], Option<&str>)] = &[
    // `cosign generate-key-pair` output, COSIGN_PASSWORD="".
    (
        "policy-controller/cosign.key",
        b"",
        Some("policy-controller/cosign.pub"),
    ),
    // Generated by cosign; scrypt N=65536.
    (
        "sigstore-rs/cosign_generated_encrypted_empty_private.key",
        b"",
        None,
    ),
    // cosign's keys_test.go constants.
    ("cosign/keys_test/pemcosignkey.pem", b"hello", None),
    ("cosign/keys_test/pemsigstorekey.pem", b"hello", None),
    // sigstore-rs' own writer, old label.
    ("sigstore-rs/ecdsa_encrypted_private.key", b"123", None),
];

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

#[test]
fn cosign_keys_load_in_imgseal_and_sigstore_rs() {
    let Some(dir) = cosign_data() else { return };
    for (rel, password, pub_rel) in COSIGN_KEYS {
        let pem = read(&dir, rel);
        let key = SigningKey::from_pem(&pem, Some(password), rel)
            .unwrap_or_else(|e| panic!("imgseal cannot load {rel}: {e}"));
        let peer_public = peer_load_private_key(&pem, password)
            .unwrap_or_else(|e| panic!("sigstore-rs cannot load {rel}: {e}"));
        assert_eq!(
            public_from_pem(&peer_public, rel),
            key.public_key(),
            "{rel}: imgseal and sigstore-rs derive different public keys"
        );
        if let Some(pub_rel) = pub_rel {
            let expected = PublicKey::from_pem(&read(&dir, pub_rel), pub_rel).unwrap();
            assert_eq!(key.public_key(), expected, "{rel} does not match {pub_rel}");
        }
        // The key works: a signature made with it verifies with the public key sigstore-rs
        // derived.
        assert!(public_from_pem(&peer_public, rel).verify(b"m", &key.sign(b"m")));
        assert!(
            matches!(
                SigningKey::from_pem(&pem, Some(b"wrong password"), rel),
                Err(Error::WrongPassword { .. })
            ),
            "{rel}: a wrong password must be reported as such"
        );
    }
}

#[test]
fn cosign_sec1_inside_key_is_refused_clearly() {
    let Some(dir) = cosign_data() else { return };
    let rel = "cosign/keys_test/pemcosigneckey.pem";
    let pem = read(&dir, rel);
    let err = SigningKey::from_pem(&pem, Some(b"hello"), rel)
        .expect_err("imgseal loaded a SEC1-inside encrypted key, which cosign refuses");
    let msg = err.to_string();
    assert!(
        msg.contains("SEC1") && msg.contains("PKCS#8") && msg.contains(rel),
        "unclear error: {msg}"
    );
    // The password was right (the error is about the key format, not the password).
    assert!(!matches!(err, Error::WrongPassword { .. }), "{msg}");
    // sigstore-rs requires PKCS#8 inside the envelope as well.
    assert!(peer_load_private_key(&pem, b"hello").is_err());
}

#[test]
fn non_p256_cosign_key_is_refused_by_both() {
    let Some(dir) = cosign_data() else { return };
    let rel = "sigstore-rs/rsa_encrypted_private.key";
    let pem = read(&dir, rel);
    let err = SigningKey::from_pem(&pem, Some(b"123"), rel).expect_err("imgseal loaded an RSA key");
    assert!(err.to_string().contains("P-256"), "{err}");
    assert!(peer_load_private_key(&pem, b"123").is_err());
}

/// A real `cosign generate-key-pair` key pair used on the registry in both directions.
#[tokio::test]
async fn cosign_generated_key_signs_in_both_directions() {
    let Some(dir) = cosign_data() else { return };
    let private = read(&dir, "policy-controller/cosign.key");
    let public_pem = String::from_utf8(read(&dir, "policy-controller/cosign.pub")).unwrap();
    let public = public_from_pem(&public_pem, "cosign.pub");
    let reg = Registry::start();

    // imgseal signs with the cosign key; sigstore-rs verifies with cosign.pub.
    let (repo, digest, image) = new_image(&reg, "cosign-key-imgseal").await;
    let key = SigningKey::from_pem(&private, Some(b""), "cosign.key").unwrap();
    Signer::new(key)
        .sign(&image, &annotations(&[("k", "v")]))
        .await
        .unwrap();
    peer_verify(
        &reg.host,
        &repo,
        &digest.to_string(),
        &public_pem,
        &[("k".into(), "v".into())],
    )
    .await
    .unwrap();

    // sigstore-rs signs with the cosign key; imgseal verifies with cosign.pub.
    let (repo, digest, image) = new_image(&reg, "cosign-key-peer").await;
    peer_sign(&reg.host, &repo, &digest.to_string(), &private, b"", &[])
        .await
        .unwrap();
    let v = imgseal_verify(&public, &image, &BTreeMap::new()).await;
    assert!(v.verified, "{}", failures(&v));
}
