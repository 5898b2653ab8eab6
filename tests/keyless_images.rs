//! Keyless and key+Rekor cosign `.sig` signatures, verified offline through the real `imgseal`
//! binary against images served by a real registry.
//!
//! The images are containers/image's fixtures (../shared/interop/keyless/containers-container-libs,
//! see its README.txt): each directory's `manifest.json` (the signed manifest, byte for byte)
//! and `signature-N` files (one `.sig` layer each: media type, payload, annotations). They are
//! served under their own repository names (`cosign-signed/fulcio-rekor-1`, …) by a
//! `docker-registry` on loopback; the payloads name their original registry
//! (`192.168.64.2:5000`), so verification says which repository the signatures were made in
//! with `--identity`, as for any copy.
//!
//! The fixtures' manifests reference layers and configs that are not shipped, and
//! distribution refuses to accept a manifest whose blobs it lacks; so [`serve_manifest`] writes
//! the exact manifest bytes into the registry's storage the way distribution itself stores
//! them (a blob plus revision and tag links), and the registry then serves them like any other.
//! Everything else (the `.sig` manifest, its config and payload blobs) is pushed through the
//! registry API.
//!
//! The bad-input cases use the real material edited one field at a time, or a private Sigstore
//! deployment built here (its own Fulcio CA, Rekor key and SETs) where the change must keep
//! every other signature valid.

mod support;

use support::cli::*;
use support::registry::Registry;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use imgseal::formats::cosign::{self, Descriptor};
use imgseal::oci::OCI_MANIFEST;
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::Digest;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository the keyless fixture was signed in.
const FULCIO_REPO: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
/// The identity and issuer of its certificate.
const FULCIO_EMAIL: &str = "mitr@redhat.com";
const FULCIO_ISSUER: &str = "https://github.com/login/oauth";
/// The repository the key+Rekor fixture was signed in.
const KEY_REKOR_REPO: &str = "192.168.64.2:5000/cosign-signed/key-1";

/// `../shared/interop/keyless`, or `None` (a failure under CI).
fn keyless() -> Option<PathBuf> {
    support::interop::set("keyless")
}

fn containers(root: &Path) -> PathBuf {
    root.join("containers-container-libs")
}

fn production(root: &Path) -> PathBuf {
    root.join("trust-roots/public-good-production.trusted_root.json")
}

/// One `.sig` layer of a fixture (`signature-N`: `\0sigstore-json\n` + JSON).
#[derive(Clone)]
struct SigLayer {
    media_type: String,
    payload: Vec<u8>,
    annotations: BTreeMap<String, String>,
}

