//! Keyless attestations (issue 11 with issue 10's trust): real cosign attestations signed with
//! Fulcio certificates and logged in Rekor, verified offline against pinned trusted roots —
//! through the library ([`AttestationVerifier`] with [`Authority::keyless`]), a policy's
//! `keyless` authority, and `imgseal verify-attestation --trusted-root …`.
//!
//! * cosign v3's attestation bundle (`keyless/sigstore-cosign/oci-attestation.sigstore.json`,
//!   Sigstore bundle v0.3, dsse 0.0.1 tlog entry) about go-containerregistry's `empty.Image`:
//!   that image is rebuilt here byte for byte (its manifest digest is the statement's subject,
//!   sha256:7321122…, as README.txt says), put in an OCI layout and given the bundle as an
//!   OCI 1.1 referrer, the way cosign's own test attaches it.
//! * slsa-github-generator's legacy `.att` layer (`attestations/slsa/v0.2-gha-container`):
//!   Fulcio certificate and chain annotations and a Rekor SET over a dsse 0.0.1 entry, checked
//!   against the production trusted root.

mod support;

use imgseal::attest::{AttestationVerification, AttestationVerifier, Authority};
use imgseal::oci::ImageManifest;
use imgseal::reference::ImageRef;
use imgseal::store::ManifestRef;
use imgseal::trust::keyless::{CertificateIdentity, Matcher};
use imgseal::verify::KeylessTrust;
use imgseal::{Digest, Policy};
use std::path::{Path, PathBuf};
use support::cli::*;

const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const COSIGN_V1: &str = "https://cosign.sigstore.dev/attestation/v1";
/// What README.txt says the bundle's subject, signer and log entry are.
const SUBJECT: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
const CODY: &str = "cody@soyland.com";
const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
const SLSA_IDENTITY: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";
const ACTIONS: &str = "https://token.actions.githubusercontent.com";

/// go-containerregistry's `empty.Image` as `remote.Write` pushes it: its config file (the
/// JSON of an empty `v1.ConfigFile` with `rootfs.type: layers`) and its Docker v2 manifest.
const EMPTY_CONFIG: &str = r#"{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#;
const EMPTY_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":115,"digest":"sha256:5b943e2b943f6c81dbbd4e2eca5121f4fcc39139e3d1219d6d89bd925b77d9fe"},"layers":[]}"#;
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

struct Fixtures {
    bundle: Vec<u8>,
    pgi_root: PathBuf,
    production: PathBuf,
    staging: PathBuf,
    slsa: PathBuf,
}

fn fixtures() -> Option<Fixtures> {
    let keyless = support::interop::set("keyless")?;
    let attestations = support::interop::set("attestations")?;
    let cosign = keyless.join("sigstore-cosign");
    Some(Fixtures {
        bundle: std::fs::read(cosign.join("oci-attestation.sigstore.json")).unwrap(),
        pgi_root: cosign.join("trusted_root_pgi.json"),
        production: keyless.join("trust-roots/public-good-production.trusted_root.json"),
        staging: keyless.join("trust-roots/staging.trusted_root.json"),
        slsa: attestations.join("slsa/v0.2-gha-container/container_workflow_dispatch"),
    })
}

fn identity(subject: &str, issuer: &str) -> CertificateIdentity {
    CertificateIdentity::new(Matcher::exact(subject), Matcher::exact(issuer))
}

fn trust(root: &Path, identities: Vec<CertificateIdentity>) -> KeylessTrust {
    KeylessTrust::load(root)
        .unwrap()
        .with_identities(identities)
}

