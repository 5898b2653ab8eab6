//! Benchmark (issue 10): keyless verification of one image on the loopback registry next to
//! key-based verification with the same number of registry requests. Target: within 2 ms of
//! key-based verification (the extra work is a few signature checks: certificate chain, SCT,
//! Rekor SET).
//!
//! The images are containers/image's real fixtures (../shared/interop/keyless/
//! containers-container-libs): `dir-img-cosign-fulcio-rekor-valid` (Fulcio certificate + Rekor
//! bundle, verified against the pinned production trusted root) and
//! `dir-img-cosign-key-rekor-valid` (signed with `cosign2.pub`). Each is served from Debian's
//! docker-registry the way tests/keyless_images.rs serves them (manifest written into the
//! registry's storage byte for byte, `.sig` pushed through the API). A fresh `Verifier` per
//! round, like one CLI run, after one warm-up round.
//!
//! `cargo bench --bench keyless`

#[path = "../tests/support/registry.rs"]
mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::Registry;
use imgseal::formats::cosign::{self, Descriptor};
use imgseal::oci::OCI_MANIFEST;
use imgseal::store::{Store, StoreOptions};
use imgseal::trust::keyless::CertificateIdentity;
use imgseal::trust::signed_identity::SignedIdentity;
use imgseal::verify::KeylessTrust;
use imgseal::{Digest, ImageRef, PublicKey, Verifier};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROUNDS: u32 = 50;

fn interop() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop/keyless");
    assert!(p.is_dir(), "{} is missing", p.display());
    p
}

/// Serve fixture `name` at `repo:v1` (manifest into storage, `.sig` through the API).
async fn serve(reg: &Registry, name: &str, repo: &str) -> String {
    let dir = interop().join("containers-container-libs").join(name);
    let manifest = std::fs::read(dir.join("manifest.json")).expect("manifest.json");
    let digest = Digest::sha256(&manifest);
    let hex = digest.to_string().trim_start_matches("sha256:").to_string();
    let v2 = reg.dir.path().join("data/docker/registry/v2");
    let blob = v2.join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    std::fs::create_dir_all(&blob).unwrap();
    std::fs::write(blob.join("data"), &manifest).unwrap();
    let links = v2.join(format!("repositories/{repo}/_manifests"));
    for link in [
        format!("revisions/sha256/{hex}"),
        "tags/v1/current".to_string(),
        format!("tags/v1/index/sha256/{hex}"),
    ] {
        std::fs::create_dir_all(links.join(&link)).unwrap();
        std::fs::write(links.join(&link).join("link"), digest.to_string()).unwrap();
    }
    let raw = std::fs::read(dir.join("signature-1")).expect("signature-1");
    let v: serde_json::Value =
        serde_json::from_slice(raw.strip_prefix(b"\x00sigstore-json\n".as_slice()).unwrap())
            .unwrap();
    let payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
    let annotations: BTreeMap<String, String> = v["annotations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let image = format!("{}/{repo}@{digest}", reg.host);
    let store = Store::open(
        &ImageRef::parse(&image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    store.put_blob(&payload).await.unwrap();
    let (m, config) = cosign::signature_manifest(vec![Descriptor {
        media_type: v["mimeType"].as_str().unwrap().to_string(),
        size: payload.len() as u64,
        digest: Digest::sha256(&payload).to_string(),
        annotations,
        ..Descriptor::default()
    }]);
    store.put_blob(&config).await.unwrap();
    store
        .put_manifest(
            &m.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&digest.signature_tag()),
        )
        .await
        .unwrap();
    image
}

/// Mean wall time of one verification; `cold` forgets the process-wide memo of verified
/// certificate signatures before each round (a first verification in a fresh process), else
/// the rounds re-verify with it warm (a long-running webhook admitting the image again).
async fn time(make: impl Fn() -> Verifier, image: &ImageRef, cold: bool) -> (Duration, u64) {
    let none = BTreeMap::new();
    let warm = make().verify(image, &none).await.expect("verify");
    assert!(warm.verified, "{}", warm.failure_summary());
    let mut total = Duration::ZERO;
    for _ in 0..ROUNDS {
        if cold {
            imgseal::crypto::verified::forget_all();
        }
        let t = Instant::now();
        let v = make().verify(image, &none).await.expect("verify");
        total += t.elapsed();
        assert!(v.verified);
    }
    (total / ROUNDS, warm.requests)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let reg = Registry::start();
    let root = interop();
    let (keyless_image, key_image) = rt.block_on(async {
        (
            serve(
                &reg,
                "dir-img-cosign-fulcio-rekor-valid",
                "cosign-signed/fulcio-rekor-1",
            )
            .await,
            serve(
                &reg,
                "dir-img-cosign-key-rekor-valid",
                "cosign-signed/key-1",
            )
            .await,
        )
    });
    let signed_in = |repo: &str| SignedIdentity::exact_repository(repo).expect("identity");
    let trust =
        KeylessTrust::load(&root.join("trust-roots/public-good-production.trusted_root.json"))
            .expect("trusted root");
    let key =
        PublicKey::from_file(&root.join("containers-container-libs/cosign2.pub")).expect("key");

    let keyless = ImageRef::parse(&keyless_image).unwrap();
    let keyed = ImageRef::parse(&key_image).unwrap();
    let keyless_verifier = || {
        Verifier::with_keys(vec![])
            .with_signed_identity(signed_in("192.168.64.2:5000/cosign-signed/fulcio-rekor-1"))
            .with_keyless(Some(trust.clone().with_identities(vec![
                CertificateIdentity::exact("mitr@redhat.com", "https://github.com/login/oauth"),
            ])))
    };
    let (t_keyless, rq_keyless) = rt.block_on(time(keyless_verifier, &keyless, true));
    let (t_keyless_warm, _) = rt.block_on(time(keyless_verifier, &keyless, false));
    let (t_key, rq_key) = rt.block_on(time(
        || {
            Verifier::new(key.clone())
                .with_signed_identity(signed_in("192.168.64.2:5000/cosign-signed/key-1"))
        },
        &keyed,
        true,
    ));
    let (t_key_rekor, rq_key_rekor) = rt.block_on(time(
        || {
            Verifier::new(key.clone())
                .with_signed_identity(signed_in("192.168.64.2:5000/cosign-signed/key-1"))
                .with_keyless(Some(trust.clone()))
        },
        &keyed,
        true,
    ));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("mean of {ROUNDS} verifications each, loopback docker-registry (target: keyless within 2 ms of key)");
    println!(
        "key (cosign2.pub)                        {:>7.2} ms  {rq_key} requests",
        ms(t_key)
    );
    println!(
        "key + Rekor SET (trusted root)           {:>7.2} ms  {rq_key_rekor} requests",
        ms(t_key_rekor)
    );
    println!(
        "keyless (Fulcio chain, SCT, Rekor SET)   {:>7.2} ms  {rq_keyless} requests  (+{:.2} ms over key; first verification in a process)",
        ms(t_keyless),
        ms(t_keyless) - ms(t_key)
    );
    println!(
        "keyless, certificate links remembered    {:>7.2} ms  {rq_keyless} requests  (+{:.2} ms over key; the same image again in one process)",
        ms(t_keyless_warm),
        ms(t_keyless_warm) - ms(t_key)
    );
}
