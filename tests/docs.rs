//! Every command the README and docs/*.md show, run against the test registry (issue #9 item
//! 7), so the documentation cannot drift from the binary: each `imgseal …` line of a `sh`
//! code block is run, in order, with `registry.example` (and the mirror hosts) replaced by the
//! test registry and `sha256:…` by the image's digest, and must succeed. The files the
//! examples presuppose (a multi-arch image, a layout, a policy, a trust policy) are set up
//! first. docs/policy.md's example policy must pass `policy validate`.
//! docs/guide.md's CI recipes (`yaml` blocks) have each `imgseal` step run the same way, with
//! the CI variables set to demo values.

mod support;

use std::path::{Path, PathBuf};
use support::cli::*;
use support::registry::*;

/// Lines of `sh` code blocks that are not imgseal commands, and where they are tested.
const NOT_IMGSEAL: &[&str] = &[
    "bash scripts/quickstart.sh", // quickstart_signs_verifies_and_refuses_tampering below
    "bash scripts/test.sh",       // what runs this test
    "cargo install --path .",
    "bash docs/deploy/gen-certs.sh ./webhook-tls", // tests/deploy.rs
    "bash scripts/fuzz.sh", // .ci/run runs a short pass (bash scripts/fuzz.sh 10)
    "kubectl apply -k docs/deploy", // needs a cluster; tests/deploy.rs builds it with kubectl kustomize
];

/// imgseal commands that run until stopped, and the tests that run them.
const RUN_ELSEWHERE: &[(&str, &str)] = &[(
    "imgseal admission serve ",
    "tests/webhook.rs and tests/deploy.rs serve real HTTPS with these arguments",
)];

/// One shell command of a code block: where it is, and its words.
#[derive(Debug)]
struct Shown {
    at: String,
    line: String,
}

