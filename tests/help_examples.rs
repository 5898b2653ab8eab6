//! The *Examples* block of every command's `--help` is run (issue #13 item 5): every command
//! and subcommand, found by walking `imgseal --help`'s command lists, must show examples and
//! its exit codes, and each example line (`imgseal …`, or `echo … | imgseal …`) is run for real
//! against the test registry, demo keys and an OCI layout, with `registry.example` replaced by
//! the test registry. An example that cannot succeed here is listed in [`EXPECTED`] with the
//! exit code it must give instead and why, and must fail with imgseal's own error (so clap
//! accepted its arguments). `verify --help`'s flag groups are pinned in order.

mod support;

use std::path::Path;
use support::cli::*;
use support::registry::*;

/// Every command, in the order its examples run: later examples use what earlier ones made
/// (keys, signatures, a trust store, copies). "" is `imgseal` itself.
const ORDER: &[&str] = &[
    "generate-key-pair",
    "public-key",
    "cert",
    "cert generate-test",
    "cert add",
    "cert list",
    "cert delete",
    "sign",
    "verify",
    "attest",
    "verify-attestation",
    "tree",
    "copy",
    "policy",
    "policy validate",
    "policy import-containers",
    "k8s",
    "k8s verify",
    "k8s pin",
    "trusted-root",
    "trusted-root create",
    "verify-blob",
    "admission",
    "admission serve",
    "completion",
    "man",
    "login",
    "logout",
    "version",
    "",
];

/// Examples that run here without succeeding: (start of the line, exit code, why).
const EXPECTED: &[(&str, i32, &str)] = &[
    (
        "imgseal verify --trusted-root trusted_root.json --certificate-identity-regexp https://github.com/octo-org/",
        1,
        "the test image has no keyless signature: the run gets past parsing to verification",
    ),
    (
        "imgseal admission serve ",
        2,
        "it serves until stopped; here it has no TLS files and must stop at start-up with \
         imgseal's own error (tests/webhook.rs and tests/deploy.rs serve for real)",
    ),
];

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_imgseal"))
}

