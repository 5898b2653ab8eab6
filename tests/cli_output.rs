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
