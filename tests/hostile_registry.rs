//! The real `imgseal` binary against a hostile registry: a small HTTP/1.1 server in this test
//! (std `TcpListener` on 127.0.0.1:0, one thread per connection, `Connection: close`) that
//! answers GET/HEAD by path with canned, deliberately wrong responses.
//!
//! What must hold: content that does not hash to the digest it was fetched by (or announced
//! with) is refused with exit 1; oversized manifests are refused with exit 1 without being
//! downloaded (announced size) or buffered past the cap (streamed size); oversized signature
//! payloads are never requested; server errors and garbage give exit 2 with a one-line message
//! and no panic.

use imgseal::formats::cosign::{self, Descriptor, Payload};
use imgseal::store::OCI_MANIFEST;
use imgseal::{Digest, SigningKey};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;
const REPO: &str = "hostile/app";
/// imgseal's default manifest and payload cap, as it appears in its messages.
const LIMIT_MSG: &str = "larger than the 4194304-byte limit";

// ---------------------------------------------------------------- the server

/// How a response body is sent.
#[derive(Clone)]
enum Body {
    /// These bytes, with a truthful Content-Length.
    Bytes(Vec<u8>),
    /// `Content-Length: N` announced, then spaces streamed towards N until the client hangs up.
    Announced(u64),
    /// Chunked transfer encoding (no Content-Length), streaming up to N bytes of spaces.
    Chunked(u64),
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
    fn manifest(bytes: &[u8]) -> Reply {
        Reply::new(200, OCI_MANIFEST, Body::Bytes(bytes.to_vec()))
            .header("Docker-Content-Digest", &Digest::sha256(bytes).to_string())
    }

