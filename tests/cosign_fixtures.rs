//! Real cosign-produced signatures and keys (../shared/interop/cosign, read in place) run
//! through the real `imgseal` binary.
//!
//! Each containers/image fixture (an image manifest plus the layers of its `.sig` manifest) is
//! rebuilt as an OCI image layout: the manifest's exact bytes tagged with a full reference whose
//! repository is the payload's `docker-reference`, and a `sha256-<hex>.sig` manifest whose layers
//! are the fixture's payload bytes, media type and annotations. `imgseal verify` must then reach
//! the outcome containers/image (and cosign) reach. The interop folder is optional: without it
//! every test prints a note and passes, except in CI (CI set), where a missing fixture fails (tests/support/interop.rs).

mod support;

use support::cli::assert_fails_one as assert_fails;
use support::cli::*;

use imgseal::formats::cosign::{self, Descriptor, Payload};
use imgseal::oci::OCI_MANIFEST;
use imgseal::store::layout::Layout;
use imgseal::{Digest, PublicKey, SigningKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository the containers/image single-sample fixtures were signed in.
const SINGLE_SAMPLE: &str = "192.168.64.2:5000/cosign-signed-single-sample";
/// The manifest digest those fixtures sign.
const SINGLE_SAMPLE_DIGEST: &str =
    "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

/// `../shared/interop/cosign`, or a note on stderr and `None`.
fn fixtures() -> Option<PathBuf> {
    support::interop::set("cosign")
}

/// A scratch directory; commands run in it with an isolated HOME and docker config.
impl Env {
    fn run(&self, args: &[&str]) -> Output {
        self.cli.output(args)
    }

    fn run_with_password(&self, password: &str, args: &[&str]) -> Output {
        self.cli
            .cmd(args)
            .env("IMGSEAL_PASSWORD", password)
            .output()
            .unwrap()
    }

    /// `imgseal verify --key KEY [EXTRA…] IMAGE`.
    fn verify(&self, key: &Path, image: &str, extra: &[&str]) -> Output {
        let key = key.display().to_string();
        let mut args = vec!["verify", "--key", key.as_str()];
        args.extend_from_slice(extra);
        args.push(image);
        self.run(&args)
    }
}

/// One signature layer of a fixture, from its `signature-N.extracted/` directory.
struct SigLayer {
    payload: Vec<u8>,
    media_type: String,
    annotations: BTreeMap<String, String>,
}

impl SigLayer {
    fn read(extracted: &Path) -> SigLayer {
        let payload = std::fs::read(extracted.join("payload")).unwrap();
        let media_type = std::fs::read_to_string(extracted.join("mediaType"))
            .unwrap()
            .trim()
            .to_string();
        let json: BTreeMap<String, Value> =
            serde_json::from_slice(&std::fs::read(extracted.join("annotations.json")).unwrap())
                .unwrap();
        let annotations = json
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => panic!("{}: annotation {k} is {other}", extracted.display()),
            })
            .collect();
        SigLayer {
            payload,
            media_type,
            annotations,
        }
    }

    fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            size: self.payload.len() as u64,
            digest: Digest::sha256(&self.payload).to_string(),
            annotations: self.annotations.clone(),
            ..Descriptor::default()
        }
    }
}

/// The `signature-N.extracted` directories of a fixture directory, in order.
fn sig_dirs(fixture: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixture)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("signature-") && n.ends_with(".extracted")
        })
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "{}: no signatures", fixture.display());
    dirs
}

/// Build an OCI layout at `dir`: `manifest`'s exact bytes tagged `ref_name`, and a
/// `sha256-<hex>.sig` manifest holding `sigs` as its layers. Returns the image digest.
fn build_layout(dir: &Path, manifest: &Path, sigs: &[PathBuf], ref_name: &str) -> Digest {
    let layout = Layout::init(dir).unwrap();
    let bytes = std::fs::read(manifest).unwrap();
    let media_type = serde_json::from_slice::<Value>(&bytes).unwrap()["mediaType"]
        .as_str()
        .unwrap()
        .to_string();
    let digest = layout
        .put_manifest(&bytes, &media_type, Some(ref_name))
        .unwrap();
    assert_eq!(digest, Digest::sha256(&bytes));
    if sigs.is_empty() {
        return digest;
    }
    let mut layers = Vec::new();
    for s in sigs {
        let layer = SigLayer::read(s);
        layout.put_blob(&layer.payload).unwrap();
        layers.push(layer.descriptor());
    }
    let (sig_manifest, config) = cosign::signature_manifest(layers);
    layout.put_blob(&config).unwrap();
    layout
        .put_manifest(
            &sig_manifest.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&digest.signature_tag()),
        )
        .unwrap();
    digest
}

