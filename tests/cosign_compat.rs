//! cosign script compatibility (issue #13 items 2 and 8), on the real binary: `verify` with
//! several images, `--output cosign`, the cosign flags imgseal accepts (with a note), applies
//! or refuses, `--key env://VAR`, KMS references, and the errors that need no key coming
//! before the password prompt.

mod support;

use std::process::Output;
use support::cli::*;
use support::layout::image_blocking;
use support::registry::random_bytes;

/// An image in a layout of its own under the scratch directory: its `oci:` reference and digest.
fn layout_image(cli: &Cli, name: &str) -> (String, String) {
    let (image, digest) = image_blocking(&cli.path(name), "v1", &random_bytes(64));
    (image, digest.to_string())
}

/// A scratch directory with key pair `k` and two images, the first signed with it.
fn signed_and_unsigned() -> (Cli, KeyFiles, String, String) {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (good, _) = layout_image(&cli, "good");
    let (bad, _) = layout_image(&cli, "bad");
    assert_ok(&cli.run(&["sign", "--key", &k.private, &good]));
    (cli, k, good, bad)
}

/// The `imgseal: note: …` lines of a run.
fn notes(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix("imgseal: note: "))
        .map(str::to_string)
        .collect()
}

/// The JSON documents of a stream (one per image), in order.
fn documents(o: &Output) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(&stdout(o))
        .into_iter::<serde_json::Value>()
        .map(|d| d.unwrap_or_else(|e| panic!("not a JSON stream ({e}): {}", stdout(o))))
        .collect()
}

#[test]
fn verify_several_images_reports_each_and_exits_with_the_worst() {
    let (cli, k, good, bad) = signed_and_unsigned();
    let both = cli.run(&["verify", "--key", &k.public, &good, &bad]);
    assert_eq!(both.status.code(), Some(1), "{}", stderr(&both));
    let err = stderr(&both);
    assert!(
        err.contains(&format!("Verification for {good} --")),
        "{err}"
    );
    assert!(
        err.contains(&format!("imgseal: verification failed for {bad} (")),
        "{err}"
    );
    // The good image's verified payload is printed, once.
    assert_eq!(stdout(&both).lines().count(), 1, "{}", stdout(&both));

    // A failure first does not stop the images after it.
    let reversed = cli.run(&["verify", "--key", &k.public, &bad, &good]);
    assert_eq!(reversed.status.code(), Some(1));
    assert!(stderr(&reversed).contains(&format!("Verification for {good} --")));

    // An image that cannot be read is an error (exit 2), and the others are still reported.
    let missing = format!("oci:{}:v1", cli.path("missing").display());
    let three = cli.run(&["verify", "--key", &k.public, &good, &missing, &bad]);
    assert_eq!(three.status.code(), Some(2), "{}", stderr(&three));
    let err = stderr(&three);
    assert!(err.contains("not an OCI image layout"), "{err}");
    assert!(
        err.contains(&format!("Verification for {good} --")),
        "{err}"
    );
    assert!(
        err.contains(&format!("verification failed for {bad}")),
        "{err}"
    );

    // Every image good: exit 0, one block each.
    let (other, _) = layout_image(&cli, "other");
    assert_ok(&cli.run(&["sign", "--key", &k.private, &other]));
    let ok = cli.run(&["verify", "--key", &k.public, &good, &other]);
    assert_ok(&ok);
    assert_eq!(stderr(&ok).matches("Verification for ").count(), 2);
    assert_eq!(stdout(&ok).lines().count(), 2);
}