impl SigLayer {
    fn read(path: &Path) -> SigLayer {
        let bytes = std::fs::read(path).unwrap();
        let json = bytes
            .strip_prefix(b"\x00sigstore-json\n".as_slice())
            .unwrap_or_else(|| panic!("{}: not a sigstore-json signature", path.display()));
        let v: Value = serde_json::from_slice(json).unwrap();
        SigLayer {
            media_type: v["mimeType"].as_str().unwrap().to_string(),
            payload: B64.decode(v["payload"].as_str().unwrap()).unwrap(),
            annotations: v["annotations"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
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

    fn without(mut self, annotation: &str) -> SigLayer {
        assert!(
            self.annotations.remove(annotation).is_some(),
            "{annotation}"
        );
        self
    }

    fn with(mut self, annotation: &str, value: &str) -> SigLayer {
        self.annotations
            .insert(annotation.to_string(), value.to_string());
        self
    }
}

/// Write `bytes` (an image manifest) into `reg`'s storage as `repo:tag`, as distribution stores
/// a pushed manifest: the blob, its revision link and the tag's current and index links.
fn serve_manifest(reg: &Registry, repo: &str, tag: &str, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256(bytes);
    let hex = digest.to_string().trim_start_matches("sha256:").to_string();
    let v2 = reg.dir.path().join("data/docker/registry/v2");
    let blob = v2.join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    std::fs::create_dir_all(&blob).unwrap();
    std::fs::write(blob.join("data"), bytes).unwrap();
    let manifests = v2.join(format!("repositories/{repo}/_manifests"));
    for link in [
        format!("revisions/sha256/{hex}"),
        format!("tags/{tag}/current"),
        format!("tags/{tag}/index/sha256/{hex}"),
    ] {
        let dir = manifests.join(link);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("link"), digest.to_string()).unwrap();
    }
    digest
}

/// Push a `.sig` manifest holding `layers` for `digest` to `host/repo` through the API.
async fn push_signatures(host: &str, repo: &str, digest: &Digest, layers: &[SigLayer]) {
    let image = ImageRef::parse(&format!("{host}/{repo}@{digest}")).unwrap();
    let store = Store::open(&image, &StoreOptions::default(), true).unwrap();
    for l in layers {
        store.put_blob(&l.payload).await.unwrap();
    }
    let (manifest, config) =
        cosign::signature_manifest(layers.iter().map(SigLayer::descriptor).collect());
    store.put_blob(&config).await.unwrap();
    store
        .put_manifest(
            &manifest.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&digest.signature_tag()),
        )
        .await
        .unwrap();
}

/// A registry serving fixture `name`'s manifest at `repo:v1` with `layers` at its `.sig` tag;
/// returns the registry and `host/repo@digest`.
fn serve(root: &Path, name: &str, repo: &str, layers: &[SigLayer]) -> (Registry, String) {
    let reg = Registry::start();
    let manifest = std::fs::read(containers(root).join(name).join("manifest.json")).unwrap();
    let digest = serve_manifest(&reg, repo, "v1", &manifest);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(push_signatures(&reg.host, repo, &digest, layers));
    let image = format!("{}/{repo}@{digest}", reg.host);
    (reg, image)
}

fn layer(root: &Path, name: &str) -> SigLayer {
    SigLayer::read(&containers(root).join(name).join("signature-1"))
}

/// `imgseal verify ARGS… IMAGE` in a scratch directory.
fn verify(args: &[&str], image: &str) -> Output {
    let cli = Cli::new();
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.push(image);
    cli.run(&all)
}

/// The flags naming the keyless fixture's signer.
fn fulcio_flags(trusted_root: &str) -> Vec<String> {
    [
        "--trusted-root",
        trusted_root,
        "--certificate-identity",
        FULCIO_EMAIL,
        "--certificate-oidc-issuer",
        FULCIO_ISSUER,
        "--identity",
        FULCIO_REPO,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------- the registry harness

#[test]
fn fixture_manifests_are_served_byte_for_byte() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve(
        &root,
        "dir-img-cosign-valid",
        "cosign-signed-single-sample",
        &[layer(&root, "dir-img-cosign-valid")],
    );
    // The digest containers/image's payload names, so the bytes are the fixture's.
    assert!(
        image.ends_with("@sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"),
        "{image}"
    );
    let key = arg(&containers(&root).join("cosign.pub"));
    let out = verify(
        &[
            "--key",
            &key,
            "--identity",
            "192.168.64.2:5000/cosign-signed-single-sample",
        ],
        &image,
    );
    assert_ok(&out);
    // Without --identity the payload names another repository: refused.
    let out = verify(&["--key", &key], &image);
    assert_fails_one(&out, 1, "payload names repository");
}

// ---------------------------------------------------------------- key + Rekor

#[test]
fn key_and_rekor_signature_verifies_its_set_with_a_trusted_root() {
    let Some(root) = keyless() else { return };
    let sig = layer(&root, "dir-img-cosign-key-rekor-valid");
    let (_reg, image) = serve(
        &root,
        "dir-img-cosign-key-rekor-valid",
        "cosign-signed/key-1",
        std::slice::from_ref(&sig),
    );
    let key = arg(&containers(&root).join("cosign2.pub"));
    let trusted = arg(&production(&root));
    let base = ["--key", &key, "--identity", KEY_REKOR_REPO];
    // Without a trusted root: a key signature, as before.
    assert_ok(&verify(&base, &image));
    // With one: the SET and the entry body are verified, and said so.
    let mut with_root = base.to_vec();
    with_root.extend(["--trusted-root", &trusted, "-o", "json"]);
    let out = verify(&with_root, &image);
    assert_ok(&out);
    let v = json(&out);
    let tlog = &v["signatures"][0]["tlog"];
    assert_eq!(tlog["baseUrl"], "https://rekor.sigstore.dev", "{v}");
    assert_eq!(tlog["integratedTime"], "2023-01-20T21:57:39Z", "{v}");
    assert!(tlog["logIndex"].as_i64().is_some(), "{v}");
    // The wrong key: refused before the log is looked at.
    let other = arg(&containers(&root).join("cosign.pub"));
    let out = verify(
        &[
            "--key",
            &other,
            "--identity",
            KEY_REKOR_REPO,
            "--trusted-root",
            &trusted,
        ],
        &image,
    );
    assert_fails_one(
        &out,
        1,
        "signature does not verify with the given public key",
    );
}

#[test]
fn key_signature_without_its_rekor_bundle_is_refused_with_a_trusted_root() {
    let Some(root) = keyless() else { return };
    let sig = layer(&root, "dir-img-cosign-key-rekor-valid").without(cosign::BUNDLE_ANNOTATION);
    let (_reg, image) = serve(
        &root,
        "dir-img-cosign-key-rekor-valid",
        "cosign-signed/key-1",
        &[sig],
    );
    let key = arg(&containers(&root).join("cosign2.pub"));
    let trusted = arg(&production(&root));
    let out = verify(
        &[
            "--key",
            &key,
            "--identity",
            KEY_REKOR_REPO,
            "--trusted-root",
            &trusted,
        ],
        &image,
    );
    assert_fails_one(&out, 1, "carries no Rekor bundle");
    // The same signature without a trusted root is a key signature.
    assert_ok(&verify(
        &["--key", &key, "--identity", KEY_REKOR_REPO],
        &image,
    ));
}

#[test]
fn key_signature_with_a_bundle_for_another_artifact_is_refused() {
    // The keyless fixture's bundle is a valid SET, but for another signature and certificate.
    let Some(root) = keyless() else { return };
    let other = layer(&root, "dir-img-cosign-fulcio-rekor-valid");
    let sig = layer(&root, "dir-img-cosign-key-rekor-valid").with(
        cosign::BUNDLE_ANNOTATION,
        &other.annotations[cosign::BUNDLE_ANNOTATION],
    );
    let (_reg, image) = serve(
        &root,
        "dir-img-cosign-key-rekor-valid",
        "cosign-signed/key-1",
        &[sig],
    );
    let key = arg(&containers(&root).join("cosign2.pub"));
    let trusted = arg(&production(&root));
    let out = verify(
        &[
            "--key",
            &key,
            "--identity",
            KEY_REKOR_REPO,
            "--trusted-root",
            &trusted,
        ],
        &image,
    );
    assert_fails_one(
        &out,
        1,
        "transparency log entry body: the logged artifact digest is not the artifact's",
    );
}

// ---------------------------------------------------------------- keyless (Fulcio + Rekor)

fn serve_fulcio(root: &Path, sig: SigLayer) -> (Registry, String) {
    serve(
        root,
        "dir-img-cosign-fulcio-rekor-valid",
        "cosign-signed/fulcio-rekor-1",
        &[sig],
    )
}

#[test]
fn keyless_signature_verifies_for_its_identity_and_names_what_was_checked() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let trusted = arg(&production(&root));
    let flags = fulcio_flags(&trusted);
    let out = verify(&strs(&flags), &image);
    assert_ok(&out);
    let err = stderr(&out);
    for needle in [
        "cosign keyless",
        "identity: mitr@redhat.com (issuer https://github.com/login/oauth)",
        "transparency log: https://rekor.sigstore.dev (log ID c0d23d6a",
        "index 11605770, integrated 2023-01-20T20:51:33Z",
        "certificate: Fulcio CA https://fulcio.sigstore.dev",
        "SCT: CT log ",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let mut json_flags = flags.clone();
    json_flags.extend(["-o".to_string(), "json".to_string()]);
    let out = verify(&strs(&json_flags), &image);
    assert_ok(&out);
    let v = json(&out);
    let s = &v["signatures"][0];
    assert_eq!(s["verified"], true, "{v}");
    assert_eq!(
        s["certificate"]["subjectAlternativeName"], FULCIO_EMAIL,
        "{v}"
    );
    assert_eq!(s["certificate"]["issuer"], FULCIO_ISSUER, "{v}");
    assert_eq!(s["certificate"]["checkedAt"], "2023-01-20T20:51:33Z", "{v}");
    assert!(s["certificate"]["ctLogId"].as_str().is_some(), "{v}");
    assert!(s["certificate"]["fulcioCaSubject"]
        .as_str()
        .unwrap()
        .contains("sigstore"));
    assert_eq!(s["tlog"]["logIndex"], 11605770, "{v}");
    assert_eq!(s["tlog"]["entryKind"], "hashedrekord 0.0.1", "{v}");
    // Existing fields unchanged.
    assert!(
        s["signedBy"].as_str().unwrap().contains(FULCIO_EMAIL),
        "{v}"
    );
    assert!(
        s["signerKey"].as_str().unwrap().starts_with("sha256:"),
        "{v}"
    );
}

#[test]
fn keyless_identities_must_match_exactly_or_as_a_whole_regexp() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let trusted = arg(&production(&root));
    let run = |id: [&str; 2], issuer: [&str; 2]| {
        verify(
            &[
                "--trusted-root",
                &trusted,
                id[0],
                id[1],
                issuer[0],
                issuer[1],
                "--identity",
                FULCIO_REPO,
            ],
            &image,
        )
    };
    let issuer = ["--certificate-oidc-issuer", FULCIO_ISSUER];
    assert_ok(&run(
        ["--certificate-identity-regexp", r".*@redhat\.com"],
        issuer,
    ));
    assert_ok(&run(
        ["--certificate-identity", FULCIO_EMAIL],
        [
            "--certificate-oidc-issuer-regexp",
            r"https://github\.com/.*",
        ],
    ));
    // A regexp that matches only part of the SAN (or the issuer) does not count.
    let out = run(["--certificate-identity-regexp", "redhat"], issuer);
    assert_fails_one(&out, 1, "certificate identity");
    let out = run(
        ["--certificate-identity", FULCIO_EMAIL],
        ["--certificate-oidc-issuer-regexp", "github"],
    );
    assert_fails_one(&out, 1, "certificate identity");
    // Another identity or issuer.
    let out = run(
        ["--certificate-identity", "this-does-not-match@example.com"],
        issuer,
    );
    assert_fails_one(&out, 1, "certificate identity");
    let out = run(
        ["--certificate-identity", FULCIO_EMAIL],
        ["--certificate-oidc-issuer", "https://accounts.google.com"],
    );
    assert_fails_one(&out, 1, "certificate identity");
    // A GitHub workflow field the certificate does not have.
    let out = verify(
        &[
            "--trusted-root",
            &trusted,
            "--certificate-identity",
            FULCIO_EMAIL,
            "--certificate-oidc-issuer",
            FULCIO_ISSUER,
            "--certificate-github-workflow-repository",
            "containers/image",
            "--identity",
            FULCIO_REPO,
        ],
        &image,
    );
    assert_fails_one(&out, 1, "github workflow repository");
}

#[test]
fn keyless_needs_an_identity_and_an_issuer() {
    let Some(root) = keyless() else { return };
    let trusted = arg(&production(&root));
    let image =
        "127.0.0.1:9/none@sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a";
    let out = verify(&["--trusted-root", &trusted], image);
    assert_fails(
        &out,
        2,
        &[
            "--certificate-identity",
            "--certificate-oidc-issuer",
            "no any-identity default",
        ],
    );
    let out = verify(
        &[
            "--trusted-root",
            &trusted,
            "--certificate-identity",
            FULCIO_EMAIL,
        ],
        image,
    );
    assert_fails(
        &out,
        2,
        &["--certificate-oidc-issuer or --certificate-oidc-issuer-regexp"],
    );
    let out = verify(
        &[
            "--trusted-root",
            &trusted,
            "--certificate-oidc-issuer",
            FULCIO_ISSUER,
        ],
        image,
    );
    assert_fails(
        &out,
        2,
        &["--certificate-identity or --certificate-identity-regexp"],
    );
    // Keyless flags without a trusted root, a bad regexp, and the policy conflict.
    let out = verify(&["--certificate-oidc-issuer", FULCIO_ISSUER], image);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = verify(
        &[
            "--trusted-root",
            &trusted,
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            FULCIO_ISSUER,
        ],
        image,
    );
    assert_fails(
        &out,
        2,
        &[
            "--certificate-identity-regexp",
            "invalid regular expression",
        ],
    );
    let policy = Cli::new();
    std::fs::write(policy.path("p.yaml"), "version: 1\ndefaultAction: allow\n").unwrap();
    let p = arg(&policy.path("p.yaml"));
    let out = verify(&["--policy", &p, "--trusted-root", &trusted], image);
    assert_fails(
        &out,
        2,
        &[
            "--trusted-root cannot be combined with --policy",
            "keyless:",
        ],
    );
}

#[test]
fn keyless_signature_with_only_a_key_says_what_it_needs() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let key = arg(&containers(&root).join("cosign.pub"));
    let out = verify(&["--key", &key, "--identity", FULCIO_REPO], &image);
    assert_fails_one(&out, 1, "the signature is keyless");
}

