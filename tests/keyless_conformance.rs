//! The sigstore-conformance `bundle-verify` suite (../shared/interop/keyless/sigstore-conformance),
//! run case by case with the suite's own rules (its README.txt): a case whose name ends in
//! `_fail` must fail, every other case must pass; the artifact is `<case>/artifact` if present,
//! else `bundle-verify/a.txt` (for DSSE bundles the artifact is the statement's subject); the
//! identity and issuer come from `<case>/identity` and `<case>/issuer`, else the conformance
//! beacon's workflow and GitHub Actions; `<case>/key.pub` means "verify with this key";
//! `<case>/trusted_root.json`, else the pinned public-good production root.
//!
//! Each case runs through the library (`verify::sigstore::verify_bundle`) and through the real
//! CLI (`imgseal verify-blob`). Plus the issue's bad inputs that the suite does not cover: a
//! staging bundle against the production root, a regular expression that would match only as
//! a substring, trusted roots with malformed or overlapping windows; and `imgseal trusted-root
//! create` rebuilding the production root from its PEM parts.

mod support;

use imgseal::trust::keyless::{CertificateIdentity, Matcher};
use imgseal::trust::sigstore_root::TrustedRoot;
use imgseal::verify::sigstore::{
    verify_bundle, Artifact, BundleOptions, BundlePolicy, BundleVerified, SignerVerified,
};
use imgseal::PublicKey;
use std::path::{Path, PathBuf};
use support::cli::Cli;
use support::interop;

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";

/// The suite folder and its case names, sorted.
fn suite() -> Option<(PathBuf, Vec<String>)> {
    let dir = interop::set("keyless/sigstore-conformance")?.join("bundle-verify");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("bundle.sigstore.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "expected the conformance cases in {}",
        dir.display()
    );
    Some((dir, names))
}

fn production_root_path() -> Option<PathBuf> {
    let p = interop::set("keyless/trust-roots")?.join("public-good-production.trusted_root.json");
    assert!(p.is_file(), "{}", p.display());
    Some(p)
}

/// One case, with the suite's rules applied.
struct Case {
    name: String,
    bundle: PathBuf,
    artifact: PathBuf,
    identity: String,
    issuer: String,
    key: Option<PathBuf>,
    root: PathBuf,
}

impl Case {
    fn load(suite: &Path, name: &str, production: &Path) -> Case {
        let dir = suite.join(name);
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let own = |f: &str| Some(dir.join(f)).filter(|p| p.is_file());
        Case {
            name: name.to_string(),
            bundle: dir.join("bundle.sigstore.json"),
            artifact: own("artifact").unwrap_or_else(|| suite.join("a.txt")),
            identity: read("identity").unwrap_or_else(|| BEACON.to_string()),
            issuer: read("issuer").unwrap_or_else(|| GHA.to_string()),
            key: own("key.pub"),
            root: own("trusted_root.json").unwrap_or_else(|| production.to_path_buf()),
        }
    }

    fn must_fail(&self) -> bool {
        self.name.ends_with("_fail")
    }

    fn verify(&self) -> Result<BundleVerified, String> {
        let root = TrustedRoot::from_json(&std::fs::read(&self.root).unwrap())
            .map_err(|e| e.to_string())?;
        let policy = match &self.key {
            Some(k) => BundlePolicy::Key(PublicKey::from_file(k).map_err(|e| e.to_string())?),
            None => BundlePolicy::Identities(vec![CertificateIdentity::exact(
                &self.identity,
                &self.issuer,
            )]),
        };
        let artifact = std::fs::read(&self.artifact).unwrap();
        verify_bundle(
            &std::fs::read(&self.bundle).unwrap(),
            Artifact::Bytes(&artifact),
            &policy,
            &root,
            &BundleOptions::default(),
        )
        .map_err(|e| e.to_string())
    }

    fn cli_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "verify-blob".into(),
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--trusted-root".into(),
            self.root.display().to_string(),
        ];
        match &self.key {
            Some(k) => a.extend(["--key".into(), k.display().to_string()]),
            None => a.extend([
                "--certificate-identity".into(),
                self.identity.clone(),
                "--certificate-oidc-issuer".into(),
                self.issuer.clone(),
            ]),
        }
        a.push(self.artifact.display().to_string());
        a
    }
}