#[test]
fn verify_several_images_as_json_prints_one_document_per_image() {
    let (cli, k, good, bad) = signed_and_unsigned();
    let out = cli.run(&["verify", "--key", &k.public, "-o", "json", &good, &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let docs = documents(&out);
    assert_eq!(docs.len(), 2, "{}", stdout(&out));
    assert_eq!(docs[0]["image"], good.as_str());
    assert_eq!(docs[0]["verified"], true);
    assert_eq!(docs[1]["image"], bad.as_str());
    assert_eq!(docs[1]["verified"], false);
}

#[test]
fn sign_takes_several_images_as_cosign_does() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, a_digest) = layout_image(&cli, "a");
    let (b, b_digest) = layout_image(&cli, "b");
    let out = cli.run(&["sign", "--key", &k.private, "-o", "json", &a, &b]);
    assert_ok(&out);
    let docs = documents(&out);
    assert_eq!(docs.len(), 2, "{}", stdout(&out));
    assert_eq!(docs[0]["digest"], a_digest.as_str());
    assert_eq!(docs[1]["digest"], b_digest.as_str());
    assert_ok(&cli.run(&["verify", "--key", &k.public, &a, &b]));
    // With an encrypted key, every image is resolved before the password is asked for.
    encrypted_key(&cli);
    let (c, _) = layout_image(&cli, "c");
    let missing = format!("oci:{}:v1", cli.path("missing").display());
    assert_fails_alone(
        &cli.run(&["sign", "--key", "enc.key", &c, &missing]),
        2,
        "not an OCI image layout",
    );
    assert_eq!(
        cli.run(&["verify", "--key", "enc.pub", &c]).status.code(),
        Some(1)
    );
}

#[test]
fn output_cosign_prints_cosigns_array_of_verified_payloads_per_image() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, a_digest) = layout_image(&cli, "a");
    let (b, b_digest) = layout_image(&cli, "b");
    for image in [&a, &b] {
        assert_ok(&cli.run(&[
            "sign",
            "--key",
            &k.private,
            "-a",
            "build=7",
            "--identity",
            "registry.example/app",
            image,
        ]));
    }
    let out = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--identity",
        "registry.example/app",
        "--output",
        "cosign",
        &a,
        &b,
    ]);
    assert_ok(&out);
    // As cosign prints each image's array: an empty line, then the array on one line.
    let text = stdout(&out);
    assert!(text.starts_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text:?}");
    assert_eq!(lines[0], "");
    assert_eq!(lines[2], "");
    for (line, digest) in [(lines[1], &a_digest), (lines[3], &b_digest)] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let arr = v.as_array().expect("an array");
        assert_eq!(arr.len(), 1, "{line}");
        let p = &arr[0];
        assert_eq!(
            p["critical"]["identity"]["docker-reference"],
            "registry.example/app"
        );
        assert_eq!(p["critical"]["image"]["docker-manifest-digest"], *digest);
        assert_eq!(p["critical"]["type"], "cosign container image signature");
        assert_eq!(p["optional"]["build"], "7");
    }
    // The human-readable block still goes to stderr, as cosign's does.
    assert_eq!(stderr(&out).matches("Verification for ").count(), 2);

    // A failed image prints no array; the exit code says it failed.
    let (c, _) = layout_image(&cli, "c");
    let failed = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--identity",
        "registry.example/app",
        "-o",
        "cosign",
        &a,
        &c,
    ]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(stdout(&failed).matches('[').count(), 1);
}

#[test]
fn output_cosign_is_refused_where_there_are_no_payloads_to_print() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, _) = layout_image(&cli, "a");
    std::fs::write(
        cli.path("policy.yaml"),
        format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  k: {{key: {}}}\nrules:\n  - name: all\n    images: ['**']\n    authorities: {{anyOf: [k]}}\n",
            k.public
        ),
    )
    .unwrap();
    assert_fails_one(
        &cli.run(&["verify", "--policy", "policy.yaml", "-o", "cosign", &a]),
        2,
        "--output cosign is for verify with --key",
    );
    std::fs::write(cli.path("deploy.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: registry.example/app:1}\n").unwrap();
    assert_fails_one(
        &cli.run(&[
            "k8s",
            "verify",
            "-f",
            "deploy.yaml",
            "--policy",
            "policy.yaml",
            "-o",
            "cosign",
        ]),
        2,
        "--output cosign is for verify with --key",
    );
}

