//! `imgseal copy`, end to end: real registries (Debian's docker-registry, started per test on a
//! free loopback port; distribution 2.8 has no referrers API, so referrers travel through the
//! tag schema's index), OCI layouts on disk, the library and the real binary.
//!
//! What must hold: the copy keeps the digest, so signatures verify at the destination and
//! `tree` shows them there; a second run transfers nothing; an interrupted copy completes on a
//! re-run without duplicate referrer entries; a copy inside one registry mounts blobs; bad
//! source blobs (corrupted, oversized, missing) are refused before the destination's tag is
//! written.

mod support;

use support::cli::assert_fails_alone as assert_fails;
use support::cli::*;

use imgseal::copy::{copy, copy_with, BlobStage, CopyOptions, CopyProgress, CopyReport, Outcome};
use imgseal::oci::{self, ImageManifest, Index, Platform};
use imgseal::oci::{OCI_INDEX, OCI_MANIFEST};
use imgseal::reference::ImageRef;
use imgseal::store::{referrers_tag, ManifestRef, Store, StoreOptions};
use imgseal::{Attach, Digest, PublicKey, Signer, SigningKey, Verifier};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::registry::*;

// ---------------------------------------------------------------- helpers

/// A scratch directory with an isolated docker config, a key pair, and the binary.
struct Env {
    cli: Cli,
    key: SigningKey,
    public: PathBuf,
}

