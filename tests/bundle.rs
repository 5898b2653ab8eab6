//! cosign v3 Sigstore bundles: a real cosign bundle from `../shared/interop` (parsed, its DSSE
//! signature checked with the key of its embedded certificate, its statement's subject read),
//! and key-signed bundles built with the library, attached to an OCI layout image as referrers
//! and verified through the real `imgseal` binary.

mod support;

use imgseal::formats::cosign;
use imgseal::formats::cosign::bundle::{
    self, Bundle, Content, DsseEnvelope, Statement, IN_TOTO_PAYLOAD_TYPE,
};
use imgseal::oci::OCI_MANIFEST;
use imgseal::oci::{self, Descriptor, ImageManifest};
use imgseal::store::{ManifestRef, Store};
use imgseal::{Digest, SigningKey};
use std::collections::BTreeMap;
use std::path::Path;
use support::cli::*;

const REAL_SUBJECT: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

fn dsse(b: &Bundle) -> &DsseEnvelope {
    match &b.content {
        Content::Dsse(e) => e,
        Content::MessageSignature(_) => panic!("expected a DSSE bundle"),
    }
}

#[test]
fn real_cosign_v3_bundle_parses_and_its_signature_verifies() {
    let Some(root) = support::interop::interop_dir() else {
        support::interop::absent("../shared/interop");
        return;
    };
    let bytes = std::fs::read(root.join("cosign/sigstore-rs/bundle_v03.json")).unwrap();
    let b = Bundle::from_bytes(&bytes).unwrap();
    assert_eq!(b.media_type, cosign::BUNDLE_ARTIFACT_TYPE);
    assert_eq!(b.verification_material.tlog_entries, 1);
    assert_eq!(b.verification_material.rfc3161_timestamps, 1);
    let (leaf, rest) = b.certificate_chain().expect("a Fulcio certificate");
    assert!(rest.is_empty());
    let env = dsse(&b);
    assert_eq!(env.payload_type, IN_TOTO_PAYLOAD_TYPE);
    env.verify_with_certificate(leaf).unwrap();
    let st = env.statement().unwrap();
    assert!(st.is_cosign_signature());
    let d: Digest = format!("sha256:{REAL_SUBJECT}").parse().unwrap();
    assert!(st.subject_for(&d).is_some(), "{st:?}");
    assert!(st.subject_for(&Digest::sha256(b"other")).is_none());

    // A tampered payload (one byte) or payload type no longer verifies.
    let mut bad = env.clone();
    let i = bad.payload.len() / 2;
    bad.payload[i] ^= 0x01;
    assert!(bad.verify_with_certificate(leaf).is_err());
    let mut bad = env.clone();
    bad.payload_type = "application/json".into();
    assert!(bad.verify_with_certificate(leaf).is_err());
    // And an unrelated key does not verify it.
    assert!(!env.verify_with(&SigningKey::generate().unwrap().public_key()));

    // cosign's own attestation bundle: verifies, but is not an image signature.
    let bytes = std::fs::read(root.join("cosign/cosign/oci-attestation.sigstore.json")).unwrap();
    let b = Bundle::from_bytes(&bytes).unwrap();
    let (leaf, _) = b.certificate_chain().unwrap();
    let env = dsse(&b);
    env.verify_with_certificate(leaf).unwrap();
    let st = env.statement().unwrap();
    assert!(!st.is_cosign_signature());
    assert_eq!(
        st.predicate_type,
        "https://cosign.sigstore.dev/attestation/v1"
    );
}

// ---------------------------------------------------------------- end to end (OCI layout)

/// An OCI layout at `dir` with one image tagged `v1`; returns (image argument, store, subject).
fn layout(dir: &Path, content: &[u8]) -> (String, Store, Descriptor) {
    let store = support::layout::open(dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (image, digest) = rt.block_on(support::layout::image(dir, "v1", content));
    let m = rt
        .block_on(store.get_manifest(&ManifestRef::Digest(digest.clone())))
        .unwrap()
        .unwrap();
    let subject = Descriptor {
        media_type: m.media_type.clone(),
        size: m.bytes.len() as u64,
        digest: digest.to_string(),
        ..Descriptor::default()
    };
    (image, store, subject)
}

/// A key-signed bundle over `statement`, as cosign v3 `sign --key` writes it.
fn key_bundle(key: &SigningKey, statement: &Statement) -> Vec<u8> {
    let env = DsseEnvelope::sign(key, IN_TOTO_PAYLOAD_TYPE, &statement.to_bytes());
    Bundle::with_public_key(&env, &key.public_key()).to_bytes()
}

/// Attach `bundle_json` to `subject` as cosign v3 does: an OCI 1.1 artifact with artifactType
/// BUNDLE_ARTIFACT_TYPE, the empty config and one bundle layer.
fn attach(store: &Store, subject: &Descriptor, bundle_json: &[u8]) {
    let artifact = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(cosign::BUNDLE_ARTIFACT_TYPE.to_string()),
        config: Descriptor::of(oci::EMPTY_MEDIA_TYPE, oci::EMPTY_BLOB),
        layers: vec![Descriptor::of(bundle::MEDIA_TYPE_V03, bundle_json)],
        subject: Some(subject.clone()),
        annotations: BTreeMap::new(),
    };
    let bytes = artifact.to_bytes().unwrap();
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = artifact.artifact_type.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        store.put_blob(oci::EMPTY_BLOB).await.unwrap();
        store.put_blob(bundle_json).await.unwrap();
        store
            .attach_referrer(&subject.digest().unwrap(), &bytes, OCI_MANIFEST, entry)
            .await
            .unwrap();
    });
}

