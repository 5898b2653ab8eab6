//! `imgseal verify --containers-policy` and `imgseal policy import-containers` (issue 12):
//! containers/image's `policy.json` evaluated as podman and CRI-O do at pull time, with the
//! real binary, a real registry (Debian's docker-registry) holding images copied to mirror
//! names, and containers/image's own fixtures (../shared/interop): its example policy.json and
//! its cosign signatures. Expected results follow containers/image's
//! `policy_eval_sigstore_test.go` and `docs/containers-policy.json.5.md`.
//!
//! The fixture signatures cover fixture manifests whose layer and config blobs are not in the
//! fixtures, and a registry refuses a manifest whose blobs it does not hold
//! (MANIFEST_BLOB_UNKNOWN), so they are served from OCI layouts (the `oci` transport, as a
//! carried image is); the `docker` transport runs on images signed here and copied to mirror
//! repositories of the real registry, with skopeo-style payloads that name a tag where the
//! rules compare tags.

mod support;

use base64::Engine as _;
use imgseal::formats::cosign::{self, Descriptor, Payload};
use imgseal::oci::OCI_MANIFEST;
use imgseal::reference::ImageRef;
use imgseal::store::layout::Layout;
use imgseal::store::{Store, StoreOptions};
use imgseal::{Digest, SigningKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::cli::*;
use support::registry::*;

/// `verify --containers-policy FILE -o json IMAGES…`: (exit code, decisions).
fn decide(cli: &Cli, policy: &str, images: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["verify", "--containers-policy", policy, "-o", "json"];
    args.extend_from_slice(images);
    let out = cli.run(&args);
    let code = out.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["containersPolicy"], policy);
    assert_eq!(v["allowed"], code == 0);
    (code, v["decisions"].as_array().unwrap().clone())
}

fn allowed(ds: &[Value]) -> Vec<bool> {
    ds.iter().map(|d| d["allowed"].as_bool().unwrap()).collect()
}