impl Env {
    fn new() -> Env {
        let cli = Cli::new();
        let key = SigningKey::generate().unwrap();
        let public = cli.path("k.pub");
        std::fs::write(&public, key.public_key().to_pem()).unwrap();
        Env { cli, key, public }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.cli.path(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cli.output(args)
    }

    fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Sign `image` with the `.sig` tag *and* an OCI 1.1 referrer (recursively for an index).
    async fn sign(&self, image: &str) -> Digest {
        let annotations = BTreeMap::from([("build".to_string(), "7".to_string())]);
        Signer::new(self.key.clone())
            .with_attach(Attach::Both)
            .recursive(true)
            .sign(&ImageRef::parse(image).unwrap(), &annotations)
            .await
            .unwrap()
            .digest
    }

    /// Verify `image` as a copy whose signatures name `identity`.
    async fn verify_copy(&self, image: &str, identity: &str, platform: Option<&str>) -> Digest {
        let v = Verifier::new(self.public_key())
            .with_signed_repository(Some(identity.to_string()))
            .with_platform(platform.map(str::to_string))
            .verify(&ImageRef::parse(image).unwrap(), &BTreeMap::new())
            .await
            .unwrap();
        assert!(v.verified, "{image}: {v:#?}");
        v.digest
    }
}

fn open(image: &str) -> Store {
    Store::open(
        &ImageRef::parse(image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap()
}

fn image(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

/// The blobs (config and layers) of image manifest `digest` in `store`.
async fn blobs_of(store: &Store, digest: &Digest) -> Vec<oci::Descriptor> {
    let m = store
        .get_manifest(&ManifestRef::Digest(digest.clone()))
        .await
        .unwrap()
        .unwrap();
    let m = ImageManifest::from_bytes(&m.bytes).unwrap();
    std::iter::once(m.config).chain(m.layers).collect()
}

/// The entries of the referrers tag schema's index for `subject`, asserting no duplicates.
async fn referrer_entries(store: &Store, subject: &Digest) -> Vec<String> {
    let Some(m) = store
        .get_manifest(&ManifestRef::Tag(referrers_tag(subject)))
        .await
        .unwrap()
    else {
        return Vec::new();
    };
    let entries: Vec<String> = Index::from_bytes(&m.bytes)
        .unwrap()
        .manifests
        .into_iter()
        .map(|d| d.digest)
        .collect();
    let unique: HashSet<&String> = entries.iter().collect();
    assert_eq!(
        unique.len(),
        entries.len(),
        "duplicate referrer entries: {entries:?}"
    );
    entries
}

/// `DELETE /v2/<repo>/manifests/<digest>` (the test registry has deletes enabled; deleting a
/// manifest also drops the tags pointing at it).
async fn delete_manifest(host: &str, repo: &str, digest: &Digest) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .delete(format!("http://{host}/v2/{repo}/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "DELETE {repo}@{digest}");
}

/// Write-type requests (PUT, POST, PATCH) in a registry's access log.
fn writes_logged(reg: &Registry) -> usize {
    std::fs::read_to_string(reg.dir.path().join("registry.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"PUT ") || l.contains("\"POST ") || l.contains("\"PATCH "))
        .count()
}

fn outcomes(r: &CopyReport) -> Vec<(String, Outcome)> {
    r.attachments
        .iter()
        .map(|a| (a.via.clone(), a.outcome))
        .collect()
}

/// Bigger than the 4 MiB small-blob cap: copy must stream, not buffer through `get_blob`.
const BIG_LAYER: usize = 6 * 1024 * 1024 + 17;

// ---------------------------------------------------------------- registry → registry (CLI)

#[tokio::test]
async fn copy_between_registries_keeps_signatures_and_second_run_transfers_nothing() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src_store = open(&format!("{}/app:v1", a.host));
    let digest = push_image_to(&src_store, "v1", &random_bytes(BIG_LAYER)).await;
    let src = format!("{}/app:v1", a.host);
    assert_eq!(env.sign(&src).await, digest);

    // No tag on DST: SRC's tag (v1) is used.
    let out = env.run(&[
        "copy",
        "-o",
        "json",
        &src,
        &format!("{}/mirror/app", b.host),
    ]);
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["digest"], digest.to_string());
    assert_eq!(r["destination"], format!("{}/mirror/app:v1", b.host));
    // config + big layer, then the signature's payload, config and the empty blob.
    let copied: Vec<&str> = r["blobsCopied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for blob in blobs_of(&src_store, &digest).await {
        assert!(copied.contains(&blob.digest.as_str()), "{r:#}");
    }
    assert!(r["bytesCopied"].as_u64().unwrap() > BIG_LAYER as u64);
    let atts = r["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{r:#}");
    assert_eq!(atts[0]["via"], "tag");
    assert_eq!(atts[0]["location"], digest.signature_tag());
    assert_eq!(atts[0]["outcome"], "copied");
    assert_eq!(atts[1]["via"], "referrer");
    assert_eq!(atts[1]["outcome"], "copied");
    assert_eq!(atts[1]["scheme"], "referrers-tag-schema");
    assert_eq!(
        atts[1]["artifactType"],
        imgseal::formats::cosign::SIGNATURE_ARTIFACT_TYPE
    );

    // Same digest at the destination, and the signatures verify there (they name the
    // source repository; without saying so, the repository check refuses them).
    let dst = format!("{}/mirror/app:v1", b.host);
    let identity = format!("{}/app", a.host);
    assert_eq!(env.verify_copy(&dst, &identity, None).await, digest);
    let plain = Verifier::new(env.public_key())
        .verify(&image(&dst), &BTreeMap::new())
        .await
        .unwrap();
    assert!(!plain.verified);
    assert!(
        format!("{:?}", plain.signatures).contains("payload names repository"),
        "{plain:#?}"
    );

    // tree at the destination shows both signatures, by scheme, signed by our key.
    let public = env.public.display().to_string();
    let out = env.run(&["tree", "--key", &public, &dst]);
    assert_ok(&out);
    let tree = stdout(&out);
    assert!(tree.contains(&digest.to_string()), "{tree}");
    assert!(
        tree.contains(&format!("signature via tag {}", digest.signature_tag())),
        "{tree}"
    );
    assert!(
        tree.contains("signature via referrers tag schema"),
        "{tree}"
    );
    assert_eq!(
        tree.matches(&format!("signed by key {public}")).count(),
        2,
        "{tree}"
    );

    // Second run: everything is already there; no write reaches the destination. Blobs
    // checked: the image's config and layer, the .sig manifest's payload and config (the
    // referrer, already listed, is not looked into).
    let writes = writes_logged(&b);
    let out = env.run(&["copy", &src, &format!("{}/mirror/app", b.host)]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        format!("{}/mirror/app@{digest}", b.host)
    );
    let err = stderr(&out);
    assert!(
        err.contains("blobs: 0 copied (0 bytes), 0 mounted, 4 already there"),
        "{err}"
    );
    assert!(err.contains("manifests: 0 written"), "{err}");
    assert_eq!(err.matches(": already there\n").count(), 2, "{err}"); // .sig tag, referrer
    assert_eq!(
        writes_logged(&b),
        writes,
        "the second copy wrote to the destination"
    );
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert!(r.blobs_copied.is_empty() && r.blobs_mounted.is_empty());
    assert_eq!(r.blobs_skipped.len(), 4);
    assert!(r.manifests_copied.is_empty());
    assert!(outcomes(&r).iter().all(|(_, o)| *o == Outcome::Skipped));
    assert_eq!(referrer_entries(&open(&dst), &digest).await.len(), 1);
}

// ---------------------------------------------------------------- interrupted copies

#[tokio::test]
async fn interrupted_copy_completes_on_rerun_without_duplicates() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src = format!("{}/app:v1", a.host);
    let dst = format!("{}/app:v1", b.host);
    let src_store = open(&src);
    let dst_store = open(&dst);
    let digest = push_image_to(&src_store, "v1", &random_bytes(4096)).await;
    env.sign(&src).await;
    let identity = format!("{}/app", a.host);

    // Interrupted after the image's blobs: nothing refers to them yet.
    let image_blobs = blobs_of(&src_store, &digest).await;
    for blob in &image_blobs {
        let d: Digest = blob.digest.parse().unwrap();
        src_store
            .copy_blob_to(&d, blob.size, &dst_store)
            .await
            .unwrap();
    }
    assert!(dst_store
        .get_manifest(&ManifestRef::Tag("v1".into()))
        .await
        .unwrap()
        .is_none());
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    for blob in &image_blobs {
        let d: Digest = blob.digest.parse().unwrap();
        assert!(r.blobs_skipped.contains(&d), "{r:#?}");
        assert!(!r.blobs_copied.contains(&d), "{r:#?}");
    }
    assert!(r.manifests_copied.contains(&digest));
    assert_eq!(env.verify_copy(&dst, &identity, None).await, digest);

    // Interrupted later: the top manifest (and with it its tag) and the .sig tag are gone,
    // the referrers index is still there. The re-run restores them and lists nothing twice.
    let sig = dst_store
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .unwrap();
    delete_manifest(&b.host, "app", &sig.digest).await;
    delete_manifest(&b.host, "app", &digest).await;
    assert!(dst_store
        .get_manifest(&ManifestRef::Tag("v1".into()))
        .await
        .unwrap()
        .is_none());
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert!(r.blobs_copied.is_empty(), "{r:#?}");
    assert!(r.manifests_copied.contains(&digest) && r.manifests_copied.contains(&sig.digest));
    assert_eq!(
        outcomes(&r),
        vec![
            ("tag".into(), Outcome::Copied),
            ("referrer".into(), Outcome::Skipped)
        ]
    );
    assert_eq!(referrer_entries(&dst_store, &digest).await.len(), 1);
    assert_eq!(env.verify_copy(&dst, &identity, None).await, digest);

    // Interrupted between the referrer manifest and its index entry: the index is gone.
    let index = dst_store
        .get_manifest(&ManifestRef::Tag(referrers_tag(&digest)))
        .await
        .unwrap()
        .unwrap();
    delete_manifest(&b.host, "app", &index.digest).await;
    assert!(referrer_entries(&dst_store, &digest).await.is_empty());
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes(&r),
        vec![
            ("tag".into(), Outcome::Skipped),
            ("referrer".into(), Outcome::Copied)
        ]
    );
    let entries = referrer_entries(&dst_store, &digest).await;
    assert_eq!(entries, referrer_entries(&src_store, &digest).await);

    // Re-running again changes nothing.
    for _ in 0..2 {
        let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
            .await
            .unwrap();
        assert!(
            r.manifests_copied.is_empty() && r.blobs_copied.is_empty(),
            "{r:#?}"
        );
    }
    assert_eq!(referrer_entries(&dst_store, &digest).await, entries);
}

// ---------------------------------------------------------------- signatures already at the destination

#[tokio::test]
async fn signatures_already_at_the_destination_are_kept() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src = format!("{}/app:v1", a.host);
    let dst = format!("{}/app:v1", b.host);
    let digest = push_image_to(&open(&src), "v1", &random_bytes(512)).await;
    // The unsigned image is mirrored, then signed at the mirror with another key.
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert!(r.attachments.is_empty());
    let mirror_key = SigningKey::generate().unwrap();
    Signer::new(mirror_key.clone())
        .sign(&image(&dst), &BTreeMap::new())
        .await
        .unwrap();
    // Later the source is signed and copied again: the .sig tags are merged.
    env.sign(&src).await;
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes(&r),
        vec![
            ("tag".into(), Outcome::Merged),
            ("referrer".into(), Outcome::Copied)
        ]
    );
    let sig = open(&dst)
        .get_manifest(&ManifestRef::Tag(digest.signature_tag()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ImageManifest::from_bytes(&sig.bytes).unwrap().layers.len(),
        2
    );
    env.verify_copy(&dst, &format!("{}/app", a.host), None)
        .await;
    let v = Verifier::new(mirror_key.public_key())
        .verify(&image(&dst), &BTreeMap::new())
        .await
        .unwrap();
    assert!(v.verified, "{v:#?}");
    assert_eq!(
        v.signatures[0].source,
        format!("tag {}, layer 0", digest.signature_tag())
    );
    // Once merged, a re-run leaves it alone.
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes(&r),
        vec![
            ("tag".into(), Outcome::Skipped),
            ("referrer".into(), Outcome::Skipped)
        ]
    );
    assert!(r.manifests_copied.is_empty());
}

