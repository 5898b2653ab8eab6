//! OCI 1.1 referrers, end to end, with the library and the real `imgseal` binary.
//!
//! Two registries:
//! * `ferro-oci-server` (an OCI Distribution v1.1 server with the referrers API and
//!   `OCI-Subject`), run in this process on 127.0.0.1:0 with in-memory storage;
//! * Debian's docker-registry (CNCF distribution 2.8, no referrers API), from `common`, where
//!   imgseal must fall back to the referrers tag schema (an index at tag `sha256-<hex>`).
//!
//! What must hold: a referrer signature is written where the registry indexes it (API: nothing
//! else is written; no API: the fallback index lists it with its `artifactType`), verify and tree
//! say where they found it, `--attach both` is read from the `.sig` tag first, concurrent
//! signers lose no entry, re-signing adds nothing, and the first of 100 signatures verifies
//! without fetching the other 99.

mod support;

use imgseal::formats::cosign;
use imgseal::oci::{self, ImageManifest, Index};
use imgseal::oci::{OCI_INDEX, OCI_MANIFEST};
use imgseal::reference::ImageRef;
use imgseal::store::{referrers_tag, ManifestRef, ReferrerScheme, Store, StoreOptions};
use imgseal::{Attach, Digest, Signer, SigningKey, Verifier};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use support::cli::*;
use support::ferro::Ferro;
use support::registry::*;

// ---------------------------------------------------------------- ferro-oci-server in-process

// ---------------------------------------------------------------- helpers