#[test]
fn check_claims_is_noted_when_true_and_refused_when_false() {
    let (cli, k, good, _) = signed_and_unsigned();
    for flag in ["--check-claims", "--check-claims=true", "--check-claims=1"] {
        let out = cli.run(&["verify", "--key", &k.public, flag, &good]);
        assert_ok(&out);
        assert_eq!(
            notes(&out),
            ["--check-claims changes nothing: imgseal always checks the claims"],
            "{flag}"
        );
    }
    // Without the flag: no note.
    let plain = cli.run(&["verify", "--key", &k.public, &good]);
    assert_ok(&plain);
    assert!(notes(&plain).is_empty(), "{}", stderr(&plain));
    for flag in ["--check-claims=false", "--check-claims=0"] {
        assert_fails_one(
            &cli.run(&["verify", "--key", &k.public, flag, &good]),
            2,
            "imgseal always checks the claims",
        );
    }
    let bad_value = cli.run(&["verify", "--key", &k.public, "--check-claims=maybe", &good]);
    assert_eq!(bad_value.status.code(), Some(2));
    assert!(stderr(&bad_value).contains("is not true or false"));
}

#[test]
fn insecure_ignore_tlog_without_a_trusted_root_changes_nothing_and_says_so() {
    let (cli, k, good, bad) = signed_and_unsigned();
    let out = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--insecure-ignore-tlog",
        &good,
    ]);
    assert_ok(&out);
    assert_eq!(
        notes(&out),
        ["--insecure-ignore-tlog changes nothing: without --trusted-root imgseal checks no transparency log"]
    );
    let off = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--insecure-ignore-tlog=false",
        &good,
    ]);
    assert_ok(&off);
    assert_eq!(notes(&off).len(), 1, "{}", stderr(&off));
    assert!(notes(&off)[0].contains("only with --trusted-root"));
    // It does not make an unsigned image pass.
    let unsigned = cli.run(&["verify", "--key", &k.public, "--insecure-ignore-tlog", &bad]);
    assert_eq!(unsigned.status.code(), Some(1));
}

#[test]
fn insecure_ignore_tlog_with_a_trusted_root_drops_the_rekor_requirement() {
    let Some(keyless) = support::interop::set("keyless") else {
        return;
    };
    let root = arg(&keyless.join("trust-roots/public-good-production.trusted_root.json"));
    let (cli, k, good, _) = signed_and_unsigned();
    // imgseal's signature has no Rekor bundle: a trusted root requires one...
    let required = cli.run(&["verify", "--key", &k.public, "--trusted-root", &root, &good]);
    assert_fails_one(&required, 1, "Rekor bundle");
    // ...unless the flag says not to, loudly.
    let ignored = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--trusted-root",
        &root,
        "--insecure-ignore-tlog",
        &good,
    ]);
    assert_ok(&ignored);
    assert_warned(&ignored, &["--insecure-ignore-tlog", "accepted"]);
    // =false is the default there: still required, and nothing noted.
    let default = cli.run(&[
        "verify",
        "--key",
        &k.public,
        "--trusted-root",
        &root,
        "--insecure-ignore-tlog=false",
        &good,
    ]);
    assert_fails_one(&default, 1, "Rekor bundle");
    assert!(notes(&default).is_empty());
}

#[test]
fn insecure_ignore_tlog_is_refused_with_a_policy() {
    let (cli, k, good, _) = signed_and_unsigned();
    std::fs::write(
        cli.path("policy.yaml"),
        format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  k: {{key: {}}}\nrules:\n  - name: all\n    images: ['**']\n    authorities: {{anyOf: [k]}}\n",
            k.public
        ),
    )
    .unwrap();
    assert_fails_one(
        &cli.run(&[
            "verify",
            "--policy",
            "policy.yaml",
            "--insecure-ignore-tlog",
            &good,
        ]),
        2,
        "the policy file decides",
    );
}