// ---------------------------------------------------------------- same registry: mount

#[tokio::test]
async fn copy_within_one_registry_mounts_blobs() {
    let reg = Registry::start();
    let env = Env::new();
    let src = format!("{}/team-a/app:v1", reg.host);
    let src_store = open(&src);
    let digest = push_image_to(&src_store, "v1", &random_bytes(BIG_LAYER)).await;
    env.sign(&src).await;

    let dst = format!("{}/team-b/app:v1", reg.host);
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert!(r.blobs_copied.is_empty(), "{r:#?}");
    assert_eq!(r.bytes_copied, 0);
    for blob in blobs_of(&src_store, &digest).await {
        assert!(
            r.blobs_mounted.contains(&blob.digest.parse().unwrap()),
            "{r:#?}"
        );
    }
    assert_eq!(r.blobs_mounted.len(), 5, "{r:#?}");
    let log = std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap();
    assert!(
        log.contains("/v2/team-b/app/blobs/uploads/?mount="),
        "{log}"
    );
    assert!(
        !log.contains("\"PUT /v2/team-b/app/blobs/uploads/"),
        "{log}"
    );
    assert_eq!(
        env.verify_copy(&dst, &format!("{}/team-a/app", reg.host), None)
            .await,
        digest
    );
}

/// A destination tag that names another image is not moved without -f/--force: one line naming
/// the flag, exit 2, the tag unchanged; with --force it is moved.
#[tokio::test]
async fn moving_an_existing_destination_tag_needs_force() {
    let reg = Registry::start();
    let env = Env::new();
    let src = format!("{}/src/app:v1", reg.host);
    let new = push_image_to(&open(&src), "v1", &random_bytes(64)).await;
    let dst = format!("{}/dst/app:v1", reg.host);
    let old = push_image_to(&open(&dst), "v1", &random_bytes(64)).await;
    assert_ne!(old, new);
    let tag_now = |store: Store| async move {
        store
            .get_manifest(&ManifestRef::Tag("v1".into()))
            .await
            .unwrap()
            .unwrap()
            .digest
    };

    let out = env.run(&["copy", &src, &dst]);
    assert_fails_one(&out, 2, "-f/--force");
    assert!(stderr(&out).contains(&old.to_string()), "{}", stderr(&out));
    assert_eq!(tag_now(open(&dst)).await, old, "the tag was moved");
    // The library refuses it too, typed.
    let e = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            imgseal::Error::Copy(imgseal::copy::CopyError::TagMoved { .. })
        ),
        "{e}"
    );
    // The same image again is no move: allowed without --force.
    let same = format!("{}/dst/app:v1", reg.host);
    assert_ok(&env.run(&["copy", &format!("{}/dst/app:v1", reg.host), &same]));

    for flag in ["-f", "--force"] {
        let out = env.run(&["copy", flag, &src, &dst]);
        assert_ok(&out);
        assert_eq!(tag_now(open(&dst)).await, new);
        // Put the old image back for the next flag.
        assert_ok(&env.run(&[
            "copy",
            "--force",
            &format!("{}/dst/app@{old}", reg.host),
            &dst,
        ]));
    }
}