/// An OCI layout at `dir` holding the empty image as `:app` (or, with `other`, an image of
/// other content) and `bundle` as its Sigstore bundle referrer. Returns the image reference.
async fn bundle_image(dir: &Path, bundle: &[u8], other: bool) -> (String, Digest) {
    let store = support::layout::open(dir);
    let (digest, media_type, size) = if other {
        let (_, d) = support::layout::image(dir, "app", b"another image").await;
        let m = store
            .get_manifest(&ManifestRef::Digest(d.clone()))
            .await
            .unwrap()
            .unwrap();
        (d, m.media_type.clone(), m.bytes.len())
    } else {
        store.put_blob(EMPTY_CONFIG.as_bytes()).await.unwrap();
        let d = store
            .put_manifest(EMPTY_MANIFEST.as_bytes(), DOCKER_MANIFEST, Some("app"))
            .await
            .unwrap();
        (d, DOCKER_MANIFEST.to_string(), EMPTY_MANIFEST.len())
    };
    store.put_blob(imgseal::oci::EMPTY_BLOB).await.unwrap();
    store.put_blob(bundle).await.unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": imgseal::oci::OCI_MANIFEST, "artifactType": BUNDLE_V03,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": Digest::sha256(b"{}").to_string()},
        "layers": [{"mediaType": BUNDLE_V03, "size": bundle.len(), "digest": Digest::sha256(bundle).to_string()}],
        "subject": {"mediaType": media_type, "size": size, "digest": digest.to_string()},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": COSIGN_V1},
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    let mut entry = imgseal::oci::Descriptor::of(imgseal::oci::OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(BUNDLE_V03.into());
    store
        .attach_referrer(&digest, &bytes, imgseal::oci::OCI_MANIFEST, entry)
        .await
        .unwrap();
    (format!("oci:{}:app", dir.display()), digest)
}

async fn verify(
    image: &str,
    authorities: Vec<Authority>,
    kind: Option<&str>,
) -> AttestationVerification {
    AttestationVerifier::new(authorities)
        .with_predicate_type(kind)
        .unwrap()
        .verify(&ImageRef::parse(image).unwrap())
        .await
        .unwrap()
}

/// The one attestation's failure, which must name `check`.
#[track_caller]
fn refused(v: &AttestationVerification, check: &str) {
    assert!(!v.verified, "{v:?}");
    assert_eq!(v.attestations.len(), 1, "{v:?}");
    let why = v.attestations[0].failure.as_deref().unwrap_or_default();
    assert!(why.contains(check), "wanted {check:?} in: {why}");
}