#[test]
fn keyless_signature_without_its_evidence_is_refused() {
    let Some(root) = keyless() else { return };
    let trusted = arg(&production(&root));
    let flags = fulcio_flags(&trusted);
    let valid = layer(&root, "dir-img-cosign-fulcio-rekor-valid");
    for (sig, why) in [
        (
            valid.clone().without(cosign::BUNDLE_ANNOTATION),
            "carries no Rekor bundle",
        ),
        (
            valid.clone().without(cosign::CERTIFICATE_ANNOTATION),
            "no given key or certificate root applies",
        ),
        (
            valid.clone().with(
                cosign::BUNDLE_ANNOTATION,
                &valid.annotations[cosign::BUNDLE_ANNOTATION].replace(
                    "\"SignedEntryTimestamp\":\"MEUCIQ",
                    "\"SignedEntryTimestamp\":\"MEUCIR",
                ),
            ),
            "transparency log inclusion promise: signature does not verify",
        ),
        (
            valid.clone().with(cosign::BUNDLE_ANNOTATION, "garbage"),
            "Rekor bundle annotation: not JSON",
        ),
    ] {
        let (_reg, image) = serve_fulcio(&root, sig);
        let out = verify(&strs(&flags), &image);
        assert_fails_one(&out, 1, why);
    }
    // Without the chain annotation: the trusted root's Fulcio CA holds the intermediate.
    let (_reg, image) = serve_fulcio(&root, valid.without(cosign::CHAIN_ANNOTATION));
    assert_ok(&verify(&strs(&flags), &image));
}