/// Why each `_fail` case must fail: a word of the check that refuses it (so a case cannot
/// pass this test by failing for an unrelated reason, e.g. a missing file).
const WHY: &[(&str, &str)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        "x509CertificateChain",
    ),
    ("bundle-invalid-base64-signature_fail", "signature"),
    ("bundle-negative-log-index_fail", "negative"),
    ("bundle-with-root-cert_fail", "root certificate"),
    ("checkpoint-bad-keyhint_fail", "checkpoint"),
    ("dsse-invalid-sig_fail", "DSSE envelope"),
    (
        "dsse-mismatch-sig_fail",
        "the logged signature is not this signature",
    ),
    ("integrated-time-in-future_fail", "certificate"),
    ("intoto-log-entry-mismatch_fail", "entry body"),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "certificate",
    ),
    ("invalid-ct-key_fail", "SCT"),
    ("managed-key-no-key_fail", "signed with a key"),
    ("message-digest-mismatch_fail", "messageDigest"),
    ("rekor2-checkpoint-missing-log-signature_fail", "checkpoint"),
    ("rekor2-checkpoint-missing-root-hash_fail", "checkpoint"),
    ("rekor2-dsse-invalid-sig_fail", "DSSE envelope"),
    ("rekor2-dsse-mismatch-sig_fail", "signature"),
    ("rekor2-no-inclusion-proof_fail", "inclusion proof"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "timestamp",
    ),
    ("rekor2-timestamp-payload-mismatch_fail", "timestamp"),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "timestamp",
    ),
    ("signature-mismatch_fail", "signature"),
    ("wrong-hashedrekord-artifact_fail", "artifact"),
    ("wrong-hashedrekord-entry_fail", "entry body"),
];