#[test]
fn key_signed_bundle_referrer_verifies_through_the_cli() {
    let cli = Cli::new();
    let signer = cli.keypair("signer");
    let other = cli.keypair("other");
    let (image, store, subject) = layout(&cli.path("img"), b"bundle image");
    let digest = subject.digest().unwrap();
    let annotations = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    attach(
        &store,
        &subject,
        &key_bundle(
            &signer.key,
            &Statement::cosign_signature(&digest, &annotations),
        ),
    );
    // An attestation by the same key is attached too: it is not a signature and is skipped.
    let mut att = Statement::cosign_signature(&digest, &BTreeMap::new());
    att.predicate_type = "https://slsa.dev/provenance/v1".into();
    att.predicate = Some(serde_json::json!({"buildDefinition": {}}));
    attach(&store, &subject, &key_bundle(&signer.key, &att));

    let out = cli.run(&["verify", "--key", &signer.public, &image]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(
        err.contains("sigstore bundle sha256:") && err.contains("cosign-bundle signature by"),
        "{err}"
    );
    assert_ok(&cli.run(&["verify", "--key", &signer.public, "-a", "env=prod", &image]));
    let out = cli.run(&["verify", "--key", &signer.public, "-a", "env=dev", &image]);
    assert_fails(&out, 1, &["annotation env is \"prod\", not \"dev\""]);

    // JSON output names the format.
    let out = cli.run(&["verify", "--key", &signer.public, "-o", "json", &image]);
    assert_ok(&out);
    let v = json(&out);
    let sigs = v["signatures"].as_array().unwrap();
    assert!(
        sigs.iter()
            .any(|s| s["format"] == "cosign-bundle" && s["verified"] == true),
        "{v:#}"
    );

    // Another key: exit 1, and the attestation was skipped with a warning.
    let out = cli.run(&["verify", "--key", &other.public, &image]);
    assert_fails(&out, 1, &["bundle signature does not verify"]);
    assert_warned(&out, &["attestation", "slsa.dev/provenance"]);

    // `tree` lists both bundles.
    let out = cli.run(&["tree", &image]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).matches("sigstore bundle").count(),
        2,
        "{}",
        stdout(&out)
    );
}

#[test]
fn bundle_naming_another_image_is_refused() {
    let cli = Cli::new();
    let signer = cli.keypair("signer");
    let (image, store, subject) = layout(&cli.path("img"), b"this image");
    let elsewhere = Digest::sha256(b"another image's manifest");
    attach(
        &store,
        &subject,
        &key_bundle(
            &signer.key,
            &Statement::cosign_signature(&elsewhere, &BTreeMap::new()),
        ),
    );
    let out = cli.run(&["verify", "--key", &signer.public, &image]);
    assert_fails(
        &out,
        1,
        &[
            "the statement's subject names",
            elsewhere.hex(),
            "not this image's",
        ],
    );
}

#[test]
fn tampered_bundle_payload_is_refused() {
    let cli = Cli::new();
    let signer = cli.keypair("signer");
    let (image, store, subject) = layout(&cli.path("img"), b"tamper image");
    let digest = subject.digest().unwrap();
    let st = Statement::cosign_signature(&digest, &BTreeMap::new());
    let mut env = DsseEnvelope::sign(&signer.key, IN_TOTO_PAYLOAD_TYPE, &st.to_bytes());
    // Same statement, re-serialized with an annotation the signer never signed.
    let forged = Statement::cosign_signature(
        &digest,
        &BTreeMap::from([("env".to_string(), "prod".to_string())]),
    );
    env.payload = forged.to_bytes();
    attach(
        &store,
        &subject,
        &Bundle::with_public_key(&env, &signer.key.public_key()).to_bytes(),
    );
    let out = cli.run(&["verify", "--key", &signer.public, &image]);
    assert_fails(&out, 1, &["bundle signature does not verify"]);
}