#[test]
fn sign_accepts_cosigns_no_op_flags_with_a_note_and_refuses_tlog_upload() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, _) = layout_image(&cli, "a");
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "sign",
            "--key",
            &k.private,
            "--identity",
            "registry.example/a",
        ];
        args.extend_from_slice(extra);
        args.push(&a);
        cli.run(&args)
    };
    let off = sign(&["--tlog-upload=false"]);
    assert_ok(&off);
    assert_eq!(
        notes(&off),
        ["--tlog-upload=false changes nothing: imgseal never uploads to a transparency log"]
    );
    for flag in ["--tlog-upload", "--tlog-upload=true"] {
        assert_fails_one(
            &sign(&[flag]),
            2,
            "imgseal never uploads signatures to a transparency log",
        );
    }
    for flags in [&["-y"][..], &["--yes"], &["--yes=true"]] {
        let out = sign(flags);
        assert_ok(&out);
        assert_eq!(
            notes(&out),
            ["-y/--yes changes nothing: imgseal asks no confirmation questions"],
            "{flags:?}"
        );
    }
    // Both at once: one note each.
    assert_eq!(notes(&sign(&["-y", "--tlog-upload=false"])).len(), 2);
    // -r is --recursive (a single manifest has nothing more to sign, which it says).
    let r = sign(&["-r"]);
    assert_ok(&r);
    assert_warned(&r, &["--recursive had nothing to add"]);
    // A refused flag fails before anything is signed.
    let (b, _) = layout_image(&cli, "b");
    assert_eq!(
        cli.run(&["sign", "--key", &k.private, "--tlog-upload", &b])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        cli.run(&["verify", "--key", &k.public, &b]).status.code(),
        Some(1)
    );
}

#[test]
fn attest_takes_the_same_tlog_upload_and_yes_flags() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, _) = layout_image(&cli, "a");
    std::fs::write(cli.path("pred.json"), r#"{"ok":true}"#).unwrap();
    let attest = |flag: &str| {
        cli.run(&[
            "attest",
            "--key",
            &k.private,
            "--predicate",
            "pred.json",
            flag,
            &a,
        ])
    };
    let off = attest("--tlog-upload=false");
    assert_ok(&off);
    assert_eq!(notes(&off).len(), 1, "{}", stderr(&off));
    assert_fails_one(&attest("--tlog-upload"), 2, "never uploads");
    assert_ok(&attest("-y"));

    // verify-attestation takes cosign's verification flags, and env:// keys.
    let public = std::fs::read_to_string(&k.public).unwrap();
    let verify = |flag: &str| {
        cli.cmd(&["verify-attestation", "--key", "env://PUB", flag, &a])
            .env("PUB", &public)
            .output()
            .unwrap()
    };
    let noted = verify("--insecure-ignore-tlog");
    assert_ok(&noted);
    assert_eq!(notes(&noted).len(), 1, "{}", stderr(&noted));
    assert_ok(&verify("--check-claims"));
    assert_fails_one(
        &verify("--check-claims=false"),
        2,
        "imgseal always checks the claims",
    );
}

#[test]
fn keys_from_environment_variables() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let (a, _) = layout_image(&cli, "a");
    let private = std::fs::read_to_string(&k.private).unwrap();
    let public = std::fs::read_to_string(&k.public).unwrap();
    let signed = cli
        .cmd(&["sign", "--key", "env://SIGNING_KEY", &a])
        .env("SIGNING_KEY", &private)
        .output()
        .unwrap();
    assert_ok(&signed);
    let verified = cli
        .cmd(&["verify", "--key", "env://VERIFY_KEY", &a])
        .env("VERIFY_KEY", &public)
        .output()
        .unwrap();
    assert_ok(&verified);
    assert!(
        stderr(&verified).contains("cosign signature by env://VERIFY_KEY"),
        "{}",
        stderr(&verified)
    );
    // A key of the wrong kind in the variable is named by the variable.
    let swapped = cli
        .cmd(&["verify", "--key", "env://VERIFY_KEY", &a])
        .env("VERIFY_KEY", &private)
        .output()
        .unwrap();
    assert_fails_one(&swapped, 2, "env://VERIFY_KEY");
    // public-key reads one too.
    let pk = cli
        .cmd(&["public-key", "--key", "env://SIGNING_KEY"])
        .env("SIGNING_KEY", &private)
        .output()
        .unwrap();
    assert_ok(&pk);
    assert_eq!(stdout(&pk).trim(), public.trim());
    // tree attributes signatures to a key from a variable too.
    let tree = cli
        .cmd(&["tree", "--key", "env://VERIFY_KEY", &a])
        .env("VERIFY_KEY", &public)
        .output()
        .unwrap();
    assert_ok(&tree);
    assert!(
        stdout(&tree).contains("env://VERIFY_KEY"),
        "{}",
        stdout(&tree)
    );

    for args in [
        vec!["verify", "--key", "env://NOT_SET_ANYWHERE", &a],
        vec!["sign", "--key", "env://NOT_SET_ANYWHERE", &a],
    ] {
        assert_fails_alone(
            &cli.run(&args),
            2,
            "--key env://NOT_SET_ANYWHERE: environment variable NOT_SET_ANYWHERE is not set",
        );
    }
    let empty = cli
        .cmd(&["verify", "--key", "env://EMPTY_KEY", &a])
        .env("EMPTY_KEY", "")
        .output()
        .unwrap();
    assert_fails_alone(&empty, 2, "environment variable EMPTY_KEY is empty");
}

