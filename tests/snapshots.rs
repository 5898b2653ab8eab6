//! Snapshot tests (issue #13): the real binary's help for every command, a set of error
//! messages, and JSON outputs are pinned byte for byte in `tests/snapshots/`. A change to any
//! of them fails here until the snapshot is updated on purpose:
//!
//! `IMGSEAL_BLESS=1 cargo test --test snapshots` rewrites the files; review the diff.
//!
//! Every command is found by walking `imgseal --help`'s command lists, so a new command gets a
//! help snapshot without anyone remembering to add it. Scratch paths are replaced by `$DIR`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::*;

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compare `actual` with the snapshot `name` (or write it when blessing).
#[track_caller]
fn check(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if std::env::var_os("IMGSEAL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} is missing ({e}); create it with IMGSEAL_BLESS=1 cargo test --test snapshots",
            path.display()
        )
    });
    if expected != actual {
        let (line, (want, got)) = expected
            .lines()
            .chain(std::iter::repeat("<end>"))
            .zip(actual.lines().chain(std::iter::repeat("<end>")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "output differs from snapshot {} at line {}:\n  snapshot: {want}\n  now:      {got}\n\
             full output:\n{actual}\nIf the change is intended: IMGSEAL_BLESS=1 cargo test --test snapshots",
            path.display(),
            line + 1
        );
    }
}

/// Exit code, stdout and stderr of a run, with the scratch directory named `$DIR`.
fn render(cli: &Cli, out: &Output) -> String {
    let dir = cli.dir.path().display().to_string();
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace(&dir, "$DIR");
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        norm(&out.stdout),
        norm(&out.stderr)
    )
}

/// Run the binary without the terminal's width (clap wraps help at `$COLUMNS`) or forced colours.
fn run(cli: &Cli, args: &[&str]) -> Output {
    cli.cmd(args)
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The subcommands listed in `text`'s "Commands:" section (without `help`).
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_of_every_command_is_pinned() {
    let cli = Cli::new();
    let mut queue = vec![String::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.split_whitespace().collect();
        args.push("--help");
        let out = run(&cli, &args);
        assert!(out.status.success(), "imgseal {path} --help failed");
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in subcommands(&text) {
            queue.push(format!("{path} {sub}").trim().to_string());
        }
        let name = if path.is_empty() {
            "imgseal".to_string()
        } else {
            path.replace(' ', "-")
        };
        check(&format!("help/{name}.txt"), &text);
        seen += 1;
    }
    assert!(seen > 25, "only {seen} commands found by walking the help");
}

/// A small unsigned image in an OCI layout, with digests fixed by its content.
fn layout(cli: &Cli) -> String {
    support::layout::image_blocking(&cli.path("layout"), "v1", b"snapshot layer");
    format!("oci:{}:v1", cli.p("layout"))
}

/// The repository's demo public key as `demo.pub` and `release.pub` (fixed, so fingerprints in
/// outputs are too), and a policy file with two mistakes.
fn demo_keys(cli: &Cli) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys/demo.pub");
    std::fs::copy(&demo, cli.path("demo.pub")).unwrap();
    std::fs::copy(&demo, cli.path("release.pub")).unwrap();
    std::fs::write(cli.path("bad-policy.yaml"), BAD_POLICY).unwrap();
}

const BAD_POLICY: &str = "\
version: 1
authorities:
  release:
    key: release.pub
rules:
  - name: production
    images: [\"registry.example/prod/**\"]
    authorities: { anyOf: [relase] }
  - name: quorum
    images: [\"registry.example/q/**\"]
    authorities: { threshold: { count: 3, of: [release] } }
";

#[test]
fn error_messages_are_pinned() {
    let cli = Cli::new();
    let image = layout(&cli);
    demo_keys(&cli);
    let cases: &[(&str, Vec<String>)] = &[
        (
            "verify-missing-key-file",
            vec![
                "verify".into(),
                "--key".into(),
                "missing.pub".into(),
                image.clone(),
            ],
        ),
        ("verify-no-mode", vec!["verify".into(), image.clone()]),
        (
            "verify-unsigned",
            vec![
                "verify".into(),
                "--key".into(),
                "demo.pub".into(),
                image.clone(),
            ],
        ),
        (
            "verify-bad-reference",
            vec![
                "verify".into(),
                "--key".into(),
                "demo.pub".into(),
                "Not A Reference!".into(),
            ],
        ),
        (
            "verify-bad-timeout",
            vec![
                "verify".into(),
                "--key".into(),
                "demo.pub".into(),
                "--timeout".into(),
                "3x".into(),
                image.clone(),
            ],
        ),
        (
            "verify-env-key-unset",
            vec![
                "verify".into(),
                "--key".into(),
                "env://IMGSEAL_SNAPSHOT_UNSET_KEY".into(),
                image.clone(),
            ],
        ),
        (
            "sign-missing-key-file",
            vec![
                "sign".into(),
                "--key".into(),
                "missing.key".into(),
                image.clone(),
            ],
        ),
        (
            "copy-bad-only",
            vec![
                "copy".into(),
                "--only".into(),
                "sig,foo".into(),
                image.clone(),
                format!("oci:{}:v1", cli.p("copy")),
            ],
        ),
        (
            "policy-validate-many-errors",
            vec!["policy".into(), "validate".into(), "bad-policy.yaml".into()],
        ),
        (
            "foreign-verb-triangulate",
            vec!["triangulate".into(), image.clone()],
        ),
    ];
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&cli, &args);
        assert!(!out.status.success(), "{name} succeeded");
        let text = render(&cli, &out);
        check(&format!("errors/{name}.txt"), &text);
    }
}

#[test]
fn json_outputs_are_pinned() {
    let cli = Cli::new();
    let image = layout(&cli);
    demo_keys(&cli);
    let cases: &[(&str, Vec<String>)] = &[
        (
            "tree",
            vec!["tree".into(), "-o".into(), "json".into(), image.clone()],
        ),
        (
            "verify-unsigned",
            vec![
                "verify".into(),
                "--key".into(),
                "release.pub".into(),
                "-o".into(),
                "json".into(),
                image.clone(),
            ],
        ),
        (
            "policy-validate-many-errors",
            vec![
                "policy".into(),
                "validate".into(),
                "-o".into(),
                "json".into(),
                "bad-policy.yaml".into(),
            ],
        ),
    ];
    for (name, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&cli, &args);
        // Pretty-printed, so a changed field shows as one changed line.
        let value: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {}", render(&cli, &out)));
        let pretty = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let dir = cli.dir.path().display().to_string();
        let text = format!(
            "exit code: {}\n{}",
            out.status.code().unwrap_or(-1),
            pretty.replace(&dir, "$DIR")
        );
        check(&format!("json/{name}.json.txt"), &text);
    }
}