#[test]
fn keyless_signature_with_a_rekor_entry_for_another_artifact_is_refused() {
    // GHSA-whqx-f9j3-ch6m: the key+Rekor fixture's bundle is a valid SET from the same log,
    // for another signature, key and payload.
    let Some(root) = keyless() else { return };
    let other = layer(&root, "dir-img-cosign-key-rekor-valid");
    let sig = layer(&root, "dir-img-cosign-fulcio-rekor-valid").with(
        cosign::BUNDLE_ANNOTATION,
        &other.annotations[cosign::BUNDLE_ANNOTATION],
    );
    let (_reg, image) = serve_fulcio(&root, sig);
    let out = verify(&strs(&fulcio_flags(&arg(&production(&root)))), &image);
    assert_fails_one(&out, 1, "transparency log entry body");
}

/// The production root with its CT logs replaced by the staging root's.
fn root_with_other_ct_logs(root: &Path, out: &Path) {
    let mut prod: Value =
        serde_json::from_slice(&std::fs::read(production(root)).unwrap()).unwrap();
    let staging: Value = serde_json::from_slice(
        &std::fs::read(root.join("trust-roots/staging.trusted_root.json")).unwrap(),
    )
    .unwrap();
    prod["ctlogs"] = staging["ctlogs"].clone();
    std::fs::write(out, serde_json::to_vec(&prod).unwrap()).unwrap();
}