/// A layout for the fixture directory `name` (all its signatures) in `env`; returns the
/// `oci:DIR:REF` image and its digest.
fn fixture_image(env: &Env, root: &Path, name: &str, ref_name: &str) -> (String, Digest) {
    let fixture = root.join("containers-image").join(name);
    let dir = env.path(name);
    let digest = build_layout(
        &dir,
        &fixture.join("manifest.json"),
        &sig_dirs(&fixture),
        ref_name,
    );
    (format!("oci:{}:{ref_name}", dir.display()), digest)
}

fn ci_key(root: &Path, name: &str) -> PathBuf {
    root.join("containers-image").join(name)
}

// ---------------------------------------------------------------- containers/image fixtures

#[test]
fn cosign_valid_verifies_with_its_key_only() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, digest) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-valid",
        &format!("{SINGLE_SAMPLE}:v1"),
    );
    assert_eq!(digest.to_string(), SINGLE_SAMPLE_DIGEST);

    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_ok(&out);
    // The payload printed is cosign's, byte for byte.
    let payload = std::fs::read_to_string(
        root.join("containers-image/dir-img-cosign-valid/signature-1.extracted/payload"),
    )
    .unwrap();
    assert_eq!(stdout(&out).trim(), payload.trim());

    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &["--output", "json"]);
    assert_ok(&out);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["digest"], SINGLE_SAMPLE_DIGEST);
    assert_eq!(
        v["signatures"][0]["payload"]["critical"]["identity"]["docker-reference"],
        SINGLE_SAMPLE
    );

    // Pinned by digest as well as named.
    let out = env.verify(
        &ci_key(&root, "cosign.pub"),
        &format!("{image}@{SINGLE_SAMPLE_DIGEST}"),
        &[],
    );
    assert_ok(&out);

    let out = env.verify(&ci_key(&root, "cosign2.pub"), &image, &[]);
    assert_fails(
        &out,
        1,
        "layer 0: signature does not verify with the given public key",
    );

    // A public key that cosign generated for its own CI (unrelated to these fixtures) loads
    // and is simply the wrong key.
    let out = env.verify(&root.join("cosign/cosign-test.pub"), &image, &[]);
    assert_fails(&out, 1, "signature does not verify");
}

#[test]
fn cosign_valid_in_another_repository_is_refused() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    // Same manifest and signature, but the layout names the image in another repository.
    let (image, _) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-valid",
        "192.168.64.2:5000/someone-else:v1",
    );
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_fails(
        &out,
        1,
        &format!(
            "payload names repository \"{SINGLE_SAMPLE}\", not \"192.168.64.2:5000/someone-else\""
        ),
    );
}

#[test]
fn cosign_valid_2_both_layers_verify() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, _) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-valid-2",
        &format!("{SINGLE_SAMPLE}:v1"),
    );
    assert_ok(&env.verify(&ci_key(&root, "cosign.pub"), &image, &[]));
    let out = env.verify(&ci_key(&root, "cosign2.pub"), &image, &[]);
    assert_fails(&out, 1, "layer 1: signature does not verify");

    // The second signature (a different ECDSA signature over the same payload) verifies alone.
    let fixture = root.join("containers-image/dir-img-cosign-valid-2");
    let dir = env.path("second-only");
    let ref_name = format!("{SINGLE_SAMPLE}:v1");
    build_layout(
        &dir,
        &fixture.join("manifest.json"),
        &[fixture.join("signature-2.extracted")],
        &ref_name,
    );
    let out = env.verify(
        &ci_key(&root, "cosign.pub"),
        &format!("oci:{}:{ref_name}", dir.display()),
        &["--output", "json"],
    );
    assert_ok(&out);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(v["signatures"][0]["verified"], true);
}

