//! Devices, FIFOs and oversized files where imgseal reads a file (issue #16): keys, password
//! files, certificate chains, policies, trust policies, trust stores, layout index.json and
//! blobs, docker's config.json. Each is refused with exit 2 and one line naming the file,
//! through the real binary, and quickly: every run is killed and the test failed after
//! `support::cli::HANG_LIMIT` (before the fix, a FIFO hung forever and /dev/zero read until memory ran out).
#![cfg(unix)]

mod support;

use std::path::Path;
use std::process::Command;
use support::cli::*;
use support::registry::*;

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A layout at `dir` with one image tagged `v1`.
fn make_layout(dir: &Path) -> imgseal::Digest {
    support::layout::image_blocking(dir, "v1", b"special files layer").1
}

/// The two special files every input is tried with: a character device and a FIFO.
fn specials(cli: &Cli) -> [(String, &'static str); 2] {
    let fifo = cli.path("fifo");
    if !fifo.exists() {
        mkfifo(&fifo);
    }
    [
        ("/dev/zero".to_string(), "(a character device)"),
        (fifo.display().to_string(), "(a FIFO)"),
    ]
}

#[test]
fn user_files_that_are_devices_or_fifos_are_refused() {
    let cli = Cli::new();
    let keys = cli.keypair("k");
    let layout = cli.path("img");
    make_layout(&layout);
    let image = format!("oci:{}:v1", layout.display());
    let store = cli.path("store");
    std::fs::create_dir_all(&store).unwrap();
    let ts = store.display().to_string();
    for (special, kind) in specials(&cli) {
        let s = special.as_str();
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("verify --key", vec!["verify", "--key", s, &image]),
            ("sign --key", vec!["sign", "--key", s, &image]),
            (
                "sign --certificate-chain",
                vec![
                    "sign",
                    "--key",
                    &keys.private,
                    "--certificate-chain",
                    s,
                    &image,
                ],
            ),
            (
                "verify --certificate-chain",
                vec!["verify", "--certificate-chain", s, &image],
            ),
            (
                "generate-key-pair --password-file",
                vec![
                    "generate-key-pair",
                    "--output-key-prefix",
                    "fresh",
                    "--password-file",
                    s,
                ],
            ),
            ("policy validate", vec!["policy", "validate", s]),
            ("verify --policy", vec!["verify", "--policy", s, &image]),
            (
                "verify --trust-policy",
                vec!["verify", "--trust-policy", s, "--trust-store", &ts, &image],
            ),
        ];
        for (what, args) in cases {
            let out = run_guarded(what, &mut cli.cmd(&args));
            assert_fails_alone(&out, 2, &format!("{s} is not a regular file {kind}"));
        }
    }
    assert!(!cli.path("fresh.key").exists() && !cli.path("fresh.pub").exists());
}

#[test]
fn a_fifo_inside_a_trust_store_is_refused() {
    let cli = Cli::new();
    let layout = cli.path("img");
    make_layout(&layout);
    let image = format!("oci:{}:v1", layout.display());
    let store = cli.path("store");
    let with_pw = |args: &[&str]| {
        let mut c = cli.cmd(args);
        c.env("IMGSEAL_PASSWORD", "pw");
        run_guarded(&args.join(" "), &mut c)
    };
    let s = store.display().to_string();
    assert_ok(&with_pw(&[
        "cert",
        "generate-test",
        "acme",
        "--trust-store",
        &s,
    ]));
    assert_ok(&with_pw(&[
        "sign",
        "--format",
        "notation",
        "--key",
        "acme.key",
        "--certificate-chain",
        "acme.crt",
        &image,
    ]));
    let tp = cli.path("tp.json");
    std::fs::write(
        &tp,
        r#"{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],
            "signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],
            "trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let verify = [
        "verify",
        "--trust-policy",
        "tp.json",
        "--trust-store",
        &s,
        &image,
    ];
    assert_ok(&with_pw(&verify));
    // The store's root certificate replaced by a FIFO.
    let root = store.join("x509/ca/acme/acme-root.crt");
    std::fs::remove_file(&root).unwrap();
    mkfifo(&root);
    // A broken named store fails the signatures that rely on it (exit 1, like any other
    // unusable store), naming the file; stores no policy names are not read into a failure.
    let out = with_pw(&verify);
    assert_fails_alone(
        &out,
        1,
        &format!("{} is not a regular file (a FIFO)", root.display()),
    );
}

#[test]
fn layout_index_and_blobs_that_are_devices_or_fifos_are_refused() {
    let cli = Cli::new();
    let keys = cli.keypair("k");
    for (special, kind) in specials(&cli) {
        // index.json replaced by a link to the special file.
        let layout = cli.path("idx");
        let _ = std::fs::remove_dir_all(&layout);
        make_layout(&layout);
        let index = layout.join("index.json");
        std::fs::remove_file(&index).unwrap();
        std::os::unix::fs::symlink(&special, &index).unwrap();
        let image = format!("oci:{}:v1", layout.display());
        let out = run_guarded(
            "index.json",
            &mut cli.cmd(&["verify", "--key", &keys.public, &image]),
        );
        assert_fails_alone(
            &out,
            2,
            &format!("{} is not a regular file {kind}", index.display()),
        );

        // The image's manifest blob replaced by a link to the special file.
        let layout = cli.path("blob");
        let _ = std::fs::remove_dir_all(&layout);
        let digest = make_layout(&layout);
        let blob = layout.join("blobs/sha256").join(digest.hex());
        std::fs::remove_file(&blob).unwrap();
        std::os::unix::fs::symlink(&special, &blob).unwrap();
        let image = format!("oci:{}:v1", layout.display());
        for args in [
            vec!["verify", "--key", &keys.public, &image],
            vec!["sign", "--key", &keys.private, &image],
        ] {
            let out = run_guarded("layout blob", &mut cli.cmd(&args));
            assert_fails_alone(
                &out,
                2,
                &format!("{} is not a regular file {kind}", blob.display()),
            );
        }
    }
}

#[test]
fn a_huge_sparse_index_json_is_a_usage_error_naming_the_cap() {
    let cli = Cli::new();
    let keys = cli.keypair("k");
    let layout = cli.path("img");
    make_layout(&layout);
    let index = layout.join("index.json");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .unwrap();
    f.set_len(1 << 30).unwrap(); // 1 GiB, sparse: costs no disk
    drop(f);
    let image = format!("oci:{}:v1", layout.display());
    let out = run_guarded(
        "1 GiB index.json",
        &mut cli.cmd(&["verify", "--key", &keys.public, &image]),
    );
    assert_fails_alone(
        &out,
        2,
        &format!(
            "{} is larger than the 16777216-byte limit for a layout index.json",
            index.display()
        ),
    );
}

#[test]
fn a_docker_config_that_is_a_device_or_fifo_is_refused() {
    let reg = Registry::start_with_auth(Some(("ci", "s3cret")));
    let cli = Cli::new();
    let keys = cli.keypair("k");
    let image = format!("{}/secured:v1", reg.host);
    let config = cli.path("docker/config.json");
    for (special, kind) in specials(&cli) {
        let _ = std::fs::remove_file(&config);
        std::os::unix::fs::symlink(&special, &config).unwrap();
        let out = run_guarded(
            "docker config.json",
            &mut cli.cmd(&["verify", "--key", &keys.public, &image]),
        );
        assert_fails_alone(
            &out,
            2,
            &format!("{} is not a regular file {kind}", config.display()),
        );
    }
}
