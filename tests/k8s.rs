//! `imgseal k8s verify` and `imgseal k8s pin`: the real binary on real manifest files, against
//! a real docker-registry with signed and unsigned images.

mod support;

use std::path::Path;
use support::cli::*;
use support::registry::*;

fn testdata(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/k8s")
        .join(name)
        .display()
        .to_string()
}

fn write(cli: &Cli, name: &str, text: &str) -> String {
    let p = cli.path(name);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    arg(&p)
}

/// p.yaml: every image of registry `h` must be signed by the key at `public`.
fn release_policy(cli: &Cli, h: &str, public: &str) -> String {
    write(
        cli,
        "p.yaml",
        &format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: {public}}}\nrules:\n  - name: ours\n    images: ['{h}/**']\n    authorities: {{anyOf: [release]}}\n"
        ),
    )
}

#[test]
fn the_articles_deployment_is_denied_with_each_reason() {
    // Offline: registry and tag rules need no registry.
    let cli = Cli::new();
    assert_ok(&cli.run(&["policy", "validate", &testdata("policy.yaml")]));
    let policy = write(
        &cli,
        "p.yaml",
        "version: 1\ndefaultAction: reject\nrules:\n  - name: everything\n    images: ['**']\n    allowedRegistries: [registry.corp.example]\n    tags: {deny: [latest], requireDigest: true}\n",
    );
    let out = cli.run(&[
        "k8s",
        "verify",
        "-f",
        &testdata("deployment.yaml"),
        "--policy",
        &policy,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Deployment/my-app my-app: node:14-alpine  DENY"),
        "{text}"
    );
    assert!(
        text.contains("docker.io is not in allowedRegistries"),
        "{text}"
    );
    assert!(text.contains("does not pin a digest"), "{text}");
    assert!(
        text.contains("1 containers in 1 workloads (1 other documents skipped), 1 distinct images: 0 allowed, 1 denied"),
        "{text}"
    );
}

#[tokio::test]
async fn signed_images_pass_unsigned_fail_and_each_image_is_verified_once() {
    let reg = Registry::start();
    let h = &reg.host;
    push_image(h, "library/node", "14-alpine").await;
    push_image(h, "team/app", "1.0.0").await;
    let cli = Cli::new();
    let k = cli.keypair("release");
    assert_ok(&cli.run(&["sign", "--key", &k.private, &format!("{h}/team/app:1.0.0")]));
    let policy = release_policy(&cli, h, &k.public);
    // A Deployment with 8 containers of one signed image, a CronJob with the unsigned one,
    // and a List holding a Pod; in a directory with a non-manifest file beside them.
    let containers: String = (0..8)
        .map(|i| format!("        - {{name: c{i}, image: {h}/team/app:1.0.0}}\n"))
        .collect();
    write(
        &cli,
        "m/deploy.yaml",
        &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: prod}}\nspec:\n  template:\n    spec:\n      containers:\n{containers}"),
    );
    write(
        &cli,
        "m/sub/cron.json",
        &format!(
            r#"{{"apiVersion":"batch/v1","kind":"CronJob","metadata":{{"name":"nightly"}},"spec":{{"jobTemplate":{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"job","image":"{h}/library/node:14-alpine"}}]}}}}}}}}}}}}"#
        ),
    );
    write(&cli, "m/README.txt", "not a manifest");
    let out = cli.run(&[
        "k8s",
        "verify",
        "-f",
        &arg(&cli.path("m")),
        "--policy",
        &policy,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["distinctImages"], 2, "{r}");
    assert_eq!(r["workloads"], 2);
    let rows = r["containers"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    for row in &rows[..8] {
        assert_eq!(row["allowed"], true, "{row}");
        assert_eq!(row["namespace"], "prod");
    }
    assert_eq!(rows[8]["allowed"], false);
    assert_eq!(
        rows[8]["pointer"],
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );
    // Only the signed Deployment: exit 0; SARIF names the file.
    let out = cli.run(&[
        "k8s",
        "verify",
        "-f",
        &arg(&cli.path("m/deploy.yaml")),
        "--policy",
        &policy,
    ]);
    assert_ok(&out);
    let out = cli.run(&[
        "k8s",
        "verify",
        "-f",
        &arg(&cli.path("m")),
        "--policy",
        &policy,
        "-o",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = json(&out);
    assert_eq!(
        s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        arg(&cli.path("m/sub/cron.json"))
    );
}

#[tokio::test]
async fn pin_rewrites_only_the_image_values() {
    let reg = Registry::start();
    let h = &reg.host;
    let digest = push_image(h, "team/app", "1.0.0").await;
    let cli = Cli::new();
    let k = cli.keypair("release");
    assert_ok(&cli.run(&["sign", "--key", &k.private, &format!("{h}/team/app:1.0.0")]));
    let policy = release_policy(&cli, h, &k.public);
    // Comments, odd indentation, quoting styles, flow style, CRLF line endings, separators.
    let original = format!(
        "# deploy\r\napiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n    name: web   # keep\r\nspec:\r\n    template:\r\n        spec:\r\n            containers:\r\n              - name: a\r\n                image: {h}/team/app:1.0.0 # the app\r\n              - {{name: b, image: '{h}/team/app:1.0.0'}}\r\n              - name: c\r\n                image: \"{h}/team/app@{digest}\"\r\n---\r\n# a service, untouched\r\nkind: Service\r\nmetadata: {{name: web}}\r\n"
    );
    let file = write(&cli, "deploy.yaml", &original);
    let out = cli.run(&["k8s", "pin", "-f", &file, "--policy", &policy]);
    assert_ok(&out);
    let want = original
        .replace(
            &format!("image: {h}/team/app:1.0.0 #"),
            &format!("image: {h}/team/app:1.0.0@{digest} #"),
        )
        .replace(
            &format!("image: '{h}/team/app:1.0.0'}}"),
            &format!("image: '{h}/team/app:1.0.0@{digest}'}}"),
        );
    assert_ne!(want, original);
    assert_eq!(stdout(&out), want);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        original,
        "no -w: untouched"
    );
    // -w rewrites in place; a second run changes nothing more.
    assert_ok(&cli.run(&["k8s", "pin", "-w", "-f", &file, "--policy", &policy]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    assert_ok(&cli.run(&["k8s", "pin", "-w", "-f", &file, "--policy", &policy]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
}

#[tokio::test]
async fn pin_refuses_and_leaves_the_file_alone_when_an_image_is_denied() {
    let reg = Registry::start();
    let h = &reg.host;
    push_image(h, "team/app", "1.0.0").await;
    let cli = Cli::new();
    let k = cli.keypair("release");
    let policy = release_policy(&cli, h, &k.public);
    let original =
        format!("kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - {{name: a, image: {h}/team/app:1.0.0}}\n");
    let file = write(&cli, "pod.yaml", &original);
    let out = cli.run(&["k8s", "pin", "-w", "-f", &file, "--policy", &policy]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no file was changed"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("no signatures found"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn bad_manifests_and_flag_combinations_are_one_line_errors() {
    let cli = Cli::new();
    let policy = write(&cli, "p.yaml", "version: 1\ndefaultAction: allow\n");
    let bad = write(&cli, "bad.yaml", "kind: Pod\nspec: [unclosed\n");
    assert_fails_one(
        &cli.run(&["k8s", "verify", "-f", &bad, "--policy", &policy]),
        2,
        "bad.yaml",
    );
    let ok = write(&cli, "ok.yaml", "kind: ConfigMap\nmetadata: {name: x}\n");
    assert_fails_one(
        &cli.run(&["k8s", "pin", "-w", "-f", "-", "--policy", &policy]),
        2,
        "standard input",
    );
    assert_fails_one(
        &cli.run(&["k8s", "pin", "-f", &ok, "-f", &bad, "--policy", &policy]),
        2,
        "bad.yaml",
    );
    let ok2 = write(&cli, "ok2.yaml", "kind: ConfigMap\nmetadata: {name: y}\n");
    assert_fails_one(
        &cli.run(&["k8s", "pin", "-f", &ok, "-f", &ok2, "--policy", &policy]),
        2,
        "give -w",
    );
    assert_fails_one(
        &cli.run(&[
            "k8s",
            "verify",
            "-f",
            &ok,
            "--policy",
            &policy,
            "--concurrency",
            "0",
        ]),
        2,
        "--concurrency must be at least 1",
    );
    // A manifest may not point imgseal at local directories.
    let layout = write(
        &cli,
        "layout.yaml",
        "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: 'oci:/etc'}]}\n",
    );
    let out = cli.run(&["k8s", "verify", "-f", &layout, "--policy", &policy]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("FAIL reference"), "{}", stdout(&out));
}