#[test]
fn skopeo_signed_with_tag_and_optional_annotations_verifies() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    // docker-reference carries a tag ("…/skopeo-signed:tag"); the repository is what counts.
    let (image, _) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-valid-with-tag",
        "192.168.64.2:5000/skopeo-signed:tag",
    );
    let key = ci_key(&root, "cosign.pub");
    assert_ok(&env.verify(&key, &image, &[]));
    // Required annotations against the payload's `optional`: a string matches; a JSON number
    // never satisfies `-a k=v`, whose value is a string (cosign compares them as interface
    // values, so a float64 never equals a string; security issue, item 8).
    assert_ok(&env.verify(&key, &image, &["-a", "creator=containers/image 5.21.2-dev"]));
    let out = env.verify(&key, &image, &["-a", "timestamp=1657296609"]);
    assert_fails(
        &out,
        1,
        "annotation timestamp is the JSON value 1657296609, not the string \"1657296609\"",
    );
    // The same image under another tag of the same repository still verifies.
    let fixture = root.join("containers-image/dir-img-cosign-valid-with-tag");
    let dir = env.path("other-tag");
    build_layout(
        &dir,
        &fixture.join("manifest.json"),
        &sig_dirs(&fixture),
        "192.168.64.2:5000/skopeo-signed:latest",
    );
    assert_ok(&env.verify(
        &key,
        &format!(
            "oci:{}:192.168.64.2:5000/skopeo-signed:latest",
            dir.display()
        ),
        &[],
    ));
    assert_fails(
        &env.verify(&ci_key(&root, "cosign2.pub"), &image, &[]),
        1,
        "signature does not verify",
    );
}

#[test]
fn mixed_signatures_accept_with_one_valid() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, _) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-mixed",
        &format!("{SINGLE_SAMPLE}:v1"),
    );
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &["--output", "json"]);
    assert_ok(&out);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verified"], true);
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[0]["verified"], false);
    assert!(sigs[0]["failure"]
        .as_str()
        .unwrap()
        .contains("signature does not verify"));
    assert_eq!(sigs[1]["verified"], true);

    let out = env.verify(&ci_key(&root, "cosign2.pub"), &image, &[]);
    assert_fails(&out, 1, "layer 0: signature does not verify");
    assert!(stderr(&out).contains("layer 1: signature does not verify"));
}

#[test]
fn modified_manifest_is_rejected() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, digest) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-modified-manifest",
        &format!("{SINGLE_SAMPLE}:v1"),
    );
    assert_eq!(
        digest.to_string(),
        "sha256:d9dcafdb480aa7c475e91737b96925e45844213dcb0290b4a90017459121f71f"
    );
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_fails(
        &out,
        1,
        &format!("payload names digest {SINGLE_SAMPLE_DIGEST}, not this image's {digest}"),
    );
}

#[test]
fn other_attachment_is_not_a_signature() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, _) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-other-attachment",
        &format!("{SINGLE_SAMPLE}:v1"),
    );
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_fails(
        &out,
        1,
        "layer 0: not a signature layer (media type \"text/plain\")",
    );
}

#[test]
fn key_signed_with_rekor_bundle_verifies_with_cosign2() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, digest) = fixture_image(
        &env,
        &root,
        "dir-img-cosign-key-rekor-valid",
        "192.168.64.2:5000/cosign-signed/key-1:v1",
    );
    assert_eq!(
        digest.to_string(),
        "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a"
    );
    // The Rekor bundle annotation is carried along but not needed for key verification.
    assert_ok(&env.verify(&ci_key(&root, "cosign2.pub"), &image, &[]));
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_fails(&out, 1, "signature does not verify");
}

#[test]
fn unknown_key_signature_verifies_with_neither_key() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let ci = root.join("containers-image");
    let dir = env.path("unknown");
    let ref_name = format!("{SINGLE_SAMPLE}:v1");
    build_layout(
        &dir,
        &ci.join("dir-img-cosign-valid/manifest.json"),
        &[ci.join("unknown-cosign-key.signature.extracted")],
        &ref_name,
    );
    let image = format!("oci:{}:{ref_name}", dir.display());
    for key in ["cosign.pub", "cosign2.pub"] {
        let out = env.verify(&ci.join(key), &image, &[]);
        assert_fails(&out, 1, "layer 0: signature does not verify");
    }
}

#[test]
fn keyless_fixtures_are_not_accepted_with_a_key() {
    // imgseal verifies with keys only; certificate-signed layers must never pass key
    // verification (whatever the reason given).
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    for (name, ref_name) in [
        (
            "dir-img-cosign-fulcio-rekor-valid",
            "192.168.64.2:5000/cosign-signed/fulcio-rekor-1:v1",
        ),
        ("dir-img-cosign-pki-valid", "localhost:5000/test:v1"),
    ] {
        let (image, _) = fixture_image(&env, &root, name, ref_name);
        for key in ["cosign.pub", "cosign2.pub"] {
            let out = env.verify(&ci_key(&root, key), &image, &[]);
            assert_fails(&out, 1, "verification failed");
        }
    }
}