#[test]
fn kms_and_url_keys_are_refused_as_such() {
    let cli = Cli::new();
    let (a, _) = layout_image(&cli, "a");
    for key in [
        "awskms:///arn:aws:kms:us-east-1:1:key/k",
        "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "azurekms://vault.vault.azure.net/k",
        "hashivault://transit-key",
        "k8s://namespace/secret",
        "gitlab://project",
        "pkcs11:token=t;slot-id=0",
    ] {
        for verb in ["sign", "verify"] {
            assert_fails_alone(
                &cli.run(&[verb, "--key", key, &a]),
                2,
                "KMS keys are not supported",
            );
        }
    }
    assert_fails_alone(
        &cli.run(&["verify", "--key", "https://example.invalid/k.pub", &a]),
        2,
        "keys from URLs are not fetched",
    );
}

/// An encrypted key (cosign's format) `enc.key`, so that signing with it needs a password.
fn encrypted_key(cli: &Cli) {
    let out = cli
        .cmd(&["generate-key-pair", "--output-key-prefix", "enc"])
        .env("IMGSEAL_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_ok(&out);
}

#[test]
fn what_needs_no_key_fails_before_the_password_is_asked_for() {
    let cli = Cli::new();
    encrypted_key(&cli);
    let (a, _) = layout_image(&cli, "a");
    // The control: with everything else right, no password (stdin closed, no variable) is
    // the error.
    assert_fails_alone(
        &cli.run(&["sign", "--key", "enc.key", &a]),
        2,
        "a password is needed",
    );
    std::fs::write(cli.path("pred.json"), r#"{"ok":true}"#).unwrap();
    let missing_layout = format!("oci:{}:v1", cli.path("nowhere").display());
    let missing_tag = a.replace(":v1", ":v9");
    for (args, expected) in [
        (
            vec![
                "sign",
                "--key",
                "enc.key",
                "--certificate-chain",
                "chain.pem",
                &a,
            ],
            "chain.pem",
        ),
        (
            vec!["sign", "--key", "enc.key", &missing_layout],
            "not an OCI image layout",
        ),
        (vec!["sign", "--key", "enc.key", &missing_tag], "not found"),
        (
            vec!["sign", "--key", "enc.key", "127.0.0.1:1/app:v1"],
            "127.0.0.1:1",
        ),
        (
            vec![
                "attest",
                "--key",
                "enc.key",
                "--predicate",
                "pred.json",
                &missing_tag,
            ],
            "not found",
        ),
        (
            vec!["generate-key-pair", "--output-key-prefix", "no/such/dir/k"],
            "directory no/such/dir does not exist",
        ),
        (
            vec!["public-key", "--key", "enc.key", "--outfile", "nodir/k.pub"],
            "directory nodir does not exist",
        ),
    ] {
        let out = cli.run(&args);
        assert_fails_alone(&out, 2, expected);
        assert!(
            !stderr(&out).contains("password"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