#[test]
fn the_rebuilt_empty_image_has_the_statements_subject_digest() {
    assert_eq!(
        Digest::sha256(EMPTY_MANIFEST.as_bytes()).to_string(),
        SUBJECT
    );
    let m: serde_json::Value = serde_json::from_str(EMPTY_MANIFEST).unwrap();
    assert_eq!(
        m["config"]["digest"],
        Digest::sha256(EMPTY_CONFIG.as_bytes()).to_string()
    );
    assert_eq!(m["config"]["size"], EMPTY_CONFIG.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_v3_keyless_attestation_bundle_verifies_with_its_identity() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (image, digest) = bundle_image(dir.path(), &f.bundle, false).await;
    assert_eq!(digest.to_string(), SUBJECT);
    let cody = Authority::keyless(
        "cody",
        trust(&f.pgi_root, vec![identity(CODY, GITHUB_OAUTH)]),
    );
    let v = verify(&image, vec![cody], Some(COSIGN_V1)).await;
    assert!(v.verified, "{}", v.failure_summary());
    let a = &v.attestations[0];
    assert_eq!(a.format, "sigstore-bundle");
    assert_eq!(a.signed_by, ["cody"]);
    let c = a.certificate.as_ref().unwrap();
    assert_eq!(c.subject_alternative_name, CODY);
    assert_eq!(c.issuer.as_deref(), Some(GITHUB_OAUTH));
    assert!(c.fulcio_ca_subject.contains("sigstore"), "{c:?}");
    assert!(c.ct_log_id.is_some(), "the SCT is required and verified");
    assert_eq!(c.checked_at, "2025-02-28T19:18:11Z");
    let t = a.tlog.as_ref().unwrap();
    assert_eq!(t.log_index, 175508996);
    assert_eq!(t.base_url, "https://rekor.sigstore.dev");
    assert_eq!(t.entry_kind, "dsse 0.0.1");
    assert_eq!(t.integrated_time, "2025-02-28T19:18:11Z");
    let st = v.statements().next().unwrap();
    assert_eq!(st.predicate_type, COSIGN_V1);
    assert_eq!(st.subject[0].digest["sha256"], digest.hex());
    // Anchored regular expressions, as cosign's test uses (".*").
    let any = Authority::keyless(
        "any",
        trust(
            &f.pgi_root,
            vec![CertificateIdentity::new(
                Matcher::regex(".*").unwrap(),
                Matcher::regex(".*").unwrap(),
            )],
        ),
    );
    assert!(verify(&image, vec![any], None).await.verified);
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_v3_keyless_attestation_bundle_refusals_name_the_check() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (image, _) = bundle_image(dir.path(), &f.bundle, false).await;
    let with =
        |root: &Path, id: CertificateIdentity| Authority::keyless("a", trust(root, vec![id]));
    // Another signer, another issuer (cosign's SubjectRegExp "wrong" case).
    let v = verify(
        &image,
        vec![with(
            &f.pgi_root,
            identity("someone@example.com", GITHUB_OAUTH),
        )],
        None,
    )
    .await;
    refused(&v, "identity");
    let v = verify(
        &image,
        vec![with(&f.pgi_root, identity(CODY, ACTIONS))],
        None,
    )
    .await;
    refused(
        &v,
        &format!("does not match subject \"{CODY}\" with issuer \"{ACTIONS}\""),
    );
    let wrong = CertificateIdentity::new(
        Matcher::regex("wrong").unwrap(),
        Matcher::regex(".*").unwrap(),
    );
    refused(
        &verify(&image, vec![with(&f.pgi_root, wrong)], None).await,
        "identity",
    );
    // The staging root knows neither this Fulcio CA nor this Rekor log.
    let v = verify(
        &image,
        vec![with(&f.staging, identity(CODY, GITHUB_OAUTH))],
        None,
    )
    .await;
    refused(&v, "transparency");
    // No identity at all: no any-identity default.
    let none = Authority::keyless("none", KeylessTrust::load(&f.pgi_root).unwrap());
    refused(
        &verify(&image, vec![none], None).await,
        "certificate identity",
    );
    // Another predicate type than the one asked for.
    let v = verify(
        &image,
        vec![with(&f.pgi_root, identity(CODY, GITHUB_OAUTH))],
        Some("vuln"),
    )
    .await;
    refused(&v, "predicate type");
    // The same bundle attached to another image: its statement is not about it.
    let other = tempfile::tempdir().unwrap();
    let (image2, _) = bundle_image(other.path(), &f.bundle, true).await;
    let v = verify(
        &image2,
        vec![with(&f.pgi_root, identity(CODY, GITHUB_OAUTH))],
        None,
    )
    .await;
    refused(&v, "not the artifact's");
    // A tampered envelope payload: the DSSE signature no longer verifies.
    let mut b: serde_json::Value = serde_json::from_slice(&f.bundle).unwrap();
    let payload = b["dsseEnvelope"]["payload"].as_str().unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, payload).unwrap(),
    )
    .unwrap();
    st["predicate"]["Data"] = "{\"foo\": \"baz\"}\n".into();
    b["dsseEnvelope"]["payload"] = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&st).unwrap(),
    )
    .into();
    let tampered = tempfile::tempdir().unwrap();
    let (image3, _) = bundle_image(tampered.path(), &serde_json::to_vec(&b).unwrap(), false).await;
    let v = verify(
        &image3,
        vec![with(&f.pgi_root, identity(CODY, GITHUB_OAUTH))],
        None,
    )
    .await;
    refused(&v, "signature does not verify");
}

