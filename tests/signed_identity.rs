//! Signed identity (issue 12), end to end with the real binary, a real registry (Debian's
//! docker-registry) and OCI layouts on disk: which `docker-reference` a signature may name
//! after `imgseal copy` to a mirror, to a layout that is then moved, and in policies
//! (`signedIdentity`), `k8s verify` included.

mod support;

use support::cli::*;
use support::registry::*;

/// A scratch directory with a key pair `k`, and the registry.
struct Env {
    cli: Cli,
    keys: KeyFiles,
    reg: Registry,
}

impl Env {
    fn new() -> Env {
        let cli = Cli::new();
        let keys = cli.keypair("k");
        Env {
            cli,
            keys,
            reg: Registry::start(),
        }
    }

    fn h(&self) -> &str {
        &self.reg.host
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cli.run(args)
    }

    fn sign(&self, image: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["sign", "--key", self.keys.private.as_str()];
        args.extend_from_slice(extra);
        args.push(image);
        self.run(&args)
    }

    fn verify(&self, image: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["verify", "--key", self.keys.public.as_str()];
        args.extend_from_slice(extra);
        args.push(image);
        self.run(&args)
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.cli.path(name), text).unwrap();
        name.to_string()
    }

    /// A policy: `rules` (YAML list items) with the authority `k`.
    fn policy(&self, rules: &str) -> String {
        self.write(
            "policy.yaml",
            &format!(
                "version: 1\ndefaultAction: reject\nauthorities:\n  k: {{key: k.pub}}\nrules:\n{rules}"
            ),
        )
    }

    /// `verify --policy` as JSON: (exit code, decisions).
    fn decide(&self, policy: &str, images: &[&str], extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["verify", "--policy", policy, "-o", "json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(images);
        let out = self.run(&args);
        let code = out.status.code().unwrap();
        assert!(code == 0 || code == 1, "{}", stderr(&out));
        (code, json(&out))
    }
}

/// The decisions' `allowed`, in order.
fn allowed(v: &serde_json::Value) -> Vec<bool> {
    v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["allowed"].as_bool().unwrap())
        .collect()
}