/// `--only` picks which attachments are copied: with `att` neither the .sig tag nor the
/// signature referrer; with `sig,sbom` both; unknown kinds are refused.
#[tokio::test]
async fn only_copies_the_kinds_asked_for() {
    let reg = Registry::start();
    let env = Env::new();
    let src = format!("{}/only/app:v1", reg.host);
    let digest = push_image_to(&open(&src), "v1", &random_bytes(64)).await;
    env.sign(&src).await;
    let tags = |image: String| {
        let digest = digest.clone();
        async move {
            let store = open(&image);
            let mut kinds = Vec::new();
            for suffix in [".sig", ".att"] {
                let tag = format!("{}{suffix}", referrers_tag(&digest));
                if store
                    .get_manifest(&ManifestRef::Tag(tag))
                    .await
                    .unwrap()
                    .is_some()
                {
                    kinds.push(suffix);
                }
            }
            (kinds, referrer_entries(&store, &digest).await.len())
        }
    };
    let atts = format!("{}/att-only/app:v1", reg.host);
    let out = env.run(&["copy", "--only", "att", "-o", "json", &src, &atts]);
    assert_ok(&out);
    assert_eq!(
        tags(atts.clone()).await,
        (vec![], 0),
        "nothing but attestations"
    );
    let sigs = format!("{}/sig-only/app:v1", reg.host);
    let out = env.run(&["copy", "--only", "sig,sbom", &src, &sigs]);
    assert_ok(&out);
    assert_eq!(tags(sigs.clone()).await, (vec![".sig"], 1));
    let out = env.run(&["copy", "--only", "sigs", &src, &sigs]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("sigs"), "{}", stderr(&out));
}