#[test]
fn keyless_sct_from_an_unknown_ct_log_is_refused() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let scratch = Cli::new();
    let other = scratch.path("other-ct.json");
    root_with_other_ct_logs(&root, &other);
    let flags = fulcio_flags(&arg(&other));
    let out = verify(&strs(&flags), &image);
    assert_fails_one(&out, 1, "keyless certificate SCT");
    // The one flag that waives it.
    let mut ignore = flags.clone();
    ignore.push("--insecure-ignore-sct".into());
    let out = verify(&strs(&ignore), &image);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("SCT: not checked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn production_signature_against_the_staging_root_is_refused() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let staging = arg(&root.join("trust-roots/staging.trusted_root.json"));
    let out = verify(&strs(&fulcio_flags(&staging)), &image);
    assert_fails_one(
        &out,
        1,
        "transparency log: trusted root: no transparency log with log ID",
    );
}

// ---------------------------------------------------------------- a private deployment

/// A private Sigstore deployment: a Fulcio root CA, a Rekor key, and a trusted root naming
/// them (no CT log: these tests pass --insecure-ignore-sct).
struct Deployment {
    fulcio: support::pki::Node,
    rekor: imgseal::SigningKey,
    root_file: PathBuf,
    _dir: Cli,
}

const PRIVATE_ISSUER: &str = "https://issuer.example";
const PRIVATE_EMAIL: &str = "builder@example.com";