/// Sign `image` (already in its registry) with a payload naming `docker_reference` exactly,
/// as skopeo does (`--sign-identity`, a tag included), at the `.sig` tag.
async fn sign_naming(key: &SigningKey, image: &str, digest: &Digest, docker_reference: &str) {
    let store = Store::open(
        &ImageRef::parse(image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap();
    let payload = Payload::new(docker_reference, digest, &BTreeMap::new())
        .to_bytes()
        .unwrap();
    let layer = Descriptor {
        media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        size: payload.len() as u64,
        digest: Digest::sha256(&payload).to_string(),
        annotations: BTreeMap::from([(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            base64::engine::general_purpose::STANDARD.encode(key.sign(&payload)),
        )]),
        ..Descriptor::default()
    };
    store.put_blob(&payload).await.unwrap();
    let (m, config) = cosign::signature_manifest(vec![layer]);
    store.put_blob(&config).await.unwrap();
    store
        .put_manifest(
            &m.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&digest.signature_tag()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn docker_transport_scopes_and_identities_on_a_real_mirror() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let cli = Cli::new();
    let k = cli.keypair("k");
    cli.keypair("other");
    // app: signed by imgseal (the payload names the repository alone), copied to mirror/app.
    push_image(&h, "app", "1.0").await;
    assert_ok(&cli.run(&["sign", "--key", &k.private, &format!("{h}/app:1.0")]));
    assert_ok(&cli.run(&["copy", &format!("{h}/app:1.0"), &format!("{h}/mirror/app")]));
    // tagged: signed naming h/tagged:1.0 (as skopeo signs), copied to mirror/tagged:1.0 and
    // to mirror/tagged:other.
    let tagged = push_image(&h, "tagged", "1.0").await;
    sign_naming(
        &k.key,
        &format!("{h}/tagged:1.0"),
        &tagged,
        &format!("{h}/tagged:1.0"),
    )
    .await;
    assert_ok(&cli.run(&[
        "copy",
        &format!("{h}/tagged:1.0"),
        &format!("{h}/mirror/tagged"),
    ]));
    assert_ok(&cli.run(&[
        "copy",
        &format!("{h}/tagged:1.0"),
        &format!("{h}/mirror/tagged:other"),
    ]));
    // plain: signed by imgseal, under a scope with containers/image's default identity.
    push_image(&h, "plain", "1.0").await;
    assert_ok(&cli.run(&["sign", "--key", &k.private, &format!("{h}/plain:1.0")]));
    let k_data =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(cli.path("k.pub")).unwrap());
    let policy = format!(
        r#"{{"default": [{{"type": "reject"}}],
            "transports": {{"docker": {{
              "{h}/app": [{{"type": "sigstoreSigned", "keyPath": "k.pub", "signedIdentity": {{"type": "matchRepository"}}}}],
              "{h}/mirror": [{{"type": "sigstoreSigned", "keyPath": "k.pub",
                   "signedIdentity": {{"type": "remapIdentity", "prefix": "{h}/mirror", "signedPrefix": "{h}"}}}}],
              "{h}/mirror/app": [{{"type": "sigstoreSigned", "keyPaths": ["other.pub", "k.pub"],
                   "signedIdentity": {{"type": "exactRepository", "dockerRepository": "{h}/app"}}}}],
              "{h}/plain": [{{"type": "sigstoreSigned", "keyData": "{k_data}"}}],
              "{h}/wrong-key": [{{"type": "sigstoreSigned", "keyPath": "other.pub"}}],
              "{h}/open": [{{"type": "insecureAcceptAnything"}}]
            }}}}}}"#
    );
    std::fs::write(cli.path("policy.json"), &policy).unwrap();
    let images = [
        format!("{h}/app:1.0"),
        format!("{h}/mirror/app:1.0"),
        format!("{h}/mirror/tagged:1.0"),
        format!("{h}/mirror/tagged@{tagged}"),
        format!("{h}/mirror/tagged:other"),
        format!("{h}/plain:1.0"),
        format!("{h}/open/anything:1"),
        "other.example/app:1".to_string(),
    ];
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let (code, ds) = decide(&cli, "policy.json", &refs);
    assert_eq!(code, 1);
    assert_eq!(
        allowed(&ds),
        vec![true, true, true, true, false, false, true, false],
        "{ds:#?}"
    );
    let scope = |i: usize| ds[i]["rule"].as_str().unwrap().to_string();
    let check = |i: usize| {
        (
            ds[i]["checks"][0]["name"].clone(),
            ds[i]["checks"][0]["reason"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(scope(0), format!("docker scope \"{h}/app\""));
    // The most specific scope wins: mirror/app, not mirror.
    assert_eq!(scope(1), format!("docker scope \"{h}/mirror/app\""));
    assert!(
        check(1).1.contains("signed by keyPath k.pub"),
        "{:?}",
        check(1)
    );
    assert_eq!(scope(2), format!("docker scope \"{h}/mirror\""));
    assert_eq!(check(2).0, "sigstoreSigned[0]");
    // remapIdentity compares the remapped tag.
    assert!(
        check(4).1.contains(&format!(
            "payload names \"{h}/tagged:1.0\", not \"{h}/tagged:other\""
        )),
        "{:?}",
        check(4)
    );
    // containers/image's default, matchRepoDigestOrExact, refuses payloads naming a
    // repository alone (cosign's and imgseal's): podman users write matchRepository.
    assert!(
        check(5)
            .1
            .contains("without a tag or digest, which matchRepoDigestOrExact does not accept"),
        "{:?}",
        check(5)
    );
    assert_eq!(check(6).0, "insecureAcceptAnything[0]");
    assert_eq!(scope(7), "default");
    assert_eq!(
        check(7),
        (
            Value::from("reject[0]"),
            "reject refuses every image".to_string()
        )
    );

    // The text output is verify --policy's, with the scope as the rule.
    let out = cli.run(&[
        "verify",
        "--containers-policy",
        "policy.json",
        &images[0],
        &images[4],
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("SCOPE") && text.contains("ALLOW") && text.contains("DENY"),
        "{text}"
    );
    assert!(text.contains("2 images: 1 allowed, 1 denied"), "{text}");

    // import-containers: the equivalent imgseal policy decides alike (keyData aside).
    let importable = policy.replace(
        &format!(r#""{h}/plain": [{{"type": "sigstoreSigned", "keyData": "{k_data}"}}],"#),
        "",
    );
    std::fs::write(cli.path("importable.json"), &importable).unwrap();
    let out = cli.run(&["policy", "import-containers", "importable.json"]);
    assert_ok(&out);
    let yaml = stdout(&out);
    assert!(
        yaml.contains("signedIdentity: {\"remapIdentity\""),
        "{yaml}"
    );
    std::fs::write(cli.path("imported.yaml"), &yaml).unwrap();
    assert_ok(&cli.run(&["policy", "validate", "imported.yaml"]));
    let mut without_plain = refs.clone();
    without_plain.remove(5);
    let (_, theirs) = decide(&cli, "importable.json", &without_plain);
    let mut args = vec!["verify", "--policy", "imported.yaml", "-o", "json"];
    args.extend_from_slice(&without_plain);
    let ours = json(&cli.run(&args));
    let ours: Vec<bool> = ours["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(ours, allowed(&theirs), "{yaml}");
    // keyData cannot be imported: an imgseal authority is a file.
    let out = cli.run(&["policy", "import-containers", "policy.json"]);
    assert_fails(
        &out,
        2,
        &[&format!(
            "transports.docker[\"{h}/plain\"][0].keyData: cannot be imported"
        )],
    );
}

/// One signature layer of a containers/image fixture (`signature-N.extracted/`).
fn fixture_layer(extracted: &Path) -> (Vec<u8>, Descriptor) {
    let payload = std::fs::read(extracted.join("payload")).unwrap();
    let media_type = std::fs::read_to_string(extracted.join("mediaType"))
        .unwrap()
        .trim()
        .to_string();
    let annotations: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(extracted.join("annotations.json")).unwrap())
            .unwrap();
    let d = Descriptor {
        media_type,
        size: payload.len() as u64,
        digest: Digest::sha256(&payload).to_string(),
        annotations,
        ..Descriptor::default()
    };
    (payload, d)
}

/// The fixture `name` as an OCI layout at `dir`: its manifest's exact bytes under `ref_name`,
/// its signature at the `.sig` tag.
fn fixture_layout(fixture: &Path, dir: &Path, ref_name: &str) {
    let layout = Layout::init(dir).unwrap();
    let bytes = std::fs::read(fixture.join("manifest.json")).unwrap();
    let media_type = serde_json::from_slice::<Value>(&bytes).unwrap()["mediaType"]
        .as_str()
        .unwrap()
        .to_string();
    let digest = layout
        .put_manifest(&bytes, &media_type, Some(ref_name))
        .unwrap();
    let (payload, layer) = fixture_layer(&fixture.join("signature-1.extracted"));
    layout.put_blob(&payload).unwrap();
    let (m, config) = cosign::signature_manifest(vec![layer]);
    layout.put_blob(&config).unwrap();
    layout
        .put_manifest(
            &m.to_bytes().unwrap(),
            OCI_MANIFEST,
            Some(&digest.signature_tag()),
        )
        .unwrap();
}

#[test]
fn containers_image_fixtures_in_carried_layouts() {
    let Some(root) = support::interop::set("cosign") else {
        return;
    };
    let ci = root.join("containers-image");
    let cli = Cli::new();
    let d = cli.dir.path();
    let layouts = d.join("layouts");
    // Carried under mirror names, as `copy` writes them.
    fixture_layout(
        &ci.join("dir-img-cosign-valid"),
        &layouts.join("valid"),
        "mirror.internal/cosign-signed-single-sample:v1",
    );
    fixture_layout(
        &ci.join("dir-img-cosign-pki-valid"),
        &layouts.join("pki"),
        "mirror.internal/test:v1",
    );
    fixture_layout(
        &ci.join("dir-img-cosign-fulcio-rekor-valid"),
        &layouts.join("keyless"),
        "mirror.internal/fulcio-rekor:v1",
    );
    let resolved = std::fs::canonicalize(&layouts).unwrap();
    let key = |n: &str| ci.join(n).display().to_string();
    let b64 = |n: &str| {
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(ci.join(n)).unwrap())
    };
    let single = "192.168.64.2:5000/cosign-signed-single-sample";
    let policy = |scope_reqs: &str| {
        std::fs::write(
            cli.path("policy.json"),
            format!(r#"{{"default": [{{"type": "reject"}}], "transports": {{"oci": {{{scope_reqs}}}}}}}"#),
        )
        .unwrap();
        "policy.json"
    };
    let cases: Vec<(String, &str, bool, &str)> = vec![
        // dir-img-cosign-valid: accepted with cosign.pub, and with the key set.
        (
            format!(
                r#""{}/valid": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "{single}"}}}}]"#,
                resolved.display(),
                key("cosign.pub")
            ),
            "valid",
            true,
            "signed by keyPath",
        ),
        (
            format!(
                r#""{}/valid": [{{"type": "sigstoreSigned", "keyDatas": ["{}", "{}"], "signedIdentity": {{"type": "exactRepository", "dockerRepository": "{single}"}}}}]"#,
                resolved.display(),
                b64("cosign2.pub"),
                b64("cosign.pub")
            ),
            "valid",
            true,
            "signed by keyDatas[1]",
        ),
        (
            format!(
                r#""{}/valid": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "{single}"}}}}]"#,
                resolved.display(),
                key("cosign2.pub")
            ),
            "valid",
            false,
            "does not verify with the given public key",
        ),
        // REJECT with identity matchExact "this/does-not:match" (as exactReference here).
        (
            format!(
                r#""{}/valid": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactReference", "dockerReference": "this/does-not:match"}}}}]"#,
                resolved.display(),
                key("cosign.pub")
            ),
            "valid",
            false,
            "exactReference does not accept",
        ),
        // A layout image has no registry name in containers/image: repository rules cannot match.
        (
            format!(
                r#""{}": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "matchRepository"}}}}]"#,
                resolved.display(),
                key("cosign.pub")
            ),
            "valid",
            false,
            "gives images in an OCI layout none",
        ),
        // BYO-PKI: roots and the SAN email.
        (
            format!(
                r#""{}/pki": [{{"type": "sigstoreSigned", "pki": {{"caRootsPath": "{}", "subjectEmail": "qiwan@redhat.com"}}, "signedIdentity": {{"type": "exactRepository", "dockerRepository": "localhost:5000/test"}}}}]"#,
                resolved.display(),
                key("pki_root_crts.pem")
            ),
            "pki",
            true,
            "certificate",
        ),
        (
            format!(
                r#""{}/pki": [{{"type": "sigstoreSigned", "pki": {{"caRootsPath": "{}", "subjectEmail": "this-does-not-match@example.com"}}, "signedIdentity": {{"type": "exactRepository", "dockerRepository": "localhost:5000/test"}}}}]"#,
                resolved.display(),
                key("pki_root_crts.pem")
            ),
            "pki",
            false,
            "certificate identity mismatch",
        ),
        (
            format!(
                r#""{}/pki": [{{"type": "sigstoreSigned", "pki": {{"caRootsPath": "{}", "subjectEmail": "qiwan@redhat.com", "subjectHostname": "myhost.example.com"}}}}]"#,
                resolved.display(),
                key("pki_root_crts.pem")
            ),
            "pki",
            false,
            "subjectEmail and subjectHostname together is not supported yet",
        ),
        // Keyless: the Fulcio CA at the Rekor integrated time, the email and issuer, the SET
        // with the Rekor key (no SCT, as containers/image).
        (
            format!(
                r#""{}/keyless": [{{"type": "sigstoreSigned", "fulcio": {{"caPath": "{}", "oidcIssuer": "https://github.com/login/oauth", "subjectEmail": "mitr@redhat.com"}}, "rekorPublicKeyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"}}}}]"#,
                resolved.display(),
                key("fulcio_v1.crt.pem"),
                key("rekor.pub")
            ),
            "keyless",
            true,
            "signed by keyless mitr@redhat.com (issuer https://github.com/login/oauth)",
        ),
        (
            format!(
                r#""{}/keyless": [{{"type": "sigstoreSigned", "fulcio": {{"caPath": "{}", "oidcIssuer": "https://github.com/login/oauth", "subjectEmail": "someone-else@example.com"}}, "rekorPublicKeyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"}}}}]"#,
                resolved.display(),
                key("fulcio_v1.crt.pem"),
                key("rekor.pub")
            ),
            "keyless",
            false,
            "someone-else@example.com",
        ),
        // The wrong Rekor key: the SET does not verify.
        (
            format!(
                r#""{}/keyless": [{{"type": "sigstoreSigned", "fulcio": {{"caPath": "{}", "oidcIssuer": "https://github.com/login/oauth", "subjectEmail": "mitr@redhat.com"}}, "rekorPublicKeyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "192.168.64.2:5000/cosign-signed/fulcio-rekor-1"}}}}]"#,
                resolved.display(),
                key("fulcio_v1.crt.pem"),
                key("cosign.pub")
            ),
            "keyless",
            false,
            "no signature at the .sig tag verifies",
        ),
    ];
    for (scopes, layout, want, says) in cases {
        let file = policy(&scopes);
        let image = format!("oci:./layouts/{layout}:mirror.internal/x:v1");
        // The ref name plays no part in oci scopes: use the one the layout holds.
        let image = match layout {
            "valid" => {
                "oci:./layouts/valid:mirror.internal/cosign-signed-single-sample:v1".to_string()
            }
            "pki" => "oci:./layouts/pki:mirror.internal/test:v1".to_string(),
            "keyless" => "oci:./layouts/keyless:mirror.internal/fulcio-rekor:v1".to_string(),
            _ => image,
        };
        let (_, ds) = decide(&cli, file, &[&image]);
        assert_eq!(allowed(&ds), vec![want], "{scopes}: {ds:#?}");
        let text = serde_json::to_string(&ds).unwrap();
        assert!(text.contains(says), "{scopes}: wanted {says:?} in {text}");
    }

    // oci scopes are directories: moving the layout moves it out of its scope (to default).
    let file = policy(&format!(
        r#""{}/valid": [{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "{single}"}}}}]"#,
        resolved.display(),
        key("cosign.pub")
    ));
    let image = "oci:./layouts/valid:mirror.internal/cosign-signed-single-sample:v1";
    assert_eq!(allowed(&decide(&cli, file, &[image]).1), vec![true]);
    std::fs::rename(layouts.join("valid"), d.join("moved")).unwrap();
    let (_, ds) = decide(
        &cli,
        file,
        &["oci:./moved:mirror.internal/cosign-signed-single-sample:v1"],
    );
    assert_eq!(ds[0]["rule"], "default", "{ds:#?}");
}

#[test]
fn the_example_policy_json_loads_and_signed_by_is_refused_naming_the_scope() {
    let Some(libs) = support::interop::set("keyless/containers-container-libs") else {
        return;
    };
    let cli = Cli::new();
    let policy: PathBuf = libs.join("policy.json");
    let file = policy.display().to_string();
    // No image here needs a registry: insecureAcceptAnything, signedBy, reject.
    let (code, ds) = decide(
        &cli,
        &file,
        &[
            "example.com/playground/app:1",
            "example.com/hardened/app:1",
            "private-mirror:5000/vendor-mirror/product/image1:latest",
            "not-listed.example/app:1",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(allowed(&ds), vec![true, false, false, false], "{ds:#?}");
    assert_eq!(ds[0]["rule"], "docker scope \"example.com/playground\"");
    assert_eq!(ds[1]["rule"], "docker scope \"example.com/hardened\"");
    let names: Vec<&str> = ds[1]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["signedBy[0]", "signedBy[1]", "signedBaseLayer[2]"]);
    assert!(
        ds[1]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("docker scope \"example.com/hardened\", requirement 0: signedBy (GPG simple signing) is not supported"),
        "{:#}",
        ds[1]
    );
    assert_eq!(
        ds[2]["rule"],
        "docker scope \"private-mirror:5000/vendor-mirror\""
    );
    assert_eq!(ds[3]["rule"], "default");
    // Its sigstoreSigned scope names a key file that is not there: that requirement fails,
    // naming the field; the rest of the policy still applies.
    let (_, ds) = decide(
        &cli,
        &file,
        &["example.com/sigstore/key-path-example/app:1"],
    );
    let reason = ds[0]["checks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "transports.docker[\"example.com/sigstore/key-path-example\"][0].keyPath: "
        ),
        "{reason}"
    );
    // import refuses signedBy, naming the scope.
    let out = cli.run(&["policy", "import-containers", &file]);
    assert_fails(
        &out,
        2,
        &["[0]: cannot be imported: signedBy (GPG simple signing) is not supported"],
    );
}

#[test]
fn bad_policy_json_is_refused_naming_the_field() {
    let cli = Cli::new();
    cli.keypair("k");
    let run = |json: &str, cmd: &str| {
        std::fs::write(cli.path("bad.json"), json).unwrap();
        match cmd {
            "verify" => cli.run(&[
                "verify",
                "--containers-policy",
                "bad.json",
                "registry.example/app:1",
            ]),
            _ => cli.run(&["policy", "import-containers", "bad.json"]),
        }
    };
    let docker = |scopes: &str| {
        format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{{scopes}}}}}}}"#
        )
    };
    for (json, cmd, says) in [
        (r#"{"transports": {}}"#.to_string(), "verify", "policy.json has no \"default\"".to_string()),
        (docker(r#""registry.example/app": [{"type": "acceptEverything"}]"#), "verify", "transports.docker[\"registry.example/app\"][0]: unknown requirement type \"acceptEverything\"".into()),
        (docker(r#""registry.example/app": [{"type": "sigstoreSigned", "keyPath": "k.pub", "signedIdentity": {"type": "remapIdentity", "prefix": "busybox", "signedPrefix": "registry.example"}}]"#), "verify", "[0].signedIdentity: prefix \"busybox\" is not valid".into()),
        (docker(r#""registry.example/app": [{"type": "sigstoreSigned", "keyPath": "k.pub", "signedIdentity": {"type": "remapIdentity", "prefix": "mirror.internal/app:v1", "signedPrefix": "registry.example"}}]"#), "verify", "prefix \"mirror.internal/app:v1\" is not valid: a prefix is a host, namespace or repository; it cannot carry a tag".into()),
        (docker(r#""registry.example/app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": [{"type": "reject"}]"#), "verify", "by tag or by digest, not both".into()),
        // A tag scope is fine for containers/image, and cannot be imported.
        (docker(r#""registry.example/app:v1": [{"type": "reject"}]"#), "import", "transports.docker[\"registry.example/app:v1\"]: cannot be imported: the scope names a tag or digest".into()),
        (docker(r#""registry.example/app": [{"type": "sigstoreSigned", "keyPath": "k.pub"}, {"type": "sigstoreSigned", "keyPath": "k.pub", "signedIdentity": {"type": "matchExact"}}]"#), "import", "[1].signedIdentity: cannot be imported: the requirements of one scope have different signedIdentity rules".into()),
    ] {
        let out = run(&json, cmd);
        assert_fails(&out, 2, &[&says]);
    }
    // A flag the file would have to say is refused, not ignored.
    std::fs::write(
        cli.path("ok.json"),
        r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let out = cli.run(&[
        "verify",
        "--containers-policy",
        "ok.json",
        "--identity",
        "registry.example/app",
        "registry.example/app:1",
    ]);
    assert_fails(
        &out,
        2,
        &["--identity cannot be combined with --containers-policy"],
    );
    let out = cli.run(&[
        "verify",
        "--containers-policy",
        "ok.json",
        "-a",
        "k=v",
        "registry.example/app:1",
    ]);
    assert_fails(&out, 2, &["-a/--annotations cannot be combined"]);
    // And the minimal policy imports, with no rules.
    let out = cli.run(&["policy", "import-containers", "ok.json"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("defaultAction: allow\nrules: []"),
        "{}",
        stdout(&out)
    );
}
