//! Policy files built to make the YAML parser spend memory or time (issue #16): one large
//! anchor reused by many aliases (the process used to abort when memory ran out, exit 134),
//! and nesting far deeper than any policy needs (100,000 levels took 20 s). Both are refused
//! with exit 2 and one line naming the line of the file, through the real binary, within a
//! generous hang guard.

mod support;

use support::cli::*;

/// Write `text` as `name` in the scratch directory and run `policy validate` on it.
#[track_caller]
fn validate(cli: &Cli, name: &str, text: &str) -> std::process::Output {
    std::fs::write(cli.path(name), text).unwrap();
    run_guarded(name, &mut cli.cmd(&["policy", "validate", name]))
}

#[test]
fn alias_expansion_is_refused_naming_the_line() {
    let cli = Cli::new();
    // 150 KB anchored on line 3, reused 200,000 times on line 4: about 750 KB on disk, 30 GB
    // once expanded.
    let big = "x".repeat(150_000);
    let aliases = vec!["*a"; 200_000].join(",");
    let text = format!("version: 1\ndefaultAction: reject\nx-big: &a {big}\nrules: [{aliases}]\n");
    assert!(text.len() < 1024 * 1024, "{}", text.len());
    let out = validate(&cli, "bomb.yaml", &text);
    assert_fails_alone(&out, 2, "bomb.yaml: line 3: an anchor (&)");

    // An alias without an anchor of ours is refused the same way, at its own line.
    let out = validate(
        &cli,
        "alias.yaml",
        "version: 1\ndefaultAction: reject\nrules:\n  - *somewhere\n",
    );
    assert_fails_alone(&out, 2, "alias.yaml: line 4: an alias (*)");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let cli = Cli::new();
    let cases = [
        (
            "flow.yaml",
            format!("version: 1\nrules: {}\n", "[".repeat(100_000)),
        ),
        (
            "maps.yaml",
            format!("version: 1\nrules: {}\n", "{a: ".repeat(100_000)),
        ),
        (
            "dashes.yaml",
            format!("version: 1\nrules:\n{}x\n", "- ".repeat(100_000)),
        ),
    ];
    for (name, text) in &cases {
        let line = if *name == "dashes.yaml" { 3 } else { 2 };
        let out = validate(&cli, name, text);
        assert_fails_alone(
            &out,
            2,
            &format!("{name}: line {line}: nested more than 64 levels"),
        );
    }
    let mut indented = String::from("version: 1\n");
    for i in 0..200 {
        indented.push_str(&" ".repeat(i));
        indented.push_str("a:\n");
    }
    let out = validate(&cli, "indent.yaml", &indented);
    assert_fails_alone(&out, 2, "indent.yaml: line 66: nested more than 64 levels");

    // A policy nested a few levels, with '&', '*' and brackets inside strings and comments,
    // still validates.
    std::fs::write(
        cli.path("ok.pub"),
        imgseal::SigningKey::generate()
            .unwrap()
            .public_key()
            .to_pem(),
    )
    .unwrap();
    let ok = "version: 1 # & * [[[\ndefaultAction: reject\nauthorities:\n  a: { key: ok.pub }\nrules:\n  - name: \"R&D *\"\n    images: ['registry.example/**']\n    authorities: { anyOf: [a] }\n";
    let out = validate(&cli, "ok.yaml", ok);
    assert_ok(&out);
}
