//! The real `imgseal` binary against a registry that is slow, flaky or amplifies work: the
//! small HTTP/1.1 server of `hostile_server` (std `TcpListener` on 127.0.0.1:0, one thread per
//! connection, `Connection: close`, every held connection bounded by `HOLD_LIMIT`).
//!
//! What must hold:
//! - time: a body that stalls or trickles ends the run at the `-t/--timeout` deadline with a
//!   one-line error naming the registry and the deadline, exit 2 (never a hang, never
//!   "error decoding response body"); a blob claiming 100 GB buys no more time;
//! - faults: idempotent requests answered 429/503 or cut by a hung-up connection are retried at
//!   most 3 times in all, honouring `Retry-After` up to a cap; a POST is never retried; a
//!   redirect to another host gets no credentials, and a redirect loop is bounded;
//! - amplification: duplicates in a referrers tag-schema index, in a `.sig` manifest's layers
//!   and in an image index cost one request each, candidate lists are capped with a warning
//!   naming the cap, and a failure over many candidates prints a bounded message.
//!
//! No assertion is on time except the hang guard of `Cli::run` (30 s).

mod support;

use imgseal::formats::cosign::{self, Descriptor};
use imgseal::oci::{self, Index};
use imgseal::oci::{OCI_INDEX, OCI_MANIFEST};
use imgseal::store::referrers_tag;
use imgseal::Digest;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::cli::*;
use support::hostile_server::*;

struct Scene {
    server: Server,
    cli: Cli,
    keys: KeyFiles,
    signed: SignedImage,
}

impl Scene {
    /// An honestly signed image at `host/hostile/app:v1`, its `.sig` manifest served.
    fn new() -> Scene {
        let server = Server::start();
        let cli = Cli::new();
        let keys = cli.keypair("k");
        let signed = SignedImage::install(&server, &keys.key);
        let s = Scene {
            server,
            cli,
            keys,
            signed,
        };
        s.serve_signatures(vec![s.signed.layer.clone()]);
        s
    }

    fn serve_signatures(&self, layers: Vec<Descriptor>) {
        let (m, config) = cosign::signature_manifest(layers);
        self.server.route(
            &blob_path(&Digest::sha256(&config).to_string()),
            Reply::blob(&config),
        );
        self.server.route(
            &self.sig_path(),
            Reply::manifest(&m.to_bytes().unwrap(), OCI_MANIFEST),
        );
    }

    fn sig_path(&self) -> String {
        manifest_path(&self.signed.digest.signature_tag())
    }

    fn verify(&self, extra: &[&str]) -> Output {
        let mut args = vec!["verify", "--key", self.keys.public.as_str()];
        args.extend_from_slice(extra);
        args.push(&self.signed.image);
        self.cli.run(&args)
    }

    fn count(&self, request: &str) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.as_str() == request)
            .count()
    }
}

/// Exit `code`, one line on stderr (warnings aside) containing every needle.
#[track_caller]
fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("imgseal: warning:"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line: {err}");
    for n in needles {
        assert!(errors[0].contains(n), "missing {n:?} in: {err}");
    }
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        stderr(out)
    );
}

/// A reply that is `first` for the first `n` requests it answers, then `then`.
fn first_n(n: usize, first: Reply, then: Reply) -> impl Fn() -> Reply {
    let seen = AtomicUsize::new(0);
    move || {
        if seen.fetch_add(1, Ordering::SeqCst) < n {
            first.clone()
        } else {
            then.clone()
        }
    }
}

// ---------------------------------------------------------------- time

#[test]
fn manifest_body_that_stalls_ends_at_the_deadline() {
    let s = Scene::new();
    let manifest = s.signed.manifest.clone();
    s.server.route(
        &manifest_path("v1"),
        Reply::new(
            200,
            OCI_MANIFEST,
            Body::Stall {
                announced: manifest.len() as u64,
                prefix: manifest[..10].to_vec(),
            },
        ),
    );
    let out = s.verify(&["-t", "2s"]);
    assert_fails(
        &out,
        2,
        &[
            &format!(
                "registry {} did not answer within the 2s deadline",
                s.server.host()
            ),
            "timed out",
            "-t/--timeout",
        ],
    );
    assert!(!stderr(&out).contains("error decoding response body"));
}

#[test]
fn payload_blob_that_trickles_past_the_deadline_says_timed_out() {
    let s = Scene::new();
    let len = s.signed.payload.len() as u64;
    s.server.route(
        &blob_path(&s.signed.layer.digest),
        Reply::new(
            200,
            "application/octet-stream",
            Body::Trickle {
                announced: len,
                every: Duration::from_millis(200),
            },
        ),
    );
    let out = s.verify(&["--timeout", "2s"]);
    // The payload's failure is not a verdict on the image: the run failed (2), it was not
    // refused (1).
    assert_fails(
        &out,
        2,
        &["did not answer within the 2s deadline", "timed out"],
    );
    assert!(!stderr(&out).contains("error decoding response body"));
    assert!(s.server.sent(&blob_path(&s.signed.layer.digest)) < len);
}