#[tokio::test]
async fn a_copy_in_a_mirror_names_its_source_and_says_how_to_accept_it() {
    let env = Env::new();
    let h = env.h().to_string();
    push_image(&h, "app", "1.0").await;
    assert_ok(&env.sign(&format!("{h}/app:1.0"), &[]));
    assert_ok(&env.run(&["copy", &format!("{h}/app:1.0"), &format!("{h}/mirror/app")]));
    let mirror = format!("{h}/mirror/app:1.0");

    // Without saying so, the mirror's copy is refused: the signature names the source.
    let out = env.verify(&mirror, &[]);
    assert_fails(
        &out,
        1,
        &[
            &format!("payload names repository \"{h}/app\", not \"{h}/mirror/app\""),
            &format!("signedIdentity {{exactRepository: {h}/app}}"),
            &format!("on the command line: --identity {h}/app"),
        ],
    );
    // The two ways forward both work: --identity …
    assert_ok(&env.verify(&mirror, &["--identity", &format!("{h}/app")]));
    // … and another repository is still refused.
    let out = env.verify(&mirror, &["--identity", &format!("{h}/app-evil")]);
    assert_fails(&out, 1, &[&format!("not \"{h}/app-evil\"")]);
    // A value that is not a repository is a usage error naming the flag.
    let out = env.verify(&mirror, &["--identity", "Not A Repo"]);
    assert_fails(&out, 2, &["--identity"]);

    // … or signedIdentity in the policy rule, in each form that fits a cosign payload.
    for (identity, want) in [
        (format!("{{exactRepository: {h}/app}}"), true),
        (
            format!("{{remapRepository: {{prefix: {h}/mirror, signedPrefix: {h}}}}}"),
            true,
        ),
        // cosign payloads name a repository alone: remapIdentity (containers/image's) compares
        // the tag, and refuses them.
        (
            format!("{{remapIdentity: {{prefix: {h}/mirror, signedPrefix: {h}}}}}"),
            false,
        ),
        ("matchRepository".to_string(), false),
        ("ignore".to_string(), true),
    ] {
        let policy = env.policy(&format!(
            "  - name: mirror\n    images: ['{h}/mirror/**']\n    authorities: {{anyOf: [k]}}\n    signedIdentity: {identity}\n"
        ));
        let (code, v) = env.decide(&policy, &[&mirror], &[]);
        assert_eq!(allowed(&v), vec![want], "{identity}: {v:#}");
        assert_eq!(code, if want { 0 } else { 1 });
        if !want && identity == "matchRepository" {
            let reason = v["decisions"][0]["checks"][0]["reason"].as_str().unwrap();
            assert!(
                reason.contains(&format!("signedIdentity {{exactRepository: {h}/app}}")),
                "{reason}"
            );
            assert!(
                !reason.contains("--"),
                "library text names no flag: {reason}"
            );
        }
    }

    // --identity with --policy is honoured: it replaces the rule's signedIdentity.
    let policy = env.policy(&format!(
        "  - name: mirror\n    images: ['{h}/mirror/**']\n    authorities: {{anyOf: [k]}}\n    signedIdentity: matchRepository\n"
    ));
    let (_, v) = env.decide(&policy, &[&mirror], &["--identity", &format!("{h}/app")]);
    assert_eq!(allowed(&v), vec![true], "{v:#}");
    let (_, v) = env.decide(&policy, &[&mirror], &["--identity", &format!("{h}/other")]);
    assert_eq!(allowed(&v), vec![false], "{v:#}");

    // k8s verify applies the rule's signedIdentity through the same policy.
    let policy = env.policy(&format!(
        "  - name: mirror\n    images: ['{h}/mirror/**']\n    authorities: {{anyOf: [k]}}\n    signedIdentity: {{remapRepository: {{prefix: {h}/mirror, signedPrefix: {h}}}}}\n"
    ));
    env.write(
        "deploy.yaml",
        &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n    - name: app\n      image: {mirror}\n"),
    );
    assert_ok(&env.run(&["k8s", "verify", "-f", "deploy.yaml", "--policy", &policy]));
    let policy = env.policy(&format!(
        "  - name: mirror\n    images: ['{h}/mirror/**']\n    authorities: {{anyOf: [k]}}\n"
    ));
    let out = env.run(&["k8s", "verify", "-f", "deploy.yaml", "--policy", &policy]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[tokio::test]
async fn a_prefix_matches_at_a_path_boundary_only() {
    let env = Env::new();
    let h = env.h().to_string();
    // Two images signed in their own repositories: app and app-evil.
    push_image(&h, "app", "1.0").await;
    push_image(&h, "app-evil", "1.0").await;
    assert_ok(&env.sign(&format!("{h}/app:1.0"), &[]));
    assert_ok(&env.sign(&format!("{h}/app-evil:1.0"), &[]));
    for repo in ["app", "app-evil"] {
        assert_ok(&env.run(&[
            "copy",
            &format!("{h}/{repo}:1.0"),
            &format!("{h}/mirror/{repo}"),
        ]));
    }
    // app-evil's image, copied over mirror/app's name.
    assert_ok(&env.run(&[
        "copy",
        &format!("{h}/app-evil:1.0"),
        &format!("{h}/mirror/app:evil"),
    ]));
    let policy = env.policy(&format!(
        "  - name: mirror\n    images: ['{h}/mirror/**']\n    authorities: {{anyOf: [k]}}\n    signedIdentity: {{remapRepository: {{prefix: {h}/mirror/app, signedPrefix: {h}/app}}}}\n"
    ));
    let (_, v) = env.decide(
        &policy,
        &[
            &format!("{h}/mirror/app:1.0"),
            // mirror/app-evil is not under the prefix mirror/app: compared unchanged.
            &format!("{h}/mirror/app-evil:1.0"),
            // mirror/app maps to app, and the signature names app-evil.
            &format!("{h}/mirror/app:evil"),
        ],
        &[],
    );
    assert_eq!(allowed(&v), vec![true, false, false], "{v:#}");
    let reasons = v.to_string();
    assert!(
        reasons.contains(&format!(
            "payload names repository \\\"{h}/app-evil\\\", not \\\"{h}/mirror/app-evil\\\""
        )),
        "{reasons}"
    );
    assert!(
        reasons.contains(&format!(
            "payload names repository \\\"{h}/app-evil\\\", not \\\"{h}/app\\\""
        )),
        "{reasons}"
    );
}

#[tokio::test]
async fn layouts_have_no_identity_from_their_directory() {
    let env = Env::new();
    let h = env.h().to_string();
    let d = env.cli.dir.path();

    // An image in a layout without a registry name: the documented default is signed, and
    // said so.
    support::layout::image(&d.join("build"), "v1", &random_bytes(32)).await;
    let out = env.sign("oci:./build:v1", &[]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("the signature names oci-layout.invalid/unnamed")
            && stderr(&out).contains("--identity REPOSITORY"),
        "{}",
        stderr(&out)
    );
    assert_ok(&env.verify("oci:./build:v1", &[]));
    // Moving the directory changes nothing.
    std::fs::rename(d.join("build"), d.join("dist")).unwrap();
    assert_ok(&env.verify("oci:./dist:v1", &[]));
    assert_ok(&env.verify("v1", &["--oci-layout", "./dist"]));
    // Policies match unnamed layout images as oci-layout/unnamed, wherever the directory is.
    let policy = env.policy(
        "  - name: layouts\n    images: ['oci-layout/unnamed']\n    authorities: {anyOf: [k]}\n",
    );
    let (_, v) = env.decide(&policy, &["oci:./dist:v1"], &[]);
    assert_eq!(allowed(&v), vec![true], "{v:#}");
    assert_eq!(v["decisions"][0]["rule"], "layouts");
    let out = env.verify("oci:./dist:v1", &["--identity", &format!("{h}/app")]);
    assert_fails(
        &out,
        1,
        &["payload names repository \"oci-layout.invalid/unnamed\""],
    );

    // sign --identity names the repository the image will be published under: after copy
    // there, it verifies with no flags; the layout itself then needs the identity.
    support::layout::image(&d.join("release"), "v2", &random_bytes(32)).await;
    let out = env.sign("oci:./release:v2", &["--identity", &format!("{h}/app")]);
    assert_ok(&out);
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("{h}/app@sha256:")),
        "{}",
        stdout(&out)
    );
    assert_ok(&env.run(&["copy", "oci:./release:v2", &format!("{h}/app:v2")]));
    assert_ok(&env.verify(&format!("{h}/app:v2"), &[]));
    let out = env.verify("oci:./release:v2", &[]);
    assert_fails(
        &out,
        1,
        &[
            &format!("payload names repository \"{h}/app\", not \"oci-layout.invalid/unnamed\""),
            &format!("--identity {h}/app"),
        ],
    );
    assert_ok(&env.verify("oci:./release:v2", &["--identity", &format!("{h}/app")]));

    // sign --identity takes a repository, for cosign signatures.
    let out = env.sign("oci:./release:v2", &["--identity", &format!("{h}/app:v2")]);
    assert_fails(&out, 2, &["tag or digest", "(--identity)"]);
    let out = env.sign(
        "oci:./release:v2",
        &["--identity", &format!("{h}/app"), "--format", "notation"],
    );
    assert_fails(&out, 2, &["--identity applies to --format cosign only"]);
}

