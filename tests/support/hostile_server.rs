//! A hostile registry for the hostile-registry and hostile-referrers tests: a small HTTP/1.1
//! server (std `TcpListener` on 127.0.0.1:0, one thread per connection, bounded by timeouts,
//! `Connection: close`) that answers GET/HEAD with canned, deliberately wrong responses, and a
//! correctly signed image to serve from it.
#![allow(dead_code)]

use imgseal::formats::cosign::{self, Descriptor, Payload};
use imgseal::oci::{self, Index};
use imgseal::oci::{OCI_INDEX, OCI_MANIFEST};
use imgseal::{Digest, SigningKey};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const MIB: u64 = 1024 * 1024;
pub const REPO: &str = "hostile/app";

/// How a response body is sent.
#[derive(Clone)]
pub enum Body {
    /// These bytes, with a truthful Content-Length.
    Bytes(Vec<u8>),
    /// `Content-Length: N` announced, then spaces streamed towards N until the client hangs up.
    Announced(u64),
    /// Chunked transfer encoding (no Content-Length), streaming up to N bytes of spaces.
    Chunked(u64),
    /// `Content-Length: announced`, then these bytes, then nothing more: the connection is
    /// held open (up to [`HOLD_LIMIT`]) until the client hangs up.
    Stall { announced: u64, prefix: Vec<u8> },
    /// `Content-Length: announced`, then one space every `every` until the client hangs up
    /// (or [`HOLD_LIMIT`] passes).
    Trickle { announced: u64, every: Duration },
    /// No answer at all: the connection is closed as soon as the request head is read.
    Hangup,
}

