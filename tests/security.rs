//! Regression tests for the attacks of the adversarial review (issue "Security: close the
//! policy bypasses, double counting and credential leak"), each reproduced against the real
//! binary: a real docker-registry, the hostile HTTP server, real certificates (rcgen) and real
//! OCI layouts. docs/security.md lists each attack and how it is refused.

mod support;

use imgseal::formats::cosign;
use imgseal::oci::OCI_MANIFEST;
use imgseal::SigningKey;
use std::sync::{Arc, Mutex};
use support::cli::*;
use support::hostile_server::{Reply, Server, SignedImage, REPO};
use support::registry::*;

fn write(cli: &Cli, name: &str, text: &str) -> String {
    std::fs::write(cli.path(name), text).unwrap();
    arg(&cli.path(name))
}

/// A fresh OCI layout at `dir` holding one small image under `ref_name`: `oci:DIR:REF`.
async fn layout_image(dir: &std::path::Path, ref_name: &str) -> String {
    support::layout::image(dir, ref_name, &random_bytes(32))
        .await
        .0
}

// ------------------------------------------------ 1. registry host spellings

#[tokio::test]
async fn host_spellings_cannot_escape_a_rule_on_a_live_registry() {
    let reg = Registry::start();
    let port = reg.host.rsplit(':').next().unwrap().to_string();
    push_image(&reg.host, "prod/app", "1").await;
    let cli = Cli::new();
    let k = cli.keypair("k");
    let policy = write(
        &cli,
        "p.yaml",
        &format!(
            "version: 1\ndefaultAction: allow\nauthorities:\n  k: {{key: {}}}\nrules:\n  - name: prod\n    images: ['127.0.0.1:{port}/prod/**', 'localhost:{port}/prod/**']\n    authorities: {{anyOf: [k]}}\n",
            k.public
        ),
    );
    for image in [
        format!("127.0.0.1:{port}/prod/app:1"),
        format!("127.0.0.1:0{port}/prod/app:1"),
        format!("LOCALHOST:{port}/prod/app:1"),
        format!("LocalHost:{port}/prod/app:1"),
    ] {
        let out = cli.run(&["verify", "--policy", &policy, "-o", "json", &image]);
        assert_eq!(out.status.code(), Some(1), "{image}: {}", stderr(&out));
        let d = &json(&out)["decisions"][0];
        assert_eq!(d["rule"], "prod", "{image}: {d}");
        assert_eq!(d["allowed"], false, "{image}: {d}");
    }
}

