//! The real `imgseal` binary with a closed stdout (issue #9 item 6: `imgseal tree IMG | head`
//! must not panic), and flags that a command would accept and not use (issue #9 item 4: each
//! is applied, refused or warned about).

mod support;

use std::process::{Output, Stdio};
use support::cli::*;
use support::registry::*;

/// A scratch directory holding a key pair, an OCI layout with one image signed by that key
/// (`oci:DIR:registry.example/team/app:v1`), a policy allowing it (p.yaml) and one denying
/// every image (deny.yaml).
struct Fixture {
    cli: Cli,
    keys: KeyFiles,
    image: String,
}

async fn fixture() -> Fixture {
    let cli = Cli::new();
    let keys = cli.keypair("k");
    let dir = cli.path("img");
    let (image, _) =
        support::layout::image(&dir, "registry.example/team/app:v1", &random_bytes(32)).await;
    assert_ok(&cli.run(&["sign", "--key", &keys.private, &image]));
    std::fs::write(
        cli.path("p.yaml"),
        "version: 1\ndefaultAction: reject\nauthorities:\n  k: {key: k.pub}\nrules:\n  - name: all\n    images: ['**']\n    authorities: {anyOf: [k]}\n",
    )
    .unwrap();
    std::fs::write(cli.path("deny.yaml"), "version: 1\ndefaultAction: reject\n").unwrap();
    // Two problems in two rules: policy validate -o json lists both.
    std::fs::write(
        cli.path("broken.yaml"),
        "version: 1\ndefaultAction: reject\nrules:\n  - name: a\n    images: ['**']\n    authorities: {anyOf: [nobody]}\n  - name: b\n    images: ['x/**']\n    maxImageAge: soon\n",
    )
    .unwrap();
    Fixture { cli, keys, image }
}

