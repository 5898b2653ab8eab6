//! The real `imgseal` binary against a registry whose referrers are hostile: the small HTTP/1.1
//! server of `hostile_server` (std `TcpListener` on 127.0.0.1:0, one thread per connection,
//! bounded by timeouts, `Connection: close`) serving one honestly signed image whose `.sig` tag is absent
//! (404), and canned answers for `GET /v2/<repo>/referrers/<digest>` (or, for a registry without
//! the API, for the referrers tag schema's `sha256-<hex>` tag).
//!
//! What must hold: an entry whose manifest does not hash to its descriptor's digest, whose
//! `subject` is another image, or whose descriptor announces more than the manifest cap is
//! skipped with a warning naming it (the cap without fetching it); `Link` pagination that loops
//! or runs on forever stops, and pagination to another host is never followed; a fallback tag
//! that is not an index is ignored with a warning. Each run ends quickly, never panics, exits 1
//! when nothing valid is left and 0 when a valid signature is listed beside the bad entries.

mod support;

use imgseal::formats::cosign::{self, Descriptor};
use imgseal::oci::{self, ImageManifest, Index};
use imgseal::oci::{OCI_INDEX, OCI_MANIFEST};
use imgseal::store::referrers_tag;
use imgseal::Digest;
use std::collections::BTreeMap;
use std::process::Output;
use support::cli::*;
use support::hostile_server::*;

// ---------------------------------------------------------------- the image and its referrers

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
        let SignedImage {
            image,
            manifest,
            digest,
            layer,
            ..
        } = SignedImage::install(&server, &keys.key);
        server.route(
            &blob_path(&Digest::sha256(oci::EMPTY_BLOB).to_string()),
            Reply::blob(oci::EMPTY_BLOB),
        );
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

    /// What `verify --key` asks for: the unfiltered listing, since cosign signatures come in
    /// two artifact types (simple signing and Sigstore bundles).
    fn verify_target(&self) -> String {
        self.referrers_path()
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
    assert!(
        warnings_beside_tag(&out, &s.image).is_empty(),
        "{}",
        stderr(&out)
    );
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
    assert!(
        warnings_beside_tag(&out, &s.image).is_empty(),
        "{}",
        stderr(&out)
    );
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
