//! notation parity, through the real `imgseal` binary: notation's own configuration directory
//! used when no trust flags are given (`NOTATION_CONFIG`, `XDG_CONFIG_HOME`, `HOME`;
//! `trustpolicy.oci.json` before `trustpolicy.json`), `--scope` for layouts, `-m` and `-e`,
//! Go durations, notation's success line and user metadata, what `notation inspect` shows in
//! `verify -o json` and `tree`, `cert add/list/delete` on notation's trust-store layout, and
//! `policy validate` of notation trust policies.
//!
//! The real notation signature is notation-go's alpine layout and JWS envelope from
//! `../shared/interop/notation` (missing: a note and a skip locally, a failure under CI).

mod support;

use imgseal::formats::notation;
use imgseal::oci::{Descriptor, OCI_MANIFEST};
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::Digest;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::*;

const PASSWORD: &str = "parity test password";
const ALPINE_SUBJECT: &str = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine";

/// A scratch directory whose runs see exactly the notation-related environment given.
impl Env {
    /// Run with `vars` set and NOTATION_CONFIG / XDG_CONFIG_HOME removed unless given.
    #[track_caller]
    fn run_env(&self, vars: &[&(&str, String)], args: &[&str]) -> Output {
        let mut c = self.cli.cmd(args);
        c.env_remove("NOTATION_CONFIG")
            .env_remove("XDG_CONFIG_HOME")
            .env("IMGSEAL_PASSWORD", PASSWORD);
        for (k, v) in vars {
            c.env(k, v);
        }
        run_timed(args, &mut c)
    }

    #[track_caller]
    fn run(&self, args: &[&str]) -> Output {
        self.run_env(&[], args)
    }

    /// A notation configuration directory `dir` with `policy` as `file` and a trust store
    /// `truststore/x509/ca/STORE/NAME` for each of `certs`.
    fn config(&self, dir: &str, file: &str, policy: &Value, store: &str, certs: &[(&str, &str)]) {
        let d = self.path(dir);
        let s = d.join("truststore/x509/ca").join(store);
        std::fs::create_dir_all(&s).unwrap();
        for (name, pem) in certs {
            std::fs::write(s.join(name), pem).unwrap();
        }
        std::fs::write(d.join(file), serde_json::to_vec_pretty(policy).unwrap()).unwrap();
    }
}

fn policy(scopes: &[&str], store: &str, identity: &str) -> Value {
    json!({"version": "1.0", "trustPolicies": [{
        "name": "images",
        "registryScopes": scopes,
        "signatureVerification": {"level": "strict"},
        "trustStores": [format!("ca:{store}")],
        "trustedIdentities": [identity],
    }]})
}