// ---------------------------------------------------------------- air gap: registry → layout → registry

#[tokio::test]
async fn air_gap_through_a_layout() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src = format!("{}/app:v1", a.host);
    let digest = push_image_to(&open(&src), "v1", &random_bytes(BIG_LAYER)).await;
    env.sign(&src).await;
    let public = env.public.display().to_string();

    // Into a layout that does not exist yet; its ref name is the source reference, so the
    // signatures verify in the layout as they are.
    let carry = env.path("carry");
    let out = env.run(&["copy", &src, &format!("oci:{}", carry.display())]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        format!("oci:{}@{digest}", carry.display())
    );
    let in_layout = format!("oci:{}:{src}", carry.display());
    assert_ok(&env.run(&["verify", "--key", &public, &in_layout]));
    let out = env.run(&["tree", &in_layout]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("signature via tag"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("signature via referrers tag schema"),
        "{}",
        stdout(&out)
    );
    // No staging file left behind.
    for entry in std::fs::read_dir(carry.join("blobs/sha256")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "leftover {name}");
    }

    // Out of the layout into the other registry: the tag comes from the ref name.
    let out = env.run(&["copy", &in_layout, &format!("{}/airgap/app", b.host)]);
    assert_ok(&out);
    let dst = format!("{}/airgap/app:v1", b.host);
    assert_eq!(
        env.verify_copy(&dst, &format!("{}/app", a.host), None)
            .await,
        digest
    );
    let out = env.run(&["tree", "-o", "json", &dst]);
    assert_ok(&out);
    let t: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(t["digest"], digest.to_string());
    let kinds: Vec<(&str, &str)> = t["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["scheme"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("signature", "tag"), ("signature", "referrers-tag-schema")]
    );

    // Layout → layout works too, and a second run into the same layout copies nothing.
    let out = env.run(&[
        "copy",
        "-o",
        "json",
        &in_layout,
        &format!("oci:{}", env.path("copy2").display()),
    ]);
    assert_ok(&out);
    let out = env.run(&[
        "copy",
        "-o",
        "json",
        &in_layout,
        &format!("oci:{}", env.path("copy2").display()),
    ]);
    assert_ok(&out);
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["blobsCopied"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(r["manifestsCopied"].as_array().unwrap().len(), 0, "{r:#}");
}

// ---------------------------------------------------------------- progress by bytes

/// Every progress event of a library copy: (blob, stage, done, size).
type Events = std::sync::Arc<std::sync::Mutex<Vec<(String, BlobStage, u64, u64)>>>;

async fn copy_observed(src: &str, dst: &str) -> (CopyReport, Vec<(String, BlobStage, u64, u64)>) {
    let events: Events = Default::default();
    let seen = events.clone();
    let progress: imgseal::copy::Progress = std::sync::Arc::new(move |p: &CopyProgress<'_>| {
        seen.lock().unwrap().push((
            p.blob.to_string(),
            p.bytes.stage,
            p.bytes.done,
            p.bytes.size,
        ))
    });
    let how = CopyOptions::default().with_progress(Some(progress));
    let r = copy_with(&image(src), &image(dst), &StoreOptions::default(), &how)
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    (r, events)
}

/// The `done` counts of `blob` in `stage`, asserting each event names the blob's size.
fn counts(events: &[(String, BlobStage, u64, u64)], blob: &str, stage: BlobStage) -> Vec<u64> {
    events
        .iter()
        .filter(|(b, s, _, _)| b == blob && *s == stage)
        .map(|(_, _, done, size)| {
            assert_eq!(*size, BIG_LAYER as u64);
            *done
        })
        .collect()
}

