//! The real `imgseal` binary against a hostile registry: the small HTTP/1.1 server of
//! `hostile_server` (std `TcpListener` on 127.0.0.1:0, one thread per connection,
//! `Connection: close`) answering GET/HEAD by path with canned, deliberately wrong responses.
//!
//! What must hold: content that does not hash to the digest it was fetched by (or announced
//! with) is refused with exit 1; oversized manifests are refused with exit 1 without being
//! downloaded (announced size) or buffered past the cap (streamed size); oversized signature
//! payloads are never requested; server errors and garbage give exit 2 with a one-line message
//! and no panic.

mod support;

use imgseal::formats::cosign::{self, Descriptor};
use imgseal::oci::OCI_MANIFEST;
use imgseal::{Digest, SigningKey};
use std::process::Output;
use support::cli::*;
use support::hostile_server::*;

/// imgseal's default manifest and payload cap, as it appears in its messages.
const LIMIT_MSG: &str = "larger than the 4194304-byte limit";

// ---------------------------------------------------------------- the client side

struct Env {
    cli: Cli,
    key: SigningKey,
    public: String,
}

impl Env {
    fn new() -> Env {
        let cli = Cli::new();
        let KeyFiles { key, public, .. } = cli.keypair("test");
        Env { cli, key, public }
    }

    fn verify(&self, image: &str) -> Output {
        self.cli
            .cmd(&["verify", "--key", &self.public, image])
            .output()
            .unwrap()
    }
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
        let SignedImage {
            image,
            digest,
            payload,
            layer,
            ..
        } = SignedImage::install(server, &env.key);
        let honest = Honest {
            image,
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
            Reply::manifest(&m.to_bytes().unwrap(), OCI_MANIFEST),
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
        Reply::manifest(&image_manifest("honest"), OCI_MANIFEST),
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