#[test]
fn copy_of_a_layer_claiming_100_gb_that_stalls_ends_at_the_deadline() {
    let s = Scene::new();
    let layer = oci::Descriptor {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        size: 100 * 1024 * MIB,
        digest: Digest::sha256(b"huge").to_string(),
        ..Default::default()
    };
    let config = b"{}";
    let m = oci::ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: oci::Descriptor::of("application/vnd.oci.image.config.v1+json", config),
        layers: vec![layer.clone()],
        subject: None,
        annotations: Default::default(),
    }
    .to_bytes()
    .unwrap();
    s.server
        .route(&manifest_path("big"), Reply::manifest(&m, OCI_MANIFEST));
    s.server.route(
        &blob_path(&Digest::sha256(config).to_string()),
        Reply::blob(config),
    );
    s.server.route(
        &blob_path(&layer.digest),
        Reply::new(
            200,
            "application/octet-stream",
            Body::Stall {
                announced: layer.size,
                prefix: vec![0; 1024],
            },
        ),
    );
    let dst = format!("oci:{}", s.cli.path("layout").display());
    let src = format!("{}/{REPO}:big", s.server.host());
    let out = s.cli.run(&["copy", "-t", "2s", &src, &dst]);
    assert_fails(
        &out,
        2,
        &["did not answer within the 2s deadline", "-t/--timeout"],
    );
}