fn open(host: &str, repo: &str) -> Store {
    Store::open(
        &ImageRef::parse(&format!("{host}/{repo}")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap()
}

fn image_ref(image: &str) -> ImageRef {
    ImageRef::parse(image).unwrap()
}

async fn sign_lib(key: &SigningKey, image: &str, attach: Attach) -> imgseal::Signed {
    Signer::new(key.clone())
        .with_attach(attach)
        .sign(&image_ref(image), &BTreeMap::new())
        .await
        .unwrap()
}

async fn sign_lib_result(
    key: &SigningKey,
    image: &str,
    attach: Attach,
) -> imgseal::Result<imgseal::Signed> {
    Signer::new(key.clone())
        .with_attach(attach)
        .sign(&image_ref(image), &BTreeMap::new())
        .await
}

async fn verify_lib(key: &SigningKey, image: &str) -> imgseal::Verification {
    Verifier::new(key.public_key())
        .verify(&image_ref(image), &BTreeMap::new())
        .await
        .unwrap()
}

/// The fallback index at tag `sha256-<hex>` of `subject`, or None.
async fn fallback_index(
    store: &Store,
    subject: &Digest,
) -> Option<(imgseal::oci::Manifest, Index)> {
    let m = store
        .get_manifest(&ManifestRef::Tag(referrers_tag(subject)))
        .await
        .unwrap()?;
    let index = Index::from_bytes(&m.bytes).unwrap();
    Some((m, index))
}

/// The tags of `repo` (GET /v2/<repo>/tags/list).
async fn tags(host: &str, repo: &str) -> Vec<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = reqwest::get(format!("http://{host}/v2/{repo}/tags/list"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The verified signature's `source` in `verify -o json` output.
#[track_caller]
fn verified_source(v: &serde_json::Value) -> String {
    assert_eq!(v["verified"], true, "{v:#}");
    v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verified"] == true)
        .unwrap_or_else(|| panic!("no verified signature: {v:#}"))["source"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The artifact digest in `sign -o json` output, and its scheme (`referrers-api` /
/// `referrers-tag-schema`).
#[track_caller]
fn signed_referrer(s: &serde_json::Value) -> (String, String) {
    let r = &s["manifests"][0]["referrer"];
    (
        r["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("{s:#}"))
            .to_string(),
        r["scheme"].as_str().unwrap().to_string(),
    )
}

// ---------------------------------------------------------------- a. the referrers API

#[tokio::test]
async fn referrers_api_registry_indexes_signatures_and_nothing_else_is_written() {
    let reg = Ferro::start();
    let cli = Cli::new();
    let a = cli.keypair("a");
    let b = cli.keypair("b");
    let repo = unique_repo("api");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);

    // The library.
    let signed = sign_lib(&a.key, &image, Attach::Referrers).await;
    assert!(signed.added);
    assert_eq!(signed.digest, digest);
    let (artifact_a, scheme) = signed.manifests[0].referrer.clone().unwrap();
    assert_eq!(scheme, ReferrerScheme::Api);
    assert_eq!(signed.manifests[0].signature_tag, None);
    assert_eq!(
        signed.signature_tag, None,
        "referrers only: no .sig tag written"
    );

    // The CLI.
    let out = cli.run(&[
        "sign",
        "--key",
        &b.private,
        "--attach",
        "referrers",
        "-o",
        "json",
        &image,
    ]);
    assert_ok(&out);
    assert!(json(&out)["signatureTag"].is_null(), "no .sig tag written");
    let (artifact_b, scheme) = signed_referrer(&json(&out));
    assert_eq!(scheme, "referrers-api");
    assert_ne!(artifact_b, artifact_a.to_string());

    // The artifact is cosign's OCI 1.1 shape, with this image as subject.
    let store = open(&reg.host, &repo);
    let m = store
        .get_manifest(&ManifestRef::Digest(artifact_a.clone()))
        .await
        .unwrap()
        .unwrap();
    let art = ImageManifest::from_bytes(&m.bytes).unwrap();
    assert_eq!(
        art.artifact_type.as_deref(),
        Some(cosign::SIGNATURE_ARTIFACT_TYPE)
    );
    assert_eq!(art.config.media_type, oci::EMPTY_MEDIA_TYPE);
    assert_eq!(art.subject.as_ref().unwrap().digest, digest.to_string());
    assert_eq!(art.layers.len(), 1);
    assert_eq!(art.layers[0].media_type, cosign::SIMPLE_SIGNING_MEDIA_TYPE);

    // The registry lists both, in push order; imgseal wrote no fallback index and no .sig tag.
    let r = store.referrers(&digest, None).await.unwrap();
    assert_eq!(r.scheme, ReferrerScheme::Api);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let listed: Vec<_> = r.descriptors.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(listed, vec![artifact_a.to_string(), artifact_b.clone()]);
    for d in &r.descriptors {
        assert_eq!(
            d.artifact_type.as_deref(),
            Some(cosign::SIGNATURE_ARTIFACT_TYPE)
        );
    }
    assert!(fallback_index(&store, &digest).await.is_none());
    assert!(store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .is_none());
    assert_eq!(tags(&reg.host, &repo).await, vec!["v1".to_string()]);

    // verify (CLI) finds each through the referrers API.
    for (k, artifact) in [(&a, artifact_a.to_string()), (&b, artifact_b.clone())] {
        let out = cli.run(&["verify", "--key", &k.public, "-o", "json", &image]);
        assert_ok(&out);
        assert!(
            warnings_beside_tag(&out, &image).is_empty(),
            "{}",
            stderr(&out)
        );
        let v = json(&out);
        assert_eq!(v["digest"], digest.to_string());
        assert_eq!(
            verified_source(&v),
            format!("referrers API, artifact {artifact}, layer 0")
        );
    }
    let out = cli.run(&["verify", "--key", &a.public, &image]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains(&format!(
            "verified, found at referrers API, artifact {artifact_a}"
        )),
        "{}",
        stderr(&out)
    );
    // A key that signed nothing: both artifacts examined, both refused.
    let c = cli.keypair("c");
    let out = cli.run(&["verify", "--key", &c.public, &image]);
    assert_fails(
        &out,
        1,
        &[
            "verification failed",
            &format!("referrers API, artifact {artifact_a}, layer 0: signature does not verify"),
            &format!("referrers API, artifact {artifact_b}, layer 0: signature does not verify"),
        ],
    );

    // tree lists both, by scheme, with their artifact type and signer.
    let out = cli.run(&[
        "tree", "--key", &a.public, "--key", &b.public, "-o", "json", &image,
    ]);
    assert_ok(&out);
    let t = json(&out);
    let atts = t["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{t:#}");
    for (att, (artifact, key)) in atts.iter().zip([
        (artifact_a.to_string(), &a.public),
        (artifact_b.clone(), &b.public),
    ]) {
        assert_eq!(att["scheme"], "referrers-api");
        assert_eq!(att["kind"], "signature");
        assert_eq!(att["artifactType"], cosign::SIGNATURE_ARTIFACT_TYPE);
        assert_eq!(att["location"], artifact.as_str());
        assert_eq!(att["digest"], artifact.as_str());
        assert_eq!(att["layers"][0]["signedBy"], format!("key {key}"));
    }
    assert_eq!(t["warnings"], serde_json::json!([]), "{t:#}");
}

// ---------------------------------------------------------------- b. the tag-schema fallback

#[tokio::test]
async fn without_the_api_referrers_fall_back_to_the_tag_schema_and_both_reads_sig_first() {
    let reg = Registry::start();
    let cli = Cli::new();
    let a = cli.keypair("a");
    let b = cli.keypair("b");
    let repo = unique_repo("fallback");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);

    let out = cli.run(&[
        "sign",
        "--key",
        &a.private,
        "--attach",
        "referrers",
        "-o",
        "json",
        &image,
    ]);
    assert_ok(&out);
    let (artifact_a, scheme) = signed_referrer(&json(&out));
    assert_eq!(scheme, "referrers-tag-schema");

    // The fallback index at sha256-<hex> lists the artifact with its artifactType.
    let store = open(&reg.host, &repo);
    let (m, index) = fallback_index(&store, &digest)
        .await
        .expect("fallback index at tag sha256-<hex>");
    assert_eq!(m.media_type, OCI_INDEX);
    assert_eq!(index.media_type.as_deref(), Some(OCI_INDEX));
    assert_eq!(index.manifests.len(), 1, "{index:?}");
    let entry = &index.manifests[0];
    assert_eq!(entry.digest, artifact_a);
    assert_eq!(entry.media_type, OCI_MANIFEST);
    assert_eq!(
        entry.artifact_type.as_deref(),
        Some(cosign::SIGNATURE_ARTIFACT_TYPE)
    );
    let art = store
        .get_manifest(&ManifestRef::Digest(artifact_a.parse().unwrap()))
        .await
        .unwrap()
        .expect("the artifact, pushed by digest");
    assert_eq!(entry.size, art.bytes.len() as u64);
    let parsed = ImageManifest::from_bytes(&art.bytes).unwrap();
    assert_eq!(parsed.subject.unwrap().digest, digest.to_string());
    // Referrers only: no .sig tag.
    assert!(store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .is_none());

    let out = cli.run(&["verify", "--key", &a.public, "-o", "json", &image]);
    assert_ok(&out);
    assert!(
        warnings_beside_tag(&out, &image).is_empty(),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        verified_source(&json(&out)),
        format!("referrers tag schema, artifact {artifact_a}, layer 0")
    );
    let out = cli.run(&["tree", "--key", &a.public, "-o", "json", &image]);
    assert_ok(&out);
    let t = json(&out);
    assert_eq!(t["attachments"].as_array().unwrap().len(), 1, "{t:#}");
    assert_eq!(t["attachments"][0]["scheme"], "referrers-tag-schema");
    assert_eq!(
        t["attachments"][0]["artifactType"],
        cosign::SIGNATURE_ARTIFACT_TYPE
    );

    // --attach both: the .sig tag and a second index entry; verify reads the .sig tag first.
    let out = cli.run(&[
        "sign", "--key", &b.private, "--attach", "both", "-o", "json", &image,
    ]);
    assert_ok(&out);
    let s = json(&out);
    assert_eq!(s["manifests"][0]["signatureTag"], digest.signature_tag());
    assert_eq!(s["signatureTag"], digest.signature_tag());
    let (artifact_b, scheme) = signed_referrer(&s);
    assert_eq!(scheme, "referrers-tag-schema");
    let (_, index) = fallback_index(&store, &digest).await.unwrap();
    let listed: Vec<_> = index.manifests.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(listed, vec![artifact_a.clone(), artifact_b.clone()]);

    let out = cli.run(&["verify", "--key", &b.public, "-o", "json", &image]);
    assert_ok(&out);
    let v = json(&out);
    assert_eq!(
        verified_source(&v),
        format!("tag {}, layer 0", digest.signature_tag())
    );
    assert_eq!(v["signatures"].as_array().unwrap().len(), 1, "{v:#}");
    // Image manifest, .sig manifest, payload: the referrers were never looked at.
    assert_eq!(v["requests"], 3, "{v:#}");

    // Key a: the .sig layer (b's) is examined first and refused, then the fallback index.
    let out = cli.run(&["verify", "--key", &a.public, "-o", "json", &image]);
    assert_ok(&out);
    let v = json(&out);
    assert_eq!(
        v["signatures"][0]["source"],
        format!("tag {}, layer 0", digest.signature_tag())
    );
    assert_eq!(v["signatures"][0]["verified"], false);
    assert_eq!(
        verified_source(&v),
        format!("referrers tag schema, artifact {artifact_a}, layer 0")
    );
}

#[tokio::test]
async fn a_fallback_tag_that_is_not_an_index_is_never_overwritten() {
    let reg = Registry::start();
    let cli = Cli::new();
    let a = cli.keypair("a");
    let repo = unique_repo("squatted");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    // Someone keeps an ordinary image at the tag the referrers tag schema would use.
    let store = open(&reg.host, &repo);
    let squatter = push_image_to(&store, &referrers_tag(&digest), b"not an index").await;

    let out = cli.run(&["sign", "--key", &a.private, "--attach", "referrers", &image]);
    assert_fails(
        &out,
        2,
        &[
            &format!("referrers tag {}", referrers_tag(&digest)),
            "not an image index; refusing to overwrite it",
        ],
    );
    let m = store
        .get_manifest(&ManifestRef::Tag(referrers_tag(&digest)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.digest, squatter, "the tag was overwritten");

    // verify says why it ignored the tag; the .sig tag still works.
    let out = cli.run(&["verify", "--key", &a.public, &image]);
    assert_fails(&out, 1, &["no signatures found"]);
    assert_warned(
        &out,
        &[
            &format!("referrers tag {}", referrers_tag(&digest)),
            "not an image index; ignored",
        ],
    );
    assert_ok(&cli.run(&["sign", "--key", &a.private, &image]));
    let out = cli.run(&["verify", "--key", &a.public, &image]);
    assert_ok(&out);
}

// ---------------------------------------------------------------- c. concurrent signers

/// Upload what every signer of `digest` shares (the empty config `{}`, the payload, which does
/// not depend on the key, and the `.sig` config blobs for up to 16 layers), so that concurrent
/// signers race only on the tag they all rewrite. docker-registry 2.8 itself fails a manifest
/// push that references a blob another client is uploading at that moment
/// (`400 DIGEST_INVALID` + `MANIFEST_BLOB_UNKNOWN`), which is not what these tests are about.
async fn upload_shared_blobs(host: &str, repo: &str, digest: &Digest) {
    let store = open(host, repo);
    store.put_blob(oci::EMPTY_BLOB).await.unwrap();
    let payload = cosign::Payload::new(&format!("{host}/{repo}"), digest, &BTreeMap::new())
        .to_bytes()
        .unwrap();
    store.put_blob(&payload).await.unwrap();
    let layer = cosign::Descriptor::of(cosign::SIMPLE_SIGNING_MEDIA_TYPE, &payload);
    for n in 1..=16 {
        store
            .put_blob(&cosign::config_blob(&vec![layer.clone(); n]))
            .await
            .unwrap();
    }
}

/// Sign `image` with every key at once (released together by a barrier); each signer's result.
async fn sign_concurrently(
    keys: &[SigningKey],
    image: &str,
    attach: Attach,
) -> Vec<imgseal::Result<imgseal::Signed>> {
    let start = Arc::new(tokio::sync::Barrier::new(keys.len()));
    let tasks: Vec<_> = keys
        .iter()
        .cloned()
        .map(|key| {
            let (image, start) = (image.to_string(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                Signer::new(key)
                    .with_attach(attach)
                    .sign(&image_ref(&image), &BTreeMap::new())
                    .await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The digests listed by the fallback index of `digest`, checking there are no duplicates.
async fn listed_referrers(store: &Store, digest: &Digest) -> BTreeSet<String> {
    let (_, index) = fallback_index(store, digest).await.unwrap();
    let listed: Vec<_> = index.manifests.iter().map(|d| d.digest.clone()).collect();
    let unique: BTreeSet<_> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), unique.len(), "duplicate entries: {listed:?}");
    unique
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_referrer_signers_all_end_up_in_the_fallback_index() {
    let reg = Registry::start();
    let mut first_pass_ok = 0;
    let mut registry_errors = Vec::new();
    // Two rounds with the shared blobs already there (the signers race on the index only) and
    // one without (they also race on uploading the same blobs).
    for shared_blobs_uploaded in [true, true, false] {
        let repo = unique_repo("race");
        let digest = push_image(&reg.host, &repo, "v1").await;
        let image = format!("{}/{repo}:v1", reg.host);
        if shared_blobs_uploaded {
            upload_shared_blobs(&reg.host, &repo, &digest).await;
        }
        let keys: Vec<SigningKey> = (0..8).map(|_| SigningKey::generate().unwrap()).collect();
        let store = open(&reg.host, &repo);

        let results = sign_concurrently(&keys, &image, Attach::Referrers).await;
        let mut confirmed = BTreeSet::new();
        let mut failed = Vec::new();
        for (key, r) in keys.iter().zip(results) {
            match r {
                Ok(signed) => {
                    let (artifact, scheme) = signed.manifests[0].referrer.clone().unwrap();
                    assert_eq!(scheme, ReferrerScheme::TagSchema);
                    assert!(signed.added);
                    confirmed.insert(artifact.to_string());
                }
                // A loud failure is allowed (the registry itself errs under this load); a signer
                // that reported success and is not listed is not.
                Err(e) => {
                    registry_errors.push(e.to_string());
                    failed.push(key.clone());
                }
            }
        }
        if shared_blobs_uploaded {
            first_pass_ok += confirmed.len();
        }
        // Everything that reported success is listed, before any re-run touches the index.
        let listed = listed_referrers(&store, &digest).await;
        let dropped: Vec<_> = confirmed.difference(&listed).collect();
        assert!(
            dropped.is_empty(),
            "signers reported success but their entries were dropped: {dropped:?}"
        );

        // Whoever failed re-runs (as the error message says to) and gets in too.
        for key in &failed {
            let mut last = None;
            for _ in 0..4 {
                match sign_lib_result(key, &image, Attach::Referrers).await {
                    Ok(signed) => {
                        confirmed
                            .insert(signed.manifests[0].referrer.clone().unwrap().0.to_string());
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e.to_string()),
                }
            }
            assert!(last.is_none(), "a re-run kept failing: {last:?}");
        }
        assert_eq!(confirmed.len(), 8);
        assert_eq!(listed_referrers(&store, &digest).await, confirmed);

        for key in &keys {
            let v = verify_lib(key, &image).await;
            assert!(v.verified, "{v:#?}");
            assert!(v.warnings.is_empty(), "{:?}", v.warnings);
            let ok = v.signatures.iter().find(|s| s.verified).unwrap();
            assert!(ok.source.starts_with("referrers tag schema, artifact "));
        }
    }
    if !registry_errors.is_empty() {
        eprintln!("registry errors under concurrency (signers re-ran): {registry_errors:#?}");
    }
    // The race was really run: most first-pass signers succeeded concurrently.
    assert!(
        first_pass_ok >= 8,
        "only {first_pass_ok} of 16 succeeded on the first pass"
    );
}

/// `attach_to_tag` goes through the same read → write → confirm loop as the fallback index
/// above, so concurrent `.sig` signers never report success for a layer that is gone (with
/// network latency and real processes: tests/lost_updates.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_sig_tag_signers_all_end_up_in_the_sig_manifest() {
    let reg = Registry::start();
    let repo = unique_repo("sig-race");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    upload_shared_blobs(&reg.host, &repo, &digest).await;
    let keys: Vec<SigningKey> = (0..8).map(|_| SigningKey::generate().unwrap()).collect();
    let results = sign_concurrently(&keys, &image, Attach::Tag).await;
    let mut dropped = Vec::new();
    for (key, r) in keys.iter().zip(results) {
        if r.is_ok() && !verify_lib(key, &image).await.verified {
            dropped.push(key.public_key().to_pem());
        }
    }
    assert!(
        dropped.is_empty(),
        "{} signers reported success but their .sig layers are gone",
        dropped.len()
    );
}

// ---------------------------------------------------------------- d. idempotence

#[tokio::test]
async fn signing_twice_with_referrers_adds_nothing_the_second_time() {
    let fallback = Registry::start();
    let api = Ferro::start();
    let cli = Cli::new();
    let a = cli.keypair("a");
    for (host, scheme) in [
        (fallback.host.clone(), "referrers-tag-schema"),
        (api.host.clone(), "referrers-api"),
    ] {
        let repo = unique_repo("again");
        let digest = push_image(&host, &repo, "v1").await;
        let image = format!("{host}/{repo}:v1");
        let sign = || {
            cli.run(&[
                "sign",
                "--key",
                &a.private,
                "--attach",
                "referrers",
                "-o",
                "json",
                &image,
            ])
        };
        let first = sign();
        assert_ok(&first);
        let first = json(&first);
        assert_eq!(first["added"], true);
        let second = sign();
        assert_ok(&second);
        let second = json(&second);
        assert_eq!(second["added"], false, "{host}: {second:#}");
        assert_eq!(signed_referrer(&first), signed_referrer(&second));
        assert_eq!(signed_referrer(&second).1, scheme);
        // The text output says so too.
        let out = cli.run(&["sign", "--key", &a.private, "--attach", "referrers", &image]);
        assert_ok(&out);
        assert!(
            stderr(&out).contains("Already signed (nothing added)"),
            "{}",
            stderr(&out)
        );

        let store = open(&host, &repo);
        let r = store.referrers(&digest, None).await.unwrap();
        assert_eq!(r.descriptors.len(), 1, "{scheme}: {:?}", r.descriptors);
        if scheme == "referrers-tag-schema" {
            let (_, index) = fallback_index(&store, &digest).await.unwrap();
            assert_eq!(index.manifests.len(), 1, "{index:?}");
        } else {
            assert!(fallback_index(&store, &digest).await.is_none());
        }
        assert_ok(&cli.run(&["verify", "--key", &a.public, &image]));
    }
}

// ---------------------------------------------------------------- e. many signatures

#[tokio::test]
async fn first_of_100_referrer_signatures_verifies_without_fetching_the_others() {
    let reg = Ferro::start();
    let repo = unique_repo("many");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    // K signs first, so its artifact is listed first; 99 other keys follow.
    let keys: Vec<SigningKey> = (0..100).map(|_| SigningKey::generate().unwrap()).collect();
    for key in &keys {
        let s = sign_lib(key, &image, Attach::Referrers).await;
        assert_eq!(
            s.manifests[0].referrer.as_ref().unwrap().1,
            ReferrerScheme::Api
        );
    }
    let store = open(&reg.host, &repo);
    let r = store
        .referrers(&digest, Some(cosign::SIGNATURE_ARTIFACT_TYPE))
        .await
        .unwrap();
    assert_eq!(r.descriptors.len(), 100);

    let first = verify_lib(&keys[0], &image).await;
    assert!(first.verified);
    assert_eq!(first.signatures.len(), 1, "{:#?}", first.signatures);
    // Image manifest, .sig tag (absent), referrers list, K's artifact, K's payload.
    assert!(
        first.requests <= 6,
        "{} requests to verify the first of 100 signatures",
        first.requests
    );

    // The control: the last key examines all 100 artifacts, one request each; their payload
    // is one blob (same image, identity and annotations), fetched once.
    let last = verify_lib(&keys[99], &image).await;
    assert!(last.verified);
    assert_eq!(last.signatures.len(), 100);
    assert!(
        (100..110).contains(&last.requests),
        "{} requests",
        last.requests
    );

    // The CLI agrees.
    let cli = Cli::new();
    let k = cli.write_keypair("k", keys[0].clone());
    let out = cli.run(&["verify", "--key", &k.public, "-o", "json", &image]);
    assert_ok(&out);
    let v = json(&out);
    assert!(v["requests"].as_u64().unwrap() <= 6, "{v:#}");
    assert!(verified_source(&v).starts_with("referrers API, artifact "));
}

#[tokio::test]
async fn first_of_100_sig_layers_verifies_without_fetching_the_others() {
    let reg = Registry::start();
    let repo = unique_repo("many-layers");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = format!("{}/{repo}:v1", reg.host);
    let keys: Vec<SigningKey> = (0..100).map(|_| SigningKey::generate().unwrap()).collect();
    for key in &keys {
        sign_lib(key, &image, Attach::Tag).await;
    }
    let store = open(&reg.host, &repo);
    let sig = store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ImageManifest::from_bytes(&sig.bytes).unwrap().layers.len(),
        100
    );

    let first = verify_lib(&keys[0], &image).await;
    assert!(first.verified);
    assert_eq!(first.signatures.len(), 1);
    assert_eq!(
        first.signatures[0].source,
        format!("tag {}, layer 0", digest.signature_tag())
    );
    // Image manifest, .sig manifest, one payload.
    assert_eq!(first.requests, 3);

    // The last key examines all 100 layers; they share one payload (the same image, identity
    // and annotations), fetched once.
    let last = verify_lib(&keys[99], &image).await;
    assert!(last.verified);
    assert_eq!(last.signatures.len(), 100);
    assert_eq!(last.requests, 3);
}