fn help(path: &str) -> String {
    let mut c = bin();
    c.args(path.split_whitespace()).arg("--help");
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "imgseal {path} --help: {}",
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The indented lines of `text`'s section `heading` (e.g. "Commands:"), up to a blank line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// Every command path under `path` (depth first), `help` excepted.
fn commands(path: &str, into: &mut Vec<String>) {
    into.push(path.to_string());
    for line in section(&help(path), "Commands:") {
        let name = line.split_whitespace().next().unwrap();
        if name != "help" {
            commands(format!("{path} {name}").trim(), into);
        }
    }
}

/// One example: its words after `imgseal`, whether it reads standard input (`echo … |`), and
/// the file its standard output is redirected to (`> FILE`).
#[derive(Debug)]
struct Example {
    shown: String,
    args: String,
    stdin: bool,
    stdout_to: Option<String>,
}

fn examples(help: &str) -> Vec<Example> {
    let mut out = Vec::new();
    for line in section(help, "Examples:") {
        let shown = line.trim().to_string();
        let (stdin, cmd) = match shown.split_once("| imgseal ") {
            Some((_, rest)) => (true, format!("imgseal {rest}")),
            None => (false, shown.clone()),
        };
        let Some(cmd) = cmd.strip_prefix("imgseal ") else {
            continue; // not an imgseal command (e.g. `man -l …`)
        };
        let (args, stdout_to) = match cmd.split_once(" > ") {
            Some((a, file)) => (a.to_string(), Some(file.trim().to_string())),
            None => (cmd.to_string(), None),
        };
        out.push(Example {
            shown,
            args,
            stdin,
            stdout_to,
        });
    }
    out
}

#[tokio::test]
async fn every_command_shows_examples_and_exit_codes_and_the_examples_run() {
    let mut all = Vec::new();
    commands("", &mut all);
    let mut sorted: Vec<&str> = all.iter().map(String::as_str).collect();
    sorted.sort();
    let mut order = ORDER.to_vec();
    order.sort();
    assert_eq!(
        sorted, order,
        "ORDER must list every command exactly once (a new command needs examples)"
    );

    let reg = Registry::start();
    let h = reg.host.clone();
    let cli = Cli::new();
    let d = cli.dir.path();
    setup(d, &h).await;
    let keyless = keyless_material(d);

    let mut ran = std::collections::BTreeSet::new();
    let mut expected_seen = 0;
    for path in ORDER {
        let text = help(path);
        let name = format!("imgseal {path}");
        assert!(
            text.contains("\nExit codes: 0 "),
            "`{name} --help` does not give the exit codes:\n{text}"
        );
        let list = examples(&text);
        assert!(
            list.iter()
                .any(|e| format!("imgseal {}", e.args).starts_with(name.trim_end())),
            "`{name} --help` shows no example of `{name}`:\n{text}"
        );
        for ex in list {
            if !ran.insert(ex.args.clone()) {
                continue; // shown by another command's help too, already run
            }
            let line = ex.args.replace("registry.example", &h);
            assert!(
                !line.contains('…') && !line.contains('<') && !line.contains('"'),
                "{name}: `{}` has a placeholder or quoting this test cannot run",
                ex.shown
            );
            let args: Vec<&str> = line.split(' ').collect();
            let mut cmd = cli.cmd(&args);
            cmd.env("IMGSEAL_PASSWORD", "demo");
            if ex.stdin {
                cmd.stdin(std::process::Stdio::piped());
            }
            let out = if ex.stdin {
                use std::io::Write as _;
                let mut child = cmd
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"demo-password\n")
                    .unwrap();
                child.wait_with_output().unwrap()
            } else {
                run_timed(&args, &mut cmd)
            };
            let want = EXPECTED
                .iter()
                .find(|(prefix, _, _)| ex.shown.starts_with(prefix))
                .map(|(_, code, _)| *code)
                .or((!keyless && ex.args.contains("trusted_root.json")).then_some(2));
            let err = stderr(&out);
            assert!(!err.contains("panicked"), "{}: {err}", ex.shown);
            match want {
                None => assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{name} --help: `{}` failed\nstdout: {}\nstderr: {err}",
                    ex.shown,
                    stdout(&out)
                ),
                Some(code) => {
                    expected_seen += 1;
                    assert_eq!(
                        out.status.code(),
                        Some(code),
                        "{name} --help: `{}`\nstdout: {}\nstderr: {err}",
                        ex.shown,
                        stdout(&out)
                    );
                    // imgseal's own error, not clap's refusal of the arguments.
                    assert!(
                        err.starts_with("imgseal: ") && !err.contains("Usage:"),
                        "{}: {err}",
                        ex.shown
                    );
                }
            }
            if let Some(file) = &ex.stdout_to {
                assert!(!out.stdout.is_empty(), "{}: no output", ex.shown);
                std::fs::write(d.join(file), &out.stdout).unwrap();
            }
        }
    }
    assert!(
        expected_seen >= EXPECTED.len(),
        "an EXPECTED entry matches no example"
    );
    assert!(ran.len() >= 40, "only {} examples found", ran.len());
    // What the examples made.
    assert!(d.join("man/imgseal-verify.1").is_file());
    assert!(d.join("private_trusted_root.json").is_file());
    assert!(std::fs::read_to_string(d.join("_imgseal"))
        .unwrap()
        .contains("imgseal"));
    assert!(std::fs::read_to_string(d.join("deploy.yaml"))
        .unwrap()
        .contains("@sha256:"));
}

