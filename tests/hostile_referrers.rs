//! The real `imgseal` binary against a registry whose referrers are hostile: a small HTTP/1.1
//! server in this test (std `TcpListener` on 127.0.0.1:0, one thread per connection, bounded by
//! timeouts, `Connection: close`) serving one honestly signed image whose `.sig` tag is absent
//! (404), and canned answers for `GET /v2/<repo>/referrers/<digest>` (or, for a registry without
//! the API, for the referrers tag schema's `sha256-<hex>` tag).
//!
//! What must hold: an entry whose manifest does not hash to its descriptor's digest, whose
//! `subject` is another image, or whose descriptor announces more than the manifest cap is
//! skipped with a warning naming it (the cap without fetching it); `Link` pagination that loops
//! or runs on forever stops, and pagination to another host is never followed; a fallback tag
//! that is not an index is ignored with a warning. Each run ends quickly, never panics, exits 1
//! when nothing valid is left and 0 when a valid signature is listed beside the bad entries.

mod cli_support;

use cli_support::*;
use imgseal::formats::cosign::{self, Descriptor, Payload};
use imgseal::oci::{self, ImageManifest, Index};
use imgseal::store::{referrers_tag, OCI_INDEX, OCI_MANIFEST};
use imgseal::Digest;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;
const REPO: &str = "hostile/app";

// ---------------------------------------------------------------- the server