    fn blob(bytes: &[u8]) -> Reply {
        Reply::new(200, "application/octet-stream", Body::Bytes(bytes.to_vec()))
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Reply>>,
    /// `METHOD PATH` of every request received.
    log: Mutex<Vec<String>>,
    /// Body bytes actually written, per path, for streamed bodies.
    sent: Mutex<HashMap<String, u64>>,
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

    fn route(&self, path: &str, reply: Reply) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    /// Wait for every connection handled so far to finish (each is bounded by timeouts).
    fn settle(&self) {
        let handles: Vec<_> = self.handlers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }

    fn requests(&self) -> Vec<String> {
        self.settle();
        self.shared.log.lock().unwrap().clone()
    }

    fn sent(&self, path: &str) -> u64 {
        self.settle();
        *self
            .shared
            .sent
            .lock()
            .unwrap()
            .get(path)
            .unwrap_or_else(|| panic!("nothing was streamed for {path}"))
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

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Whatever",
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
    let path = words.next().unwrap_or("").to_string();
    shared.log.lock().unwrap().push(format!("{method} {path}"));
    let reply = shared
        .routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| {
            Reply::new(
                404,
                "application/json",
                Body::Bytes(
                    br#"{"errors":[{"code":"NOT_FOUND","message":"no such thing"}]}"#.to_vec(),
                ),
            )
        });
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n");
    match &reply.body {
        Body::Bytes(b) => out.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Announced(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
        Body::Chunked(_) => out.push_str("Transfer-Encoding: chunked\r\n"),
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    match &reply.body {
        Body::Bytes(b) => conn.write_all(b)?,
        Body::Announced(total) | Body::Chunked(total) => {
            let chunked = matches!(reply.body, Body::Chunked(_));
            let block = vec![b' '; 64 * 1024];
            let mut sent = 0u64;
            while sent < *total {
                let n = (*total - sent).min(block.len() as u64) as usize;
                let written = if chunked {
                    conn.write_all(format!("{n:x}\r\n").as_bytes())
                        .and_then(|_| conn.write_all(&block[..n]))
                        .and_then(|_| conn.write_all(b"\r\n"))
                } else {
                    conn.write_all(&block[..n])
                };
                if written.is_err() {
                    break; // the client hung up
                }
                sent += n as u64;
            }
            if chunked && sent == *total {
                let _ = conn.write_all(b"0\r\n\r\n");
            }
            shared.sent.lock().unwrap().insert(path, sent);
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

// ---------------------------------------------------------------- the client side

struct Env {
    dir: tempfile::TempDir,
    key: SigningKey,
    public: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        let key = SigningKey::generate().unwrap();
        let public = dir.path().join("test.pub");
        std::fs::write(&public, key.public_key().to_pem()).unwrap();
        Env { dir, key, public }
    }

    fn verify(&self, image: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_imgseal"))
            .args(["verify", "--key"])
            .arg(&self.public)
            .arg(image)
            .current_dir(self.dir.path())
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env("HOME", self.dir.path())
            .env_remove("COSIGN_PASSWORD")
            .env_remove("IMGSEAL_PASSWORD")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

/// Exit code `code` (so no crash by signal) and a one-line error; stderr holds every needle.
#[track_caller]
fn assert_fails(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        stdout(o)
    );
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in stderr: {err}");
    }
    // One line for the error; `imgseal: warning: …` lines (one each) may precede it.
    assert_eq!(
        err.trim_end()
            .lines()
            .filter(|l| !l.starts_with("imgseal: warning: "))
            .count(),
        1,
        "error must be one line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A small image manifest (unique per `seed`).
fn image_manifest(seed: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[],"annotations":{{"seed":"{seed}"}}}}"#,
        Digest::sha256(b"{}")
    )
    .into_bytes()
}

/// An honestly served, correctly signed image at `host/hostile/app:v1`.
struct Honest {
    image: String,
    digest: Digest,
    payload: Vec<u8>,
    layer: Descriptor,
}

impl Honest {
    fn install(server: &Server, env: &Env) -> Honest {
        let manifest = image_manifest("honest");
        let digest = Digest::sha256(&manifest);
        server.route(&manifest_path("v1"), Reply::manifest(&manifest));
        server.route(
            &manifest_path(&digest.to_string()),
            Reply::manifest(&manifest),
        );
        let identity = format!("{}/{REPO}", server.host());
        let payload = Payload::new(&identity, &digest, &BTreeMap::new())
            .to_bytes()
            .unwrap();
        use base64::Engine as _;
        let signature = base64::engine::general_purpose::STANDARD.encode(env.key.sign(&payload));
        let mut layer = Descriptor::of(cosign::SIMPLE_SIGNING_MEDIA_TYPE, &payload);
        layer
            .annotations
            .insert(cosign::SIGNATURE_ANNOTATION.into(), signature);
        server.route(&blob_path(&layer.digest), Reply::blob(&payload));
        let honest = Honest {
            image: format!("{}/{REPO}:v1", server.host()),
            digest,
            payload,
            layer: layer.clone(),
        };
        honest.serve_signatures(server, vec![layer]);
        honest
    }

    /// Serve a `.sig` manifest (and its config blob) with these layers.
    fn serve_signatures(&self, server: &Server, layers: Vec<Descriptor>) {
        let (m, config) = cosign::signature_manifest(layers);
        server.route(
            &blob_path(&Digest::sha256(&config).to_string()),
            Reply::blob(&config),
        );
        server.route(
            &manifest_path(&self.digest.signature_tag()),
            Reply::manifest(&m.to_bytes().unwrap()),
        );
    }

    fn sig_path(&self) -> String {
        manifest_path(&self.digest.signature_tag())
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn honest_server_verifies_with_three_requests() {
    // The control: the same server, telling the truth, is a registry imgseal accepts.
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    let out = env.verify(&honest.image);
    assert_ok(&out);
    assert_eq!(
        server.requests(),
        vec![
            format!("GET {}", manifest_path("v1")),
            format!("GET {}", honest.sig_path()),
            format!("GET {}", blob_path(&honest.layer.digest)),
        ]
    );
    assert_eq!(stdout(&out).trim().as_bytes(), honest.payload.as_slice());
    assert_ok(&env.verify(&format!("{}/{REPO}@{}", server.host(), honest.digest)));
}

#[test]
fn docker_content_digest_header_that_does_not_match_the_body_is_refused() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    // The body is the signed manifest; the header claims other content.
    let lie = Digest::sha256(b"something else");
    server.route(
        &manifest_path("v1"),
        Reply::new(200, OCI_MANIFEST, Body::Bytes(image_manifest("honest")))
            .header("Docker-Content-Digest", &lie.to_string()),
    );
    let out = env.verify(&honest.image);
    assert_fails(
        &out,
        1,
        &[
            "Docker-Content-Digest header",
            "does not match its digest",
            &lie.to_string(),
        ],
    );
    // Refused before anything else was fetched.
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn manifest_fetched_by_digest_whose_body_hashes_elsewhere_is_refused() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    // Substituted content under the honest digest, with a header that repeats the lie.
    let evil = image_manifest("evil");
    server.route(
        &manifest_path(&honest.digest.to_string()),
        Reply::new(200, OCI_MANIFEST, Body::Bytes(evil.clone()))
            .header("Docker-Content-Digest", &honest.digest.to_string()),
    );
    let out = env.verify(&format!("{}/{REPO}@{}", server.host(), honest.digest));
    assert_fails(
        &out,
        1,
        &[
            "does not match its digest",
            &format!("expected {}", honest.digest),
            &format!("got {}", Digest::sha256(&evil)),
        ],
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn announced_100_mib_manifest_is_refused_without_downloading_it() {
    let server = Server::start();
    let env = Env::new();
    let declared = 100 * MIB;
    let path = manifest_path("v1");
    server.route(
        &path,
        Reply::new(200, OCI_MANIFEST, Body::Announced(declared)),
    );
    let out = env.verify(&format!("{}/{REPO}:v1", server.host()));
    assert_fails(&out, 1, &[LIMIT_MSG, "manifest"]);
    let sent = server.sent(&path);
    assert!(
        sent < declared,
        "the server had to send all {sent} bytes before imgseal gave up"
    );
}

#[test]
fn chunked_manifest_streaming_past_4_mib_is_refused() {
    let server = Server::start();
    let env = Env::new();
    let total = 100 * MIB;
    let path = manifest_path("v1");
    server.route(&path, Reply::new(200, OCI_MANIFEST, Body::Chunked(total)));
    let out = env.verify(&format!("{}/{REPO}:v1", server.host()));
    assert_fails(&out, 1, &[LIMIT_MSG, "manifest"]);
    let sent = server.sent(&path);
    assert!(sent > 4 * MIB, "only {sent} bytes were streamed");
    assert!(sent < total, "imgseal read all {sent} streamed bytes");
}

#[test]
fn signature_layer_announcing_100_mib_is_never_fetched() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    let mut layer = honest.layer.clone();
    layer.size = 100 * MIB;
    honest.serve_signatures(&server, vec![layer.clone()]);
    let out = env.verify(&honest.image);
    assert_fails(
        &out,
        1,
        &[
            "verification failed",
            "layer 0: payload could not be fetched",
            &format!("blob {} is {LIMIT_MSG}", layer.digest),
        ],
    );
    // Neither the payload nor any other blob was asked for (the lookups that follow the
    // failed `.sig` layer, e.g. OCI referrers, are manifest and referrers requests only).
    let requests = server.requests();
    assert!(
        !requests.iter().any(|r| r.contains("/blobs/")),
        "a blob was requested: {requests:?}"
    );
    assert!(requests.contains(&format!("GET {}", honest.sig_path())));
}

#[test]
fn payload_blobs_that_lie_are_refused() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    let path = blob_path(&honest.layer.digest);

    // More bytes than the descriptor's size (announced).
    server.route(
        &path,
        Reply::new(200, "application/octet-stream", Body::Announced(100 * MIB)),
    );
    let out = env.verify(&honest.image);
    assert_fails(
        &out,
        1,
        &[
            "payload could not be fetched",
            &format!("larger than the {}-byte limit", honest.payload.len()),
        ],
    );
    assert!(server.sent(&path) < 100 * MIB);

    // More bytes than the descriptor's size (streamed).
    server.route(
        &path,
        Reply::new(200, "application/octet-stream", Body::Chunked(8 * MIB)),
    );
    let out = env.verify(&honest.image);
    assert_fails(
        &out,
        1,
        &[
            "payload could not be fetched",
            &format!("larger than the {}-byte limit", honest.payload.len()),
        ],
    );

    // Right size, other content (a different, unsigned payload).
    let mut evil = honest.payload.clone();
    let last = evil.len() - 2;
    evil[last] = b' ';
    server.route(&path, Reply::blob(&evil));
    let out = env.verify(&honest.image);
    assert_fails(
        &out,
        1,
        &["payload could not be fetched", "does not match its digest"],
    );
}

#[test]
fn server_error_exits_2_with_the_status() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    let boom = Reply::new(
        500,
        "text/plain",
        Body::Bytes(b"database on fire\nsecond line\r\n\x1b[31mred\x1b[0m".to_vec()),
    );
    // On the image manifest.
    server.route(&manifest_path("v1"), boom.clone());
    let out = env.verify(&honest.image);
    assert_fails(&out, 2, &["HTTP 500", "database on fire"]);

    // On the signature manifest, once the image resolved.
    server.route(
        &manifest_path("v1"),
        Reply::manifest(&image_manifest("honest")),
    );
    server.route(&honest.sig_path(), boom);
    let out = env.verify(&honest.image);
    assert_fails(&out, 2, &["HTTP 500", &honest.digest.signature_tag()]);
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
}

#[test]
fn garbage_signature_manifests_fail_cleanly() {
    let server = Server::start();
    let env = Env::new();
    let honest = Honest::install(&server, &env);
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("html", b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        ("binary", vec![0xff, 0x00, 0xfe, b'\n', 0x80]),
        ("empty", Vec::new()),
        ("wrong shape", br#"{"schemaVersion":2,"layers":"nope"}"#.to_vec()),
        (
            "negative size",
            br#"{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"x"},"layers":[{"mediaType":"x","size":-1,"digest":"x"}]}"#.to_vec(),
        ),
        ("deep nesting", vec![b'['; 200_000]),
    ];
    let tag = honest.digest.signature_tag();
    for (what, body) in garbage {
        server.route(
            &honest.sig_path(),
            Reply::new(200, OCI_MANIFEST, Body::Bytes(body)),
        );
        let out = env.verify(&honest.image);
        // Never verified, never a crash: either the tag is reported as unusable and skipped
        // (verification fails, 1) or the whole run stops with an error (2); one line either way,
        // naming the tag and saying it is not a manifest.
        let code = out.status.code();
        assert!(
            matches!(code, Some(1) | Some(2)),
            "{what}: exit {code:?}, stderr: {}",
            stderr(&out)
        );
        assert_fails(
            &out,
            code.unwrap(),
            &[&tag, "holds no usable signature manifest"],
        );
    }

    // Well-formed JSON whose layer names a malformed digest: that signature fails, nothing more.
    let mut layer = honest.layer.clone();
    layer.digest = "sha256:../../etc/passwd".into();
    honest.serve_signatures(&server, vec![layer]);
    let out = env.verify(&honest.image);
    assert_fails(&out, 1, &["layer 0: bad layer digest"]);
    assert!(!server.requests().iter().any(|r| r.contains("passwd")));
}
