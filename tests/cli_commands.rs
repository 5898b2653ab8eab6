//! Small commands cosign and notation users expect: `public-key`, `version`, and the verbs
//! imgseal names differently (`save`, `load`, `triangulate`, `download`, `inspect`, `list`),
//! which answer with the imgseal way instead of clap's "did you mean".

mod support;

use support::cli::*;

#[test]
fn public_key_prints_the_key_of_a_plain_and_an_encrypted_private_key() {
    let cli = Cli::new();
    let k = cli.keypair("plain");
    let out = cli.run(&["public-key", "--key", &k.private]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        std::fs::read_to_string(&k.public).unwrap().trim()
    );

    // An encrypted key (generate-key-pair) with its password from the environment, written
    // to --outfile, which is then not replaced without --force.
    let gen = cli
        .cmd(&["generate-key-pair", "--output-key-prefix", "enc"])
        .env("IMGSEAL_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_ok(&gen);
    let out = cli
        .cmd(&["public-key", "--key", "enc.key", "--outfile", "again.pub"])
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(
        std::fs::read_to_string(cli.path("again.pub")).unwrap(),
        std::fs::read_to_string(cli.path("enc.pub")).unwrap()
    );
    let again = cli.run(&["public-key", "--key", "enc.key", "--outfile", "again.pub"]);
    assert_fails_one(&again, 2, "again.pub");

    // The wrong password: the key's own error, nothing written.
    let out = cli
        .cmd(&["public-key", "--key", "enc.key", "--outfile", "wrong.pub"])
        .env("COSIGN_PASSWORD", "not-it")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!cli.path("wrong.pub").exists());

    // No password source and no terminal: refused before anything is read twice.
    let out = cli.run(&["public-key", "--key", "enc.key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
}

#[test]
fn version_text_and_json() {
    let cli = Cli::new();
    let out = cli.run(&["version"]);
    assert_ok(&out);
    assert!(stdout(&out).starts_with(&format!("imgseal {}", env!("CARGO_PKG_VERSION"))));
    let v = json(&cli.run(&["version", "--json"]));
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["signatureFormats"]
        .as_array()
        .is_some_and(|a| a.len() == 3));
    // clap's --version still works.
    assert_ok(&cli.run(&["--version"]));
}

#[test]
fn cosign_and_notation_verbs_answer_with_the_imgseal_way() {
    let cli = Cli::new();
    for (verb, needle) in [
        ("save", "imgseal copy"),
        ("load", "imgseal copy"),
        ("triangulate", "imgseal tree"),
        ("download", "imgseal tree"),
        ("inspect", "imgseal tree"),
        ("list", "imgseal tree"),
        ("ls", "imgseal tree"),
    ] {
        let out = cli.run(&[verb, "--dir", "x", "registry.example/app:1.0"]);
        assert_fails_alone(&out, 2, needle);
        assert!(
            !stderr(&out).contains("did you mean"),
            "{verb}: {}",
            stderr(&out)
        );
    }
    // Hidden from the help, which lists imgseal's own verbs.
    let help = stdout(&cli.run(&["--help"]));
    assert!(help.contains("public-key") && help.contains("version"));
    assert!(!help.contains("triangulate"));
}

/// `-d` says which policy rule applied and why each candidate signature did not count.
#[test]
fn verbose_names_the_policy_rule_and_why_signatures_were_skipped() {
    let cli = Cli::new();
    let signer = cli.keypair("signer");
    let other = cli.keypair("other");
    let (image, _) = support::layout::image_blocking(&cli.path("app"), "v1", b"verbose");
    assert_ok(&cli.run(&["sign", "--key", &signer.private, &image]));

    let out = cli.run(&["-d", "verify", "--key", &other.public, &image]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("verification failed"), "{err}");
    assert!(err.contains("signature skipped"), "{err}");
    assert!(err.contains("does not verify"), "{err}");

    let policy = cli.path("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: {}}}\nrules:\n  - name: everything\n    images: ['**']\n    authorities: {{anyOf: [release]}}\n",
            signer.public
        ),
    )
    .unwrap();
    let out = cli.run(&["-d", "verify", "--policy", policy.to_str().unwrap(), &image]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("policy rule"), "{err}");
    assert!(err.contains("everything"), "{err}");
    assert!(err.contains("signature verified"), "{err}");
}
