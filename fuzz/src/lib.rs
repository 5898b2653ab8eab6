//! Fuzz entry points: one function per parser of outside input, each taking arbitrary bytes.
//! They must never panic; where a parser has a writer, what it writes must parse back to the
//! same value. Used by the cargo-fuzz targets in `fuzz_targets/` and, through `#[path]`, by
//! the normal test suite (`tests/fuzz_corpus.rs` runs every corpus and regression file).
//! Only imgseal's public API is used.

use imgseal::crypto::keys;
use imgseal::formats::cosign::{self, bundle};
use imgseal::formats::notation;
use imgseal::pki::{self, crl, tsp};
use imgseal::{oci, policy, reference, trust};
use std::str::FromStr as _;
use std::sync::OnceLock;

/// An entry point: arbitrary bytes in, a panic on any bug it can see.
pub type Entry = fn(&[u8]);

/// Every entry point by target name (the directory names under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Entry)] = &[
    ("reference", reference),
    ("digest", digest),
    ("oci_manifest", oci_manifest),
    ("cosign_signature", cosign_signature),
    ("keys", keys),
    ("x509", x509),
    ("crl", crl),
    ("timestamp", timestamp),
    ("notation_envelope", notation_envelope),
    ("bundle", bundle),
    ("trust_policy", trust_policy),
    ("policy_yaml", policy_yaml),
    ("k8s_manifest", k8s_manifest),
    ("admission_review", admission_review),
    ("trusted_root", trusted_root),
    ("checkpoint", checkpoint),
    ("containers_policy", containers_policy),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Image references: `ImageRef::parse` and `Reference`'s `FromStr`; Display parses back.
pub fn reference(data: &[u8]) {
    let Some(s) = text(data) else { return };
    if let Ok(r) = reference::Reference::from_str(s) {
        let shown = r.to_string();
        let again = reference::Reference::from_str(&shown)
            .unwrap_or_else(|e| panic!("{shown:?} (from {s:?}) does not parse back: {e}"));
        assert_eq!(again, r, "{s:?} -> {shown:?}");
        let _ = (r.api_host(), r.cosign_identity(), r.is_loopback());
    }
    if let Ok(r) = reference::ImageRef::parse(s) {
        let _ = r.to_string();
    }
    // The `--oci-layout` form: a path and a name.
    if let Some((path, name)) = s.split_once('\n') {
        let _ = reference::ImageRef::in_layout(path, name);
    }
}

/// Digests: `Digest`'s `FromStr`; Display parses back.
pub fn digest(data: &[u8]) {
    let Some(s) = text(data) else { return };
    if let Ok(d) = imgseal::Digest::from_str(s) {
        let shown = d.to_string();
        let again = imgseal::Digest::from_str(&shown)
            .unwrap_or_else(|e| panic!("{shown:?} (from {s:?}) does not parse back: {e}"));
        assert_eq!(again, d);
        let _ = (d.hex(), d.signature_tag(), d.verify(data, "fuzz input"));
    }
}

/// OCI image manifests and indexes; what `to_bytes` writes parses back to the same value.
pub fn oci_manifest(data: &[u8]) {
    if let Ok(m) = oci::ImageManifest::from_bytes(data) {
        let bytes = m.to_bytes().expect("a parsed manifest serializes");
        let again = oci::ImageManifest::from_bytes(&bytes).expect("a written manifest parses");
        assert_eq!(
            again.to_bytes().expect("serializes"),
            bytes,
            "manifest round trip"
        );
        for d in m.layers.iter().chain(std::iter::once(&m.config)) {
            let _ = d.digest();
        }
    }
    if let Ok(i) = oci::Index::from_bytes(data) {
        let bytes = i.to_bytes().expect("a parsed index serializes");
        let again = oci::Index::from_bytes(&bytes).expect("a written index parses");
        assert_eq!(
            again.to_bytes().expect("serializes"),
            bytes,
            "index round trip"
        );
        for d in &i.manifests {
            let _ = d.digest();
            if let Some(p) = &d.platform {
                let _ = (p.to_string(), p.matches("linux/amd64"));
            }
        }
    }
}

/// Cosign signature manifests (their layers and annotations) and simple-signing payloads;
/// a payload written by `to_bytes` parses back to the same value.
pub fn cosign_signature(data: &[u8]) {
    if let Ok(p) = cosign::Payload::from_bytes(data) {
        let bytes = p.to_bytes().expect("a parsed payload serializes");
        assert_eq!(cosign::Payload::from_bytes(&bytes).expect("parses back"), p);
    }
    if let Ok(m) = cosign::SignatureManifest::from_bytes(data) {
        for layer in &m.layers {
            let _ = layer.digest();
            if let Some(pem) = layer.annotations.get(cosign::CERTIFICATE_ANNOTATION) {
                let _ = pki::load_pem_certificates(pem.as_bytes());
            }
        }
        let _ = cosign::config_blob(&m.layers);
    }
}