#[tokio::test]
async fn a_carried_layout_verifies_the_same_wherever_it_is_moved() {
    let env = Env::new();
    let h = env.h().to_string();
    let d = env.cli.dir.path();
    push_image(&h, "app", "1.0").await;
    assert_ok(&env.sign(&format!("{h}/app:1.0"), &[]));

    // copy to a layout without a name writes the full reference: the identity travels.
    assert_ok(&env.run(&["copy", &format!("{h}/app:1.0"), "oci:./carry"]));
    // … and with a plain tag, the layout image has no registry name.
    assert_ok(&env.run(&["copy", &format!("{h}/app:1.0"), "oci:./plain:app"]));
    let full = format!("{h}/app:1.0");
    let results = |carry: &str, plain: &str| {
        let a = env.verify(&format!("oci:./{carry}:{full}"), &[]);
        let b = env.verify(&format!("oci:./{plain}:app"), &[]);
        let c = env.verify(
            &format!("oci:./{plain}:app"),
            &["--identity", &format!("{h}/app")],
        );
        (
            a.status.code(),
            b.status.code(),
            c.status.code(),
            stderr(&b),
        )
    };
    let before = results("carry", "plain");
    assert_eq!(
        (before.0, before.1, before.2),
        (Some(0), Some(1), Some(0)),
        "{}",
        before.3
    );
    assert!(
        before
            .3
            .contains(&format!("on the command line: --identity {h}/app")),
        "{}",
        before.3
    );
    // mv, as a carrier does: nothing changes.
    std::fs::create_dir(d.join("airgap")).unwrap();
    std::fs::rename(d.join("carry"), d.join("airgap/carried")).unwrap();
    std::fs::rename(d.join("plain"), d.join("airgap/app")).unwrap();
    let after = results("airgap/carried", "airgap/app");
    assert_eq!(
        (after.0, after.1, after.2),
        (before.0, before.1, before.2),
        "{}",
        after.3
    );
    // … and out of the air gap into another registry: verifies with the source's identity.
    assert_ok(&env.run(&[
        "copy",
        &format!("oci:./airgap/carried:{full}"),
        &format!("{h}/airgap/app"),
    ]));
    assert_ok(&env.verify(
        &format!("{h}/airgap/app:1.0"),
        &["--identity", &format!("{h}/app")],
    ));
}