#[test]
fn denied_registries_hold_for_every_spelling_of_docker_hub() {
    let cli = Cli::new();
    let policy = write(
        &cli,
        "p.yaml",
        "version: 1\ndefaultAction: allow\nrules:\n  - name: all\n    images: ['**']\n    deniedRegistries: [docker.io]\n  - name: corp\n    images: ['REGISTRY.corp.example/prod/**']\n    tags: {deny: [latest]}\n",
    );
    let out = cli.run(&["policy", "validate", &policy]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("never match"), "{}", stderr(&out));
    for image in [
        "Docker.io/library/nginx:1",
        "INDEX.DOCKER.IO/library/nginx:1",
        "docker.io:443/library/nginx:1",
        "registry-1.docker.io/library/nginx:1",
    ] {
        let out = cli.run(&["verify", "--policy", &policy, image]);
        assert_eq!(out.status.code(), Some(1), "{image}: {}", stdout(&out));
        assert!(stdout(&out).contains("is a denied registry"), "{image}");
    }
    // The uppercase host pattern applies to the canonical host.
    let out = cli.run(&[
        "verify",
        "--policy",
        &policy,
        "registry.corp.example:443/prod/app:latest",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("is denied (mutable tag)"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn notation_scope_is_not_escaped_by_spelling_the_host_in_capitals() {
    let reg = Registry::start();
    let port = reg.host.rsplit(':').next().unwrap().to_string();
    push_image(&reg.host, "nota/x", "1").await;
    let cli = Cli::new();
    let mut gen = cli.cmd(&["cert", "generate-test", "acme", "--trust-store", "ts"]);
    gen.env("IMGSEAL_PASSWORD", "pw");
    assert_ok(&gen.output().unwrap());
    let tp = write(
        &cli,
        "tp.json",
        &serde_json::json!({"version": "1.0", "trustPolicies": [
            {"name": "strict", "registryScopes": [format!("localhost:{port}/nota/x")],
             "signatureVerification": {"level": "strict"}, "trustStores": ["ca:acme"],
             "trustedIdentities": ["*"]},
            {"name": "rest", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}
        ]})
        .to_string(),
    );
    for image in [
        format!("localhost:{port}/nota/x:1"),
        format!("LOCALHOST:{port}/nota/x:1"),
        format!("localhost:0{port}/nota/x:1"),
    ] {
        let out = cli.run(&[
            "verify",
            "--trust-policy",
            &tp,
            "--trust-store",
            "ts",
            &image,
        ]);
        assert_fails_one(&out, 1, "no signatures found");
    }
}

// ------------------------------------------------ 2. one signature, two authorities

/// `cert generate-test acme`, a cosign certificate-mode signature of a layout image with it,
/// and the leaf's public key as a PEM file.
async fn cert_signed_image(cli: &Cli) -> (String, String) {
    let mut gen = cli.cmd(&["cert", "generate-test", "acme"]);
    gen.env("IMGSEAL_PASSWORD", "pw");
    assert_ok(&gen.output().unwrap());
    let chain = std::fs::read_to_string(cli.path("acme.crt")).unwrap();
    let leaf = imgseal::pki::load_pem_certificates(chain.as_bytes()).unwrap()[0].to_pem();
    std::fs::write(cli.path("acme-leaf.pem"), leaf).unwrap();
    let key = SigningKey::from_file(&cli.path("acme.key"), Some(b"pw")).unwrap();
    std::fs::write(cli.path("acme.pub"), key.public_key().to_pem()).unwrap();
    let image = layout_image(&cli.path("img"), "registry.example/app:v1").await;
    let mut sign = cli.cmd(&[
        "sign",
        "--key",
        "acme.key",
        "--certificate",
        "acme-leaf.pem",
        "--certificate-chain",
        "acme-root.crt",
        &image,
    ]);
    sign.env("IMGSEAL_PASSWORD", "pw");
    assert_ok(&sign.output().unwrap());
    (image, arg(&cli.path("acme.pub")))
}

#[tokio::test]
async fn one_signature_does_not_satisfy_a_two_of_n_threshold() {
    let cli = Cli::new();
    let (image, _) = cert_signed_image(&cli).await;
    for (authorities, req) in [
        // Two certificate authorities over the same roots.
        (
            "  c1: {certificateRoots: acme-root.crt}\n  c2: {certificateRoots: acme-root.crt}\n",
            "{threshold: {count: 2, of: [c1, c2]}}",
        ),
        // A key authority and a certificate authority for the same key.
        (
            "  k: {key: acme.pub}\n  c1: {certificateRoots: acme-root.crt}\n",
            "{allOf: [k, c1]}",
        ),
    ] {
        let policy = write(
            &cli,
            "p.yaml",
            &format!("version: 1\ndefaultAction: reject\nauthorities:\n{authorities}rules:\n  - name: r\n    images: ['**']\n    authorities: {req}\n"),
        );
        let out = cli.run(&["verify", "--policy", &policy, "-o", "json", &image]);
        assert_eq!(out.status.code(), Some(1), "{req}: {}", stdout(&out));
        let reason = json(&out)["decisions"][0]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            reason.contains("one signing key counts for one authority"),
            "{reason}"
        );
    }
    // The same name twice in a threshold is refused outright.
    let policy = write(
        &cli,
        "dup.yaml",
        "version: 1\ndefaultAction: reject\nauthorities:\n  c: {certificateRoots: acme-root.crt}\nrules:\n  - name: r\n    images: ['**']\n    authorities: {threshold: {count: 2, of: [c, c]}}\n",
    );
    assert_fails_one(
        &cli.run(&["policy", "validate", &policy]),
        2,
        "authority \"c\" is listed twice",
    );
}

#[tokio::test]
async fn two_signers_still_satisfy_a_two_of_n_threshold() {
    let cli = Cli::new();
    let (image, _) = cert_signed_image(&cli).await;
    let k2 = cli.keypair("k2");
    assert_ok(&cli.run(&["sign", "--key", &k2.private, &image]));
    let policy = write(
        &cli,
        "p.yaml",
        &format!("version: 1\ndefaultAction: reject\nauthorities:\n  c1: {{certificateRoots: acme-root.crt}}\n  k2: {{key: {}}}\nrules:\n  - name: r\n    images: ['**']\n    authorities: {{threshold: {{count: 2, of: [c1, k2]}}}}\n", k2.public),
    );
    let out = cli.run(&["verify", "--policy", &policy, &image]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("(2 of 2 required)"),
        "{}",
        stdout(&out)
    );
}

// ------------------------------------------------ 3. credentials and upload locations

#[test]
fn upload_credentials_are_not_sent_to_another_host() {
    use base64::Engine as _;
    let cli = Cli::new();
    let key = cli.keypair("k");
    let registry = Server::start();
    let elsewhere = Server::start();
    let image = SignedImage::install(&registry, &SigningKey::generate().unwrap());
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let upload_to = format!("http://{}/upload/u1", elsewhere.host());
    registry.handler(move |req| {
        if req.header("authorization") != Some(auth.as_str()) {
            return Some(
                Reply::new(
                    401,
                    "text/plain",
                    support::hostile_server::Body::Bytes(Vec::new()),
                )
                .header("WWW-Authenticate", "Basic realm=\"test\""),
            );
        }
        match (req.method.as_str(), req.path()) {
            ("POST", p) if p.ends_with("/blobs/uploads/") => Some(
                Reply::new(
                    202,
                    "text/plain",
                    support::hostile_server::Body::Bytes(Vec::new()),
                )
                .header("Location", &upload_to),
            ),
            ("HEAD", p) if p.contains("/blobs/") => Some(Reply::new(
                404,
                "text/plain",
                support::hostile_server::Body::Bytes(Vec::new()),
            )),
            _ => None,
        }
    });
    // Each request line there, with the Authorization header it carried.
    type Seen = Vec<(String, Option<String>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    elsewhere.handler(move |req| {
        log.lock().unwrap().push((
            format!("{} {}", req.method, req.target),
            req.header("authorization").map(str::to_string),
        ));
        Some(Reply::new(
            201,
            "text/plain",
            support::hostile_server::Body::Bytes(Vec::new()),
        ))
    });
    std::fs::create_dir_all(cli.path("docker")).unwrap();
    std::fs::write(
        cli.path("docker/config.json"),
        serde_json::json!({"auths": {registry.host(): {"auth":
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")}}})
        .to_string(),
    )
    .unwrap();
    // The run may fail later (the fake registry stores nothing); what matters is where the
    // password went.
    let _ = cli.run(&["sign", "--key", &key.private, &image.image]);
    elsewhere.settle();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(line, _)| line.starts_with("PUT /upload/u1")),
        "the blob went to the Location host: {seen:?}"
    );
    for (line, authorization) in &seen {
        assert_eq!(
            authorization, &None,
            "{line} carried the registry credentials"
        );
    }
}

// ------------------------------------------------ 4. SAN, not CN

/// A CA and a code-signing leaf from it with SAN `san` and subject CN `cn`: (root PEM, leaf
/// PEM, leaf key PEM).
fn san_pki(san: &str, cn: &str) -> (String, String, String) {
    use support::pki::*;
    let mut root = ca_params("corp CA", Some(0));
    root.distinguished_name = cn_only("corp CA");
    root.not_after = time::OffsetDateTime::now_utc() + days(30);
    let root = issue(root, None);
    let mut leaf = leaf_params(cn);
    leaf.distinguished_name = cn_only(cn);
    leaf.subject_alt_names = vec![SanType::Rfc822Name(san.try_into().unwrap())];
    let leaf = issue(leaf, Some(&root));
    (root.pem(), leaf.pem(), leaf.key_pem())
}

#[tokio::test]
async fn certificate_identity_is_matched_against_sans_only() {
    let cli = Cli::new();
    let (root, leaf, key) = san_pki("mallory@corp.example", "ci@corp.example");
    let root = write(&cli, "root.pem", &root);
    let leaf = write(&cli, "leaf.pem", &leaf);
    let key = write(&cli, "leaf.key", &key);
    let image = layout_image(&cli.path("img"), "registry.example/app:v1").await;
    assert_ok(&cli.run(&[
        "sign",
        "--key",
        &key,
        "--certificate",
        &leaf,
        "--certificate-chain",
        &root,
        &image,
    ]));
    let verify = |flag: &str, value: &str| {
        cli.run(&["verify", "--certificate-chain", &root, flag, value, &image])
    };
    // The attacker's certificate: SAN mallory@, a request-chosen CN=ci@.
    assert_fails_one(
        &verify("--certificate-identity", "ci@corp.example"),
        1,
        "certificate identity mismatch",
    );
    assert_ok(&verify("--certificate-identity", "mallory@corp.example"));
    // Subject matching is there for PKIs that need it, but only when asked for by name.
    assert_ok(&verify("--certificate-subject", "ci@corp.example"));
    assert_fails_one(
        &verify("--certificate-subject", "mallory@corp.example"),
        1,
        "certificate subject mismatch",
    );
    // The policy's `identity:` is the same SAN-only match.
    let policy = write(
        &cli,
        "p.yaml",
        &format!("version: 1\ndefaultAction: reject\nauthorities:\n  ci: {{certificateRoots: {root}, identity: ci@corp.example}}\nrules:\n  - name: r\n    images: ['**']\n    authorities: {{anyOf: [ci]}}\n"),
    );
    let out = cli.run(&["verify", "--policy", &policy, &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("certificate identity mismatch"),
        "{}",
        stdout(&out)
    );
}

// ------------------------------------------------ 5. rule ranking

#[tokio::test]
async fn a_repository_name_cannot_pick_a_weaker_rule() {
    let reg = Registry::start();
    let repo = "prod/tmp-scratch-builds-for-ci-only";
    push_image(&reg.host, repo, "1").await;
    let cli = Cli::new();
    let k = cli.keypair("k");
    let policy = write(
        &cli,
        "p.yaml",
        &format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  k: {{key: {}}}\nrules:\n  - name: prod\n    images: ['{}/prod/**']\n    authorities: {{anyOf: [k]}}\n  - name: scratch\n    mode: audit\n    images: ['**/tmp-scratch-builds-for-ci-only']\n",
            k.public, reg.host
        ),
    );
    let out = cli.run(&["policy", "validate", &policy]);
    assert_ok(&out);
    assert_warned(
        &out,
        &["\"prod\"", "\"scratch\"", "can both match one image"],
    );
    let out = cli.run(&[
        "verify",
        "--policy",
        &policy,
        "-o",
        "json",
        &format!("{}/{repo}:1", reg.host),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json(&out)["decisions"][0]["rule"], "prod");
}

// ------------------------------------------------ 7. terminal escapes

#[test]
fn terminal_escapes_from_a_registry_never_reach_the_terminal() {
    let cli = Cli::new();
    let key = cli.keypair("k");
    let server = Server::start();
    let image = SignedImage::install(&server, &key.key);
    let evil = "\u{1b}[2J\u{1b}[H\u{1b}[32mVerified OK\u{1b}[0m";
    let mut entry = imgseal::oci::Descriptor {
        media_type: OCI_MANIFEST.into(),
        digest: evil.into(),
        size: 10,
        artifact_type: Some(cosign::SIGNATURE_ARTIFACT_TYPE.into()),
        ..Default::default()
    };
    entry
        .annotations
        .insert("org.example.note".into(), evil.into());
    server.route(
        &format!("/v2/{REPO}/referrers/{}", image.digest),
        Reply::referrers(&[entry]),
    );
    for args in [
        vec!["verify", "--key", key.public.as_str(), image.image.as_str()],
        vec!["tree", image.image.as_str()],
    ] {
        let out = cli.run(&args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !all.contains('\u{1b}'),
            "{args:?} printed an escape: {all:?}"
        );
        assert!(
            all.contains("\\u{1b}[2J"),
            "{args:?} shows it escaped: {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
    }
}

// ------------------------------------------------ 8. annotations compare as strings

#[test]
fn non_string_annotations_do_not_satisfy_required_values() {
    use base64::Engine as _;
    let cli = Cli::new();
    let key = cli.keypair("k");
    let server = Server::start();
    let image = SignedImage::install(&server, &key.key);
    // A payload whose optional section holds a number, a null and a string.
    let identity = format!("{}/{REPO}", server.host());
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": image.digest.to_string()},
            "type": cosign::SIGNATURE_TYPE,
        },
        "optional": {"n": 42, "z": null, "b": true, "s": "x"},
    })
    .to_string()
    .into_bytes();
    let mut layer = cosign::Descriptor::of(cosign::SIMPLE_SIGNING_MEDIA_TYPE, &payload);
    layer.annotations.insert(
        cosign::SIGNATURE_ANNOTATION.into(),
        base64::engine::general_purpose::STANDARD.encode(key.key.sign(&payload)),
    );
    server.route(
        &support::hostile_server::blob_path(&layer.digest),
        Reply::blob(&payload),
    );
    let (manifest, config) = cosign::signature_manifest(vec![layer]);
    server.route(
        &support::hostile_server::blob_path(&manifest.config.digest),
        Reply::blob(&config),
    );
    let sig_manifest = manifest.to_bytes().unwrap();
    let tag = image.digest.signature_tag();
    server.route(
        &support::hostile_server::manifest_path(&tag),
        Reply::manifest(&sig_manifest, OCI_MANIFEST),
    );
    let verify = |a: &str| cli.run(&["verify", "--key", &key.public, "-a", a, &image.image]);
    assert_ok(&verify("s=x"));
    for a in ["n=42", "z=null", "b=true"] {
        assert_fails_one(&verify(a), 1, "annotations compare as strings");
    }
}