/// Run with stdout a pipe whose reading end is closed before the command writes anything.
fn run_with_closed_stdout(cli: &Cli, args: &[&str]) -> Output {
    let mut child = cli
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[track_caller]
fn assert_quiet_exit(out: &Output, code: i32, args: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
}

#[tokio::test]
async fn closed_stdout_exits_quietly_with_the_commands_code() {
    let f = fixture().await;
    let image = f.image.as_str();
    let public = f.keys.public.as_str();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["tree", image], 0),
        (vec!["tree", "-o", "json", image], 0),
        (vec!["verify", "--key", public, image], 0),
        (vec!["verify", "--key", public, "-o", "json", image], 0),
        (vec!["verify", "--policy", "p.yaml", image], 0),
        (vec!["verify", "--policy", "p.yaml", "-o", "json", image], 0),
        (
            vec!["verify", "--policy", "p.yaml", "-o", "sarif", image],
            0,
        ),
        (vec!["verify", "--policy", "deny.yaml", image], 1),
        (vec!["policy", "validate", "p.yaml"], 0),
        (vec!["sign", "--key", &f.keys.private, image], 0),
        (
            vec!["sign", "--key", &f.keys.private, "-o", "json", image],
            0,
        ),
        (vec!["copy", image, "oci:carry"], 0),
    ];
    for (args, code) in &cases {
        let out = run_with_closed_stdout(&f.cli, args);
        assert_quiet_exit(&out, *code, args);
        // The same command with stdout open prints something (so the pipe was written to).
        let open = f.cli.run(args);
        assert_eq!(
            open.status.code(),
            Some(*code),
            "{args:?}: {}",
            stderr(&open)
        );
        assert!(!open.stdout.is_empty(), "{args:?} printed nothing");
    }
    // A denied image: exit 1 and no panic message (the decision table went to the closed pipe).
    let out = run_with_closed_stdout(&f.cli, &["verify", "--policy", "deny.yaml", image]);
    assert_quiet_exit(&out, 1, &[]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[tokio::test]
async fn flags_a_command_would_not_use_are_named() {
    let f = fixture().await;
    let image = f.image.as_str();
    std::fs::write(f.cli.path("pw"), "secret\n").unwrap();
    // The key is not encrypted: the password file is not read.
    let out = f.cli.run(&[
        "sign",
        "--key",
        &f.keys.private,
        "--password-file",
        "pw",
        image,
    ]);
    assert_ok(&out);
    assert_warned(&out, &["--password-file", "not used", "not encrypted"]);
    // --recursive on a single-platform image adds nothing.
    let out = f
        .cli
        .run(&["sign", "--key", &f.keys.private, "--recursive", image]);
    assert_ok(&out);
    assert_warned(&out, &["--recursive", "not an image index"]);
    // --allow-http-registry with no registry involved.
    for args in [
        vec![
            "verify",
            "--allow-http-registry",
            "--key",
            &f.keys.public,
            image,
        ],
        vec!["tree", "--allow-http-registry", image],
        vec!["copy", "--allow-http-registry", image, "oci:carry"],
        vec![
            "verify",
            "--allow-http-registry",
            "--policy",
            "p.yaml",
            image,
        ],
    ] {
        let out = f.cli.run(&args);
        assert_ok(&out);
        assert_warned(&out, &["--allow-http-registry", "not used"]);
    }
    // Used flags draw no warning.
    let out = f.cli.run(&["verify", "--key", &f.keys.public, image]);
    assert_ok(&out);
    assert!(warnings(&out).is_empty(), "{}", stderr(&out));
}

/// Validate `doc` (the stdout of `args`) against docs/schemas/`name`.json.
#[track_caller]
fn assert_matches_schema(name: &str, args: &[&str], out: &Output) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(format!("{name}.json"));
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: not a valid JSON Schema: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", stdout(out)));
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{args:?} does not match {name}.json:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// Every JSON output, from the real binary, against its schema in docs/schemas (camelCase keys,
/// `schemaVersion: 1`, arrays present, the scheme and decision vocabularies).
#[tokio::test]
async fn json_outputs_match_their_schemas() {
    let f = fixture().await;
    let cli = &f.cli;
    let image = f.image.as_str();
    let public = f.keys.public.as_str();
    let other = cli.keypair("other");
    std::fs::write(cli.path("predicate.json"), r#"{"builder": "ci"}"#).unwrap();
    std::fs::write(
        cli.path("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - {name: web, image: registry.example/team/app:v1}\n",
    )
    .unwrap();
    std::fs::write(cli.path("allow.yaml"), "version: 1\ndefaultAction: allow\n").unwrap();
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "sign",
            vec!["sign", "--key", &f.keys.private, "-o", "json", image],
            0,
        ),
        (
            "sign",
            vec![
                "sign",
                "--key",
                &f.keys.private,
                "--attach",
                "referrers",
                "-o",
                "json",
                image,
            ],
            0,
        ),
        (
            "verify",
            vec!["verify", "--key", public, "-o", "json", image],
            0,
        ),
        (
            "verify",
            vec!["verify", "--key", &other.public, "-o", "json", image],
            1,
        ),
        ("tree", vec!["tree", "-o", "json", image], 0),
        (
            "tree",
            vec!["tree", "--key", public, "-o", "json", image],
            0,
        ),
        ("copy", vec!["copy", "-o", "json", image, "oci:carry"], 0),
        (
            "policy",
            vec!["verify", "--policy", "p.yaml", "-o", "json", image],
            0,
        ),
        (
            "policy",
            vec!["verify", "--policy", "deny.yaml", "-o", "json", image],
            1,
        ),
        (
            "k8s-verify",
            vec![
                "k8s",
                "verify",
                "-f",
                "pod.yaml",
                "--policy",
                "allow.yaml",
                "-o",
                "json",
            ],
            0,
        ),
        (
            "attest",
            vec![
                "attest",
                "--key",
                &f.keys.private,
                "--predicate",
                "predicate.json",
                "-o",
                "json",
                image,
            ],
            0,
        ),
        (
            "verify-attestation",
            vec!["verify-attestation", "--key", public, "-o", "json", image],
            0,
        ),
        (
            "policy-validate",
            vec!["policy", "validate", "-o", "json", "p.yaml"],
            0,
        ),
        (
            "policy-validate",
            vec!["policy", "validate", "-o", "json", "deny.yaml"],
            0,
        ),
        (
            "policy-validate",
            vec!["policy", "validate", "-o", "json", "broken.yaml"],
            2,
        ),
    ];
    for (schema, args, code) in &cases {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {}", stderr(&out));
        assert_matches_schema(schema, args, &out);
    }
    let broken = json(&cli.run(&["policy", "validate", "-o", "json", "broken.yaml"]));
    let paths: Vec<&str> = broken["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["rules[0].authorities.anyOf[0]", "rules[1].maxImageAge"],
        "{broken:#}"
    );
    // The vocabularies, beyond the schemas' enums: a referrer's scheme and a decision.
    let signed = json(&cli.run(&["tree", "-o", "json", image]));
    let schemes: Vec<&str> = signed["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["scheme"].as_str().unwrap())
        .collect();
    assert!(schemes.contains(&"tag"), "{signed:#}");
    assert!(schemes.contains(&"referrers-tag-schema"), "{signed:#}");
    let denied = json(&cli.run(&["verify", "--policy", "deny.yaml", "-o", "json", image]));
    assert_eq!(denied["decisions"][0]["decision"], "DENY", "{denied:#}");
    assert_eq!(denied["schemaVersion"], 1);
}

/// `verify-blob -o json`, verified and refused, against docs/schemas/verify-blob.json, on the
/// sigstore-conformance bundles (shared interop fixtures).
#[test]
fn verify_blob_json_matches_its_schema() {
    let Some(suite) = support::interop::set("keyless/sigstore-conformance") else {
        return;
    };
    let Some(roots) = support::interop::set("keyless/trust-roots") else {
        return;
    };
    let suite = suite.join("bundle-verify");
    let root = roots.join("public-good-production.trusted_root.json");
    let case = suite.join("happy-path-v0.3-new-mediaType");
    let artifact = Some(case.join("artifact"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| suite.join("a.txt"));
    let cli = Cli::new();
    for (identity, code) in [
        (".*extremely-dangerous-public-oidc-beacon.*", 0),
        ("https://nobody.example/", 1),
    ] {
        let args = [
            "verify-blob".to_string(),
            "--bundle".into(),
            case.join("bundle.sigstore.json").display().to_string(),
            "--trusted-root".into(),
            root.display().to_string(),
            "--certificate-identity-regexp".into(),
            identity.into(),
            "--certificate-oidc-issuer".into(),
            "https://token.actions.githubusercontent.com".into(),
            "-o".into(),
            "json".into(),
            artifact.display().to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert_matches_schema("verify-blob", &args, &out);
    }
}

/// A failed verification with several signatures: one headline, then one line per failed
/// signature (not one `;`-joined line). One failed signature stays on the headline.
#[tokio::test]
async fn each_failed_signature_is_one_line() {
    let f = fixture().await;
    let other = f.cli.keypair("other");
    let one = f.cli.run(&["verify", "--key", &other.public, &f.image]);
    assert_fails_alone(&one, 1, "tag sha256-");
    assert_ok(&f.cli.run(&[
        "sign",
        "--key",
        &f.keys.private,
        "--attach",
        "referrers",
        &f.image,
    ]));
    let out = f.cli.run(&["verify", "--key", &other.public, &f.image]);
    assert_fails(&out, 1, &["none of 2 signatures verified"]);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("imgseal: verification failed for "),
        "{err}"
    );
    assert!(!lines[0].contains("; "), "{err}");
    let detail: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.strip_prefix("imgseal:   "))
        .collect();
    assert_eq!(detail.len(), 2, "{err}");
    assert!(detail[0].starts_with("tag sha256-"), "{err}");
    assert!(detail[1].contains("artifact sha256:"), "{err}");
    assert!(
        detail
            .iter()
            .all(|d| d.contains(": signature does not verify")),
        "{err}"
    );
}

/// Signing or verifying a registry image by tag warns once (as cosign does), naming the digest it resolved
/// to; by digest, nothing.
#[tokio::test]
async fn a_tag_is_named_with_its_digest_once() {
    let reg = Registry::start();
    let cli = Cli::new();
    let keys = cli.keypair("k");
    let image = format!("{}/app:v1", reg.host);
    let digest = push_image(&reg.host, "app", "v1").await;
    let pinned = format!("{}/app@{digest}", reg.host);
    // A warning, as cosign warns of signing by tag; the only one of the run.
    let note = format!(
        "imgseal: warning: {image} is a tag, which can be moved; it resolved to {digest} (name {pinned} to pin it)"
    );
    for args in [
        vec!["sign", "--key", &keys.private, &image],
        vec!["verify", "--key", &keys.public, &image],
    ] {
        let out = cli.run(&args);
        assert_ok(&out);
        assert_eq!(
            stderr(&out).matches(&note).count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(warnings(&out).len(), 1, "{args:?}: {}", stderr(&out));
    }
    for args in [
        vec!["sign", "--key", &keys.private, &pinned],
        vec!["verify", "--key", &keys.public, &pinned],
    ] {
        let out = cli.run(&args);
        assert_ok(&out);
        assert!(
            !stderr(&out).contains("is a tag"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(warnings(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

/// Progress bars are drawn only on a terminal: with stderr a pipe (as here) `copy`,
/// `verify --policy` over several images and `k8s verify` print no progress at all.
#[tokio::test]
async fn no_progress_output_when_stderr_is_not_a_terminal() {
    let f = fixture().await;
    let cli = &f.cli;
    let image = f.image.as_str();
    std::fs::write(
        cli.path("pods.yaml"),
        (0..8)
            .map(|i| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers:\n    - {{name: c, image: registry.example/team/app{i}:v1}}\n"))
            .collect::<Vec<_>>()
            .join("---\n"),
    )
    .unwrap();
    std::fs::write(cli.path("allow.yaml"), "version: 1\ndefaultAction: allow\n").unwrap();
    let many: Vec<&str> = std::iter::repeat_n(image, 8).collect();
    let mut policy_args = vec!["verify", "--policy", "p.yaml"];
    policy_args.extend(&many);
    for args in [
        vec!["copy", image, "oci:carry"],
        policy_args,
        vec!["k8s", "verify", "-f", "pods.yaml", "--policy", "allow.yaml"],
    ] {
        let out = cli.run(&args);
        assert_ok(&out);
        let err = stderr(&out);
        for needle in ["\r", "\u{1b}", "images evaluated", "/s,", "[0/"] {
            assert!(!err.contains(needle), "{args:?} drew progress: {err:?}");
        }
    }
}