#[test]
fn timeout_values_are_checked() {
    let cli = Cli::new();
    for bad in ["0s", "soon", "3x", "-1s", "", "1h-5m"] {
        let flag = format!("--timeout={bad}");
        let out = cli.run(&["verify", "--key", "k.pub", &flag, "127.0.0.1:1/a:b"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("timeout"), "{bad}: {}", stderr(&out));
    }
    // Go-style compound durations are accepted (the run then fails for the missing key file).
    let out = cli.run(&["verify", "--key", "k.pub", "-t", "1m30s", "127.0.0.1:1/a:b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("duration"), "{}", stderr(&out));
}

// ---------------------------------------------------------------- faults

#[test]
fn unavailable_registry_is_retried_honouring_retry_after() {
    let s = Scene::new();
    let manifest = s.signed.manifest.clone();
    let busy =
        Reply::new(503, "text/plain", Body::Bytes(b"busy".to_vec())).header("Retry-After", "1");
    let reply = first_n(
        1,
        busy,
        Reply::new(429, "text/plain", Body::Bytes(b"slow down".to_vec())),
    );
    let answered = AtomicUsize::new(0);
    let target = manifest_path("v1");
    s.server.handler(move |r| {
        if r.target != target {
            return None;
        }
        // Two refusals (503 with Retry-After, then 429 without), then the manifest.
        if answered.fetch_add(1, Ordering::SeqCst) < 2 {
            Some(reply())
        } else {
            Some(Reply::manifest(&manifest, OCI_MANIFEST))
        }
    });
    assert_ok(&s.verify(&[]));
    assert_eq!(s.count(&format!("GET {}", manifest_path("v1"))), 3);
}

#[test]
fn persistent_429_gives_up_after_three_attempts() {
    let s = Scene::new();
    s.server.route(
        &manifest_path("v1"),
        Reply::new(429, "text/plain", Body::Bytes(b"slow down".to_vec())),
    );
    let out = s.verify(&[]);
    assert_fails(&out, 2, &["HTTP 429", "slow down"]);
    assert_eq!(s.count(&format!("GET {}", manifest_path("v1"))), 3);
}

#[test]
fn retry_after_beyond_the_cap_is_not_waited_for() {
    let s = Scene::new();
    s.server.route(
        &manifest_path("v1"),
        Reply::new(503, "text/plain", Body::Bytes(b"maintenance".to_vec()))
            .header("Retry-After", "3600"),
    );
    let out = s.verify(&[]);
    assert_fails(&out, 2, &["HTTP 503", "maintenance"]);
    assert_eq!(s.count(&format!("GET {}", manifest_path("v1"))), 1);
}

#[test]
fn connection_hung_up_mid_request_is_retried() {
    let s = Scene::new();
    let payload = s.signed.payload.clone();
    let reply = first_n(2, Reply::new(200, "x", Body::Hangup), Reply::blob(&payload));
    let target = blob_path(&s.signed.layer.digest);
    s.server.handler(move |r| (r.target == target).then(&reply));
    assert_ok(&s.verify(&[]));
    assert_eq!(
        s.count(&format!("GET {}", blob_path(&s.signed.layer.digest))),
        3
    );

    // Always hung up: three attempts, then a one-line error.
    let s = Scene::new();
    s.server
        .route(&manifest_path("v1"), Reply::new(200, "x", Body::Hangup));
    let out = s.verify(&[]);
    assert_fails(&out, 2, &[&format!("registry {}", s.server.host())]);
    assert_eq!(s.count(&format!("GET {}", manifest_path("v1"))), 3);
}

#[test]
fn post_is_never_retried() {
    let s = Scene::new();
    s.server.handler(|r| {
        (r.method == "POST").then(|| {
            Reply::new(503, "text/plain", Body::Bytes(b"uploads paused".to_vec()))
                .header("Retry-After", "0")
        })
    });
    let out = s.cli.run(&[
        "sign",
        "--key",
        &s.keys.private,
        "-a",
        "fresh=payload",
        &s.signed.image,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 503") || stderr(&out).contains("attempts"));
    let log = s.server.requests();
    assert!(log.iter().any(|r| r.starts_with("POST ")), "{log:?}");
    // The tag-update loop may start over (a GET of the tag first), but a POST is never sent
    // again on its own.
    for pair in log.windows(2) {
        assert!(
            !(pair[0].starts_with("POST ") && pair[1] == pair[0]),
            "POST retried: {log:?}"
        );
    }
}

#[test]
fn redirect_to_another_host_gets_no_credentials() {
    let s = Scene::new();
    let other = Server::start();
    let payload_path = "/elsewhere/payload";
    other.route(payload_path, Reply::blob(&s.signed.payload));
    let seen_there: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    {
        let seen = seen_there.clone();
        other.handler(move |r| {
            seen.lock()
                .unwrap()
                .push(r.header("authorization").map(str::to_string));
            None
        });
    }
    // The registry wants basic auth for everything, and sends the payload elsewhere.
    let location = format!("http://{}{payload_path}", other.host());
    let blob = blob_path(&s.signed.layer.digest);
    let seen_here: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    {
        let seen = seen_here.clone();
        s.server.handler(move |r| {
            let auth = r.header("authorization").map(str::to_string);
            seen.lock().unwrap().push(auth.clone());
            if auth.is_none() {
                return Some(
                    Reply::new(401, "application/json", Body::Bytes(b"{}".to_vec()))
                        .header("WWW-Authenticate", "Basic realm=\"hostile\""),
                );
            }
            (r.target == blob).then(|| {
                Reply::new(307, "text/plain", Body::Bytes(Vec::new())).header("Location", &location)
            })
        });
    }
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(
        s.cli.path("docker/config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            s.server.host()
        ),
    )
    .unwrap();
    assert_ok(&s.verify(&[]));
    let here = seen_here.lock().unwrap().clone();
    assert!(
        here.iter().flatten().any(|a| a == &format!("Basic {auth}")),
        "the registry never got the credentials: {here:?}"
    );
    other.settle();
    let there = seen_there.lock().unwrap().clone();
    assert!(!there.is_empty(), "the redirect was not followed");
    assert!(
        there.iter().all(Option::is_none),
        "credentials reached another host: {there:?}"
    );
}

#[test]
fn redirect_loop_is_bounded() {
    let s = Scene::new();
    let path = manifest_path("v1");
    let here = format!("http://{}{path}", s.server.host());
    s.server.route(
        &path,
        Reply::new(302, "text/plain", Body::Bytes(Vec::new())).header("Location", &here),
    );
    let out = s.verify(&[]);
    assert_fails(
        &out,
        2,
        &[&format!("registry {}", s.server.host()), "redirect"],
    );
    let n = s.count(&format!("GET {path}"));
    assert!((2..=12).contains(&n), "{n} requests for a redirect loop");
}

// ---------------------------------------------------------------- amplification

/// A signature artifact descriptor whose manifest the registry does not have.
fn missing_artifact(seed: &str) -> oci::Descriptor {
    let mut d = oci::Descriptor::of(OCI_MANIFEST, seed.as_bytes());
    d.artifact_type = Some(cosign::SIGNATURE_ARTIFACT_TYPE.into());
    d
}

fn serve_tag_schema(s: &Scene, entries: Vec<oci::Descriptor>) {
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: entries,
        ..Index::default()
    };
    s.server.route(
        &manifest_path(&referrers_tag(&s.signed.digest)),
        Reply::manifest(&index.to_bytes().unwrap(), OCI_INDEX),
    );
}

#[test]
fn tag_schema_index_listing_one_artifact_18000_times_costs_one_fetch() {
    let s = Scene::new();
    s.server
        .route(&s.sig_path(), Reply::new(404, "x", Body::Bytes(Vec::new())));
    let entry = missing_artifact("listed but gone");
    serve_tag_schema(&s, vec![entry.clone(); 18_000]);
    let out = s.verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = s.server.requests();
    assert!(
        log.len() < 10,
        "{} requests: {:?}",
        log.len(),
        &log[..20.min(log.len())]
    );
    assert_eq!(s.count(&format!("GET {}", manifest_path(&entry.digest))), 1);
    assert_eq!(
        stderr(&out).matches("listed but missing").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn tag_schema_index_with_thousands_of_artifacts_is_capped_with_a_warning() {
    let s = Scene::new();
    s.server
        .route(&s.sig_path(), Reply::new(404, "x", Body::Bytes(Vec::new())));
    let entries: Vec<_> = (0..1500)
        .map(|i| missing_artifact(&format!("a{i}")))
        .collect();
    serve_tag_schema(&s, entries);
    let out = s.verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("lists more than 1000 referrers"), "{err}");
    assert!(
        err.contains("more than 100 candidate signatures or signature artifacts"),
        "{err}"
    );
    let manifests = s
        .server
        .requests()
        .iter()
        .filter(|r| r.contains("/manifests/sha256:") && !r.contains(".sig"))
        .count();
    assert!(manifests <= 101, "{manifests} referrer manifests fetched");
}

#[test]
fn sig_with_14000_layers_naming_one_missing_payload_costs_one_blob_request() {
    let s = Scene::new();
    let mut layer = s.signed.layer.clone();
    let missing = b"a payload nobody uploaded";
    layer.digest = Digest::sha256(missing).to_string();
    layer.size = missing.len() as u64;
    // A short (never checked) signature keeps 14,000 layers under the 4 MiB manifest cap.
    layer
        .annotations
        .insert(cosign::SIGNATURE_ANNOTATION.into(), "AAAA".into());
    s.serve_signatures(vec![layer.clone(); 14_000]);
    let out = s.verify(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        s.count(&format!("GET {}", blob_path(&layer.digest))),
        1,
        "{err}"
    );
    assert!(s.server.requests().len() < 10, "{:?}", s.server.requests());
    // A bounded message: ten reasons, then a count and where to find the rest.
    assert!(err.len() < 8 * 1024, "{} bytes of stderr", err.len());
    assert!(
        err.contains("more than 100 candidate signatures or signature artifacts"),
        "{err}"
    );
    assert!(err.contains("… and 90 more (see --output json)"), "{err}");
    assert_eq!(
        err.matches("payload could not be fetched").count(),
        10,
        "{err}"
    );
}

/// An index at `host/hostile/app:idx` listing one platform manifest `times` times.
fn serve_index_with_duplicates(s: &Scene, times: usize) -> Digest {
    let child = image_manifest("child");
    let child_digest = Digest::sha256(&child);
    s.server.route(
        &manifest_path(&child_digest.to_string()),
        Reply::manifest(&child, OCI_MANIFEST),
    );
    s.server.route(
        &blob_path(&Digest::sha256(b"{}").to_string()),
        Reply::blob(b"{}"),
    );
    let mut entry = oci::Descriptor::of(OCI_MANIFEST, &child);
    entry.platform = Some(oci::Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        ..Default::default()
    });
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![entry; times],
        ..Index::default()
    };
    s.server.route(
        &manifest_path("idx"),
        Reply::manifest(&index.to_bytes().unwrap(), OCI_INDEX),
    );
    child_digest
}

#[test]
fn copy_of_an_index_listing_one_child_5000_times_copies_it_once() {
    let s = Scene::new();
    let child = serve_index_with_duplicates(&s, 5000);
    let dst = format!("oci:{}", s.cli.path("layout").display());
    let out = s.cli.run(&[
        "copy",
        "-o",
        "json",
        &format!("{}/{REPO}:idx", s.server.host()),
        &dst,
    ]);
    assert_ok(&out);
    assert_eq!(
        s.count(&format!("GET {}", manifest_path(&child.to_string()))),
        1
    );
    let n = s.server.requests().len();
    assert!(n < 20, "{n} requests: {:?}", s.server.requests());
}

#[test]
fn required_labels_over_an_index_listing_one_child_5000_times_inspect_it_once() {
    let s = Scene::new();
    let child = serve_index_with_duplicates(&s, 5000);
    std::fs::write(
        s.cli.path("policy.yaml"),
        "version: 1\ndefaultAction: reject\nrules:\n  - name: labelled\n    images: ['**']\n    requiredLabels: {org.example.team: null}\n",
    )
    .unwrap();
    let out = s.cli.run(&[
        "verify",
        "--policy",
        "policy.yaml",
        &format!("{}/{REPO}:idx", s.server.host()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("FAIL").count(), 1, "{}", stdout(&out));
    assert_eq!(
        s.count(&format!("GET {}", manifest_path(&child.to_string()))),
        1
    );
    let n = s.server.requests().len();
    assert!(n < 10, "{n} requests: {:?}", s.server.requests());
}