/// Key files: cosign encrypted keys, PKCS#8 and SEC1 private keys, PKIX public keys; a
/// public key written by `to_pem` parses back to the same key.
pub fn keys(data: &[u8]) {
    let _ = keys::SigningKey::pem_is_encrypted(data);
    // No password: the encrypted branch stops before scrypt (which would make each run slow).
    if let Ok(k) = keys::SigningKey::from_pem(data, None, "fuzz.key") {
        let _ = k.public_key().to_pem();
    }
    if let Ok(k) = keys::PublicKey::from_pem(data, "fuzz.pub") {
        let pem = k.to_pem();
        let again = keys::PublicKey::from_pem(pem.as_bytes(), "again.pub").expect("parses back");
        assert_eq!(again.to_pem(), pem);
        let _ = k.verify(b"message", data);
    }
}

fn certificate_accessors(c: &pki::Certificate) {
    let _ = (
        c.subject(),
        c.issuer(),
        c.serial_hex(),
        c.basic_constraints(),
        c.key_usage(),
        c.extended_key_usage(),
        c.is_self_signed(),
        c.fingerprint_hex(),
        c.not_before(),
        c.not_after(),
    );
    let _ = crl::sources(c);
}

/// X.509 certificates, DER and PEM; `to_pem` parses back to the same DER.
pub fn x509(data: &[u8]) {
    if let Ok(c) = pki::Certificate::from_der(data) {
        certificate_accessors(&c);
        let again = pki::load_pem_certificates(c.to_pem().as_bytes()).expect("PEM parses back");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].der(), c.der());
    }
    if let Ok(certs) = pki::load_pem_certificates(data) {
        for c in &certs {
            certificate_accessors(c);
        }
        if let [leaf, rest @ ..] = certs.as_slice() {
            let _ = leaf.is_issued_by(rest.first().unwrap_or(leaf));
        }
    }
}

/// The repository's demo chain (keys/demo-notation.crt): a fixed leaf and its root, so CRLs in
/// the corpus can name the right issuer.
fn demo_chain() -> &'static [pki::Certificate] {
    static CHAIN: OnceLock<Vec<pki::Certificate>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        pki::load_pem_certificates(include_bytes!("../../keys/demo-notation.crt"))
            .expect("keys/demo-notation.crt parses")
    })
}

/// CRLs (DER or PEM) evaluated for the demo leaf and root.
pub fn crl(data: &[u8]) {
    let [leaf, root, ..] = demo_chain() else {
        panic!("keys/demo-notation.crt holds leaf and root")
    };
    let now = std::time::SystemTime::now();
    let _ = crl::check_crl(
        data,
        leaf,
        root,
        now,
        Some(now),
        "http://crl.example/leaf.crl",
    );
    let _ = crl::check_crl(data, root, root, now, None, "http://crl.example/root.crl");
}

/// RFC 3161 timestamp tokens (structure, and verification against an imprint).
pub fn timestamp(data: &[u8]) {
    if let Ok(t) = tsp::parse(data) {
        let _ = (
            t.gen_time(),
            t.accuracy(),
            t.serial_hex(),
            t.policy(),
            t.message_imprint(),
        );
        for c in t.certificates() {
            certificate_accessors(c);
        }
        let _ = t.verify(b"signature", &demo_chain()[1..]);
    }
}

/// Notary Project JWS envelopes: parse, then the integrity check (signature over the
/// protected header and payload with the embedded chain).
pub fn notation_envelope(data: &[u8]) {
    if let Ok(e) = notation::parse_envelope(data) {
        let _ = (
            e.signing_agent(),
            e.timestamp_signature(),
            e.protected_header().len(),
        );
        if let Ok(v) = e.verify_integrity() {
            let _ = (
                v.has_timestamp(),
                v.effective_signing_time(),
                v.verification_plugin(),
                v.verification_plugin_min_version(),
            );
            let _ = v.critical_extended_attributes().count();
        }
    }
}

/// Sigstore bundles (with their DSSE envelopes and in-toto statements); a bundle written by
/// `to_bytes` parses back.
pub fn bundle(data: &[u8]) {
    if let Ok(b) = bundle::Bundle::from_bytes(data) {
        let bytes = b.to_bytes();
        let again = bundle::Bundle::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("a written bundle does not parse back: {e}"));
        assert_eq!(again.to_bytes(), bytes, "bundle round trip");
        let _ = b.certificate_chain();
        if let bundle::Content::Dsse(env) = &b.content {
            let _ = (env.pae(), env.statement());
            if let Some((leaf, _)) = b.certificate_chain() {
                let _ = env.verify_with_certificate(leaf);
            }
        }
    }
    if let Ok(s) = bundle::Statement::from_bytes(data) {
        let bytes = s.to_bytes();
        bundle::Statement::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("a written statement does not parse back: {e}"));
        let _ = s.is_cosign_signature();
    }
}