/// What the examples presuppose: registry.example/app:1.0 (a multi-arch index, for
/// --recursive), registry.example/db:2.3.1, the layout ./build/app at v1, a policy, a notation
/// trust policy, a containers policy.json, a Kubernetes manifest, the attestation samples, and
/// PEM files for `trusted-root create`.
async fn setup(d: &Path, h: &str) {
    push_index(h, "app", "1.0").await;
    push_image(h, "db", "2.3.1").await;
    support::layout::image(&d.join("build/app"), "v1", &random_bytes(32)).await;
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
    std::fs::write(
        d.join("containers-policy.json"),
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{h}/app":[{{"type":"sigstoreSigned","keyPath":"{}","signedIdentity":{{"type":"matchRepository"}}}}]}}}}}}"#,
            d.join("imgseal.pub").display()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("deploy.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {h}/app:1.0\n"),
    )
    .unwrap();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/attestations"))
        .unwrap()
    {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
    }
    let fulcio = imgseal::pki::generate_test("fulcio").unwrap();
    std::fs::write(d.join("fulcio.pem"), &fulcio.root_pem).unwrap();
    let rekor = imgseal::SigningKey::generate().unwrap();
    std::fs::write(d.join("rekor.pub"), rekor.public_key().to_pem()).unwrap();
}

/// verify-blob's examples: a real Sigstore bundle, its artifact and the public-good trusted
/// root (../shared/interop/keyless); false when the set is absent (then those examples must
/// stop at the missing file, with imgseal's error).
fn keyless_material(d: &Path) -> bool {
    let Some(keyless) = support::interop::set("keyless") else {
        return false;
    };
    let suite = keyless.join("sigstore-conformance/bundle-verify");
    for (from, to) in [
        (
            suite.join("happy-path-v0.3-new-mediaType/bundle.sigstore.json"),
            "artifact.sigstore.json",
        ),
        (suite.join("a.txt"), "artifact.txt"),
        (
            keyless.join("trust-roots/public-good-production.trusted_root.json"),
            "trusted_root.json",
        ),
    ] {
        std::fs::copy(&from, d.join(to)).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    true
}

/// `verify --help` groups its flags by mode, in this order (after the arguments and the
/// flags common to every mode).
#[test]
fn verify_help_groups_flags_by_mode() {
    let text = help("verify");
    let headings: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .collect();
    assert_eq!(
        headings,
        [
            "Arguments:",
            "Options:",
            "Key:",
            "Certificate:",
            "Keyless:",
            "Notary Project:",
            "Policy:",
            "Registry:",
            "Output:",
            "cosign compatibility:",
            "Examples:"
        ],
        "{text}"
    );
    // Long help separates flags with blank lines: a group runs to the next heading.
    let under = |heading: &str| {
        text.lines()
            .skip_while(|l| *l != heading)
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (heading, flags) in [
        ("Key:", &["--key <PUBKEY>"][..]),
        (
            "Certificate:",
            &["--certificate-chain", "--certificate-subject"],
        ),
        ("Keyless:", &["--trusted-root", "--insecure-ignore-sct"]),
        ("Notary Project:", &["--trust-policy", "--trust-store"]),
        (
            "Policy:",
            &["--policy", "--containers-policy", "--concurrency"],
        ),
        (
            "Registry:",
            &[
                "--allow-http-registry",
                "--registry-username",
                "--registry-cacert",
                "--timeout",
                "--oci-layout",
            ],
        ),
        ("Output:", &["--output"]),
    ] {
        for flag in flags {
            assert!(
                under(heading).contains(flag),
                "{flag} is not under {heading}\n{text}"
            );
        }
    }
}

/// sign, verify-attestation, verify-blob and copy group their flags too.
#[test]
fn other_commands_group_their_flags() {
    for (path, headings) in [
        (
            "sign",
            &["Key:", "Registry:", "Certificate:", "Output:"][..],
        ),
        (
            "verify-attestation",
            &["Key:", "Certificate:", "Policy:", "Registry:", "Output:"],
        ),
        ("verify-blob", &["Key:", "Trusted root:", "Output:"]),
        ("copy", &["Registry:", "Output:"]),
    ] {
        let text = help(path);
        let at: Vec<usize> = headings
            .iter()
            .map(|h| {
                text.find(&format!("\n{h}\n"))
                    .unwrap_or_else(|| panic!("`{path} --help` has no {h}\n{text}"))
            })
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "`{path} --help`: headings out of order\n{text}"
        );
    }
}