/// How a response body is sent.
#[derive(Clone)]
enum Body {
    /// These bytes, with a truthful Content-Length.
    Bytes(Vec<u8>),
    /// `Content-Length: N` announced, then spaces streamed towards N until the client hangs up.
    Announced(u64),
}

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: Body) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// A manifest served honestly: its media type and its true Docker-Content-Digest.
    fn manifest(bytes: &[u8], media_type: &str) -> Reply {
        Reply::new(200, media_type, Body::Bytes(bytes.to_vec()))
            .header("Docker-Content-Digest", &Digest::sha256(bytes).to_string())
    }

    fn blob(bytes: &[u8]) -> Reply {
        Reply::new(200, "application/octet-stream", Body::Bytes(bytes.to_vec()))
    }

    /// A referrers list (an image index) listing `entries`.
    fn referrers(entries: &[oci::Descriptor]) -> Reply {
        let index = Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: entries.to_vec(),
            ..Index::default()
        };
        Reply::new(200, OCI_INDEX, Body::Bytes(index.to_bytes().unwrap()))
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Link: <target>; rel="next"`.
    fn next(self, target: &str) -> Reply {
        self.header("Link", &format!("<{target}>; rel=\"next\""))
    }
}

/// Answers computed from the request target (path and query), tried before the fixed routes.
type Dynamic = Box<dyn Fn(&str) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct Shared {
    /// Keyed by the request target; a target with a query falls back to its path.
    routes: Mutex<HashMap<String, Reply>>,
    dynamic: Mutex<Option<Dynamic>>,
    /// `METHOD TARGET` of every request received.
    log: Mutex<Vec<String>>,
}

/// A hostile registry on a free loopback port; stops (and joins its threads) on drop.
struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    handlers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handlers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let (shared, stop, handlers) = (shared.clone(), stop.clone(), handlers.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    let h = std::thread::spawn(move || {
                        let _ = serve(conn, &shared);
                    });
                    handlers.lock().unwrap().push(h);
                }
            })
        };
        Server {
            addr,
            shared,
            stop,
            acceptor: Some(acceptor),
            handlers,
        }
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn route(&self, target: &str, reply: Reply) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(target.to_string(), reply);
    }

    fn dynamic(&self, f: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static) {
        *self.shared.dynamic.lock().unwrap() = Some(Box::new(f));
    }

    /// Wait for every connection handled so far to finish (each is bounded by timeouts).
    fn settle(&self) {
        let handles: Vec<_> = self.handlers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }

    /// Every request so far, and forget them.
    fn take_requests(&self) -> Vec<String> {
        self.settle();
        std::mem::take(&mut *self.shared.log.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        self.settle();
    }
}

fn serve(mut conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Ok(());
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    shared
        .log
        .lock()
        .unwrap()
        .push(format!("{method} {target}"));
    let path = target.split('?').next().unwrap_or("");
    let dynamic = shared
        .dynamic
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|f| f(&target));
    let reply = dynamic
        .or_else(|| {
            let routes = shared.routes.lock().unwrap();
            routes.get(&target).or_else(|| routes.get(path)).cloned()
        })
        .unwrap_or_else(|| {
            Reply::new(
                404,
                "application/json",
                Body::Bytes(
                    br#"{"errors":[{"code":"NOT_FOUND","message":"no such thing"}]}"#.to_vec(),
                ),
            )
        });
    let reason = match reply.status {
        200 => "OK",
        404 => "Not Found",
        _ => "Whatever",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n");
    match &reply.body {
        Body::Bytes(b) => out.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Announced(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    if method != "HEAD" {
        match &reply.body {
            Body::Bytes(b) => conn.write_all(b)?,
            Body::Announced(total) => {
                let block = vec![b' '; 64 * 1024];
                let mut sent = 0u64;
                while sent < *total {
                    let n = (*total - sent).min(block.len() as u64) as usize;
                    if conn.write_all(&block[..n]).is_err() {
                        break; // the client hung up
                    }
                    sent += n as u64;
                }
            }
        }
    }
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Ok(())
}

fn manifest_path(reference: &str) -> String {
    format!("/v2/{REPO}/manifests/{reference}")
}

fn blob_path(digest: &str) -> String {
    format!("/v2/{REPO}/blobs/{digest}")
}

// ---------------------------------------------------------------- the image and its referrers

/// A small image manifest (unique per `seed`).
fn image_manifest(seed: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[],"annotations":{{"seed":"{seed}"}}}}"#,
        Digest::sha256(b"{}")
    )
    .into_bytes()
}

/// One honestly served image at `host/hostile/app:v1` (no `.sig` tag), a key, and the means to
/// make correctly signed referrer artifacts for it.
struct Scene {
    server: Server,
    cli: Cli,
    keys: KeyFiles,
    image: String,
    digest: Digest,
    manifest: Vec<u8>,
    layer: Descriptor,
}

impl Scene {
    fn new() -> Scene {
        let server = Server::start();
        let cli = Cli::new();
        let keys = cli.keypair("k");
        let manifest = image_manifest("honest");
        let digest = Digest::sha256(&manifest);
        server.route(
            &manifest_path("v1"),
            Reply::manifest(&manifest, OCI_MANIFEST),
        );
        server.route(
            &manifest_path(&digest.to_string()),
            Reply::manifest(&manifest, OCI_MANIFEST),
        );
        let identity = format!("{}/{REPO}", server.host());
        let payload = Payload::new(&identity, &digest, &BTreeMap::new())
            .to_bytes()
            .unwrap();
        use base64::Engine as _;
        let signature = base64::engine::general_purpose::STANDARD.encode(keys.key.sign(&payload));
        let mut layer = Descriptor::of(cosign::SIMPLE_SIGNING_MEDIA_TYPE, &payload);
        layer
            .annotations
            .insert(cosign::SIGNATURE_ANNOTATION.into(), signature);
        server.route(&blob_path(&layer.digest), Reply::blob(&payload));
        server.route(
            &blob_path(&Digest::sha256(oci::EMPTY_BLOB).to_string()),
            Reply::blob(oci::EMPTY_BLOB),
        );
        let image = format!("{}/{REPO}:v1", server.host());
        Scene {
            server,
            cli,
            keys,
            image,
            digest,
            manifest,
            layer,
        }
    }

    /// A signature artifact (cosign's OCI 1.1 shape) holding the valid signature of this image,
    /// with `subject` as given; its bytes and its referrers-list descriptor.
    fn artifact_with_subject(
        &self,
        subject: Option<oci::Descriptor>,
    ) -> (Vec<u8>, oci::Descriptor) {
        let artifact = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: Some(cosign::SIGNATURE_ARTIFACT_TYPE.into()),
            config: Descriptor::of(oci::EMPTY_MEDIA_TYPE, oci::EMPTY_BLOB),
            layers: vec![self.layer.clone()],
            subject,
            annotations: BTreeMap::new(),
        };
        let bytes = artifact.to_bytes().unwrap();
        let mut entry = oci::Descriptor::of(OCI_MANIFEST, &bytes);
        entry.artifact_type = Some(cosign::SIGNATURE_ARTIFACT_TYPE.into());
        (bytes, entry)
    }

    /// The honest artifact for this image, served at its digest; its descriptor.
    fn good_artifact(&self) -> oci::Descriptor {
        let (bytes, entry) =
            self.artifact_with_subject(Some(oci::Descriptor::of(OCI_MANIFEST, &self.manifest)));
        self.server.route(
            &manifest_path(&entry.digest),
            Reply::manifest(&bytes, OCI_MANIFEST),
        );
        entry
    }

    /// Where imgseal's `verify` asks for this image's signature referrers.
    fn referrers_path(&self) -> String {
        format!("/v2/{REPO}/referrers/{}", self.digest)
    }

    fn verify_target(&self) -> String {
        format!(
            "{}?artifactType={}",
            self.referrers_path(),
            cosign::SIGNATURE_ARTIFACT_TYPE
                .replace('/', "%2F")
                .replace('+', "%2B")
        )
    }

    fn serve_referrers(&self, reply: Reply) {
        self.server.route(&self.referrers_path(), reply);
    }

    fn verify(&self) -> Output {
        self.cli
            .run(&["verify", "--key", &self.keys.public, &self.image])
    }

    fn tree(&self) -> Output {
        self.cli.run(&["tree", "-o", "json", &self.image])
    }

    /// The requests made since the last call that fetched manifests other than the image's.
    fn referrer_manifest_requests(&self) -> Vec<String> {
        let own = [manifest_path("v1"), manifest_path(&self.digest.to_string())];
        self.server
            .take_requests()
            .into_iter()
            .filter(|r| r.contains("/manifests/") && !own.iter().any(|p| r.ends_with(p.as_str())))
            .filter(|r| !r.ends_with(&self.digest.signature_tag()))
            .collect()
    }
}

/// Verification failed (exit 1): nothing valid was found, and a warning holds every needle.
#[track_caller]
fn assert_refused_with_warning(out: &Output, needles: &[&str]) {
    assert_fails(out, 1, &["verification failed", "no signatures found"]);
    assert_warned(out, needles);
}

/// Verified (exit 0) with the valid entry, and the bad one still warned about.
#[track_caller]
fn assert_verified_with_warning(out: &Output, needles: &[&str]) {
    assert_ok(out);
    assert!(
        stderr(out).contains("verified, found at referrers API, artifact "),
        "{}",
        stderr(out)
    );
    assert_warned(out, needles);
}

// ---------------------------------------------------------------- the control

#[test]
fn honest_referrers_api_verifies() {
    let s = Scene::new();
    let good = s.good_artifact();
    s.serve_referrers(Reply::referrers(std::slice::from_ref(&good)));
    let out = s.verify();
    assert_ok(&out);
    assert!(warnings(&out).is_empty(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!(
        "verified, found at referrers API, artifact {}, layer 0",
        good.digest
    )));
    let requests = s.server.take_requests();
    assert_eq!(
        requests,
        vec![
            format!("GET {}", manifest_path("v1")),
            format!("GET {}", manifest_path(&s.digest.signature_tag())),
            format!("GET {}", s.verify_target()),
            format!("GET {}", manifest_path(&good.digest)),
            format!("GET {}", blob_path(&s.layer.digest)),
        ]
    );
}

// ---------------------------------------------------------------- (i) digest mismatch

#[test]
fn listed_artifact_whose_manifest_does_not_hash_to_its_digest_is_skipped() {
    let s = Scene::new();
    // The genuine, validly signed artifact, served under a digest it does not hash to (with a
    // Docker-Content-Digest header repeating the lie): only the digest check stands in the way.
    let good = s.good_artifact();
    let (bytes, _) = s.artifact_with_subject(Some(oci::Descriptor::of(OCI_MANIFEST, &s.manifest)));
    let lie = Digest::sha256(b"some other manifest").to_string();
    let liar = oci::Descriptor {
        digest: lie.clone(),
        ..good.clone()
    };
    s.server.route(
        &manifest_path(&lie),
        Reply::new(200, OCI_MANIFEST, Body::Bytes(bytes)).header("Docker-Content-Digest", &lie),
    );
    s.serve_referrers(Reply::referrers(std::slice::from_ref(&liar)));
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &[
            &format!("referrers API, artifact {lie}"),
            "does not match its digest",
            "skipped",
        ],
    );

    // Listed before a valid one: skipped, and the valid one verifies.
    s.serve_referrers(Reply::referrers(&[liar, good]));
    let out = s.verify();
    assert_verified_with_warning(
        &out,
        &[
            &format!("artifact {lie}"),
            "does not match its digest",
            "skipped",
        ],
    );

    let out = s.tree();
    assert_ok(&out);
    assert_warned(&out, &[&format!("referrer {lie}"), "skipped"]);
    assert_eq!(json(&out)["attachments"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- (ii) subject is another image

#[test]
fn listed_artifact_whose_subject_is_another_image_is_skipped() {
    let s = Scene::new();
    // A validly signed payload for *this* image, in an artifact that says it refers to another.
    let other = image_manifest("other");
    let other_digest = Digest::sha256(&other);
    let (bytes, foreign) = s.artifact_with_subject(Some(oci::Descriptor::of(OCI_MANIFEST, &other)));
    s.server.route(
        &manifest_path(&foreign.digest),
        Reply::manifest(&bytes, OCI_MANIFEST),
    );
    let (bytes, orphan) = s.artifact_with_subject(None);
    s.server.route(
        &manifest_path(&orphan.digest),
        Reply::manifest(&bytes, OCI_MANIFEST),
    );

    s.serve_referrers(Reply::referrers(&[foreign.clone(), orphan.clone()]));
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &[
            &format!("referrers API, artifact {}", foreign.digest),
            &format!("its subject is {other_digest}, another image; skipped"),
        ],
    );
    assert_warned(
        &out,
        &[
            &format!("artifact {}", orphan.digest),
            "it has no subject; skipped",
        ],
    );

    let good = s.good_artifact();
    s.serve_referrers(Reply::referrers(&[foreign.clone(), good]));
    let out = s.verify();
    assert_verified_with_warning(&out, &[&foreign.digest, "another image; skipped"]);

    let out = s.tree();
    assert_ok(&out);
    assert_warned(
        &out,
        &[
            &format!("referrer {}", foreign.digest),
            "subject is not this image",
        ],
    );
    assert_eq!(json(&out)["attachments"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- (iii) pagination loops

#[test]
fn pagination_that_loops_back_stops_with_a_warning() {
    let s = Scene::new();
    let good = s.good_artifact();
    let page2 = format!("{}?page=2", s.referrers_path());
    // Page 1 (what verify asks for; tree asks without the filter) links to page 2, page 2
    // links back to page 1.
    s.server
        .route(&s.verify_target(), Reply::referrers(&[]).next(&page2));
    s.serve_referrers(Reply::referrers(&[]).next(&page2));
    s.server
        .route(&page2, Reply::referrers(&[]).next(&s.verify_target()));
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &["referrers pagination loops back to", "stopped there"],
    );
    let pages: Vec<_> = s
        .server
        .take_requests()
        .into_iter()
        .filter(|r| r.contains("/referrers/"))
        .collect();
    assert_eq!(
        pages,
        vec![format!("GET {}", s.verify_target()), format!("GET {page2}")]
    );

    // The entries of both pages are used: the valid signature on page 2 verifies.
    s.server.route(
        &page2,
        Reply::referrers(std::slice::from_ref(&good)).next(&s.verify_target()),
    );
    let out = s.verify();
    assert_verified_with_warning(&out, &["loops back"]);

    // tree asks without a filter: its own first page, then the same loop.
    let out = s.tree();
    assert_ok(&out);
    assert_warned(&out, &["loops back"]);
}

#[test]
fn pagination_that_never_ends_stops_after_64_pages() {
    let s = Scene::new();
    let path = s.referrers_path();
    // Every page links to a new one: ?page=N → ?page=N+1, forever, each listing nothing.
    s.server.dynamic(move |target| {
        let rest = target.strip_prefix(path.as_str())?;
        let n: u64 = rest
            .split("page=")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        Some(Reply::referrers(&[]).next(&format!("{path}?page={}", n + 1)))
    });
    let out = s.verify();
    assert_refused_with_warning(&out, &["referrers list longer than 64 pages; stopped"]);
    let pages = s
        .server
        .take_requests()
        .into_iter()
        .filter(|r| r.contains("/referrers/"))
        .count();
    assert_eq!(pages, 64);
}

// ---------------------------------------------------------------- (iv) Link to another host

#[test]
fn pagination_to_another_host_is_not_followed() {
    let s = Scene::new();
    let trap = Server::start();
    let good = s.good_artifact();
    // The other host would even serve a valid list.
    trap.route(
        &s.referrers_path(),
        Reply::referrers(std::slice::from_ref(&good)),
    );
    let elsewhere = [
        format!("http://{}{}?page=2", trap.host(), s.referrers_path()),
        // Same address, another spelling: still not the registry imgseal was pointed at.
        format!(
            "http://localhost:{}{}?page=2",
            s.server.addr.port(),
            s.referrers_path()
        ),
    ];
    for target in &elsewhere {
        s.serve_referrers(Reply::referrers(&[]).next(target));
        let out = s.verify();
        assert_refused_with_warning(
            &out,
            &[
                &format!("referrers pagination points to another host ({target})"),
                "stopped",
            ],
        );
        let requests = s.server.take_requests();
        assert_eq!(
            requests
                .iter()
                .filter(|r| r.contains("/referrers/"))
                .count(),
            1,
            "{requests:?}"
        );
    }
    assert!(
        trap.take_requests().is_empty(),
        "the other host was contacted"
    );

    // A protocol-relative target ("//host/…") is a path on this registry, not another host.
    let sneaky = format!("//{}{}", trap.host(), s.referrers_path());
    s.server.route(&sneaky, Reply::referrers(&[]));
    s.serve_referrers(Reply::referrers(&[]).next(&sneaky));
    let out = s.verify();
    assert_fails(&out, 1, &["no signatures found"]);
    assert!(s.server.take_requests().contains(&format!("GET {sneaky}")));
    assert!(
        trap.take_requests().is_empty(),
        "the other host was contacted"
    );

    // The same host, absolute: followed.
    let page2 = format!("{}?page=2", s.referrers_path());
    s.server
        .route(&page2, Reply::referrers(std::slice::from_ref(&good)));
    s.serve_referrers(Reply::referrers(&[]).next(&format!("http://{}{page2}", s.server.host())));
    let out = s.verify();
    assert_ok(&out);
    assert!(warnings(&out).is_empty(), "{}", stderr(&out));
}

// ---------------------------------------------------------------- (v) a 100 MiB manifest

#[test]
fn descriptor_announcing_a_100_mib_manifest_is_skipped_without_fetching_it() {
    let s = Scene::new();
    let huge = Digest::sha256(b"huge").to_string();
    let entry = oci::Descriptor {
        size: 100 * MIB,
        artifact_type: Some(cosign::SIGNATURE_ARTIFACT_TYPE.into()),
        ..oci::Descriptor::of(OCI_MANIFEST, b"huge")
    };
    assert_eq!(entry.digest, huge);
    s.server.route(
        &manifest_path(&huge),
        Reply::new(200, OCI_MANIFEST, Body::Announced(100 * MIB)),
    );
    s.serve_referrers(Reply::referrers(std::slice::from_ref(&entry)));
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &[
            &format!("referrers API, artifact {huge}"),
            "announces 104857600 bytes, over the 4194304-byte manifest cap; skipped",
        ],
    );
    assert_eq!(s.referrer_manifest_requests(), Vec::<String>::new());

    let good = s.good_artifact();
    s.serve_referrers(Reply::referrers(&[entry, good.clone()]));
    let out = s.verify();
    assert_verified_with_warning(&out, &[&huge, "over the 4194304-byte manifest cap"]);
    assert_eq!(
        s.referrer_manifest_requests(),
        vec![format!("GET {}", manifest_path(&good.digest))]
    );

    let out = s.tree();
    assert_ok(&out);
    assert_warned(
        &out,
        &[
            &format!("referrer {huge}"),
            "over the manifest cap; skipped",
        ],
    );
    assert!(!s
        .referrer_manifest_requests()
        .iter()
        .any(|r| r.contains(&huge)));
}

// ---------------------------------------------------------------- no referrers API

#[test]
fn fallback_tag_holding_something_other_than_an_index_is_ignored_with_a_warning() {
    let s = Scene::new();
    // No referrers API: the endpoint is a 404, as everything unrouted is.
    let tag = referrers_tag(&s.digest);
    let squatter = image_manifest("squatter");
    s.server.route(
        &manifest_path(&tag),
        Reply::manifest(&squatter, OCI_MANIFEST),
    );
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &[&format!(
            "referrers tag {tag} holds a \"{OCI_MANIFEST}\", not an image index; ignored"
        )],
    );
    let requests = s.server.take_requests();
    assert!(requests.contains(&format!("GET {}", s.verify_target())));
    assert!(requests.contains(&format!("GET {}", manifest_path(&tag))));

    // Garbage served as an index.
    s.server.route(
        &manifest_path(&tag),
        Reply::new(200, OCI_INDEX, Body::Bytes(b"<html>oops</html>".to_vec())),
    );
    let out = s.verify();
    assert_refused_with_warning(
        &out,
        &[&format!("referrers tag {tag}: image index"), "ignored"],
    );

    let out = s.tree();
    assert_ok(&out);
    assert_warned(&out, &[&format!("referrers tag {tag}")]);

    // The control: a real fallback index listing the valid artifact.
    let good = s.good_artifact();
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: vec![good.clone()],
        ..Index::default()
    };
    s.server.route(
        &manifest_path(&tag),
        Reply::manifest(&index.to_bytes().unwrap(), OCI_INDEX),
    );
    let out = s.verify();
    assert_ok(&out);
    assert!(stderr(&out).contains(&format!(
        "verified, found at referrers tag schema, artifact {}",
        good.digest
    )));
}

#[test]
fn referrers_api_answering_garbage_or_an_error_fails_cleanly() {
    let s = Scene::new();
    // (The garbage case's message does not say it was the referrers list; see the report.)
    for (what, reply, code, needles) in [
        (
            "garbage",
            Reply::new(200, OCI_INDEX, Body::Bytes(b"\xff\x00not json".to_vec())),
            2,
            vec!["image index".to_string()],
        ),
        (
            "server error",
            Reply::new(500, "text/plain", Body::Bytes(b"on fire".to_vec())),
            2,
            vec![format!("HTTP 500 for referrers of {}: on fire", s.digest)],
        ),
        (
            "endless body",
            Reply::new(200, OCI_INDEX, Body::Announced(100 * MIB)),
            1,
            vec![format!(
                "referrers of {} is larger than the 4194304-byte limit",
                s.digest
            )],
        ),
    ] {
        s.serve_referrers(reply);
        let out = s.verify();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{what}: stderr: {}",
            stderr(&out)
        );
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert_fails(&out, code, &needles);
    }
}