/// Notary Project trust policies (OCI and blob) and trust store names.
pub fn trust_policy(data: &[u8]) {
    if let Ok(p) = trust::TrustPolicy::from_json(data) {
        let _ = p.policy_for("registry.example/app");
        for s in p.statements() {
            let _ = trust::trusted_identity_matches(s, "C=US, ST=WA, O=Notary, CN=fuzz");
        }
    }
    if let Ok(p) = trust::BlobTrustPolicy::from_json(data) {
        let _ = (p.global_policy(), p.policy_named("x"));
    }
    if let Some(s) = text(data) {
        if let Ok(r) = trust::TrustStoreRef::parse(s) {
            assert_eq!(trust::TrustStoreRef::parse(&r.to_string()), Ok(r));
        }
    }
}

/// imgseal policy files (YAML). Key paths resolve against a directory that does not exist.
pub fn policy_yaml(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = policy::Policy::from_yaml(
        s,
        std::path::Path::new("/nonexistent/imgseal-fuzz"),
        "fuzz.yaml",
    );
}

/// Sigstore `trusted_root.json`: whatever parses also survives a round trip through its writer
/// and every lookup by log ID and time.
pub fn trusted_root(data: &[u8]) {
    let Ok(root) = trust::sigstore_root::TrustedRoot::from_json(data) else {
        return;
    };
    let again = trust::sigstore_root::TrustedRoot::from_json(root.to_json().as_bytes())
        .expect("a written trusted root parses back");
    assert_eq!(again.tlogs().len(), root.tlogs().len());
    assert_eq!(again.ctlogs().len(), root.ctlogs().len());
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for log in root.tlogs() {
        let _ = root.tlog_by_log_id(log.log_id(), at);
    }
    let _ = root.fulcio_chains_at(at);
    let _ = root.timestamp_authorities_at(at);
}

/// Signed-note checkpoints (transparency-log tree heads): parsing, and verifying against a
/// fixed log key, never panic.
pub fn checkpoint(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = trust::tlog::Checkpoint::parse(s);
    static ROOT: OnceLock<Option<trust::sigstore_root::TrustedRoot>> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        let key = imgseal::SigningKey::generate().ok()?;
        trust::sigstore_root::TrustedRoot::builder()
            .rekor_key_pem(
                "https://rekor.fuzz.example",
                key.public_key().to_pem().as_bytes(),
                std::time::UNIX_EPOCH,
                None,
            )
            .build()
            .ok()
    });
    if let Some(log) = root.as_ref().and_then(|r| r.tlogs().first()) {
        let _ = trust::tlog::verify_checkpoint(s, log);
    }
}

/// containers/image's `policy.json`: loading, and looking up the scopes of a few images.
pub fn containers_policy(data: &[u8]) {
    let Ok(p) = policy::containers::ContainersPolicy::from_json(data) else {
        return;
    };
    for image in ["docker.io/library/busybox:latest", "registry.example/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000"] {
        if let Ok(r) = imgseal::ImageRef::parse(image) {
            let _ = p.requirements_for(&r);
        }
    }
}

/// Kubernetes manifests: documents, the images of every workload (each pointer leads to its
/// image in the object), and pinning with no replacement changes nothing.
pub fn k8s_manifest(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let mut m = imgseal::k8s::Manifests::default();
    if m.add_text("fuzz.yaml", s.to_string()).is_err() {
        return;
    }
    for d in &m.documents {
        for c in imgseal::k8s::images_of(&d.value).unwrap_or_default() {
            let at = d.value.pointer(&c.pointer);
            if !c.image.is_empty() {
                assert_eq!(
                    at.and_then(|v| v.as_str()),
                    Some(c.image.as_str()),
                    "{}",
                    c.pointer
                );
            }
            let _ = imgseal::k8s::image_reference(&c.image);
        }
    }
    let (same, changed) = imgseal::k8s::pin_text(s, &[]).expect("no pattern to compile");
    assert_eq!(same, s);
    assert!(changed.is_empty());
}

/// AdmissionReview bodies, answered with a policy that needs no registry; the answer echoes
/// the request's uid.
pub fn admission_review(data: &[u8]) {
    static POLICY: OnceLock<policy::Policy> = OnceLock::new();
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let policy = POLICY.get_or_init(|| {
        policy::Policy::from_yaml(
            "version: 1\ndefaultAction: allow\nrules:\n  - name: hub\n    images: ['docker.io/**']\n    deniedRegistries: [docker.io]\n",
            std::path::Path::new("/nonexistent"),
            "fuzz.yaml",
        )
        .expect("the fuzz policy")
        .0
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let options = imgseal::admission::ReviewOptions::default();
    if let Ok(answer) = rt.block_on(imgseal::admission::review(policy, &v, &options)) {
        assert_eq!(answer["kind"], "AdmissionReview");
        if let Some(uid) = v["request"]["uid"].as_str() {
            assert_eq!(answer["response"]["uid"].as_str(), Some(uid));
        }
    }
}
