//! End-to-end tests of the real `imgseal` binary against a real registry (Debian's
//! docker-registry, started per test on a free loopback port) and real OCI layouts.

mod support;

use support::cli::assert_fails_alone as assert_fails;
use support::cli::*;

use imgseal::formats::cosign::{self, SignatureManifest};
use imgseal::oci::OCI_MANIFEST;
use imgseal::reference::ImageRef;
use imgseal::store::{ManifestRef, Store, StoreOptions};
use std::path::Path;
use std::process::{Command, Output};
use support::registry::*;

const PASSWORD: &str = "correct horse";

/// A scratch directory with an isolated docker config and a key pair in it.
impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cli.cmd(args);
        c.env("IMGSEAL_PASSWORD", PASSWORD);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Generate PREFIX.key/.pub and return their paths as strings.
    fn keypair(&self, prefix: &str) -> (String, String) {
        let out = self.run(&["generate-key-pair", "--output-key-prefix", prefix]);
        assert_ok(&out);
        (
            self.path(&format!("{prefix}.key")).display().to_string(),
            self.path(&format!("{prefix}.pub")).display().to_string(),
        )
    }
}

async fn sig_manifest(
    host: &str,
    repo: &str,
    digest: &imgseal::Digest,
) -> (Store, SignatureManifest) {
    let store = Store::open(
        &ImageRef::parse(&format!("{host}/{repo}")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let m = store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .expect("signature manifest");
    (store, SignatureManifest::from_bytes(&m.bytes).unwrap())
}

// ---------------------------------------------------------------- keys

#[test]
fn generate_key_pair_writes_encrypted_key_0600_and_refuses_overwrite() {
    let env = Env::new();
    let (key, public) = env.keypair("imgseal");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    let json = pem::parse(&text).unwrap();
    let v: serde_json::Value = serde_json::from_slice(json.contents()).unwrap();
    assert_eq!(v["kdf"]["name"], "scrypt");
    assert_eq!(v["kdf"]["params"]["N"], 32768);
    assert_eq!(v["cipher"]["name"], "nacl/secretbox");
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = std::fs::read(&key).unwrap();
    let out = env.run(&["generate-key-pair"]);
    assert_fails(&out, 2, "already exists; pass --force");
    assert_eq!(std::fs::read(&key).unwrap(), before, "key was overwritten");
    assert_ok(&env.run(&["generate-key-pair", "--force"]));
    assert_ne!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn generate_key_pair_without_password_source_fails_cleanly() {
    let env = Env::new();
    let out = env
        .cmd(&["generate-key-pair"])
        .env_remove("IMGSEAL_PASSWORD")
        .output()
        .unwrap();
    assert_fails(&out, 2, "a password is needed");
    assert!(!env.path("imgseal.key").exists());
}

#[test]
fn password_file_is_used() {
    let env = Env::new();
    std::fs::write(env.path("pw"), "from-file\n").unwrap();
    let out = env
        .cmd(&[
            "generate-key-pair",
            "--output-key-prefix",
            "k",
            "--password-file",
            "pw",
        ])
        .env_remove("IMGSEAL_PASSWORD")
        .output()
        .unwrap();
    assert_ok(&out);
    let pem = std::fs::read(env.path("k.key")).unwrap();
    assert!(imgseal::SigningKey::from_pem(&pem, Some(b"from-file"), "k").is_ok());
}

// ---------------------------------------------------------------- sign + verify on a registry

#[tokio::test]
async fn sign_and_verify_on_registry() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let repo = unique_repo("app");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);

    let out = env.run(&["sign", "--key", &key, "-a", "build-version=42", &image]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), format!("{}/{repo}@{digest}", reg.host));

    // The .sig manifest is exactly cosign's shape.
    let (store, sig) = sig_manifest(&reg.host, &repo, &digest).await;
    assert_eq!(sig.media_type.as_deref(), Some(OCI_MANIFEST));
    assert_eq!(sig.layers.len(), 1);
    assert_eq!(sig.layers[0].media_type, cosign::SIMPLE_SIGNING_MEDIA_TYPE);
    let payload = store
        .get_blob(
            &sig.layers[0].digest.parse().unwrap(),
            sig.layers[0].size,
            1 << 20,
        )
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"build-version":"42"}}}}"#,
            reg.host
        )
    );
    let config = store
        .get_blob(
            &sig.config.digest.parse().unwrap(),
            sig.config.size,
            1 << 20,
        )
        .await
        .unwrap();
    assert_eq!(config, cosign::config_blob(&sig.layers));

    let out = env.run(&["verify", "--key", &public, &image]);
    assert_ok(&out);
    assert!(stdout(&out).contains(&digest.to_string()));

    let out = env.run(&[
        "verify",
        "--key",
        &public,
        "-a",
        "build-version=42",
        "--output",
        "json",
        &image,
    ]);
    assert_ok(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["digest"], digest.to_string());
    assert_eq!(
        v["signatures"][0]["payload"]["optional"]["build-version"],
        "42"
    );
    // Where it was found, as data beside the words.
    assert_eq!(
        v["signatures"][0]["location"],
        serde_json::json!({"scheme": "tag", "artifact": digest.signature_tag(), "layer": 0})
    );

    // By digest too.
    let out = env.run(&[
        "verify",
        "--key",
        &public,
        &format!("{}/{repo}@{digest}", reg.host),
    ]);
    assert_ok(&out);

    // A required annotation that was not signed.
    let out = env.run(&["verify", "--key", &public, "-a", "build-version=43", &image]);
    assert_fails(&out, 1, "annotation build-version is \"42\", not \"43\"");
    let out = env.run(&["verify", "--key", &public, "-a", "team=x", &image]);
    assert_fails(&out, 1, "annotation team=x is missing");
}