/// Starts at 0, strictly grows through several chunks, ends at the blob's size.
#[track_caller]
fn assert_streamed(counts: &[u64], what: &str) {
    assert_eq!(counts.first(), Some(&0), "{what}: {counts:?}");
    assert_eq!(
        counts.last(),
        Some(&(BIG_LAYER as u64)),
        "{what}: {counts:?}"
    );
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "{what}: not increasing: {counts:?}"
    );
    // 6 MiB in chunks of at most 256 KiB: reported while it flows, not once at the end.
    assert!(counts.len() > 10, "{what}: {counts:?}");
}

#[tokio::test]
async fn copy_reports_each_blobs_bytes_as_they_stream() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src = format!("{}/app:v1", a.host);
    let digest = push_image_to(&open(&src), "v1", &random_bytes(BIG_LAYER)).await;
    let layer = blobs_of(&open(&src), &digest).await.pop().unwrap().digest;

    // Registry → registry: downloaded and checked, then uploaded.
    let (r, events) = copy_observed(&src, &format!("{}/mirror/app:v1", b.host)).await;
    assert_eq!(
        r.bytes_copied,
        BIG_LAYER as u64 + blobs_of(&open(&src), &digest).await[0].size
    );
    assert_streamed(&counts(&events, &layer, BlobStage::Fetch), "download");
    assert_streamed(&counts(&events, &layer, BlobStage::Upload), "upload");
    // The layer's fetch completes before its upload starts.
    let last_fetch = events
        .iter()
        .rposition(|e| e.0 == layer && e.1 == BlobStage::Fetch)
        .unwrap();
    let first_upload = events
        .iter()
        .position(|e| e.0 == layer && e.1 == BlobStage::Upload)
        .unwrap();
    assert!(last_fetch < first_upload);
    // Each event of the config blob says the config's own size.
    assert!(
        events.iter().all(|e| e.0 == layer || e.3 < 4096),
        "{events:?}"
    );

    // Registry → layout: downloaded into the layout, nothing uploaded.
    let carry = format!("oci:{}:v1", env.path("carry").display());
    let (_, events) = copy_observed(&src, &carry).await;
    assert_streamed(&counts(&events, &layer, BlobStage::Fetch), "into a layout");
    assert!(counts(&events, &layer, BlobStage::Upload).is_empty());

    // Layout → registry: read and checked from the layout's file, then uploaded.
    let (_, events) = copy_observed(&carry, &format!("{}/airgap/app:v1", b.host)).await;
    assert_streamed(&counts(&events, &layer, BlobStage::Fetch), "from a layout");
    assert_streamed(
        &counts(&events, &layer, BlobStage::Upload),
        "upload from a layout",
    );

    // Already there: no bytes flow, so nothing is reported.
    let (r, events) = copy_observed(&src, &format!("{}/mirror/app:v1", b.host)).await;
    assert!(r.blobs_copied.is_empty(), "{r:?}");
    assert!(events.is_empty(), "{events:?}");

    // The CLI with stderr not a terminal (a pipe here): no bar, no escape codes or carriage
    // returns, only the summary lines.
    let out = env.run(&["copy", &src, &format!("{}/cli/app", b.host)]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(
        err.starts_with(&format!("Copied {src} ({digest})")),
        "{err}"
    );
    assert!(err.contains("  blobs: 2 copied ("), "{err}");

    // On a terminal (a pty from `script`, util-linux, in Debian's essential bsdutils), the
    // bar is drawn: the blob's bytes of its size, then cleared before the summary.
    let bin = env!("CARGO_BIN_EXE_imgseal");
    let line = format!("'{bin}' copy '{src}' '{}/tty/app'", b.host);
    let cli = env.cli.cmd(&[]);
    let mut script = std::process::Command::new("script");
    script.args(["-qefc", &line, "/dev/null"]);
    for (k, v) in cli.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script
        .current_dir(env.cli.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
    let tty = stdout(&out);
    assert!(tty.contains("fetching blob"), "{tty:?}");
    assert!(tty.contains('\u{1b}'), "{tty:?}");
    assert!(tty.contains(&format!("Copied {src} ({digest})")), "{tty:?}");
}

// ---------------------------------------------------------------- an index with signed children

#[tokio::test]
async fn index_children_and_their_signatures_are_copied() {
    let a = Registry::start();
    let b = Registry::start();
    let env = Env::new();
    let src_store = open(&format!("{}/multi:x", a.host));
    let mut entries = Vec::new();
    for (arch, tag) in [("amd64", "amd64"), ("arm64", "arm64")] {
        let d = push_image_to(&src_store, tag, &random_bytes(2048)).await;
        let m = src_store
            .get_manifest(&ManifestRef::Digest(d.clone()))
            .await
            .unwrap()
            .unwrap();
        let mut desc = oci::Descriptor::of(OCI_MANIFEST, &m.bytes);
        desc.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: None,
        });
        entries.push(desc);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: entries.clone(),
        ..Default::default()
    };
    let digest = src_store
        .put_manifest(&index.to_bytes().unwrap(), OCI_INDEX, Some("multi"))
        .await
        .unwrap();
    let src = format!("{}/multi:multi", a.host);
    env.sign(&src).await; // the index and both children, tag + referrer each

    let dst = format!("{}/multi:multi", b.host);
    let r = copy(&image(&src), &image(&dst), &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, digest);
    assert_eq!(r.attachments.len(), 6, "{r:#?}");
    let subjects: HashSet<String> = r
        .attachments
        .iter()
        .map(|a| a.subject.to_string())
        .collect();
    assert_eq!(subjects.len(), 3);
    // The children went in by digest, before the index that lists them.
    let pos = |d: &str| {
        r.manifests_copied
            .iter()
            .position(|m| m.to_string() == d)
            .unwrap()
    };
    for e in &entries {
        assert!(pos(&e.digest) < pos(&digest.to_string()));
    }
    let identity = format!("{}/multi", a.host);
    env.verify_copy(&dst, &identity, Some("linux/arm64")).await;
    env.verify_copy(&dst, &identity, Some("linux/amd64")).await;
}

