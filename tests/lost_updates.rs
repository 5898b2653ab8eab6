//! Lost updates under concurrency, with a network hop's latency: ten real `imgseal sign`
//! processes at once on one image, through a loopback proxy that delays each direction of
//! every connection by 10–20 ms (tests/support/latency_proxy.rs), in front of a real docker-registry 2.8.
//!
//! What must hold, for cosign's `.sig` tag and for the referrers tag schema (docker-registry
//! has no referrers API, so `--attach referrers` falls back to the index at `sha256-<hex>`),
//! and for `copy` merging `.sig` layers into a destination that signers write meanwhile:
//! a run that exits 0 has its signature in place afterwards (each key verifies with
//! `imgseal verify --key`); a run that could not confirm exits 2 with one error line. Never
//! exit 0 with a lost signature.

mod support;

use imgseal::reference::ImageRef;
use imgseal::store::{referrers_tag, ManifestRef, Store, StoreOptions};
use imgseal::{Digest, Signer};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Output, Stdio};
use std::time::Duration;
use support::cli::*;
use support::latency_proxy::LatencyProxy;
use support::registry::*;

/// Concurrent signers per image.
const SIGNERS: usize = 10;
/// Hang guard for one batch of concurrent runs (each normally takes a second or two).
const BATCH_LIMIT: Duration = Duration::from_secs(120);

/// Run every argument list as its own `imgseal` process, all at once; their outputs in order.
/// A batch still running after [`BATCH_LIMIT`] is killed and the test fails as hung.
fn run_all(cli: &Cli, runs: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(BATCH_LIMIT).is_err() {
            for pid in pids {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            return true;
        }
        false
    });
    let waiters: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || c.wait_with_output().unwrap()))
        .collect();
    let outputs: Vec<Output> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    let _ = done_tx.send(());
    assert!(
        !watchdog.join().unwrap(),
        "a batch of concurrent imgseal runs hung for {BATCH_LIMIT:?} and was killed"
    );
    outputs
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A run that failed must say so in one line and exit 2 (a registry-side problem).
#[track_caller]
fn assert_loud_failure(o: &Output) {
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(lines.len(), 1, "not one line: {err}");
    assert!(lines[0].starts_with("imgseal: error: "), "{err}");
}

/// Each key in `ok` verifies on `image` (all verifications at once), with the signed
/// repository given when it is not the image's own (a copied signature).
fn assert_all_verify(cli: &Cli, keys: &[(&KeyFiles, Option<&str>)], image: &str, context: &str) {
    let runs: Vec<_> = keys
        .iter()
        .map(|(k, identity)| {
            let mut a = args(&["verify", "--key", &k.public]);
            if let Some(i) = identity {
                a.extend(args(&["--identity", i]));
            }
            a.push(image.to_string());
            a
        })
        .collect();
    for ((k, _), out) in keys.iter().zip(run_all(cli, &runs)) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{context}: a signer exited 0 but its signature is gone ({}): {}",
            k.public,
            stderr(&out)
        );
    }
}