#[tokio::test]
async fn second_signature_keeps_the_first_and_resigning_is_idempotent() {
    let reg = Registry::start();
    let env = Env::new();
    let (key_a, pub_a) = env.keypair("a");
    let (key_b, pub_b) = env.keypair("b");
    let repo = unique_repo("multi");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    assert_ok(&env.run(&["sign", "--key", &key_a, &image]));
    assert_ok(&env.run(&["sign", "--key", &key_b, &image]));
    assert_ok(&env.run(&["sign", "--key", &key_a, &image])); // same signature again: no new layer
    let (_, sig) = sig_manifest(&reg.host, &repo, &digest).await;
    assert_eq!(sig.layers.len(), 2);
    assert_ok(&env.run(&["verify", "--key", &pub_a, &image]));
    assert_ok(&env.run(&["verify", "--key", &pub_b, &image]));
    let (_, pub_c) = env.keypair("c");
    let out = env.run(&["verify", "--key", &pub_c, &image]);
    assert_fails(&out, 1, "layer 1: signature does not verify");
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn wrong_key_and_no_signatures_fail_with_exit_1() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, _) = env.keypair("a");
    let (_, other) = env.keypair("b");
    let repo = unique_repo("wrong");
    push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    let out = env.run(&["verify", "--key", &other, &image]);
    assert_fails(&out, 1, "no signatures found");
    assert_ok(&env.run(&["sign", "--key", &key, &image]));
    let out = env.run(&["verify", "--key", &other, &image]);
    assert_fails(
        &out,
        1,
        "signature does not verify with the given public key",
    );
}