// ---------------------------------------------------------------- bad input

fn make_layout(dir: &Path, tag: &str, content: &[u8]) -> (Store, Digest) {
    let (_, digest) = support::layout::image_blocking(dir, tag, content);
    (support::layout::open(dir), digest)
}

#[test]
fn corrupted_oversized_and_missing_source_blobs_are_refused() {
    let b = Registry::start();
    let env = Env::new();
    let dir = env.path("src");
    let content = random_bytes(1000);
    let (store, digest) = make_layout(&dir, "v1", &content);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let layer = rt.block_on(blobs_of(&store, &digest)).pop().unwrap();
    let layer_path = dir
        .join("blobs/sha256")
        .join(&layer.digest["sha256:".len()..]);
    let src = format!("oci:{}:v1", dir.display());
    let dst = format!("{}/app:v1", b.host);
    let dst_store = open(&dst);
    let no_top = |rt: &tokio::runtime::Runtime| {
        assert!(rt
            .block_on(dst_store.get_manifest(&ManifestRef::Tag("v1".into())))
            .unwrap()
            .is_none());
        assert!(rt
            .block_on(dst_store.get_manifest(&ManifestRef::Digest(digest.clone())))
            .unwrap()
            .is_none());
    };

    // Same size, other content.
    let mut bad = content.clone();
    bad[500] ^= 0xff;
    std::fs::write(&layer_path, &bad).unwrap();
    let out = env.run(&["copy", &src, &dst]);
    assert_fails(&out, 1, "content does not match its digest");
    assert!(stderr(&out).contains(&layer.digest), "{}", stderr(&out));
    no_top(&rt);
    assert!(!rt
        .block_on(dst_store.has_blob(&layer.digest.parse().unwrap()))
        .unwrap());

    // Longer than its descriptor says.
    let mut long = content.clone();
    long.extend_from_slice(b"more");
    std::fs::write(&layer_path, &long).unwrap();
    assert_fails(
        &env.run(&["copy", &src, &dst]),
        1,
        "larger than the 1000-byte limit",
    );
    no_top(&rt);

    // Missing.
    std::fs::remove_file(&layer_path).unwrap();
    assert_fails(&env.run(&["copy", &src, &dst]), 2, "not found");
    no_top(&rt);

    // Restored: the copy goes through.
    std::fs::write(&layer_path, &content).unwrap();
    assert_ok(&env.run(&["copy", &src, &dst]));
    assert!(rt
        .block_on(dst_store.get_manifest(&ManifestRef::Tag("v1".into())))
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_registry_serving_a_corrupted_blob_is_refused() {
    let a = Registry::start();
    let env = Env::new();
    let src = format!("{}/app:v1", a.host);
    let store = open(&src);
    let digest = push_image_to(&store, "v1", &random_bytes(BIG_LAYER)).await;
    let layer = blobs_of(&store, &digest).await.pop().unwrap();
    // Corrupt the registry's own storage: it serves whatever is there.
    let hex = &layer.digest["sha256:".len()..];
    let data = a
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[BIG_LAYER / 2] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    let carry = env.path("carry");
    let out = env.run(&["copy", &src, &format!("oci:{}", carry.display())]);
    assert_fails(&out, 1, "content does not match its digest");
    let index = std::fs::read_to_string(carry.join("index.json")).unwrap();
    assert!(!index.contains(&digest.to_string()), "{index}");
    for entry in std::fs::read_dir(carry.join("blobs/sha256")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name != hex && !name.starts_with('.'), "left behind: {name}");
    }
    assert!(!carry.join("blobs/sha256").join(digest.hex()).exists());
}

#[test]
fn bad_arguments_fail_cleanly() {
    let env = Env::new();
    let missing = format!("oci:{}:v1", env.path("nope").display());
    assert_fails(
        &env.run(&["copy", &missing, "127.0.0.1:1/x:v1"]),
        2,
        "not an OCI image layout",
    );
    let dir = env.path("src");
    let (_, digest) = make_layout(&dir, "v1", b"x");
    let other = Digest::sha256(b"other");
    let out = env.run(&[
        "copy",
        &format!("oci:{}:v1", dir.display()),
        &format!("oci:{}@{other}", env.path("dst").display()),
    ]);
    assert_fails(&out, 2, &format!("pins {other}, but the source"));
    assert!(stderr(&out).contains(&digest.to_string()));
    assert_fails(
        &env.run(&["copy", "UPPER/case", "x/y"]),
        2,
        "invalid image reference",
    );
}

/// `copy --platform` copies one platform's manifest of an index, with its signatures, in
/// place of the index; a single-platform source or a platform the index lacks is refused.
#[tokio::test(flavor = "multi_thread")]
async fn copy_platform_takes_one_manifest_of_an_index_with_its_signatures() {
    let reg = Registry::start();
    let env = Env::new();
    let h = &reg.host;
    push_index(h, "multi/app", "1").await;
    env.sign(&format!("{h}/multi/app:1")).await;
    let store = Store::open(
        &ImageRef::parse(&format!("{h}/multi/app:1")).unwrap(),
        &StoreOptions::default(),
        false,
    )
    .unwrap();
    let index = store
        .get_manifest(&ManifestRef::Tag("1".into()))
        .await
        .unwrap()
        .unwrap();
    let index = Index::from_bytes(&index.bytes).unwrap();
    let arm = index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.architecture == "arm64")
        })
        .unwrap()
        .digest
        .clone();

    let out = env.run(&[
        "copy",
        "--platform",
        "linux/arm64",
        "-o",
        "json",
        &format!("{h}/multi/app:1"),
        &format!("{h}/mirror/app:1"),
    ]);
    assert_ok(&out);
    assert_eq!(json(&out)["digest"], arm.as_str(), "{}", stdout(&out));
    // The copy is the arm64 image itself, and its signature came along.
    let key = env.public.to_str().unwrap().to_string();
    let v = env.run(&[
        "verify",
        "--key",
        &key,
        "--identity",
        &format!("{h}/multi/app"),
        &format!("{h}/mirror/app:1"),
    ]);
    assert_ok(&v);
    let copied = Store::open(
        &ImageRef::parse(&format!("{h}/mirror/app:1")).unwrap(),
        &StoreOptions::default(),
        false,
    )
    .unwrap()
    .get_manifest(&ManifestRef::Tag("1".into()))
    .await
    .unwrap()
    .unwrap();
    assert_eq!(copied.digest.to_string(), arm);
    assert!(!oci::is_index_media_type(&copied.media_type));

    let missing = env.run(&[
        "copy",
        "--platform",
        "windows/amd64",
        &format!("{h}/multi/app:1"),
        &format!("{h}/mirror/win:1"),
    ]);
    assert_fails(&missing, 2, "windows/amd64");
    let single = env.run(&[
        "copy",
        "--platform",
        "linux/arm64",
        &format!("{h}/mirror/app:1"),
        &format!("{h}/mirror/again:1"),
    ]);
    assert_fails(&single, 2, "not an index");
}