#[test]
fn policy_signed_identity_is_validated_at_load_naming_the_field() {
    let cli = Cli::new();
    cli.keypair("k");
    let load = |rule: &str| {
        std::fs::write(
            cli.path("p.yaml"),
            format!("version: 1\ndefaultAction: reject\nauthorities:\n  k: {{key: k.pub}}\nrules:\n  - name: r\n    images: ['mirror.internal/**']\n{rule}"),
        )
        .unwrap();
        cli.run(&["policy", "validate", "p.yaml"])
    };
    for (rule, says) in [
        (
            "    authorities: {anyOf: [k]}\n    signedIdentity: {remapIdentity: {prefix: busybox, signedPrefix: registry.example}}\n",
            "prefix \"busybox\" is not valid",
        ),
        (
            "    authorities: {anyOf: [k]}\n    signedIdentity: {remapIdentity: {prefix: mirror.internal/app:v1, signedPrefix: registry.example}}\n",
            "cannot carry a tag",
        ),
        (
            "    authorities: {anyOf: [k]}\n    signedIdentity: {remapIdentity: {prefix: mirror.internal, signedPrefix: registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}}\n",
            "signedPrefix",
        ),
        (
            "    authorities: {anyOf: [k]}\n    signedIdentity: matchNothing\n",
            "unknown signedIdentity type \"matchNothing\"",
        ),
        (
            "    authorities: {anyOf: [k]}\n    signedIdentity: {exactReference: registry.example/app}\n",
            "dockerReference \"registry.example/app\" is not valid",
        ),
        (
            "    signedIdentity: {exactRepository: registry.example/app}\n",
            "signedIdentity applies to signature checks, and this rule has none",
        ),
    ] {
        let out = load(rule);
        assert_fails(&out, 2, &[says]);
    }
    let out = load("    authorities: {anyOf: [k]}\n    signedIdentity: ignore\n");
    assert_ok(&out);
    assert_warned(
        &out,
        &["signedIdentity ignore accepts a signature made for any repository"],
    );
    // containers/image's own example: a repository prefix mapped to a host.
    let out = load("    authorities: {anyOf: [k]}\n    signedIdentity: {remapIdentity: {prefix: private-mirror:5000/vendor-mirror, signedPrefix: vendor.example.com}}\n");
    assert_ok(&out);
}