/// slsa-github-generator's legacy `.att` tag served from a layout.
async fn slsa_image(src: &Path, dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    support::layout::slsa_attestation(src, dir, |att| {
        let mut m: serde_json::Value = serde_json::from_slice(&att).unwrap();
        edit(&mut m);
        let att = serde_json::to_vec(&m).unwrap();
        assert!(ImageManifest::from_bytes(&att).is_ok());
        att
    })
    .await;
    format!("oci:{}:main", dir.display())
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_keyless_att_layer_verifies_against_the_production_root() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = slsa_image(&f.slsa, dir.path(), |_| {}).await;
    let gha =
        |root: &Path, id: CertificateIdentity| Authority::keyless("slsa", trust(root, vec![id]));
    let v = verify(
        &image,
        vec![gha(&f.production, identity(SLSA_IDENTITY, ACTIONS))],
        Some("slsaprovenance"),
    )
    .await;
    assert!(v.verified, "{}", v.failure_summary());
    let a = &v.attestations[0];
    assert_eq!(a.format, "dsse");
    let c = a.certificate.as_ref().unwrap();
    assert_eq!(c.subject_alternative_name, SLSA_IDENTITY);
    assert_eq!(c.issuer.as_deref(), Some(ACTIONS));
    assert!(c.github_workflow_repository.is_some(), "{c:?}");
    let t = a.tlog.as_ref().unwrap();
    assert_eq!(t.entry_kind, "dsse 0.0.1");
    assert_eq!(t.base_url, "https://rekor.sigstore.dev");
    assert!(t.log_id.starts_with("c0d23d6a"), "{t:?}");
    // Refusals, each naming its check.
    let v = verify(
        &image,
        vec![gha(
            &f.production,
            identity("https://example.com/wf.yml@refs/heads/main", ACTIONS),
        )],
        None,
    )
    .await;
    refused(&v, "identity");
    let v = verify(
        &image,
        vec![gha(&f.production, identity(SLSA_IDENTITY, GITHUB_OAUTH))],
        None,
    )
    .await;
    refused(&v, &format!("with issuer \"{GITHUB_OAUTH}\""));
    let v = verify(
        &image,
        vec![gha(&f.staging, identity(SLSA_IDENTITY, ACTIONS))],
        None,
    )
    .await;
    refused(&v, "transparency log");
    let v = verify(
        &image,
        vec![gha(&f.production, identity(SLSA_IDENTITY, ACTIONS))],
        Some("vuln"),
    )
    .await;
    refused(&v, "predicate type");
    // Without its Rekor bundle it is refused (a transparency-log entry is required).
    let bare = tempfile::tempdir().unwrap();
    let image2 = slsa_image(&f.slsa, bare.path(), |m| {
        m["layers"][0]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("dev.sigstore.cosign/bundle");
    })
    .await;
    let v = verify(
        &image2,
        vec![gha(&f.production, identity(SLSA_IDENTITY, ACTIONS))],
        None,
    )
    .await;
    refused(&v, "carries no Rekor bundle");
    // Another certificate than the one the Rekor entry records (and that signed).
    let swapped = tempfile::tempdir().unwrap();
    let image3 = slsa_image(&f.slsa, swapped.path(), |m| {
        let a = m["layers"][0]["annotations"].as_object_mut().unwrap();
        let chain = a["dev.sigstore.cosign/chain"].as_str().unwrap().to_string();
        let first = chain
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap()
            .to_string();
        a.insert("dev.sigstore.cosign/certificate".into(), first.into());
    })
    .await;
    let v = verify(
        &image3,
        vec![gha(&f.production, identity(SLSA_IDENTITY, ACTIONS))],
        None,
    )
    .await;
    refused(
        &v,
        "signature does not verify with the attached certificate",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_keyless_authority_gates_attestations() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (image, _) = bundle_image(&dir.path().join("layout"), &f.bundle, false).await;
    let root = dir.path().join("trusted_root.json");
    std::fs::copy(&f.pgi_root, &root).unwrap();
    let write = |subject: &str, how: &str| {
        let p = dir.path().join("policy.yaml");
        std::fs::write(
            &p,
            format!("version: 1\ndefaultAction: reject\nauthorities:\n  cody:\n    keyless:\n      trustedRoot: trusted_root.json\n      identities:\n        - issuer: {GITHUB_OAUTH}\n          subject: {subject}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n      - type: {COSIGN_V1}\n        authorities: {{ {how}: [cody] }}\n"),
        )
        .unwrap();
        Policy::load(&p).unwrap().0
    };
    let image = ImageRef::parse(&image).unwrap();
    for how in ["anyOf", "allOf"] {
        let d = write(CODY, how)
            .evaluate_attestations(&image, None)
            .await
            .unwrap();
        assert!(d.allowed, "{how}: {:?}", d.checks);
        let c = d
            .checks
            .iter()
            .find(|c| c.name.starts_with("attestation:"))
            .unwrap();
        assert!(c.reason.contains("signed by cody"), "{}", c.reason);
    }
    let d = write("someone@example.com", "anyOf")
        .evaluate_attestations(&image, None)
        .await
        .unwrap();
    assert!(!d.allowed);
    let c = d.checks.iter().find(|c| !c.passed).unwrap();
    assert!(c.reason.contains("identity"), "{}", c.reason);
}

#[test]
fn verify_attestation_takes_the_keyless_flags() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (image, digest) = rt.block_on(bundle_image(dir.path(), &f.bundle, false));
    let cli = Cli::new();
    let root = f.pgi_root.display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "verify-attestation",
            "--trusted-root",
            &root,
            "--type",
            COSIGN_V1,
        ];
        args.extend_from_slice(extra);
        args.push(&image);
        cli.run(&args)
    };
    let out = run(&[
        "--certificate-identity",
        CODY,
        "--certificate-oidc-issuer",
        GITHUB_OAUTH,
    ]);
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code().unwrap_or(-1), 0, "{err_text}");
    assert!(
        err_text.contains(&format!("identity: {CODY} (issuer {GITHUB_OAUTH})")),
        "{err_text}"
    );
    assert!(err_text.contains("Fulcio CA"), "{err_text}");
    assert!(
        err_text.contains("transparency log: https://rekor.sigstore.dev"),
        "{err_text}"
    );
    assert!(err_text.contains("index 175508996"), "{err_text}");
    let st: serde_json::Value = serde_json::from_str(out_text.lines().next().unwrap()).unwrap();
    assert_eq!(st["subject"][0]["digest"]["sha256"], digest.hex());
    // JSON names the evidence.
    let out = run(&[
        "--certificate-identity-regexp",
        ".*@soyland\\.com",
        "--certificate-oidc-issuer-regexp",
        "https://github\\.com/.*",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code().unwrap_or(-1), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["attestations"][0]["certificate"]["subjectAlternativeName"],
        CODY
    );
    assert_eq!(v["attestations"][0]["tlog"]["logIndex"], 175508996);
    // A wrong identity fails (exit 1) naming the check; half an identity is a usage error.
    let out = run(&[
        "--certificate-identity",
        "someone@example.com",
        "--certificate-oidc-issuer",
        GITHUB_OAUTH,
    ]);
    assert_eq!(out.status.code().unwrap_or(-1), 1);
    assert!(stderr(&out).contains("identity"), "{}", stderr(&out));
    let out = run(&["--certificate-identity", CODY]);
    assert_eq!(out.status.code().unwrap_or(-1), 2);
    assert!(
        stderr(&out).contains("--certificate-oidc-issuer"),
        "{}",
        stderr(&out)
    );
    let out = run(&[]);
    assert_eq!(out.status.code().unwrap_or(-1), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--certificate-identity"),
        "{}",
        stderr(&out)
    );
}