/// Rewrite the `.sig` manifest of `digest` with `edit` applied to its layers.
async fn rewrite_sig(
    host: &str,
    repo: &str,
    digest: &imgseal::Digest,
    target: &imgseal::Digest,
    edit: impl FnOnce(&mut Vec<cosign::Descriptor>, &Store) -> Option<Vec<u8>>,
) {
    let (store, sig) = sig_manifest(host, repo, digest).await;
    let mut layers = sig.layers;
    if let Some(new_payload) = edit(&mut layers, &store) {
        store.put_blob(&new_payload).await.unwrap();
    }
    let (m, config) = cosign::signature_manifest(layers);
    store.put_blob(&config).await.unwrap();
    store
        .put_manifest(
            &m.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&target.signature_tag()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn tampered_payload_signature_and_copied_signature_are_refused() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let repo = unique_repo("tamper");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let other = push_image(&reg.host, &repo, "v2").await;
    let image = format!("{}/{repo}:v1", reg.host);
    assert_ok(&env.run(&["sign", "--key", &key, "-a", "env=prod", &image]));

    // Tampered payload: same signature, payload with different annotations.
    let host = reg.host.clone();
    rewrite_sig(&reg.host, &repo, &digest, &digest, |layers, _| {
        let p = format!(r#"{{"critical":{{"identity":{{"docker-reference":"{host}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"env":"dev"}}}}"#);
        layers[0].digest = imgseal::Digest::sha256(p.as_bytes()).to_string();
        layers[0].size = p.len() as u64;
        Some(p.into_bytes())
    })
    .await;
    let out = env.run(&["verify", "--key", &public, &image]);
    assert_fails(&out, 1, "signature does not verify");

    // Tampered signature: keep only the newest (valid) layer and flip a byte of its signature.
    assert_ok(&env.run(&["sign", "--key", &key, "-a", "env=prod", &image]));
    rewrite_sig(&reg.host, &repo, &digest, &digest, |layers, _| {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let last = layers.pop().unwrap();
        layers.clear();
        layers.push(last);
        let s = layers[0]
            .annotations
            .get_mut(cosign::SIGNATURE_ANNOTATION)
            .unwrap();
        let mut raw = b64.decode(s.as_bytes()).unwrap();
        let n = raw.len();
        raw[n - 1] ^= 0x01;
        *s = b64.encode(raw);
        None
    })
    .await;
    let out = env.run(&["verify", "--key", &public, &image]);
    assert_fails(&out, 1, "signature does not verify");

    // A valid signature of v1 copied to v2's signature tag: names another digest.
    assert_ok(&env.run(&["sign", "--key", &key, "--output", "json", &image]));
    rewrite_sig(&reg.host, &repo, &digest, &other, |_, _| None).await;
    let out = env.run(&[
        "verify",
        "--key",
        &public,
        &format!("{}/{repo}:v2", reg.host),
    ]);
    assert_fails(
        &out,
        1,
        &format!("payload names digest {digest}, not this image's {other}"),
    );
}

#[tokio::test]
async fn tag_moved_after_signing_is_refused() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let repo = unique_repo("moved");
    push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    assert_ok(&env.run(&["sign", "--key", &key, &image]));
    assert_ok(&env.run(&["verify", "--key", &public, &image]));
    push_image(&reg.host, &repo, "v1").await; // new content under the same tag
    let out = env.run(&["verify", "--key", &public, &image]);
    assert_fails(&out, 1, "no signatures found");
}

#[tokio::test]
async fn malformed_reference_missing_image_and_unreachable_registry() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let out = env.run(&["verify", "--key", &public, "UPPER/Case:tag"]);
    assert_fails(&out, 2, "invalid image reference");
    let out = env.run(&["sign", "--key", &key, "app@sha256:1234"]);
    assert_fails(&out, 2, "invalid digest");
    let out = env.run(&[
        "verify",
        "--key",
        &public,
        &format!("{}/nothing-here:v1", reg.host),
    ]);
    assert_fails(&out, 2, "not found");
    let repo = unique_repo("x");
    push_image(&reg.host, &repo, "v1").await;
    let out = env.run(&["sign", "--key", &key, &format!("{}/{repo}:nope", reg.host)]);
    assert_fails(&out, 2, "not found");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = env.run(&[
        "verify",
        "--key",
        &public,
        &format!("127.0.0.1:{port}/app:v1"),
    ]);
    assert_fails(&out, 2, "cannot connect");
}