/// The `sh`/`bash`/`shell`/`console` code blocks' command lines of `file`, comments and
/// `[optional]` parts removed.
fn commands_in(file: &Path) -> Vec<Shown> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    let mut in_shell = None;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            in_shell = match in_shell {
                Some(_) => None,
                None => Some(matches!(lang.trim(), "sh" | "bash" | "shell" | "console")),
            };
            continue;
        }
        if in_shell != Some(true) {
            continue;
        }
        let mut line = t.trim_start_matches("$ ").to_string();
        if let Some(hash) = line.find(" #").or_else(|| line.find("\t#")) {
            line.truncate(hash);
        }
        if line.starts_with('#') {
            continue;
        }
        // `[--flag VALUE]`: optional syntax; run the required form.
        while let (Some(a), Some(b)) = (line.find('['), line.find(']')) {
            if b < a {
                break;
            }
            line.replace_range(a..=b, "");
        }
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            out.push(Shown {
                at: format!("{}:{}", file.display(), i + 1),
                line,
            });
        }
    }
    out
}

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[tokio::test]
async fn every_command_in_the_readme_and_docs_runs() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let cli = Cli::new();
    let d = cli.dir.path();

    // What the examples presuppose: registry.example/app:1.0 (a multi-arch index, for
    // --recursive and --platform), registry.example/db:2.3.1, an image in the layout
    // ./build/app at v1, a policy and a notation trust policy.
    let app = push_index(&h, "app", "1.0").await;
    push_image(&h, "db", "2.3.1").await;
    let layout = d.join("build/app");
    support::layout::image(&layout, "v1", &random_bytes(32)).await;
    std::fs::write(
        d.join("policy.yaml"),
        format!("version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: imgseal.pub}}\nrules:\n  - name: app\n    images: ['{h}/app']\n    authorities: {{anyOf: [release]}}\n    annotations: [build-version]\n  - name: db\n    images: ['{h}/db']\n    allowedRegistries: ['{h}']\n    tags: {{deny: [latest], pattern: '^v?\\d+\\.\\d+\\.\\d+$'}}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();

    // docs/attestations.md's samples: a Trivy report, an SBOM and the gate policy.
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/attestations"))
        .unwrap()
    {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
    }

    // docs/kubernetes.md's manifest: the signed multi-arch image, pinned by `k8s pin`.
    std::fs::write(
        d.join("deploy.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {h}/app:1.0 # the app\n"),
    )
    .unwrap();

    // docs/mirrors.md's policy files, as shown there, with the test registry for the hosts.
    let mirrors =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mirrors.md"))
            .unwrap();
    for (lang, name) in [
        ("yaml", "mirror-policy.yaml"),
        ("json", "containers-policy.json"),
    ] {
        let fence = format!("```{lang}\n");
        let start = mirrors.find(&fence).expect("a block") + fence.len();
        let block = &mirrors[start..start + mirrors[start..].find("```").unwrap()];
        let block = block
            .replace("mirror.internal", &format!("{h}/mirror"))
            .replace("registry.example", &h);
        std::fs::write(d.join(name), block).unwrap();
    }

    // docs/keyless.md: a real Sigstore bundle, its artifact and trusted root, and PEM parts
    // for `trusted-root create` (../shared/interop/keyless).
    if let Some(keyless) = support::interop::set("keyless") {
        let suite = keyless.join("sigstore-conformance/bundle-verify");
        let production = keyless.join("trust-roots/public-good-production.trusted_root.json");
        for (from, to) in [
            (
                suite.join("happy-path-v0.3-new-mediaType/bundle.sigstore.json"),
                "artifact.sigstore.json",
            ),
            (suite.join("a.txt"), "artifact.txt"),
            (production.clone(), "trusted_root.json"),
            (
                keyless.join("containers-container-libs/fulcio_v1.crt.pem"),
                "fulcio.pem",
            ),
            (
                keyless.join("containers-container-libs/rekor.pub"),
                "rekor.pub",
            ),
        ] {
            std::fs::copy(&from, d.join(to)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
        // docs/policy.md's keyless policy, for `policy validate keyless-policy.yaml`.
        let policy_md =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
                .unwrap();
        let section = &policy_md[policy_md.find("## Keyless authorities").unwrap()..];
        let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
        let yaml = &section[start..start + section[start..].find("```").unwrap()];
        std::fs::write(d.join("keyless-policy.yaml"), yaml).unwrap();
        let root: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&production).unwrap()).unwrap();
        use base64::Engine as _;
        let ctfe = base64::engine::general_purpose::STANDARD
            .decode(root["ctlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap())
            .unwrap();
        std::fs::write(
            d.join("ctfe.pub"),
            pem::encode(&pem::Pem::new("PUBLIC KEY", ctfe)),
        )
        .unwrap();
    }

    let mut ran = 0;
    for file in doc_files() {
        for shown in commands_in(&file) {
            if RUN_ELSEWHERE
                .iter()
                .any(|(prefix, _)| shown.line.starts_with(prefix))
            {
                continue;
            }
            let Some(rest) = shown.line.strip_prefix("imgseal ") else {
                assert!(
                    NOT_IMGSEAL.contains(&shown.line.as_str()),
                    "{}: `{}` is neither an imgseal command nor listed in NOT_IMGSEAL",
                    shown.at,
                    shown.line
                );
                continue;
            };
            let line = rest
                .replace("registry.example/", &format!("{h}/"))
                .replace("mirror.internal/", &format!("{h}/mirror/"))
                .replace("airgap.internal/", &format!("{h}/airgap/"))
                .replace("sha256:…", &app.to_string());
            assert!(
                !line.contains('…') && !line.contains('<'),
                "{}: `{}` has a placeholder this test cannot fill",
                shown.at,
                shown.line
            );
            let args: Vec<&str> = line.split(' ').collect();
            let out = run_timed(&args, cli.cmd(&args).env("IMGSEAL_PASSWORD", "docs"));
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: `{}` failed\nstdout: {}\nstderr: {}",
                shown.at,
                shown.line,
                stdout(&out),
                stderr(&out)
            );
            assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
            ran += 1;
        }
    }
    assert!(ran >= 20, "only {ran} documented commands found");
}

/// docs/policy.md's example policy is valid once the files it names exist.
#[test]
fn the_example_policy_in_docs_validates() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
            .unwrap();
    let start = text.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let yaml = &text[start..start + text[start..].find("```").unwrap()];
    let cli = Cli::new();
    for name in ["release", "qa", "sec"] {
        cli.keypair(name);
    }
    let pki = imgseal::pki::generate_test("corp").unwrap();
    std::fs::write(cli.path("corp-roots.pem"), &pki.root_pem).unwrap();
    std::fs::create_dir_all(cli.path("truststore/x509/ca/corp")).unwrap();
    std::fs::write(cli.path("truststore/x509/ca/corp/root.pem"), &pki.root_pem).unwrap();
    std::fs::write(
        cli.path("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:corp"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    std::fs::write(cli.path("policy.yaml"), yaml).unwrap();
    let out = cli.run(&["policy", "validate", "policy.yaml"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("valid (3 rules, 5 authorities"),
        "{}",
        stdout(&out)
    );
}

/// The README's first set-up command: `bash scripts/quickstart.sh` builds an image into a
/// layout, signs, verifies, and sees both tampered copies refused (the script exits non-zero
/// otherwise).
#[test]
fn quickstart_signs_verifies_and_refuses_tampering() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/quickstart.sh"))
        .arg(work.path())
        .env("IMGSEAL", env!("CARGO_BIN_EXE_imgseal"))
        .env_remove("IMGSEAL_PASSWORD")
        .env("HOME", work.path())
        .env("DOCKER_CONFIG", work.path().join(".docker"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("-> refused (exit 1)").count(), 2, "{stdout}");
    assert!(stdout.contains("== quickstart done"), "{stdout}");
    assert!(work.path().join("demo.key").is_file());
}

/// docs/guide.md's CI recipes (```yaml blocks, which the test above does not run): every
/// `imgseal …` step (also `echo … | imgseal …` and `imgseal … > FILE`) is run for real against
/// the test registry, with the GitHub Actions expressions and GitLab CI variables it uses set to
/// demo values (the pushed image, a build number, a key file), in the order shown.
#[tokio::test]
async fn every_imgseal_step_of_the_ci_recipes_runs() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let cli = Cli::new();
    let d = cli.dir.path();
    let digest = push_index(&h, "app", "1.0").await;
    let image = format!("{h}/app");
    let vars: &[(&str, &str)] = &[
        ("ghcr.io/${{ github.repository }}", &image),
        ("${{ steps.push.outputs.digest }}", &digest.to_string()),
        ("${{ github.run_number }}", "42"),
        ("${{ github.ref_name }}", "1.0"),
        ("${{ github.actor }}", "octocat"),
        ("$CI_REGISTRY_IMAGE", &image),
        ("$CI_COMMIT_TAG", "1.0"),
        ("$CI_PIPELINE_IID", "42"),
        ("$CI_REGISTRY_PASSWORD", "demo-password"),
        ("$CI_REGISTRY_USER", "ci"),
        ("$CI_REGISTRY", &h),
        ("$IMGSEAL_KEY", "ci.key"), // GitLab's File variable: the path of the key file
    ];
    // What the recipes presuppose: the key pair (ci.key from a secret, ci.pub committed), the
    // policy and the manifests in the repository.
    assert_ok(&run_timed(
        &["generate-key-pair"],
        cli.cmd(&["generate-key-pair", "--output-key-prefix", "ci"])
            .env("IMGSEAL_PASSWORD", "demo"),
    ));
    std::fs::write(
        d.join("policy.yaml"),
        format!("version: 1\ndefaultAction: reject\nauthorities:\n  ci: {{key: ci.pub}}\nrules:\n  - name: app\n    images: ['{h}/app']\n    authorities: {{anyOf: [ci]}}\n    annotations: [build-version]\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("deploy.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {h}/app:1.0\n"),
    )
    .unwrap();

    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md");
    let text = std::fs::read_to_string(&guide).unwrap();
    let mut in_yaml = false;
    let mut ran = 0;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if let Some(lang) = t.strip_prefix("```") {
            in_yaml = !in_yaml && lang == "yaml";
            continue;
        }
        if !in_yaml || t.starts_with('#') {
            continue;
        }
        let step = t.trim_start_matches("- ").trim_start_matches("run: ");
        let (stdin, step) = match step.split_once("| imgseal ") {
            Some((_, rest)) => (true, rest),
            None => match step.strip_prefix("imgseal ") {
                Some(rest) => (false, rest),
                None => continue,
            },
        };
        let at = format!("docs/guide.md:{}", i + 1);
        let (step, stdout_to) = match step.split_once(" > ") {
            Some((s, file)) => (s, Some(file.trim())),
            None => (step, None),
        };
        let mut line = step.to_string();
        for (var, value) in vars {
            line = line.replace(var, value);
        }
        let line = line.replace('"', "");
        assert!(
            !line.contains('$') && !line.contains('…'),
            "{at}: `{t}` uses a variable this test does not set"
        );
        let args: Vec<&str> = line.split(' ').collect();
        let mut cmd = cli.cmd(&args);
        cmd.env("IMGSEAL_PASSWORD", "demo");
        let out = if stdin {
            use std::io::Write as _;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut input = child.stdin.take().unwrap();
            input.write_all(b"demo-password\n").unwrap();
            drop(input);
            child.wait_with_output().unwrap()
        } else {
            run_timed(&args, &mut cmd)
        };
        assert_eq!(
            out.status.code(),
            Some(0),
            "{at}: `{t}` failed\nstdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
        if let Some(file) = stdout_to {
            assert!(!out.stdout.is_empty(), "{at}: nothing written to {file}");
            std::fs::write(d.join(file), &out.stdout).unwrap();
        }
        ran += 1;
    }
    assert!(
        ran >= 8,
        "only {ran} imgseal steps found in docs/guide.md's yaml blocks"
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("imgseal.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0", "{sarif}");
}