/// Every containers/image signature listed in expected-results.json, alone in a `.sig`
/// manifest, against both keys: accepted exactly when the key verifies it, the payload names
/// the manifest's digest and the layer is a simple-signing layer.
#[test]
fn expected_results_table_matches() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let table: Vec<Value> =
        serde_json::from_slice(&std::fs::read(root.join("expected-results.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for (i, entry) in table.iter().enumerate() {
        let file = entry["file"].as_str().unwrap();
        if !file.starts_with("containers-image/") || entry.get("verifies_with").is_none() {
            continue;
        }
        let sig = root.join(format!("{file}.extracted"));
        // The signed image: the fixture's own manifest, or the single sample for the loose
        // `unknown-cosign-key.signature`.
        let fixture_dir = root.join(file).parent().unwrap().to_path_buf();
        let manifest = if fixture_dir.join("manifest.json").is_file() {
            fixture_dir.join("manifest.json")
        } else {
            root.join("containers-image/dir-img-cosign-valid/manifest.json")
        };
        let reference = entry["payload_docker_reference"]
            .as_str()
            .unwrap_or(SINGLE_SAMPLE);
        let last = reference.rsplit('/').next().unwrap();
        let ref_name = if last.contains(':') {
            reference.to_string()
        } else {
            format!("{reference}:v1")
        };
        let dir = env.path(&format!("table-{i}"));
        build_layout(&dir, &manifest, &[sig], &ref_name);
        let image = format!("oci:{}:{ref_name}", dir.display());
        let simple = entry["layer_mediaType"] == cosign::SIMPLE_SIGNING_MEDIA_TYPE;
        let matches = entry["digest_matches_manifest"] == true
            || (entry["image_manifest_sha256"].is_null()
                && entry["payload_docker_manifest_digest"] == SINGLE_SAMPLE_DIGEST);
        for key in ["cosign.pub", "cosign2.pub"] {
            let verifies = entry["verifies_with"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == key);
            let want = if simple && matches && verifies { 0 } else { 1 };
            let out = env.verify(&ci_key(&root, key), &image, &[]);
            assert_eq!(
                out.status.code(),
                Some(want),
                "{file} with {key}: stdout {} stderr {}",
                stdout(&out),
                stderr(&out)
            );
            if want == 1 {
                assert_fails(&out, 1, "verification failed");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} checks ran");
}

// ---------------------------------------------------------------- sigstore-rs busybox vector

#[test]
fn sigstore_rs_busybox_vector() {
    // Only the payload and its signature exist (not the busybox manifest), so this is checked
    // at the library level: the key verifies the exact bytes, and imgseal writes exactly
    // these bytes for that payload.
    let Some(root) = fixtures() else { return };
    let dir = root.join("sigstore-rs/busybox-vector");
    let key = PublicKey::from_file(&dir.join("cosign.pub")).unwrap();
    let payload = std::fs::read(dir.join("payload.json")).unwrap();
    assert_eq!(payload.len(), 248);
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            std::fs::read_to_string(dir.join("signature.b64"))
                .unwrap()
                .trim(),
        )
        .unwrap();
    assert!(key.verify(&payload, &sig));
    let mut tampered = payload.clone();
    tampered[payload.len() - 2] = b' ';
    assert!(!key.verify(&tampered, &sig));
    let other = PublicKey::from_file(&ci_key(&root, "cosign.pub")).unwrap();
    assert!(!other.verify(&payload, &sig));

    let parsed = Payload::from_bytes(&payload).unwrap();
    assert_eq!(
        parsed.critical.identity.docker_reference,
        "registry-testing.svc.lan/busybox"
    );
    let digest: Digest = parsed
        .critical
        .image
        .docker_manifest_digest
        .parse()
        .unwrap();
    let rebuilt = Payload::new(
        "registry-testing.svc.lan/busybox",
        &digest,
        &BTreeMap::new(),
    );
    assert_eq!(rebuilt.to_bytes().unwrap(), payload);
}

// ---------------------------------------------------------------- cosign keys

/// The `derived_public_key_pem` recorded for `file` in expected-results.json.
fn expected_public_pem(root: &Path, file: &str) -> String {
    let table: Vec<Value> =
        serde_json::from_slice(&std::fs::read(root.join("expected-results.json")).unwrap())
            .unwrap();
    table
        .iter()
        .find(|e| e["file"] == file)
        .and_then(|e| e["derived_public_key_pem"].as_str())
        .unwrap_or_else(|| panic!("no derived_public_key_pem for {file}"))
        .to_string()
}

/// A layout holding the single-sample manifest (unsigned) as `ref_name`; returns the image.
fn unsigned_layout(env: &Env, root: &Path, name: &str, ref_name: &str) -> String {
    let dir = env.path(name);
    build_layout(
        &dir,
        &root.join("containers-image/dir-img-cosign-valid/manifest.json"),
        &[],
        ref_name,
    );
    format!("oci:{}:{ref_name}", dir.display())
}

#[test]
fn policy_controller_cosign_key_signs_and_its_pub_verifies() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let key = root.join("policy-controller/cosign.key");
    let public = root.join("policy-controller/cosign.pub");
    let image = unsigned_layout(&env, &root, "pc", "registry.example/demo/app:v1");
    let key_arg = key.display().to_string();

    let out = env.run_with_password("wrong", &["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "wrong password");
    // No password source at all (and no terminal): a clean usage error.
    let out = env.run(&["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "a password is needed");

    let out = env.run_with_password("", &["sign", "--key", &key_arg, &image]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        format!("registry.example/demo/app@{SINGLE_SAMPLE_DIGEST}")
    );
    assert_ok(&env.verify(&public, &image, &[]));
    let out = env.verify(&ci_key(&root, "cosign.pub"), &image, &[]);
    assert_fails(&out, 1, "signature does not verify");
    // The public key derived from the decrypted private key is the published one.
    let loaded = SigningKey::from_file(&key, Some(b"")).unwrap();
    assert_eq!(
        loaded.public_key().to_pem(),
        PublicKey::from_file(&public).unwrap().to_pem()
    );
}

#[test]
fn cosign_generated_n65536_key_loads_and_signs() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let file = "sigstore-rs/cosign_generated_encrypted_empty_private.key";
    let public = env.path("n65536.pub");
    std::fs::write(&public, expected_public_pem(&root, file)).unwrap();
    let image = unsigned_layout(&env, &root, "n65536", "registry.example/n65536:v1");
    let key_arg = root.join(file).display().to_string();
    assert_ok(&env.run_with_password("", &["sign", "--key", &key_arg, &image]));
    assert_ok(&env.verify(&public, &image, &[]));
    let out = env.run_with_password("x", &["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "wrong password");
}

#[test]
fn other_cosign_and_sigstore_keys_decrypt_to_the_recorded_public_keys() {
    let Some(root) = fixtures() else { return };
    for (file, password) in [
        ("sigstore-rs/ecdsa_encrypted_private.key", "123"),
        ("cosign/keys_test/pemcosignkey.pem", "hello"),
        ("cosign/keys_test/pemsigstorekey.pem", "hello"),
    ] {
        let key = SigningKey::from_file(&root.join(file), Some(password.as_bytes()))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = PublicKey::from_pem(expected_public_pem(&root, file).as_bytes(), file).unwrap();
        assert_eq!(key.public_key().to_pem(), want.to_pem(), "{file}");
        assert!(matches!(
            SigningKey::from_file(&root.join(file), Some(b"not it")),
            Err(imgseal::Error::WrongPassword { .. })
        ));
    }
}

#[test]
fn sec1_inside_the_envelope_is_refused() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let image = unsigned_layout(&env, &root, "sec1", "registry.example/sec1:v1");
    let key_arg = root
        .join("cosign/keys_test/pemcosigneckey.pem")
        .display()
        .to_string();
    let out = env.run_with_password("hello", &["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "SEC1");
    assert!(
        !std::fs::read_to_string(env.path("sec1/index.json"))
            .unwrap()
            .contains(".sig"),
        "nothing may be signed"
    );
}

#[test]
fn rsa_key_is_refused_as_unsupported() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let image = unsigned_layout(&env, &root, "rsa", "registry.example/rsa:v1");
    let key_arg = root
        .join("sigstore-rs/rsa_encrypted_private.key")
        .display()
        .to_string();
    let out = env.run_with_password("123", &["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "unsupported key");
    let out = env.run_with_password("456", &["sign", "--key", &key_arg, &image]);
    assert_fails(&out, 2, "wrong password");
}