#[tokio::test]
async fn registry_requiring_auth() {
    let reg = Registry::start_with_auth(Some(("ci", "s3cret")));
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let image = format!("{}/secured:v1", reg.host);
    // No credentials configured.
    let out = env.run(&["sign", "--key", &key, &image]);
    assert_fails(&out, 2, "requires credentials");
    // Wrong credentials.
    let auth = |u: &str, p: &str| {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        format!(r#"{{"auths":{{"{}":{{"auth":"{b}"}}}}}}"#, reg.host)
    };
    std::fs::write(env.path("docker/config.json"), auth("ci", "wrong")).unwrap();
    let out = env.run(&["verify", "--key", &public, &image]);
    assert_fails(&out, 2, "refused access");
    // Right credentials: push an image with them, sign, verify.
    std::fs::write(env.path("docker/config.json"), auth("ci", "s3cret")).unwrap();
    std::env::set_var("DOCKER_CONFIG", env.path("docker"));
    push_image(&reg.host, "secured", "v1").await;
    assert_ok(&env.run(&["sign", "--key", &key, &image]));
    assert_ok(&env.run(&["verify", "--key", &public, &image]));
}

#[tokio::test]
async fn key_errors() {
    let reg = Registry::start();
    let env = Env::new();
    let (key, _) = env.keypair("a");
    let repo = unique_repo("keys");
    push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    let out = env
        .cmd(&["sign", "--key", &key, &image])
        .env("IMGSEAL_PASSWORD", "nope")
        .output()
        .unwrap();
    assert_fails(&out, 2, "wrong password");
    std::fs::write(env.path("corrupt.key"), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nbm90IGpzb24=\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n").unwrap();
    let out = env.run(&["sign", "--key", "corrupt.key", &image]);
    assert_fails(&out, 2, "corrupt encrypted key");
    std::fs::write(env.path("garbage.key"), "hello").unwrap();
    let out = env.run(&["sign", "--key", "garbage.key", &image]);
    assert_fails(&out, 2, "not a PEM private key");
    let out = env.run(&["sign", "--key", "missing.key", &image]);
    assert_fails(&out, 2, "missing.key");
    let out = env.run(&["verify", "--key", &key, &image]);
    assert_fails(&out, 2, "expected a PUBLIC KEY");
    // Nothing was signed by any of these.
    let store = Store::open(
        &ImageRef::parse(&image).unwrap(),
        &StoreOptions::default(),
        false,
    )
    .unwrap();
    let m = store
        .get_manifest(&ManifestRef::Tag("v1".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .get_manifest(&ManifestRef::Tag(m.digest.signature_tag()))
        .await
        .unwrap()
        .is_none());
}

// ---------------------------------------------------------------- OCI layout

fn make_layout(dir: &Path, tag: &str, content: &[u8]) -> imgseal::Digest {
    support::layout::image_blocking(dir, tag, content).1
}

#[test]
fn sign_and_verify_in_oci_layout_and_tampering_is_refused() {
    let env = Env::new();
    let (key, public) = env.keypair("a");
    let layout = env.path("img");
    let digest = make_layout(&layout, "v1", b"hello layer");
    let image = format!("oci:{}:v1", layout.display());
    assert_ok(&env.run(&["sign", "--key", &key, &image]));
    assert!(layout.join("blobs/sha256").join(digest.hex()).exists());
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(index.contains(&digest.signature_tag()), "{index}");
    assert_ok(&env.run(&["verify", "--key", &public, &image]));
    assert_ok(&env.run(&[
        "verify",
        "--key",
        &public,
        "--oci-layout",
        &layout.display().to_string(),
        "v1",
    ]));

    // Retag v1 to different content: no signature for it.
    let store = Store::open(
        &ImageRef::parse(&image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(push_image_to(&store, "v1", b"evil layer"));
    let out = env.run(&["verify", "--key", &public, &image]);
    assert_fails(&out, 1, "no signatures found");

    // Manifest bytes edited in place: they no longer hash to their digest.
    let digest2 = make_layout(&env.path("img2"), "v1", b"x");
    let image2 = format!("oci:{}:v1", env.path("img2").display());
    assert_ok(&env.run(&["sign", "--key", &key, &image2]));
    let blob = env.path("img2").join("blobs/sha256").join(digest2.hex());
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes.push(b' ');
    std::fs::write(&blob, bytes).unwrap();
    let out = env.run(&["verify", "--key", &public, &image2]);
    assert_fails(&out, 1, "content does not match its digest");

    // Not a layout at all.
    let out = env.run(&[
        "verify",
        "--key",
        &public,
        &format!("oci:{}", env.path("nope").display()),
    ]);
    assert_fails(&out, 2, "not an OCI image layout");
}