/// The Rekor entry body ↔ envelope match on the real slsa layer: its dsse 0.0.1 entry records
/// this envelope's payload hash, signature and certificate; another payload, another signature
/// or another certificate is refused by name.
#[test]
fn the_rekor_entry_must_record_this_envelope() {
    use imgseal::trust::tlog::EntryVerifier;
    use imgseal::verify::RekorBundle;
    let Some(f) = fixtures() else { return };
    let blobs = f.slsa.join("blobs/sha256");
    let att: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            blobs.join("21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe"),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = &att["layers"][0];
    let hex = layer["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let envelope =
        imgseal::formats::intoto::envelope_from_bytes(&std::fs::read(blobs.join(hex)).unwrap())
            .unwrap();
    let a = &layer["annotations"];
    let bundle = RekorBundle::from_json(a["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
    let cert = imgseal::pki::load_pem_certificates(
        a["dev.sigstore.cosign/certificate"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap()
    .remove(0);
    let root = imgseal::verify::KeylessTrust::load(&f.production)
        .unwrap()
        .root;
    let sig = envelope.signatures[0].sig.clone();
    let cert_v = EntryVerifier::Certificate(cert.der().to_vec());
    let check = |payload: &[u8], sig: &[u8], v: &EntryVerifier| {
        bundle.verify_dsse(&root, &envelope.payload_type, payload, &[sig], v)
    };
    let ok = check(&envelope.payload, &sig, &cert_v).unwrap();
    assert_eq!(ok.entry_kind, "dsse 0.0.1");
    let e = check(b"{}", &sig, &cert_v).unwrap_err().to_string();
    assert!(e.contains("payload hash"), "{e}");
    let e = check(&envelope.payload, b"not it", &cert_v)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not this signature"), "{e}");
    let other = EntryVerifier::Certificate(b"another certificate".to_vec());
    let e = check(&envelope.payload, &sig, &other)
        .unwrap_err()
        .to_string();
    assert!(e.contains("certificate or key"), "{e}");
}