fn open(host: &str, repo: &str) -> Store {
    Store::open(
        &ImageRef::parse(&format!("{host}/{repo}")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap()
}

/// How many entries the shared tag holds (`.sig` layers or fallback index entries), checking
/// none is listed twice.
async fn entries(store: &Store, tag: &str, field: &str) -> usize {
    let m = store
        .get_manifest(&ManifestRef::Tag(tag.to_string()))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("tag {tag} is missing"));
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let list = v[field].as_array().unwrap();
    let unique: BTreeSet<String> = list
        .iter()
        .map(|d| serde_json::to_string(d).unwrap())
        .collect();
    assert_eq!(
        unique.len(),
        list.len(),
        "duplicate entries at {tag}: {v:#}"
    );
    list.len()
}

/// Ten signers at once on one image through the proxy, `rounds` times (a new image each);
/// `attach` is `None` for the `.sig` tag or `Some("referrers")`.
async fn concurrent_signers(attach: Option<&str>, rounds: usize) {
    let reg = Registry::start();
    let proxy = LatencyProxy::start(&reg.host);
    let cli = Cli::new();
    let keys: Vec<KeyFiles> = (0..SIGNERS)
        .map(|i| cli.keypair(&format!("k{i}")))
        .collect();
    let (mut succeeded, mut failures) = (0, Vec::new());
    for round in 0..rounds {
        let repo = unique_repo("lost");
        let digest = push_image(&reg.host, &repo, "v1").await;
        let image = format!("{}/{repo}:v1", proxy.host);
        let runs: Vec<_> = keys
            .iter()
            .map(|k| {
                let mut a = args(&["sign", "--key", &k.private]);
                if let Some(mode) = attach {
                    a.extend(args(&["--attach", mode]));
                }
                a.push(image.clone());
                a
            })
            .collect();
        let mut ok = Vec::new();
        for (k, out) in keys.iter().zip(run_all(&cli, &runs)) {
            if out.status.success() {
                assert!(stderr(&out).contains("Signed"), "{}", stderr(&out));
                ok.push((k, None));
            } else {
                assert_loud_failure(&out);
                failures.push(stderr(&out));
            }
        }
        succeeded += ok.len();
        let context = format!("round {round}, {} signers of {SIGNERS} exited 0", ok.len());
        assert_all_verify(&cli, &ok, &image, &context);
        // Nothing listed twice, and at least everyone who exited 0 (a signer that failed
        // late may still have landed its entry).
        let store = open(&reg.host, &repo);
        let n = match attach {
            None => entries(&store, &digest.signature_tag(), "layers").await,
            Some(_) => entries(&store, &referrers_tag(&digest), "manifests").await,
        };
        assert!(n >= ok.len() && n <= SIGNERS, "{context}: {n} entries");
    }
    assert!(
        proxy.connections() >= SIGNERS,
        "the signers bypassed the proxy"
    );
    // The fix is what makes them succeed: nearly every signer confirms its signature.
    let total = rounds * SIGNERS;
    assert!(
        succeeded * 10 >= total * 9,
        "only {succeeded} of {total} signers succeeded: {failures:#?}"
    );
    if !failures.is_empty() {
        eprintln!("signers that failed loudly: {failures:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_sig_tag_signers_through_latency_lose_nothing() {
    concurrent_signers(None, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_referrer_fallback_signers_through_latency_lose_nothing() {
    concurrent_signers(Some("referrers"), 4).await;
}

/// `copy` merges the source's `.sig` layers into the destination's through the same loop:
/// five copies of one image (each source signed by its own key) into one destination at once,
/// while five signers sign the destination, all through the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_and_signers_merge_every_sig_layer() {
    const COPIES: usize = 5;
    let reg = Registry::start();
    let proxy = LatencyProxy::start(&reg.host);
    let cli = Cli::new();
    let keys: Vec<KeyFiles> = (0..2 * COPIES)
        .map(|i| cli.keypair(&format!("k{i}")))
        .collect();
    let (mut succeeded, mut failures) = (0, Vec::new());
    let rounds = 2;
    for _ in 0..rounds {
        let (content, dst_repo) = (random_bytes(64), unique_repo("dst"));
        let (mut sources, mut identities) = (Vec::new(), Vec::new());
        let mut digest: Option<Digest> = None;
        for key in &keys[..COPIES] {
            let repo = unique_repo("src");
            let store = open(&reg.host, &repo);
            let d = push_image_to(&store, "v1", &content).await;
            assert!(digest.as_ref().is_none_or(|x| *x == d), "same image");
            digest = Some(d);
            let src = ImageRef::parse(&format!("{}/{repo}:v1", reg.host)).unwrap();
            Signer::new(key.key.clone())
                .sign(&src, &BTreeMap::new())
                .await
                .unwrap();
            sources.push(format!("{}/{repo}:v1", proxy.host));
            identities.push(Some(format!("{}/{repo}", reg.host)));
        }
        let digest = digest.unwrap();
        // The image itself is there already (the race is on the .sig tag, not on blobs).
        let dst_store = open(&reg.host, &dst_repo);
        push_image_to(&dst_store, "v1", &content).await;
        let dst = format!("{}/{dst_repo}:v1", proxy.host);
        let mut runs: Vec<_> = sources
            .iter()
            .map(|src| args(&["copy", src, &dst]))
            .collect();
        runs.extend(
            keys[COPIES..]
                .iter()
                .map(|k| args(&["sign", "--key", &k.private, &dst])),
        );
        identities.resize(keys.len(), None);
        let mut ok = Vec::new();
        for ((k, identity), out) in keys.iter().zip(&identities).zip(run_all(&cli, &runs)) {
            if out.status.success() {
                ok.push((k, identity.as_deref()));
            } else {
                assert_loud_failure(&out);
                failures.push(stderr(&out));
            }
        }
        succeeded += ok.len();
        let context = format!("{} of {} copies and signers exited 0", ok.len(), keys.len());
        assert_all_verify(&cli, &ok, &dst, &context);
        let n = entries(&dst_store, &digest.signature_tag(), "layers").await;
        assert!(n >= ok.len() && n <= keys.len(), "{context}: {n} layers");
    }
    let total = rounds * keys.len();
    assert!(
        succeeded * 10 >= total * 9,
        "only {succeeded} of {total} succeeded: {failures:#?}"
    );
}

/// A writer that keeps putting back a `.sig` manifest without our layer (every few ms,
/// straight to the registry) while `imgseal sign` runs through the proxy: the signer finds
/// its layer overwritten after each write and must give up loudly, never report "Signed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_overwritten_every_time_fails_loudly() {
    let reg = Registry::start();
    let proxy = LatencyProxy::start(&reg.host);
    let cli = Cli::new();
    let (ours, theirs) = (cli.keypair("ours"), cli.keypair("theirs"));
    let repo = unique_repo("clobber");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let direct = ImageRef::parse(&format!("{}/{repo}:v1", reg.host)).unwrap();
    Signer::new(theirs.key.clone())
        .sign(&direct, &BTreeMap::new())
        .await
        .unwrap();
    let store = open(&reg.host, &repo);
    let tag = digest.signature_tag();
    let clobber = store
        .get_manifest(&ManifestRef::Tag(tag.clone()))
        .await
        .unwrap()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, tag) = (stop.clone(), tag.clone());
        tokio::spawn(async move {
            let mut writes = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                store
                    .put_manifest(&clobber.bytes, &clobber.media_type, Some(&tag))
                    .await
                    .unwrap();
                writes += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            writes
        })
    };
    let image = format!("{}/{repo}:v1", proxy.host);
    let run = args(&["sign", "--key", &ours.private, &image]);
    let out = tokio::task::block_in_place(|| run_all(&cli, std::slice::from_ref(&run)))
        .pop()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let writes = writer.await.unwrap();
    assert!(writes > 0);
    assert_loud_failure(&out);
    let err = stderr(&out);
    assert!(
        err.contains("signature written but overwritten by concurrent writers 8 times")
            && err.contains("re-run"),
        "{err}"
    );
    // And indeed it is not there (the writer's manifest is).
    let verify = cli.run(&["verify", "--key", &ours.public, &image]);
    assert_ne!(verify.status.code(), Some(0), "{}", stderr(&verify));
}