impl Deployment {
    fn new() -> Deployment {
        use support::pki::*;
        let dir = Cli::new();
        let mut ca = ca_params("private fulcio", None);
        ca.not_before = time::OffsetDateTime::now_utc() - days(30);
        let fulcio = issue(ca, None);
        let rekor = imgseal::SigningKey::generate().unwrap();
        let start = std::time::SystemTime::now() - std::time::Duration::from_secs(30 * 86_400);
        let root = imgseal::trust::sigstore_root::TrustedRoot::builder()
            .fulcio_pem("https://fulcio.example", fulcio.pem().as_bytes())
            .rekor_key_pem(
                "https://rekor.example",
                rekor.public_key().to_pem().as_bytes(),
                start,
                None,
            )
            .build()
            .unwrap();
        let root_file = dir.path("private.trusted_root.json");
        std::fs::write(&root_file, root.to_json()).unwrap();
        Deployment {
            fulcio,
            rekor,
            root_file,
            _dir: dir,
        }
    }

    /// A `.sig` layer for `payload`: signed by a fresh key in a ten-minute Fulcio-style
    /// certificate from `issued` (Unix seconds), logged with integrated time `integrated`.
    fn sign(&self, payload: &[u8], issued: i64, integrated: i64) -> SigLayer {
        use support::pki::*;
        let key = imgseal::SigningKey::generate().unwrap();
        let mut p = leaf_params("");
        p.distinguished_name = DistinguishedName::new();
        p.subject_alt_names = vec![SanType::Rfc822Name(PRIVATE_EMAIL.try_into().unwrap())];
        p.not_before = time::OffsetDateTime::from_unix_timestamp(issued).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(issued + 600).unwrap();
        // Fulcio's OIDC issuer extension (1.3.6.1.4.1.57264.1.8): a DER UTF8String.
        let mut issuer = vec![0x0c, PRIVATE_ISSUER.len() as u8];
        issuer.extend_from_slice(PRIVATE_ISSUER.as_bytes());
        p.custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
                issuer,
            ));
        let leaf = issue_with_key(p, rcgen_key(&key), Some(&self.fulcio));
        let signature = key.sign(payload);
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256",
                    "value": Digest::sha256(payload).to_string().trim_start_matches("sha256:")}},
                "signature": {"content": B64.encode(&signature),
                    "publicKey": {"content": B64.encode(leaf.pem())}}
            }
        })
        .to_string();
        let log_id = {
            use sha2::Digest as _;
            let der = pem::parse(self.rekor.public_key().to_pem()).unwrap();
            sha2::Sha256::digest(der.contents()).to_vec()
        };
        let promise = imgseal::trust::tlog::inclusion_promise_payload(
            body.as_bytes(),
            integrated,
            &log_id,
            7,
        );
        let bundle = serde_json::json!({
            "SignedEntryTimestamp": B64.encode(self.rekor.sign(&promise)),
            "Payload": {"body": B64.encode(body.as_bytes()), "integratedTime": integrated,
                "logIndex": 7, "logID": hex::encode(&log_id)}
        })
        .to_string();
        let mut annotations = BTreeMap::new();
        annotations.insert(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            B64.encode(&signature),
        );
        annotations.insert(cosign::CERTIFICATE_ANNOTATION.to_string(), leaf.pem());
        annotations.insert(cosign::BUNDLE_ANNOTATION.to_string(), bundle);
        SigLayer {
            media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            payload: payload.to_vec(),
            annotations,
        }
    }

    fn flags(&self) -> Vec<String> {
        [
            "--trusted-root",
            &arg(&self.root_file),
            "--insecure-ignore-sct",
            "--certificate-identity",
            PRIVATE_EMAIL,
            "--certificate-oidc-issuer",
            PRIVATE_ISSUER,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// A registry with a small image and `sign(payload)`'s layer at its `.sig` tag.
fn serve_private(sign: impl FnOnce(&[u8]) -> SigLayer) -> (Registry, String) {
    let reg = Registry::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let repo = "private/app";
    let digest = rt.block_on(support::registry::push_image(&reg.host, repo, "v1"));
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        reg.host
    );
    let layer = sign(payload.as_bytes());
    rt.block_on(push_signatures(&reg.host, repo, &digest, &[layer]));
    let image = format!("{}/{repo}@{digest}", reg.host);
    (reg, image)
}

#[test]
fn certificate_valid_but_not_at_the_integrated_time_is_refused() {
    let d = Deployment::new();
    let issued = (std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Logged a minute after issuance: accepted (the certificate expired long ago, but it was
    // valid when the log saw the signature).
    let (_r1, good) = serve_private(|p| d.sign(p, issued, issued + 60));
    assert_ok(&verify(&strs(&d.flags()), &good));
    // Logged an hour after issuance (the certificate had expired): refused.
    let (_r2, late) = serve_private(|p| d.sign(p, issued, issued + 3600));
    assert_fails_one(
        &verify(&strs(&d.flags()), &late),
        1,
        "keyless certificate chain (at ",
    );
    // Logged before issuance: refused too.
    let (_r3, early) = serve_private(|p| d.sign(p, issued, issued - 60));
    assert_fails_one(
        &verify(&strs(&d.flags()), &early),
        1,
        "keyless certificate chain (at ",
    );
}

// ---------------------------------------------------------------- policy `keyless` authorities

/// docs/policy.md's keyless example policy, for registry `host`, written beside the production
/// trusted root in `cli`'s directory.
fn docs_keyless_policy(root: &Path, cli: &Cli, host: &str) -> PathBuf {
    let md = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
        .unwrap();
    let section = &md[md.find("## Keyless authorities").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").unwrap()];
    std::fs::copy(production(root), cli.path("trusted_root.json")).unwrap();
    let path = cli.path("keyless-policy.yaml");
    std::fs::write(
        &path,
        yaml.replace("registry.example/", &format!("{host}/")),
    )
    .unwrap();
    path
}

#[test]
fn the_documented_keyless_policy_admits_the_keyless_image() {
    let Some(root) = keyless() else { return };
    let (reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let cli = Cli::new();
    let policy = docs_keyless_policy(&root, &cli, &reg.host);
    let p = arg(&policy);
    assert_ok(&cli.run(&["policy", "validate", &p]));
    let out = cli.run(&["verify", "--policy", &p, "--identity", FULCIO_REPO, &image]);
    assert_ok(&out);
    // Another signer only: denied, naming the identity check.
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("subject: mitr@redhat.com", "subject: someone@redhat.com");
    std::fs::write(&policy, text).unwrap();
    let out = cli.run(&["verify", "--policy", &p, "--identity", FULCIO_REPO, &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("certificate identity"), "{all}");
    // allOf with a key authority the image lacks: denied; anyOf with it: admitted.
    let key = containers(&root).join("cosign.pub");
    std::fs::copy(&key, cli.path("cosign.pub")).unwrap();
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("subject: someone@redhat.com", "subject: mitr@redhat.com")
        .replace(
            "authorities:\n",
            "authorities:\n  release: { key: cosign.pub }\n",
        );
    for (req, code) in [
        ("allOf: [redhat-ci, release]", 1),
        ("anyOf: [release, redhat-ci]", 0),
    ] {
        std::fs::write(&policy, text.replace("anyOf: [redhat-ci]", req)).unwrap();
        let out = cli.run(&["verify", "--policy", &p, "--identity", FULCIO_REPO, &image]);
        assert_eq!(out.status.code(), Some(code), "{req}: {}", stderr(&out));
    }
}

#[test]
fn keyless_authorities_that_cannot_be_used_are_refused_at_load() {
    let Some(root) = keyless() else { return };
    let cli = Cli::new();
    std::fs::copy(production(&root), cli.path("trusted_root.json")).unwrap();
    let id = "{issuer: https://github.com/login/oauth, subject: mitr@redhat.com}";
    for (authority, why) in [
        (
            format!("{{keyless: {{trustedRoot: trusted_root.json, identities: [{id}], requireSct: true}}}}"),
            "unknown field `requireSct`",
        ),
        (
            "{keyless: {trustedRoot: trusted_root.json, identities: [{issuer: a, subject: b, subjectRegexp: c}]}}".to_string(),
            "unknown field `subjectRegexp`",
        ),
        (
            "{keyless: {trustedRoot: trusted_root.json, identities: []}}".to_string(),
            "keyless.identities is empty",
        ),
        (
            "{keyless: {trustedRoot: trusted_root.json, identities: [{issuer: a, issuerRegExp: a, subject: b}]}}".to_string(),
            "keyless.identities[0].give one of issuer and issuerRegExp, not both",
        ),
        (
            "{keyless: {trustedRoot: trusted_root.json, identities: [{issuer: a}]}}".to_string(),
            "keyless.identities[0].subject or subjectRegExp is required",
        ),
        (
            "{keyless: {trustedRoot: trusted_root.json, identities: [{issuer: a, subjectRegExp: '('}]}}".to_string(),
            "subjectRegExp",
        ),
        (
            format!("{{key: cosign.pub, keyless: {{trustedRoot: trusted_root.json, identities: [{id}]}}}}"),
            "give exactly one of key, certificateRoots",
        ),
        (
            format!("{{identity: x, keyless: {{trustedRoot: trusted_root.json, identities: [{id}]}}}}"),
            "give exactly one of key, certificateRoots",
        ),
        (
            format!("{{keyless: {{trustedRoot: missing.json, identities: [{id}]}}}}"),
            "missing.json",
        ),
        (
            format!("{{keyless: {{identities: [{id}]}}}}"),
            "missing field `trustedRoot`",
        ),
    ] {
        let policy = cli.path("p.yaml");
        std::fs::write(
            &policy,
            format!("version: 1\ndefaultAction: reject\nauthorities:\n  ci: {authority}\nrules:\n  - name: a\n    images: ['**']\n    authorities: {{anyOf: [ci]}}\n"),
        )
        .unwrap();
        let out = cli.run(&["policy", "validate", &arg(&policy)]);
        assert_eq!(out.status.code(), Some(2), "{authority}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{authority}: {why:?} not in {}", stderr(&out));
    }
}

#[test]
fn output_cosign_adds_the_keyless_certificates_identity_as_cosign_does() {
    let Some(root) = keyless() else { return };
    let (_reg, image) = serve_fulcio(&root, layer(&root, "dir-img-cosign-fulcio-rekor-valid"));
    let mut flags = fulcio_flags(&arg(&production(&root)));
    flags.extend(["-o".to_string(), "cosign".to_string()]);
    let out = verify(&strs(&flags), &image);
    assert_ok(&out);
    let text = stdout(&out);
    let line = text.lines().find(|l| !l.is_empty()).expect("an array");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let p = &v[0];
    assert_eq!(
        p["critical"]["identity"]["docker-reference"], FULCIO_REPO,
        "{v}"
    );
    assert_eq!(p["optional"]["Subject"], FULCIO_EMAIL, "{v}");
    assert_eq!(p["optional"]["Issuer"], FULCIO_ISSUER, "{v}");
    assert_eq!(p["optional"]["1.3.6.1.4.1.57264.1.1"], FULCIO_ISSUER, "{v}");
}