fn fixtures() -> Option<PathBuf> {
    support::interop::set("notation")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::write(&dst, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// notation-go's alpine layout in `dir` with its real JWS signature attached as a referrer;
/// returns `oci:DIR:REF` and the signed digest.
async fn alpine(root: &Path, dir: &Path) -> (String, String) {
    copy_tree(&root.join("notation-go/oci-layout-alpine"), dir);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entry = &index["manifests"][0];
    let ref_name = entry["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap();
    let digest = entry["digest"].as_str().unwrap().to_string();
    let bytes = std::fs::read(dir.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap();
    let subject = Descriptor {
        media_type: entry["mediaType"].as_str().unwrap().to_string(),
        size: bytes.len() as u64,
        digest: digest.clone(),
        ..Descriptor::default()
    };
    let image = format!("oci:{}:{ref_name}", dir.display());
    let store = Store::open(
        &ImageRef::parse(&image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let envelope =
        std::fs::read(root.join("notation-go/envelopes/oci-layout-alpine/jws_signature.sig"))
            .unwrap();
    let sig =
        notation::signature_manifest(&envelope, &subject, std::time::SystemTime::now()).unwrap();
    store.put_blob(sig.config_blob).await.unwrap();
    store.put_blob(&envelope).await.unwrap();
    let mut e = Descriptor::of(OCI_MANIFEST, &sig.bytes);
    e.artifact_type = Some(notation::ARTIFACT_TYPE.to_string());
    e.annotations = sig.manifest.annotations.clone();
    store
        .attach_referrer(&subject.digest().unwrap(), &sig.bytes, OCI_MANIFEST, e)
        .await
        .unwrap();
    (image, digest)
}

fn alpine_cert(root: &Path) -> String {
    std::fs::read_to_string(root.join("derived-signer-certs/alpine-selfsigned-2000-2123.pem"))
        .unwrap()
}

#[tokio::test]
async fn notation_files_are_found_in_notation_order() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, digest) = alpine(&root, &env.path("alpine")).await;
    let layout = env.p("alpine");
    let good = alpine_cert(&root);
    let other = imgseal::pki::generate_test("alpine").unwrap().root_pem;
    let tp = policy(&["*"], "alpine", ALPINE_SUBJECT);
    // NOTATION_CONFIG: the right root. XDG_CONFIG_HOME/notation: a wrong one. HOME: right.
    env.config(
        "nc",
        "trustpolicy.oci.json",
        &tp,
        "alpine",
        &[("a.pem", &good)],
    );
    env.config(
        "xdg/notation",
        "trustpolicy.json",
        &tp,
        "alpine",
        &[("o.pem", &other)],
    );
    env.config(
        ".config/notation",
        "trustpolicy.json",
        &tp,
        "alpine",
        &[("a.pem", &good)],
    );
    let nc = ("NOTATION_CONFIG", env.p("nc"));
    let xdg = ("XDG_CONFIG_HOME", env.p("xdg"));

    let out = env.run_env(&[&nc, &xdg], &["-d", "verify", &image]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        format!("Successfully verified signature for {layout}@{digest}\n")
    );
    let log = stderr(&out);
    assert!(
        log.contains("trustpolicy.oci.json") && log.contains("$NOTATION_CONFIG"),
        "{log}"
    );

    // Without NOTATION_CONFIG, XDG_CONFIG_HOME/notation (the wrong root) decides.
    let out = env.run_env(&[&xdg], &["verify", &image]);
    assert_fails(&out, 1, &["authenticity"]);
    assert!(!stdout(&out).contains("Successfully"), "{}", stdout(&out));
    // A relative XDG_CONFIG_HOME is ignored, as Go's os.UserConfigDir does: HOME's.
    let out = env.run_env(
        &[&("XDG_CONFIG_HOME", "xdg".to_string())],
        &["-d", "verify", &image],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains(".config/notation"),
        "{}",
        stderr(&out)
    );

    // trustpolicy.oci.json wins over trustpolicy.json: one naming no scope of this image.
    let unrelated = policy(&["registry.example/unrelated"], "alpine", ALPINE_SUBJECT);
    std::fs::write(
        env.path("xdg/notation/trustpolicy.oci.json"),
        serde_json::to_vec(&unrelated).unwrap(),
    )
    .unwrap();
    let out = env.run_env(&[&xdg], &["verify", &image]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no trust policy statement"),
        "{}",
        stderr(&out)
    );

    // -o json: what notation inspect shows, and no success line.
    let out = env.run_env(&[&nc], &["verify", "-o", "json", &image]);
    assert_ok(&out);
    let v = json(&out);
    let n = &v["signatures"][0]["notation"];
    assert_eq!(n["signingScheme"], "notary.x509", "{v:#}");
    assert!(n["signingTime"].as_str().unwrap().ends_with('Z'), "{n:#}");
    let cert = &n["certificates"][0];
    assert!(
        cert["subject"].as_str().unwrap().contains("CN=alpine"),
        "{n:#}"
    );
    assert!(
        cert["issuer"].as_str().unwrap().contains("CN=alpine"),
        "{n:#}"
    );
    assert!(
        cert["expiry"].as_str().unwrap().starts_with("2123-"),
        "{n:#}"
    );
    let der = imgseal::pki::load_pem_certificates(good.as_bytes()).unwrap()[0]
        .der()
        .to_vec();
    assert_eq!(
        cert["sha256Fingerprint"].as_str().unwrap(),
        Digest::sha256(&der)
            .to_string()
            .trim_start_matches("sha256:")
    );
    assert_eq!(n["signedArtifact"]["digest"], digest.as_str());

    // tree shows the same, text and JSON, without any trust material.
    let out = env.run(&["tree", "-o", "json", &image]);
    assert_ok(&out);
    let t = json(&out);
    let layer = &t["attachments"][0]["layers"][0];
    assert_eq!(layer["notation"]["certificates"][0], *cert, "{t:#}");
    let out = env.run(&["tree", &image]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("signing scheme notary.x509, signed "),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "SHA-256 {}",
            cert["sha256Fingerprint"].as_str().unwrap()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn cosign_command_lines_never_pick_up_notation_files() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, _) = alpine(&root, &env.path("alpine")).await;
    let tp = policy(&["*"], "alpine", ALPINE_SUBJECT);
    env.config(
        "nc",
        "trustpolicy.oci.json",
        &tp,
        "alpine",
        &[("a.pem", &alpine_cert(&root))],
    );
    let nc = ("NOTATION_CONFIG", env.p("nc"));
    let key = env.cli.keypair("cosign");
    // --key: cosign's trust only; the layout's notation signature does not count.
    let out = env.run_env(&[&nc], &["verify", "--key", &key.public, &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stdout(&out).contains("Successfully"));
    // --key with --format notation: notation's files, asked for.
    let out = env.run_env(
        &[&nc],
        &[
            "verify",
            "--key",
            &key.public,
            "--format",
            "notation",
            &image,
        ],
    );
    assert_ok(&out);
    // Nothing at all, and no notation files: one usage error naming what to give.
    let out = env.run(&["verify", &image]);
    assert_fails_one(&out, 2, "verify needs to know whom to trust");
    let out = env.run(&["verify", "--format", "notation", &image]);
    assert_fails_one(
        &out,
        2,
        "--format notation needs a trust policy and trust store",
    );
    assert!(
        stderr(&out).contains(".config/notation"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn scope_selects_a_layout_images_statement() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, _) = alpine(&root, &env.path("alpine")).await;
    let tp = policy(&["registry.example/alpine"], "alpine", ALPINE_SUBJECT);
    env.config(
        "nc",
        "trustpolicy.oci.json",
        &tp,
        "alpine",
        &[("a.pem", &alpine_cert(&root))],
    );
    let nc = ("NOTATION_CONFIG", env.p("nc"));
    let out = env.run_env(&[&nc], &["verify", &image]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no trust policy statement"),
        "{}",
        stderr(&out)
    );
    let out = env.run_env(
        &[&nc],
        &["verify", "--scope", "registry.example/alpine", &image],
    );
    assert_ok(&out);
    assert!(stdout(&out).starts_with("Successfully verified signature for "));
    // A registry image's scope is its own repository.
    let out = env.run_env(
        &[&nc],
        &[
            "verify",
            "--scope",
            "registry.example/alpine",
            "registry.example/alpine:v1",
        ],
    );
    assert_fails_one(&out, 2, "--scope is for OCI layout images");
    let out = env.run_env(
        &[&nc],
        &[
            "verify",
            "--scope",
            "a.example/b",
            "--identity",
            "a.example/b",
            &image,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn user_metadata_expiry_and_the_subject_to_paste() {
    let env = Env::new();
    let out = env.run(&["cert", "generate-test", "alice"]);
    assert_ok(&out);
    // The subject line is pasted into the trust policy as it is printed.
    let log = stderr(&out);
    let line = log
        .lines()
        .find(|l| l.contains("trustedIdentities"))
        .unwrap_or_else(|| panic!("{log}"));
    let identity = line
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert!(
        identity.starts_with("x509.subject: ") && identity.contains("CN=alice"),
        "{identity}"
    );
    let root_pem = std::fs::read_to_string(env.path("alice-root.crt")).unwrap();
    env.config(
        "nc",
        "trustpolicy.oci.json",
        &policy(&["registry.example/app"], "alice", &identity),
        "alice",
        &[("alice-root.crt", &root_pem)],
    );
    let nc = ("NOTATION_CONFIG", env.p("nc"));
    let (image, digest) =
        support::layout::image(&env.path("img"), "registry.example/app:v1", b"parity image").await;
    let key = env.p("alice.key");
    let crt = env.p("alice.crt");
    let sign = |extra: &[&str]| {
        let mut args = vec![
            "sign",
            "--format",
            "notation",
            "--key",
            &key,
            "--certificate-chain",
            &crt,
        ];
        args.extend_from_slice(extra);
        args.push(&image);
        env.run(&args)
    };
    assert_fails_one(&sign(&["-e", "3x"]), 2, "is not a duration");
    assert_ok(&sign(&[
        "-m",
        "build=42",
        "--user-metadata",
        "stage=ci",
        "-e",
        "3h20m",
    ]));

    let out = env.run_env(&[&nc], &["verify", &image]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        format!(
            "Successfully verified signature for {}@{digest}\n\nThe artifact was signed with the following user metadata.\n\nKEY     VALUE   \nbuild   42      \nstage   ci      \n",
            env.p("img")
        )
    );
    // -m / --user-metadata / -a on verify: required user metadata.
    assert_ok(&env.run_env(&[&nc], &["verify", "-m", "build=42", &image]));
    assert_ok(&env.run_env(&[&nc], &["verify", "--user-metadata", "stage=ci", &image]));
    let out = env.run_env(&[&nc], &["verify", "-m", "build=43", &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stdout(&out).contains("Successfully"));

    // The expiry is 3h20m after the signing time.
    let out = env.run_env(&[&nc], &["verify", "-o", "json", &image]);
    assert_ok(&out);
    let n = json(&out)["signatures"][0]["notation"].clone();
    let secs = |k: &str| {
        imgseal::util::time::parse_rfc3339(n[k].as_str().unwrap())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let span = secs("expiry") as i64 - secs("signingTime") as i64;
    assert!((span - (3 * 3600 + 20 * 60)).abs() <= 1, "{n:#}");
    assert_eq!(n["userMetadata"], json!({"build": "42", "stage": "ci"}));
    assert_eq!(n["certificates"].as_array().unwrap().len(), 2, "{n:#}");
    let out = env.run(&["tree", &image]);
    assert!(
        stdout(&out).contains("user metadata build=42"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(", expires "), "{}", stdout(&out));
}

#[test]
fn go_durations_are_accepted_and_malformed_ones_refused() {
    let env = Env::new();
    for good in ["90s", "1h30m10s", "24h", "1.5h", "30d"] {
        let out = env.run(&[
            "verify",
            "--key",
            "missing.pub",
            "-t",
            good,
            "registry.example/a:v1",
        ]);
        // The duration parsed: the run gets as far as reading the key.
        assert_eq!(out.status.code(), Some(2), "{good}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("not a duration"),
            "{good}: {}",
            stderr(&out)
        );
    }
    for bad in ["3x", "h", "1h-2m", "5M"] {
        let out = env.run(&[
            "verify",
            "--key",
            "k.pub",
            "-t",
            bad,
            "registry.example/a:v1",
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("is not a duration"),
            "{bad}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn cert_add_list_delete_in_notations_layout() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    assert_ok(&env.run(&["cert", "generate-test", "bob"]));
    let nc = ("NOTATION_CONFIG", env.p("nc"));
    let bob_root = env.p("bob-root.crt");
    let out = env.run_env(
        &[&nc],
        &["cert", "add", "--type", "ca", "--store", "bob", &bob_root],
    );
    assert_ok(&out);
    let added = env.path("nc/truststore/x509/ca/bob/bob-root.crt");
    assert_eq!(
        std::fs::read(&added).unwrap(),
        std::fs::read(env.path("bob-root.crt")).unwrap()
    );
    // Duplicates, non-certificates and leaf certificates: one-line errors, nothing written.
    let out = env.run_env(&[&nc], &["cert", "add", "-t", "ca", "-s", "bob", &bob_root]);
    assert_fails_one(&out, 2, "bob-root.crt is already in trust store ca:bob");
    std::fs::write(env.path("notes.txt"), "not a certificate").unwrap();
    let out = env.run_env(
        &[&nc],
        &["cert", "add", "-t", "ca", "-s", "bob", &env.p("notes.txt")],
    );
    assert_fails_one(&out, 2, "is not a certificate file");
    let out = env.run_env(
        &[&nc],
        &["cert", "add", "-t", "ca", "-s", "bob", &env.p("bob.crt")],
    );
    assert_fails_one(&out, 2, "is not a CA certificate or a self-signed one");
    // Real notation test certificates: a self-signed signer and a TSA root.
    let signer = root.join("derived-signer-certs/alpine-selfsigned-2000-2123.pem");
    assert_ok(&env.run_env(
        &[&nc],
        &["cert", "add", "-t", "ca", "-s", "alpine", &arg(&signer)],
    ));
    // A TSA store holds self-signed CA certificates only: notation's test TSA certificate has
    // no basicConstraints; DigiCert's TSA root (DER) is one.
    let not_ca = root.join("derived-signer-certs/testTSA-selfsigned-2000-2001.pem");
    let out = env.run_env(
        &[&nc],
        &[
            "cert",
            "add",
            "--type",
            "tsa",
            "--store",
            "tsa",
            &arg(&not_ca),
        ],
    );
    assert_fails_one(
        &out,
        2,
        "is not a self-signed CA certificate, which a tsa store holds",
    );
    let tsa = root.join("notation-go/misc-certs/DigiCertTSARootSHA384.cer");
    assert_ok(&env.run_env(
        &[&nc],
        &["cert", "add", "--type", "tsa", "--store", "tsa", &arg(&tsa)],
    ));
    // What was written is a trust store notation's layout rules accept.
    imgseal::trust::TrustStore::load(env.path("nc/truststore")).unwrap();

    let out = env.run_env(&[&nc], &["cert", "list"]);
    assert_ok(&out);
    let listed: Vec<String> = stdout(&out).lines().map(String::from).collect();
    let ts = env.p("nc/truststore");
    assert_eq!(
        listed,
        vec![
            format!("{ts}/x509/ca/alpine/alpine-selfsigned-2000-2123.pem"),
            format!("{ts}/x509/ca/bob/bob-root.crt"),
            format!("{ts}/x509/tsa/tsa/DigiCertTSARootSHA384.cer"),
        ]
    );
    let out = env.run_env(&[&nc], &["cert", "ls", "--type", "tsa"]);
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let out = env.run(&["cert", "list", "--trust-store", &ts, "--store", "bob"]);
    assert_eq!(stdout(&out), format!("{ts}/x509/ca/bob/bob-root.crt\n"));

    let out = env.run_env(
        &[&nc],
        &["cert", "delete", "-t", "ca", "-s", "bob", "bob-root.crt"],
    );
    assert_fails_one(&out, 2, "-y/--yes");
    assert!(added.exists());
    assert_ok(&env.run_env(
        &[&nc],
        &[
            "cert",
            "delete",
            "-t",
            "ca",
            "-s",
            "bob",
            "bob-root.crt",
            "-y",
        ],
    ));
    assert!(!added.exists());
    assert_ok(&env.run_env(
        &[&nc],
        &["cert", "delete", "-t", "tsa", "-s", "tsa", "--all", "-y"],
    ));
    assert!(!env.path("nc/truststore/x509/tsa/tsa").exists());
}

#[test]
fn policy_validate_reads_notation_trust_policies() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    for n in 1..=3 {
        let text = support::interop::strip_jsonc(
            &std::fs::read_to_string(root.join(format!(
                "specifications-examples/trust-store-trust-policy.example0{n}.jsonc"
            )))
            .unwrap(),
        );
        let file = env.path(&format!("tp{n}.json"));
        std::fs::write(&file, &text).unwrap();
        let out = env.run(&["policy", "validate", &arg(&file)]);
        assert_ok(&out);
        assert!(
            stdout(&out).contains(": valid notation trust policy (version 1.0, "),
            "{}",
            stdout(&out)
        );
    }
    // Invalid: an identity without C, ST and O, reported as the trust-policy parser says it.
    let text = support::interop::strip_jsonc(
        &std::fs::read_to_string(
            root.join("specifications-examples/trust-store-trust-policy.example01.jsonc"),
        )
        .unwrap(),
    );
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["trustPolicies"][0]["trustedIdentities"] = json!(["x509.subject: CN=SecureBuilder"]);
    std::fs::write(env.path("bad.json"), doc.to_string()).unwrap();
    let out = env.run(&["policy", "validate", &env.p("bad.json")]);
    assert_fails_one(&out, 2, "trust policy statement \"wabbit-networks-images\"");
    doc["version"] = json!("2.0");
    std::fs::write(env.path("bad2.json"), doc.to_string()).unwrap();
    let out = env.run(&["policy", "validate", &env.p("bad2.json")]);
    assert_fails_one(&out, 2, "trust policy");
}

#[tokio::test]
async fn a_skip_statement_says_so_as_notation_does() {
    let Some(root) = fixtures() else { return };
    let env = Env::new();
    let (image, digest) = alpine(&root, &env.path("alpine")).await;
    let skip = json!({"version": "1.0", "trustPolicies": [{
        "name": "skip-all",
        "registryScopes": ["*"],
        "signatureVerification": {"level": "skip"},
    }]});
    std::fs::create_dir_all(env.path("nc/truststore")).unwrap();
    std::fs::write(
        env.path("nc/trustpolicy.oci.json"),
        serde_json::to_vec(&skip).unwrap(),
    )
    .unwrap();
    let out = env.run_env(&[&("NOTATION_CONFIG", env.p("nc"))], &["verify", &image]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        format!(
            "Trust policy is configured to skip signature verification for {}@{digest}\n",
            env.p("alpine")
        )
    );
}
