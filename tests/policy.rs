//! `imgseal policy validate` and `imgseal verify --policy` against a real registry.

mod support;

use imgseal::oci::OCI_MANIFEST;
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::{Signer, SigningKey};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use support::registry::*;

fn imgseal(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imgseal"))
        .args(args)
        .current_dir(dir)
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env_remove("IMGSEAL_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Push an image with these config labels, manifest annotations and layer size.
async fn push(
    host: &str,
    repo: &str,
    tag: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
    layer_size: usize,
) -> imgseal::Digest {
    let store = Store::open(
        &ImageRef::parse(&format!("{host}/{repo}:{tag}")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let layer = random_bytes(layer_size);
    let layer_digest = store.put_blob(&layer).await.unwrap();
    let labels: BTreeMap<_, _> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
    })
    .to_string();
    let config_digest = store.put_blob(config.as_bytes()).await.unwrap();
    let annotations: BTreeMap<_, _> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": layer.len()}],
        "annotations": annotations,
    })
    .to_string();
    store
        .put_manifest(manifest.as_bytes(), OCI_MANIFEST, Some(tag))
        .await
        .unwrap()
}

async fn sign(host: &str, repo: &str, tag: &str, key: &SigningKey, annotations: &[(&str, &str)]) {
    let a: BTreeMap<_, _> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Signer::new(key.clone())
        .sign(
            &ImageRef::parse(&format!("{host}/{repo}:{tag}")).unwrap(),
            &a,
        )
        .await
        .unwrap();
}

fn write_keys(dir: &Path, names: &[&str]) -> Vec<SigningKey> {
    names
        .iter()
        .map(|n| {
            let k = SigningKey::generate().unwrap();
            std::fs::write(dir.join(format!("{n}.pub")), k.public_key().to_pem()).unwrap();
            k
        })
        .collect()
}

#[test]
fn validate_reports_errors_with_lines_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    write_keys(dir.path(), &["release"]);
    std::fs::write(
        dir.path().join("ok.yaml"),
        "version: 1\ndefaultAction: reject\nauthorities:\n  release: {key: release.pub}\nrules:\n  - name: all\n    images: ['**']\n    authorities: {anyOf: [release]}\n  - name: prod\n    images: ['registry.corp.example/prod/**']\n  - name: prod-again\n    images: ['registry.corp.example/prod/**']\n",
    )
    .unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "ok.yaml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("ok.yaml: valid (3 rules, 1 authorities"),
        "{stdout}"
    );
    assert!(
        stderr.contains("rule \"all\" matches every image and comes before more specific rules"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule \"prod-again\" can never match"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("typo.yaml"), "version: 1\ndefaultAction: reject\nrules:\n  - name: a\n    images: ['**']\n    requiredLabel: {}\n").unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "typo.yaml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("typo.yaml:6:5: rules[0].requiredLabel: unknown field `requiredLabel`"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    std::fs::write(
        dir.path().join("nokey.yaml"),
        "version: 1\ndefaultAction: allow\nauthorities:\n  gone: {key: gone.pub}\n",
    )
    .unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "nokey.yaml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("authority \"gone\"") && stderr.contains("gone.pub"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("nodefault.yaml"), "version: 1\nrules: []\n").unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "nodefault.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("defaultAction"));
}

/// A policy with problems in four rules (and a fifth in an attestation of one of them): one
/// `policy validate` names every one, each with its line, column and field path, in text and
/// in `-o json`; the same policy with them fixed validates.
#[test]
fn validate_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write_keys(dir.path(), &["release"]);
    let broken = "\
version: 1
defaultAction: reject
authorities:
  release: {key: release.pub}