#[test]
fn conformance_bundle_verify_library() {
    let (Some((dir, names)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    let mut wrong = Vec::new();
    for name in &names {
        let case = Case::load(&dir, name, &production);
        let res = case.verify();
        eprintln!(
            "{name}: {}",
            match &res {
                Ok(v) => format!(
                    "ok ({:?}, {} tlog, {} ts)",
                    signer(v),
                    v.tlog.len(),
                    v.timestamps.len()
                ),
                Err(e) => format!("error: {e}"),
            }
        );
        match (case.must_fail(), res) {
            (true, Ok(_)) => wrong.push(format!("{name}: verified, but must fail")),
            (true, Err(e)) => {
                if let Some((_, why)) = WHY.iter().find(|(n, _)| n == name) {
                    if !e.contains(why) {
                        wrong.push(format!(
                            "{name}: failed for another reason than {why:?}: {e}"
                        ));
                    }
                }
            }
            (false, Err(e)) => wrong.push(format!("{name}: must verify: {e}")),
            (false, Ok(v)) => {
                assert!(!v.verification_times.is_empty(), "{name}");
                assert!(!v.tlog.is_empty(), "{name}: no tlog entry named");
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn signer(v: &BundleVerified) -> String {
    match &v.signer {
        SignerVerified::Certificate {
            san, authority_uri, ..
        } => {
            format!("{} via {authority_uri}", san.value())
        }
        SignerVerified::Key { fingerprint } => format!("key {fingerprint}"),
        _ => "other".into(),
    }
}

#[test]
fn conformance_bundle_verify_cli() {
    let (Some((dir, names)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    let cli = Cli::new();
    let mut wrong = Vec::new();
    for name in &names {
        let case = Case::load(&dir, name, &production);
        let args = case.cli_args();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli.cmd(&refs).output().unwrap();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match (case.must_fail(), code) {
            (true, Some(1)) | (false, Some(0)) => {}
            (want_fail, code) => wrong.push(format!(
                "{name}: exit {code:?} (want {}): {stderr}",
                if want_fail { 1 } else { 0 }
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn happy(dir: &Path, production: &Path) -> Case {
    Case::load(dir, "happy-path-v0.3-new-mediaType", production)
}

#[test]
fn a_staging_bundle_fails_against_the_production_root() {
    let (Some((dir, _)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    // A Rekor v2 case signed on staging, checked against production.
    let mut case = Case::load(&dir, "rekor2-timestamp-without-embedded-cert", &production);
    case.root = production.clone();
    let e = case.verify().unwrap_err();
    assert!(
        e.contains("no verified") || e.contains("trusted root"),
        "{e}"
    );
    // And the production happy path against the staging root.
    let mut case = happy(&dir, &production);
    case.root = production.with_file_name("staging.trusted_root.json");
    let e = case.verify().unwrap_err();
    assert!(e.contains("no transparency log with log ID"), "{e}");
}

#[test]
fn a_regexp_that_matches_only_as_a_substring_fails() {
    let (Some((dir, _)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    let case = happy(&dir, &production);
    let root = TrustedRoot::from_json(&std::fs::read(&case.root).unwrap()).unwrap();
    let bundle = std::fs::read(&case.bundle).unwrap();
    let artifact = std::fs::read(&case.artifact).unwrap();
    let run = |subject: &str, issuer: &str| {
        let id = CertificateIdentity::new(
            Matcher::regex(subject).unwrap(),
            Matcher::regex(issuer).unwrap(),
        );
        verify_bundle(
            &bundle,
            Artifact::Bytes(&artifact),
            &BundlePolicy::Identities(vec![id]),
            &root,
            &BundleOptions::default(),
        )
        .map_err(|e| e.to_string())
    };
    assert!(run(
        r"https://github\.com/sigstore-conformance/.*",
        r"https://token\.actions\.githubusercontent\.com"
    )
    .is_ok());
    let e = run("extremely-dangerous-public-oidc-beacon", ".*").unwrap_err();
    assert!(
        e.contains("certificate identity") && e.contains("does not match"),
        "{e}"
    );
    let e = run(".*", "githubusercontent").unwrap_err();
    assert!(e.contains("does not match"), "{e}");
    // Through the CLI too.
    let cli = Cli::new();
    let out = cli
        .cmd(&[
            "verify-blob",
            "--bundle",
            &case.bundle.display().to_string(),
            "--trusted-root",
            &case.root.display().to_string(),
            "--certificate-identity-regexp",
            "sigstore-conformance",
            "--certificate-oidc-issuer",
            GHA,
            &case.artifact.display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn trusted_roots_with_malformed_or_overlapping_windows_are_refused() {
    let (Some((dir, _)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&production).unwrap()).unwrap();
    let cli = Cli::new();
    let case = happy(&dir, &production);
    let mut variants = Vec::new();
    let mut no_start = json.clone();
    no_start["tlogs"][0]["publicKey"]["validFor"]
        .as_object_mut()
        .unwrap()
        .remove("start");
    variants.push(("validFor.start is missing", no_start));
    let mut reversed = json.clone();
    reversed["tlogs"][0]["publicKey"]["validFor"] =
        serde_json::json!({"start": "2030-01-01T00:00:00Z", "end": "2020-01-01T00:00:00Z"});
    variants.push(("before validFor.start", reversed));
    let mut overlap = json.clone();
    let first = overlap["tlogs"][0].clone();
    overlap["tlogs"].as_array_mut().unwrap().push(first);
    variants.push(("overlapping validFor", overlap));
    for (why, doc) in variants {
        let e = TrustedRoot::from_json(doc.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{why}: {e}");
        let path = cli.path("root.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        let out = cli
            .cmd(&[
                "verify-blob",
                "--bundle",
                &case.bundle.display().to_string(),
                "--trusted-root",
                &path.display().to_string(),
                "--certificate-identity",
                BEACON,
                "--certificate-oidc-issuer",
                GHA,
                &case.artifact.display().to_string(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {stderr}");
        assert!(stderr.contains(why), "{why}: {stderr}");
    }
}

/// `trusted-root create` from the production root's own keys and chains (as PEM files) builds
/// a root the production happy path verifies against; a bad spec is a usage error.
#[test]
fn trusted_root_create_builds_a_root_that_verifies() {
    use base64::Engine as _;
    let (Some((dir, _)), Some(production)) = (suite(), production_root_path()) else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&production).unwrap()).unwrap();
    let b64 = |s: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    let cli = Cli::new();
    let mut args: Vec<String> = vec!["trusted-root".into(), "create".into()];
    let write = |name: String, tag: &str, ders: Vec<Vec<u8>>| {
        let text: String = ders
            .into_iter()
            .map(|d| pem::encode(&pem::Pem::new(tag, d)))
            .collect();
        let p = cli.path(&name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    for (i, ca) in json["certificateAuthorities"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let ders = ca["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| b64(&c["rawBytes"]))
            .collect();
        let f = write(format!("fulcio{i}.pem"), "CERTIFICATE", ders);
        args.push("--fulcio".into());
        args.push(format!(
            "url={},certificate-chain={f}",
            ca["uri"].as_str().unwrap()
        ));
    }
    for (flag, list) in [("--rekor", "tlogs"), ("--ctfe", "ctlogs")] {
        for (i, log) in json[list].as_array().unwrap().iter().enumerate() {
            let key = write(
                format!("{list}{i}.pub"),
                "PUBLIC KEY",
                vec![b64(&log["publicKey"]["rawBytes"])],
            );
            let vf = &log["publicKey"]["validFor"];
            let mut spec = format!(
                "url={},public-key={key},start-time={}",
                log["baseUrl"].as_str().unwrap(),
                vf["start"].as_str().unwrap()
            );
            if let Some(end) = vf["end"].as_str() {
                spec.push_str(&format!(",end-time={end}"));
            }
            args.push(flag.into());
            args.push(spec);
        }
    }
    let out_path = cli.path("created.json");
    args.push("--out".into());
    args.push(out_path.display().to_string());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli.cmd(&refs).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created = TrustedRoot::from_json(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(
        created.tlogs().len(),
        json["tlogs"].as_array().unwrap().len()
    );
    let mut case = happy(&dir, &production);
    case.root = out_path.clone();
    let v = case.verify().unwrap();
    assert_eq!(v.tlog[0].base_url, "https://rekor.sigstore.dev");
    // Refused specs: unknown key, missing url, a bad time.
    for bad in [
        "url=https://x,public-key=k.pub,colour=red",
        "public-key=k.pub",
        "url=https://x,public-key=k.pub,start-time=yesterday",
    ] {
        let out = cli
            .cmd(&["trusted-root", "create", "--rekor", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}