/// The longest a stalled or trickling connection is held open by the server.
pub const HOLD_LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: Body) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// A manifest served honestly: its media type and its true Docker-Content-Digest.
    pub fn manifest(bytes: &[u8], media_type: &str) -> Reply {
        Reply::new(200, media_type, Body::Bytes(bytes.to_vec()))
            .header("Docker-Content-Digest", &Digest::sha256(bytes).to_string())
    }

    pub fn blob(bytes: &[u8]) -> Reply {
        Reply::new(200, "application/octet-stream", Body::Bytes(bytes.to_vec()))
    }

    /// A referrers list (an image index) listing `entries`.
    pub fn referrers(entries: &[oci::Descriptor]) -> Reply {
        let index = Index {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: entries.to_vec(),
            ..Index::default()
        };
        Reply::new(200, OCI_INDEX, Body::Bytes(index.to_bytes().unwrap()))
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Link: <target>; rel="next"`.
    pub fn next(self, target: &str) -> Reply {
        self.header("Link", &format!("<{target}>; rel=\"next\""))
    }
}

/// Answers computed from the request target (path and query), tried before the fixed routes.
type Dynamic = Box<dyn Fn(&str) -> Option<Reply> + Send + Sync>;

/// A request as the server read it (its head only; bodies are not read).
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Answers computed from the whole request (headers included), tried before [`Dynamic`].
type Handler = Box<dyn Fn(&Request) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct Shared {
    /// Keyed by the request target; a target with a query falls back to its path.
    routes: Mutex<HashMap<String, Reply>>,
    dynamic: Mutex<Option<Dynamic>>,
    handler: Mutex<Option<Handler>>,
    /// `METHOD TARGET` of every request received.
    log: Mutex<Vec<String>>,
    /// Body bytes actually written, per target, for streamed bodies.
    sent: Mutex<HashMap<String, u64>>,
}

/// A hostile registry on a free loopback port; stops (and joins its threads) on drop.
pub struct Server {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    handlers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Server {
    pub fn start() -> Server {
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

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn route(&self, target: &str, reply: Reply) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(target.to_string(), reply);
    }

    pub fn dynamic(&self, f: impl Fn(&str) -> Option<Reply> + Send + Sync + 'static) {
        *self.shared.dynamic.lock().unwrap() = Some(Box::new(f));
    }

    /// Answer requests with `f` first (it sees the headers); `None` falls through to
    /// [`Server::dynamic`] and the routes.
    pub fn handler(&self, f: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static) {
        *self.shared.handler.lock().unwrap() = Some(Box::new(f));
    }

    /// Wait for every connection handled so far to finish (each is bounded by timeouts).
    pub fn settle(&self) {
        let handles: Vec<_> = self.handlers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.settle();
        self.shared.log.lock().unwrap().clone()
    }

    /// Every request so far, and forget them.
    pub fn take_requests(&self) -> Vec<String> {
        self.settle();
        std::mem::take(&mut *self.shared.log.lock().unwrap())
    }

    /// How many body bytes were streamed for `target`.
    pub fn sent(&self, target: &str) -> u64 {
        self.settle();
        *self
            .shared
            .sent
            .lock()
            .unwrap()
            .get(target)
            .unwrap_or_else(|| panic!("nothing was streamed for {target}"))
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
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
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
    let target = words.next().unwrap_or("").to_string();
    shared
        .log
        .lock()
        .unwrap()
        .push(format!("{method} {target}"));
    let path = target.split('?').next().unwrap_or("");
    let handled = shared.handler.lock().unwrap().as_ref().and_then(|f| {
        let headers = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        f(&Request {
            method: method.clone(),
            target: target.clone(),
            headers,
        })
    });
    let dynamic = || {
        shared
            .dynamic
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|f| f(&target))
    };
    let reply = handled
        .or_else(dynamic)
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
    if matches!(reply.body, Body::Hangup) {
        let _ = conn.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n");
    match &reply.body {
        Body::Bytes(b) => out.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Announced(n) => out.push_str(&format!("Content-Length: {n}\r\n")),
        Body::Chunked(_) => out.push_str("Transfer-Encoding: chunked\r\n"),
        Body::Stall { announced, .. } | Body::Trickle { announced, .. } => {
            out.push_str(&format!("Content-Length: {announced}\r\n"))
        }
        Body::Hangup => {}
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    match &reply.body {
        Body::Hangup => {}
        Body::Bytes(b) => conn.write_all(b)?,
        Body::Stall { prefix, .. } => {
            conn.write_all(prefix)?;
            let _ = conn.flush();
            // Hold the connection until the client hangs up (a read of 0 bytes).
            conn.set_read_timeout(Some(Duration::from_millis(100)))?;
            let start = std::time::Instant::now();
            let mut b = [0u8; 512];
            while start.elapsed() < HOLD_LIMIT {
                match conn.read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            shared
                .sent
                .lock()
                .unwrap()
                .insert(target, prefix.len() as u64);
        }
        Body::Trickle { announced, every } => {
            let start = std::time::Instant::now();
            let mut sent = 0u64;
            while sent < *announced && start.elapsed() < HOLD_LIMIT {
                if conn.write_all(b" ").and_then(|_| conn.flush()).is_err() {
                    break; // the client hung up
                }
                sent += 1;
                std::thread::sleep(*every);
            }
            shared.sent.lock().unwrap().insert(target, sent);
        }
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
            shared.sent.lock().unwrap().insert(target, sent);
        }
    }
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Write);
    Ok(())
}

pub fn manifest_path(reference: &str) -> String {
    format!("/v2/{REPO}/manifests/{reference}")
}

pub fn blob_path(digest: &str) -> String {
    format!("/v2/{REPO}/blobs/{digest}")
}

/// A small image manifest (unique per `seed`).
pub fn image_manifest(seed: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[],"annotations":{{"seed":"{seed}"}}}}"#,
        Digest::sha256(b"{}")
    )
    .into_bytes()
}

/// The `honest` image, served at `host/hostile/app:v1` and by digest, with its cosign
/// signature (by `key`) as a simple-signing payload blob; no signature manifest is served.
pub struct SignedImage {
    pub image: String,
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub payload: Vec<u8>,
    /// The payload's signature layer, signature annotation included.
    pub layer: Descriptor,
}

impl SignedImage {
    pub fn install(server: &Server, key: &SigningKey) -> SignedImage {
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
        let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
        let mut layer = Descriptor::of(cosign::SIMPLE_SIGNING_MEDIA_TYPE, &payload);
        layer
            .annotations
            .insert(cosign::SIGNATURE_ANNOTATION.into(), signature);
        server.route(&blob_path(&layer.digest), Reply::blob(&payload));
        SignedImage {
            image: format!("{}/{REPO}:v1", server.host()),
            manifest,
            digest,
            payload,
            layer,
        }
    }
}