rules:
  - name: prod
    images: [\"registry.corp.example/prod/**\"]
    authorities: {anyOf: [release, nobody]}
  - name: scans
    images: [\"registry.corp.example/app/**\"]
    attestations:
      - type: vuln
        authorities: {anyOf: [release]}
        maxSeverity: SEVERE
        conditions: [\"predicate.scanner.uri ==\"]
  - name: tags
    images: [\"registry.corp.example/tags/**\"]
    tags: {pattern: \"(v1\"}
  - name: quorum
    images: [\"registry.corp.example/quorum/**\"]
    authorities:
      threshold: {count: 3, of: [release]}
";
    std::fs::write(dir.path().join("broken.yaml"), broken).unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "broken.yaml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let want = [
        "imgseal: error: broken.yaml:8:36: rules[0].authorities.anyOf[1]: rule \"prod\": unknown authority \"nobody\" (define it under `authorities:`)",
        "imgseal: error: broken.yaml:14:9: rules[1].attestations[0].maxSeverity: rule \"scans\" attestations[0] (type vuln): maxSeverity \"SEVERE\" is not one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN",
        "imgseal: error: broken.yaml:15:22: rules[1].attestations[0].conditions[0]: rule \"scans\" attestations[0] (type vuln) conditions[0]: CEL expression \"predicate.scanner.uri ==\" does not compile: ",
        "imgseal: error: broken.yaml:18:12: rules[2].tags.pattern: rule \"tags\" tags.pattern: invalid regex \"(v1\": unclosed group",
        "imgseal: error: broken.yaml:22:19: rules[3].authorities.threshold.count: rule \"quorum\": threshold count 3 must be between 1 and 1",
        "imgseal: broken.yaml: 5 errors",
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), want.len(), "{stderr}");
    for (line, want) in lines.iter().zip(want) {
        assert!(
            line.starts_with(want),
            "{line}\n  does not start with\n{want}"
        );
    }

    let out = imgseal(
        dir.path(),
        &["policy", "validate", "-o", "json", "broken.yaml"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["valid"], false, "{doc:#}");
    let errors: Vec<(&str, u64, u64)> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap(),
                e["line"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("rules[0].authorities.anyOf[1]", 8, 36),
            ("rules[1].attestations[0].maxSeverity", 14, 9),
            ("rules[1].attestations[0].conditions[0]", 15, 22),
            ("rules[2].tags.pattern", 18, 12),
            ("rules[3].authorities.threshold.count", 22, 19),
        ],
        "{doc:#}"
    );
    assert!(
        doc["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown authority \"nobody\""),
        "{doc:#}"
    );

    // A part serde refuses (an age without a unit, an unknown key) does not hide the others.
    let parts = broken
        .replace("maxSeverity: SEVERE", "maxAge: 24hours")
        .replace("    tags: {pattern: \"(v1\"}", "    colour: red");
    std::fs::write(dir.path().join("parts.yaml"), parts).unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "parts.yaml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for want in [
        "parts.yaml:8:36: rules[0].authorities.anyOf[1]: ",
        "parts.yaml:14:9: rules[1].attestations[0].maxAge: \"24hours\" is not an age",
        "parts.yaml:18:5: rules[2].colour: unknown field `colour`",
        "parts.yaml:22:19: rules[3].authorities.threshold.count: ",
        "imgseal: parts.yaml: 4 errors",
    ] {
        assert!(stderr.contains(want), "{want}\n{stderr}");
    }

    // Fixed, it validates.
    let fixed = broken
        .replace("[release, nobody]", "[release]")
        .replace("maxSeverity: SEVERE", "maxSeverity: HIGH")
        .replace("uri ==\"", "uri == 'pkg:trivy'\"")
        .replace("(v1", "^v1")
        .replace("count: 3", "count: 1");
    std::fs::write(dir.path().join("fixed.yaml"), fixed).unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "fixed.yaml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("fixed.yaml: valid (4 rules, 1 authorities"),
        "{stdout}"
    );
}

/// docs/policy.md's "Validation" example: its policy, validated, prints exactly the lines the
/// page shows.
#[test]
fn the_documented_multi_error_output_is_what_validate_prints() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
        .unwrap();
    let section = &doc[doc.find("## Validation").unwrap()..];
    let block = |fence: &str| {
        let start = section.find(fence).unwrap() + fence.len();
        section[start..start + section[start..].find("```").unwrap()].to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    write_keys(dir.path(), &["release"]);
    std::fs::write(dir.path().join("policy.yaml"), block("```yaml\n")).unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "policy.yaml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr, block("```text\n"));
}

#[tokio::test]
async fn policy_decisions_check_by_check() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    let keys = write_keys(dir.path(), &["release", "qa", "sec"]);
    let good_labels = [
        ("org.opencontainers.image.version", "1.2.3"),
        ("org.opencontainers.image.source", "https://git.example/app"),
    ];
    let base = [(
        "org.opencontainers.image.base.name",
        "docker.io/library/alpine:3.20",
    )];

    // prod/app:1.2.3 — signed by release with build-version, labelled, small: allowed.
    push(&h, "prod/app", "1.2.3", &good_labels, &base, 100).await;
    sign(
        &h,
        "prod/app",
        "1.2.3",
        &keys[0],
        &[("build-version", "42")],
    )
    .await;
    // prod/app:latest — same content: the tag rule denies it.
    push(&h, "prod/app", "latest", &good_labels, &base, 100).await;
    sign(
        &h,
        "prod/app",
        "latest",
        &keys[0],
        &[("build-version", "42")],
    )
    .await;
    // prod/unsigned:1.0.0 — no signature.
    push(&h, "prod/unsigned", "1.0.0", &good_labels, &base, 100).await;
    // prod/nolabels:1.0.0 — signed, but labels missing, too big, unknown base image.
    push(
        &h,
        "prod/nolabels",
        "1.0.0",
        &[],
        &[(
            "org.opencontainers.image.base.name",
            "docker.io/library/ubuntu:22.04",
        )],
        5000,
    )
    .await;
    sign(
        &h,
        "prod/nolabels",
        "1.0.0",
        &keys[0],
        &[("build-version", "1")],
    )
    .await;
    // prod/noannot:1.0.0 — signed without the build-version annotation.
    push(&h, "prod/noannot", "1.0.0", &good_labels, &base, 100).await;
    sign(&h, "prod/noannot", "1.0.0", &keys[0], &[]).await;
    // dev/app:latest — warn mode: unsigned and latest, reported but allowed.
    push(&h, "dev/app", "latest", &[], &[], 100).await;
    // critical/db:2.0.0 — threshold 2 of 3: only qa signed → denied; critical/ok: qa + sec → allowed.
    push(&h, "critical/db", "2.0.0", &good_labels, &base, 100).await;
    sign(&h, "critical/db", "2.0.0", &keys[1], &[]).await;
    push(&h, "critical/ok", "2.0.0", &good_labels, &base, 100).await;
    sign(&h, "critical/ok", "2.0.0", &keys[1], &[]).await;
    sign(&h, "critical/ok", "2.0.0", &keys[2], &[]).await;

    let policy = format!(
        r#"version: 1
defaultAction: reject
authorities:
  release: {{key: release.pub}}
  qa: {{key: qa.pub}}
  sec: {{key: sec.pub}}
rules:
  - name: production
    images: ["{h}/prod/**"]
    mode: enforce
    authorities: {{anyOf: [release]}}
    annotations: [build-version]
    allowedRegistries: ["{h}"]
    tags: {{deny: [latest], pattern: '^\d+\.\d+\.\d+$'}}
    requiredLabels:
      org.opencontainers.image.version: '^\d+\.\d+\.\d+$'
      org.opencontainers.image.source: null
    maxSize: 1KiB
    allowedBaseImages: ["docker.io/library/alpine:*"]
  - name: development
    images: ["{h}/dev/**"]
    mode: warn
    authorities: {{anyOf: [release]}}
    tags: {{deny: [latest]}}
  - name: critical
    images: ["{h}/critical/**"]
    authorities: {{threshold: {{count: 2, of: [release, qa, sec]}}}}
"#
    );
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let img = |r: &str| format!("{h}/{r}");
    let images = [
        img("prod/app:1.2.3"),
        img("prod/app:latest"),
        img("prod/unsigned:1.0.0"),
        img("prod/nolabels:1.0.0"),
        img("prod/noannot:1.0.0"),
        img("dev/app:latest"),
        img("critical/db:2.0.0"),
        img("critical/ok:2.0.0"),
        "docker.io/library/nginx:1.25".to_string(),
    ];
    let mut args = vec![
        "verify",
        "--policy",
        "policy.yaml",
        "--output",
        "json",
        "--concurrency",
        "4",
    ];
    args.extend(images.iter().map(String::as_str));
    let out = imgseal(dir.path(), &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = |i: usize| &v["decisions"][i];
    let failed = |i: usize| -> Vec<String> {
        d(i)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["passed"] == false)
            .map(|c| {
                format!(
                    "{}: {}",
                    c["name"].as_str().unwrap(),
                    c["reason"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(d(0)["allowed"], true, "{:?}", failed(0));
    assert_eq!(d(0)["rule"], "production");
    assert!(d(0)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "signature"
            && c["reason"].as_str().unwrap().contains("signed by release")));

    assert_eq!(d(1)["allowed"], false);
    assert!(
        failed(1)
            .iter()
            .any(|f| f.contains("tag \"latest\" is denied")),
        "{:?}",
        failed(1)
    );

    assert_eq!(d(2)["allowed"], false);
    assert!(
        failed(2)
            .iter()
            .any(|f| f.starts_with("signature:") && f.contains("no signatures found")),
        "{:?}",
        failed(2)
    );

    assert_eq!(d(3)["allowed"], false);
    let f3 = failed(3);
    assert!(
        f3.iter()
            .any(|f| f.contains("label org.opencontainers.image.version is missing")),
        "{f3:?}"
    );
    assert!(
        f3.iter()
            .any(|f| f.starts_with("size:") && f.contains("limit 1.0 KiB")),
        "{f3:?}"
    );
    assert!(
        f3.iter()
            .any(|f| f
                .contains("base image docker.io/library/ubuntu:22.04 is not in allowedBaseImages")),
        "{f3:?}"
    );

    assert_eq!(d(4)["allowed"], false);
    assert!(
        failed(4)
            .iter()
            .any(|f| f.contains("annotation build-version is missing")),
        "{:?}",
        failed(4)
    );

    assert_eq!(d(5)["allowed"], true, "warn mode never denies");
    assert_eq!(d(5)["mode"], "warn");
    assert!(failed(5).len() >= 2, "{:?}", failed(5));

    assert_eq!(d(6)["allowed"], false);
    assert!(
        failed(6)
            .iter()
            .any(|f| f.contains("2 of [release, qa, sec] must sign; valid signatures from qa")),
        "{:?}",
        failed(6)
    );
    assert_eq!(d(7)["allowed"], true, "{:?}", failed(7));

    assert_eq!(d(8)["allowed"], false);
    assert!(d(8)["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("defaultAction is reject"));
    // The default rule needs no network: nothing was fetched from Docker Hub.
    assert_eq!(d(8)["requests"], 0);

    // Only warn-mode failures: exit 0, and the table says WARN.
    let out = imgseal(
        dir.path(),
        &[
            "verify",
            "--policy",
            "policy.yaml",
            &img("dev/app:latest"),
            &img("prod/app:1.2.3"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("WARN")
            && stdout.contains("ALLOW")
            && stdout.contains("2 images: 2 allowed, 0 denied"),
        "{stdout}"
    );
}

#[tokio::test]
async fn huge_or_missing_config_fails_label_check_without_aborting() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    let store = Store::open(
        &ImageRef::parse(&format!("{h}/odd/app:1")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let layer = store.put_blob(b"layer").await.unwrap();
    // Config descriptor announcing 100 MiB, and one whose blob does not exist.
    let doomed = store.put_blob(b"{\"config\":{}}").await.unwrap();
    for (tag, size, digest) in [
        ("huge", 100u64 << 20, layer.to_string()),
        ("missing", 13, doomed.to_string()),
    ] {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": 5}],
        })
        .to_string();
        store
            .put_manifest(m.as_bytes(), OCI_MANIFEST, Some(tag))
            .await
            .unwrap();
    }
    // Delete the config blob behind the registry's back: the manifest now points at nothing.
    assert_eq!(http_delete(&h, &format!("/v2/odd/app/blobs/{doomed}")), 202);
    push(
        &h,
        "odd/fine",
        "1",
        &[("org.opencontainers.image.version", "1")],
        &[],
        10,
    )
    .await;
    std::fs::write(
        dir.path().join("p.yaml"),
        format!("version: 1\ndefaultAction: reject\nrules:\n  - name: labels\n    images: ['{h}/**']\n    requiredLabels: {{org.opencontainers.image.version: null}}\n"),
    )
    .unwrap();
    let out = imgseal(
        dir.path(),
        &[
            "verify",
            "--policy",
            "p.yaml",
            "-o",
            "json",
            &format!("{h}/odd/app:huge"),
            &format!("{h}/odd/app:missing"),
            &format!("{h}/odd/fine:1"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let reason = |i: usize| {
        v["decisions"][i]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason(0).contains("over the 8388608-byte cap"),
        "{}",
        reason(0)
    );
    assert!(
        reason(1).contains("config blob") && reason(1).contains("not found"),
        "{}",
        reason(1)
    );
    assert_eq!(v["decisions"][2]["allowed"], true);

    // The same as SARIF: one error result per failed check, located at the image.
    let out = imgseal(
        dir.path(),
        &[
            "verify",
            "--policy",
            "p.yaml",
            "-o",
            "sarif",
            &format!("{h}/odd/app:huge"),
            &format!("{h}/odd/fine:1"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&out).0).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["ruleId"], "labels");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["logicalLocations"][0]["name"],
        format!("{h}/odd/app:huge")
    );
    assert_eq!(v["runs"][0]["tool"]["driver"]["rules"][0]["id"], "labels");
    // SARIF is for policy runs only.
    let out = imgseal(
        dir.path(),
        &[
            "verify",
            "--key",
            "x.pub",
            "-o",
            "sarif",
            &format!("{h}/odd/fine:1"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out)
        .1
        .contains("--output sarif is for verify --policy"));
}

#[tokio::test]
async fn certificate_and_notation_authorities() {
    use imgseal::formats::SignatureFormat;
    let reg = Registry::start();
    let h = reg.host.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    // A PKI for cosign certificate mode and one for notation, with a notation trust store.
    let cosign_pki = imgseal::pki::generate_test("builder").unwrap();
    let notation_pki = imgseal::pki::generate_test("notary").unwrap();
    std::fs::write(dir.path().join("builder-root.pem"), &cosign_pki.root_pem).unwrap();
    let ca = dir.path().join("truststore/x509/ca/notary");
    std::fs::create_dir_all(&ca).unwrap();
    std::fs::write(ca.join("root.pem"), &notation_pki.root_pem).unwrap();
    std::fs::write(
        dir.path().join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:notary"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let cosign_key = SigningKey::from_pem(cosign_pki.leaf_key_pem.as_bytes(), None, "k").unwrap();
    let notation_key =
        SigningKey::from_pem(notation_pki.leaf_key_pem.as_bytes(), None, "k").unwrap();

    push(&h, "team/both", "1.0.0", &[], &[], 10).await;
    push(&h, "team/cosign-only", "1.0.0", &[], &[], 10).await;
    let image = |r: &str| ImageRef::parse(&format!("{h}/{r}")).unwrap();
    for r in ["team/both:1.0.0", "team/cosign-only:1.0.0"] {
        Signer::new(cosign_key.clone())
            .with_certificate_chain(vec![cosign_pki.leaf.clone(), cosign_pki.root.clone()])
            .unwrap()
            .sign(&image(r), &BTreeMap::new())
            .await
            .unwrap();
    }
    Signer::new(notation_key)
        .with_format(SignatureFormat::Notation)
        .with_certificate_chain(vec![notation_pki.leaf.clone(), notation_pki.root.clone()])
        .unwrap()
        .sign(&image("team/both:1.0.0"), &BTreeMap::new())
        .await
        .unwrap();

    std::fs::write(
        dir.path().join("p.yaml"),
        format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  builder: {{certificateRoots: builder-root.pem, subject: builder}}\n  notary: {{notation: {{trustPolicy: trustpolicy.json, trustStore: truststore}}}}\n  impostor: {{certificateRoots: builder-root.pem, subject: someone-else}}\nrules:\n  - name: both\n    images: ['{h}/team/**']\n    authorities: {{allOf: [builder, notary]}}\n  - name: wrong-identity\n    images: ['{h}/team/cosign-only']\n    authorities: {{anyOf: [impostor]}}\n"
        ),
    )
    .unwrap();
    let out = imgseal(
        dir.path(),
        &[
            "verify",
            "--policy",
            "p.yaml",
            "-o",
            "json",
            &format!("{h}/team/both:1.0.0"),
            &format!("{h}/team/cosign-only:1.0.0"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = &v["decisions"];
    assert_eq!(d[0]["allowed"], true, "{}", d[0]);
    assert!(
        d[0]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("signed by builder, notary (2 of 2 required)"),
        "{}",
        d[0]
    );
    assert_eq!(d[1]["rule"], "wrong-identity");
    assert_eq!(d[1]["allowed"], false);
    assert!(
        d[1]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("subject mismatch"),
        "{}",
        d[1]
    );

    // An authority that mixes kinds is refused by validate.
    std::fs::write(dir.path().join("bad.yaml"), "version: 1\ndefaultAction: reject\nauthorities:\n  x: {key: a.pub, certificateRoots: builder-root.pem}\n").unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("give exactly one of key, certificateRoots"),
        "{}",
        text(&out).1
    );
}

/// Push an image whose config blob is `config` (one small layer).
async fn push_with_config(host: &str, repo: &str, tag: &str, config: serde_json::Value) {
    let store = Store::open(
        &ImageRef::parse(&format!("{host}/{repo}:{tag}")).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let layer = random_bytes(64);
    let layer_digest = store.put_blob(&layer).await.unwrap();
    let config = config.to_string();
    let config_digest = store.put_blob(config.as_bytes()).await.unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": layer.len()}],
    })
    .to_string();
    store
        .put_manifest(manifest.as_bytes(), OCI_MANIFEST, Some(tag))
        .await
        .unwrap();
}

#[tokio::test]
async fn non_root_user_and_image_age_rules() {
    let reg = Registry::start();
    let h = &reg.host;
    let recent = time::OffsetDateTime::now_utc() - time::Duration::days(3);
    let recent = recent
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    push_with_config(
        h,
        "app/good",
        "1",
        serde_json::json!({"created": recent, "config": {"User": "1000:1000"}}),
    )
    .await;
    push_with_config(
        h,
        "app/root",
        "1",
        serde_json::json!({"created": "2020-01-01T00:00:00Z", "config": {}}),
    )
    .await;
    push_with_config(
        h,
        "app/repro",
        "1",
        serde_json::json!({"created": "1970-01-01T00:00:00Z", "config": {"User": "app"}}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |allow: bool| {
        std::fs::write(
            dir.path().join("p.yaml"),
            format!("version: 1\ndefaultAction: reject\nrules:\n  - name: r\n    images: ['{h}/app/**']\n    nonRootUser: true\n    maxImageAge: 90d\n{}",
                if allow { "    allowMissingCreated: true\n" } else { "" }),
        )
        .unwrap();
    };
    write(false);
    let images = [
        format!("{h}/app/good:1"),
        format!("{h}/app/root:1"),
        format!("{h}/app/repro:1"),
    ];
    let mut args = vec!["verify", "--policy", "p.yaml", "-o", "json"];
    args.extend(images.iter().map(String::as_str));
    let out = imgseal(dir.path(), &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = v["decisions"].as_array().unwrap();
    assert_eq!(d[0]["allowed"], true, "{}", d[0]);
    assert_eq!(d[1]["allowed"], false);
    let reasons = |i: usize| d[i]["checks"].to_string();
    assert!(
        reasons(1).contains("sets no User, so it runs as root"),
        "{}",
        reasons(1)
    );
    assert!(
        reasons(1).contains("older than the 90.0 days limit"),
        "{}",
        reasons(1)
    );
    assert!(reasons(2).contains("epoch"), "{}", reasons(2));
    assert_eq!(d[2]["allowed"], false);
    write(true);
    let out = imgseal(dir.path(), &["verify", "--policy", "p.yaml", &images[2]]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

/// Issue #9 item 5: a notation authority applies the rule's `annotations` to the notation
/// signature's annotations (the signed target's, notation's user metadata), keys and values.
#[tokio::test]
async fn notation_authority_applies_the_rules_annotations() {
    use imgseal::formats::SignatureFormat;
    let reg = Registry::start();
    let h = reg.host.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docker")).unwrap();
    let pki = imgseal::pki::generate_test("notary").unwrap();
    let ca = dir.path().join("truststore/x509/ca/notary");
    std::fs::create_dir_all(&ca).unwrap();
    std::fs::write(ca.join("root.pem"), &pki.root_pem).unwrap();
    std::fs::write(
        dir.path().join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:notary"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let key = SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "k").unwrap();
    let notation = Signer::new(key)
        .with_format(SignatureFormat::Notation)
        .with_certificate_chain(vec![pki.leaf.clone(), pki.root.clone()])
        .unwrap();
    push(&h, "team/plain", "1.0.0", &[], &[], 10).await;
    push(&h, "team/built", "1.0.0", &[], &[], 10).await;
    let image = |r: &str| ImageRef::parse(&format!("{h}/{r}")).unwrap();
    notation
        .sign(&image("team/plain:1.0.0"), &BTreeMap::new())
        .await
        .unwrap();
    let meta: BTreeMap<_, _> = [("build-version".to_string(), "42".to_string())].into();
    notation
        .sign(&image("team/built:1.0.0"), &meta)
        .await
        .unwrap();

    let policy = |file: &str, annotations: &str| {
        std::fs::write(
            dir.path().join(file),
            format!("version: 1\ndefaultAction: reject\nauthorities:\n  notary: {{notation: {{trustPolicy: trustpolicy.json, trustStore: truststore}}}}\nrules:\n  - name: team\n    images: ['{h}/team/**']\n    authorities: {{anyOf: [notary]}}\n    annotations: {annotations}\n"),
        )
        .unwrap();
        let out = imgseal(
            dir.path(),
            &[
                "verify",
                "--policy",
                file,
                "-o",
                "json",
                &format!("{h}/team/plain:1.0.0"),
                &format!("{h}/team/built:1.0.0"),
            ],
        );
        let (stdout, stderr) = text(&out);
        let v: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        (out.status.code(), v)
    };
    let (code, v) = policy("keys.yaml", "[build-version]");
    assert_eq!(code, Some(1));
    let d = &v["decisions"];
    assert_eq!(d[0]["allowed"], false, "{}", d[0]);
    assert!(
        d[0]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("annotation build-version is missing"),
        "{}",
        d[0]
    );
    assert_eq!(d[1]["allowed"], true, "{}", d[1]);

    let (code, v) = policy("values.yaml", "{build-version: '43'}");
    assert_eq!(code, Some(1));
    assert_eq!(v["decisions"][1]["allowed"], false, "{v}");
    assert!(
        v["decisions"][1]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("annotation build-version is \"42\", not \"43\""),
        "{v}"
    );
    let (code, v) = policy("ok.yaml", "{build-version: '42'}");
    assert_eq!(code, Some(1), "plain has no annotation");
    assert_eq!(v["decisions"][1]["allowed"], true, "{v}");
}

/// Issue #9 item 4: `verify --policy` applies `-a`, `--identity` and `--platform` on top of the
/// policy, and refuses the flags it cannot apply (exit 2, one line naming them).
#[tokio::test]
async fn verify_policy_applies_or_refuses_other_flags() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("docker")).unwrap();
    let keys = write_keys(d, &["release"]);
    push(&h, "team/app", "1.0.0", &[], &[], 10).await;
    sign(
        &h,
        "team/app",
        "1.0.0",
        &keys[0],
        &[("build-version", "42")],
    )
    .await;
    push(&h, "team/unsigned", "1.0.0", &[], &[], 10).await;
    push(&h, "other/app", "1.0.0", &[], &[], 10).await;
    sign(
        &h,
        "other/app",
        "1.0.0",
        &keys[0],
        &[("build-version", "42")],
    )
    .await;
    push_index(&h, "team/multi", "1.0.0").await;
    sign(&h, "team/multi", "1.0.0", &keys[0], &[]).await;
    std::fs::write(
        d.join("p.yaml"),
        format!("version: 1\ndefaultAction: allow\nauthorities:\n  release: {{key: release.pub}}\nrules:\n  - name: team\n    images: ['{h}/team/**']\n    authorities: {{anyOf: [release]}}\n  - name: registry-only\n    images: ['{h}/team/unsigned']\n    allowedRegistries: ['{h}']\n"),
    )
    .unwrap();
    let verify = |extra: &[&str], images: &[&str]| {
        let mut args = vec!["verify", "--policy", "p.yaml"];
        args.extend_from_slice(extra);
        let images: Vec<String> = images.iter().map(|i| format!("{h}/{i}")).collect();
        args.extend(images.iter().map(String::as_str));
        let out = imgseal(d, &args);
        let (stdout, stderr) = text(&out);
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code(), stdout, stderr)
    };

    // -a: required of every accepted signature; before, ignored (ALLOW, exit 0).
    let (code, stdout, _) = verify(&[], &["team/app:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout, _) = verify(&["-a", "build-version=999"], &["team/app:1.0.0"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("DENY"), "{stdout}");
    assert!(
        stdout.contains("annotation build-version is \"42\", not \"999\""),
        "{stdout}"
    );
    let (code, stdout, _) = verify(&["-a", "build-version=42"], &["team/app:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");
    // A rule with no signature requirement, and an image no rule matches (defaultAction
    // allow), must carry a signature with them too.
    let (code, stdout, _) = verify(&["-a", "build-version=42"], &["team/unsigned:1.0.0"]);
    assert_eq!(code, Some(1), "{stdout}");
    let (code, stdout, _) = verify(&["-a", "build-version=999"], &["other/app:1.0.0"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("not \"999\""), "{stdout}");
    let (code, stdout, _) = verify(&["-a", "build-version=42"], &["other/app:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");

    // --identity: signatures naming another repository (a mirror's).
    let copied = imgseal(
        d,
        &[
            "copy",
            &format!("{h}/team/app:1.0.0"),
            &format!("{h}/team/mirror"),
        ],
    );
    assert_eq!(copied.status.code(), Some(0), "{}", text(&copied).1);
    let (code, stdout, _) = verify(&[], &["team/mirror:1.0.0"]);
    assert_eq!(code, Some(1), "{stdout}");
    let identity = format!("{h}/team/app");
    let (code, stdout, _) = verify(&["--identity", &identity], &["team/mirror:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");

    // --platform: the platform manifest must be signed too (only the index is).
    let (code, stdout, _) = verify(&[], &["team/multi:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout, _) = verify(&["--platform", "linux/arm64"], &["team/multi:1.0.0"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("DENY"), "{stdout}");
    assert!(
        stdout.contains("(linux/arm64): no signatures found"),
        "{stdout}"
    );
    Signer::new(keys[0].clone())
        .recursive(true)
        .sign(
            &ImageRef::parse(&format!("{h}/team/multi:1.0.0")).unwrap(),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let (code, stdout, _) = verify(&["--platform", "linux/arm64"], &["team/multi:1.0.0"]);
    assert_eq!(code, Some(0), "{stdout}");

    // Flags the policy file decides: refused, one line naming them.
    std::fs::write(d.join("roots.pem"), "").unwrap();
    for (extra, named) in [
        (
            vec!["--certificate-chain", "roots.pem"],
            "--certificate-chain cannot be combined with --policy",
        ),
        (
            vec!["--trust-policy", "tp.json", "--trust-store", "ts"],
            "--trust-policy and --trust-store cannot be combined with --policy",
        ),
        (
            vec!["--format", "cosign"],
            "--format cannot be combined with --policy",
        ),
        (
            vec!["--concurrency", "0"],
            "--concurrency must be at least 1",
        ),
    ] {
        let (code, stdout, stderr) = verify(&extra, &["team/app:1.0.0"]);
        assert_eq!(code, Some(2), "{extra:?}: {stdout} {stderr}");
        assert!(stderr.contains(named), "{extra:?}: {stderr}");
        // One error line; the policy's own validation warnings may precede it.
        assert_eq!(
            stderr
                .trim_end()
                .lines()
                .filter(|l| !l.starts_with("imgseal: warning: "))
                .count(),
            1,
            "{stderr}"
        );
        assert!(stdout.is_empty(), "{stdout}");
    }
    // --concurrency without --policy would be ignored.
    let out = imgseal(
        d,
        &[
            "verify",
            "--key",
            "release.pub",
            "--concurrency",
            "4",
            &format!("{h}/team/app:1.0.0"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("--concurrency is for verify --policy"),
        "{}",
        text(&out).1
    );
}

#[test]
fn a_keyless_authority_for_attestations_loads() {
    // Keyless authorities verify attestations as they verify signatures
    // (tests/keyless_attestations.rs evaluates one against a real cosign attestation).
    let Some(keyless) = support::interop::set("keyless") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        keyless.join("trust-roots/public-good-production.trusted_root.json"),
        dir.path().join("trusted_root.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        "version: 1\ndefaultAction: reject\nauthorities:\n  ci:\n    keyless:\n      trustedRoot: trusted_root.json\n      identities:\n        - issuer: https://github.com/login/oauth\n          subject: a@example.com\nrules:\n  - name: r\n    images: [\"**\"]\n    authorities: { anyOf: [ci] }\n    attestations:\n      - type: vuln\n        authorities: { anyOf: [ci] }\n",
    )
    .unwrap();
    let out = imgseal(dir.path(), &["policy", "validate", "p.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}
