//! Attestations (issue 11): `imgseal attest` / `verify-attestation`, `sign --new-bundle-format`,
//! and the policy's `attestations:` gates, on the real test registry and OCI layouts, checked
//! against cosign's wire format, an independent DSSE check written here from the DSSE
//! specification, and the real data under ../shared/interop.

mod support;

use base64::Engine as _;
use imgseal::attest::{AttestationVerifier, Attester, Authority};
use imgseal::oci::ImageManifest;
use imgseal::reference::ImageRef;
use imgseal::store::{ManifestRef, Store, StoreOptions};
use imgseal::{Digest, Policy, SigningKey};
use serde_json::Value;
use std::path::Path;
use support::cli::*;
use support::registry::*;

const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// DSSE v1 Pre-Authentication Encoding, written from the specification (protocol.md):
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
fn spec_pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An independent DSSE check: ECDSA P-256/SHA-256 (DER) over the spec PAE with the p256 crate.
fn dsse_verifies(envelope: &Value, key: &SigningKey) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let vk =
        p256::ecdsa::VerifyingKey::from_public_key_der(&key.public_key_der().unwrap()).unwrap();
    let payload = b64(envelope["payload"].as_str().unwrap());
    let pae = spec_pae(envelope["payloadType"].as_str().unwrap(), &payload);
    envelope["signatures"].as_array().unwrap().iter().all(|s| {
        let sig = p256::ecdsa::Signature::from_der(&b64(s["sig"].as_str().unwrap())).unwrap();
        vk.verify(&pae, &sig).is_ok()
    })
}

fn store_of(image: &str) -> Store {
    Store::open(
        &ImageRef::parse(image).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap()
}

async fn manifest_at(store: &Store, r: ManifestRef) -> ImageManifest {
    let m = store.get_manifest(&r).await.unwrap().expect("manifest");
    ImageManifest::from_bytes(&m.bytes).unwrap()
}

async fn blob(store: &Store, d: &imgseal::oci::Descriptor) -> Vec<u8> {
    store
        .get_blob(&d.digest().unwrap(), d.size, 64 << 20)
        .await
        .unwrap()
}

fn interop(path: &str) -> Option<std::path::PathBuf> {
    let (set, rest) = path.split_once('/').unwrap();
    support::interop::set(set).map(|d| d.join(rest))
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_attestations_have_cosigns_wire_format_and_verify_independently() {
    let reg = Registry::start();
    let repo = unique_repo("att");
    let digest = push_image(&reg.host, &repo, "1.0").await;
    let image = format!("{}/{repo}:1.0", reg.host);
    let cli = Cli::new();
    let k = cli.keypair("scanner");
    let trivy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/attestations/trivy-report.json");
    let o = cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&trivy),
        "--type",
        "vuln",
        &image,
    ]);
    assert_ok(&o);
    assert_eq!(stdout(&o).trim(), format!("{}/{repo}@{digest}", reg.host));
    // A second attestation of another type is added beside the first, never replacing it.
    let sbom = cli.path("bom.json");
    std::fs::write(&sbom, r#"{"bomFormat":"CycloneDX","specVersion":"1.4","components":[{"name":"openssl","version":"3.0.1"}]}"#).unwrap();
    assert_ok(&cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&sbom),
        "--type",
        "cyclonedx",
        &image,
    ]));

    // Wire format, as cosign writes it: tag sha256-<hex>.att, DSSE layers, predicateType.
    let store = store_of(&image);
    let tag = format!("sha256-{}.att", digest.hex());
    let att = manifest_at(&store, ManifestRef::Tag(tag)).await;
    assert_eq!(att.layers.len(), 2);
    let types: Vec<&str> = att
        .layers
        .iter()
        .map(|l| l.annotations["predicateType"].as_str())
        .collect();
    assert_eq!(types, [VULN, "https://cyclonedx.org/bom"]);
    let layer = &att.layers[0];
    assert_eq!(layer.media_type, "application/vnd.dsse.envelope.v1+json");
    assert_eq!(layer.annotations["dev.cosignproject.cosign/signature"], "");
    let envelope: Value = serde_json::from_slice(&blob(&store, layer).await).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    assert!(dsse_verifies(&envelope, &k.key), "independent DSSE check");
    assert!(!dsse_verifies(&envelope, &SigningKey::generate().unwrap()));
    let statement: Value =
        serde_json::from_slice(&b64(envelope["payload"].as_str().unwrap())).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v0.1");
    assert_eq!(statement["predicateType"], VULN);
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());
    assert_eq!(
        statement["subject"][0]["name"],
        format!("{}/{repo}", reg.host)
    );
    // The Trivy report was wrapped into cosign's vuln predicate.
    let p = &statement["predicate"];
    assert_eq!(p["scanner"]["uri"], "pkg:github/aquasecurity/trivy@0.58.1");
    assert_eq!(
        p["metadata"]["scanFinishedOn"],
        "2026-01-15T09:30:00.000000000Z"
    );
    assert_eq!(
        p["scanner"]["result"]["Results"][0]["Vulnerabilities"][0]["VulnerabilityID"],
        "CVE-2024-0001"
    );

    // verify-attestation prints the verified statement of the type asked for.
    let o = cli.run(&[
        "verify-attestation",
        "--key",
        &k.public,
        "--type",
        "vuln",
        &image,
    ]);
    assert_ok(&o);
    let printed: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(printed["predicateType"], VULN);
    assert!(
        stderr(&o).contains("not accepted"),
        "the cyclonedx layer is reported: {}",
        stderr(&o)
    );
    let o = cli.run(&[
        "verify-attestation",
        "--key",
        &k.public,
        "--type",
        "spdxjson",
        &image,
    ]);
    assert_fails(&o, 1, &["no valid https://spdx.dev/Document attestation"]);
    let other = cli.keypair("other");
    let o = cli.run(&[
        "verify-attestation",
        "--key",
        &other.public,
        "--type",
        "vuln",
        &image,
    ]);
    assert_fails(&o, 1, &["does not verify with any given authority"]);
    // JSON: per-attestation results.
    let o = cli.run(&[
        "verify-attestation",
        "--key",
        &k.public,
        "--type",
        "cyclonedx",
        "-o",
        "json",
        &image,
    ]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["verified"], true);
    assert_eq!(v["attestations"].as_array().unwrap().len(), 2);

    // tree lists the attestations with their predicate types.
    let o = cli.run(&["tree", &image]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains(&format!("predicate type {VULN}")),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_attestations_and_bundle_signatures_are_cosign_v3_referrers() {
    let reg = Registry::start();
    let repo = unique_repo("bundle");
    let digest = push_image(&reg.host, &repo, "1.0").await;
    let image = format!("{}/{repo}:1.0", reg.host);
    let cli = Cli::new();
    let k = cli.keypair("release");
    let pred = cli.path("test-result.json");
    std::fs::write(&pred, r#"{"passed": true}"#).unwrap();
    assert_ok(&cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&pred),
        "--type",
        "https://example.com/TestResult/v1",
        "--new-bundle-format",
        &image,
    ]));
    assert_ok(&cli.run(&["sign", "--key", &k.private, "--bundle", &image]));

    // docker-registry has no referrers API: the tag schema's index lists both bundles.
    let store = store_of(&image);
    let index = store
        .get_manifest(&ManifestRef::Tag(format!("sha256-{}", digest.hex())))
        .await
        .unwrap()
        .unwrap();
    let index = imgseal::oci::Index::from_bytes(&index.bytes).unwrap();
    assert_eq!(index.manifests.len(), 2);
    let mut predicate_types = Vec::new();
    for entry in &index.manifests {
        assert_eq!(entry.artifact_type.as_deref(), Some(BUNDLE_V03));
        assert_eq!(
            entry.annotations["dev.sigstore.bundle.content"],
            "dsse-envelope"
        );
        predicate_types.push(entry.annotations["dev.sigstore.bundle.predicateType"].clone());
        let m = manifest_at(&store, ManifestRef::Digest(entry.digest().unwrap())).await;
        assert_eq!(m.artifact_type.as_deref(), Some(BUNDLE_V03));
        assert_eq!(m.config.media_type, "application/vnd.oci.empty.v1+json");
        assert_eq!(m.subject.as_ref().unwrap().digest, digest.to_string());
        assert!(m
            .annotations
            .contains_key("org.opencontainers.image.created"));
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].media_type, BUNDLE_V03);
        assert_eq!(
            m.layers[0].annotations["org.opencontainers.image.title"],
            format!(
                "sha256-{}.sigstore.json",
                m.layers[0].digest().unwrap().hex()
            )
        );
        let bundle: Value = serde_json::from_slice(&blob(&store, &m.layers[0]).await).unwrap();
        assert_eq!(bundle["mediaType"], BUNDLE_V03);
        assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
        assert_eq!(
            bundle["verificationMaterial"]["tlogEntries"],
            serde_json::json!([])
        );
        let env = &bundle["dsseEnvelope"];
        assert!(dsse_verifies(env, &k.key), "independent DSSE check");
        let st: Value = serde_json::from_slice(&b64(env["payload"].as_str().unwrap())).unwrap();
        assert_eq!(st["subject"][0]["digest"]["sha256"], digest.hex());
        if st["predicateType"] == "https://sigstore.dev/cosign/sign/v1" {
            // cosign v3's image signature: statement v1 with an empty predicate object.
            assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
            assert_eq!(st["predicate"], serde_json::json!({}));
        }
    }
    predicate_types.sort();
    assert_eq!(
        predicate_types,
        [
            "https://example.com/TestResult/v1",
            "https://sigstore.dev/cosign/sign/v1"
        ]
    );
    // The signature verifies as a signature, the attestation as an attestation, each once.
    assert_ok(&cli.run(&["verify", "--key", &k.public, &image]));
    let o = cli.run(&[
        "verify-attestation",
        "--key",
        &k.public,
        "--type",
        "https://example.com/TestResult/v1",
        "-o",
        "json",
        &image,
    ]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["attestations"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["attestations"][0]["format"], "sigstore-bundle");
    assert_eq!(
        v["attestations"][0]["statement"]["predicate"]["passed"],
        true
    );
    // Signing again attaches nothing new (same bundle bytes).
    let o = cli.run(&["sign", "--key", &k.private, "--bundle", &image]);
    assert_ok(&o);
    assert!(stderr(&o).contains("Already signed"), "{}", stderr(&o));
    // A bundle signature cannot go to a .sig tag.
    let o = cli.run(&[
        "sign", "--key", &k.private, "--bundle", "--attach", "tag", &image,
    ]);
    assert_fails(&o, 2, &["referrers only"]);
}

/// A layout with one image and an `.att` manifest holding the envelopes given.
async fn layout_with_envelopes(dir: &Path, envelopes: &[(Value, &str)]) -> (String, Digest) {
    let (image, digest) = support::layout::image(dir, "app", b"content").await;
    let store = support::layout::open(dir);
    let mut layers = Vec::new();
    for (env, claimed) in envelopes {
        let bytes = serde_json::to_vec(env).unwrap();
        store.put_blob(&bytes).await.unwrap();
        let mut l = imgseal::oci::Descriptor::of("application/vnd.dsse.envelope.v1+json", &bytes);
        l.annotations
            .insert("predicateType".into(), claimed.to_string());
        layers.push(l);
    }
    let (m, config) = imgseal::formats::cosign::signature_manifest(layers);
    store.put_blob(&config).await.unwrap();
    store
        .put_manifest(
            &m.to_bytes().unwrap(),
            imgseal::oci::OCI_MANIFEST,
            Some(&format!("sha256-{}.att", digest.hex())),
        )
        .await
        .unwrap();
    (image, digest)
}

fn statement(subjects: &[String], predicate_type: &str) -> Vec<u8> {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|h| serde_json::json!({"name": "x", "digest": {"sha256": h}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": {"scanner": {"uri": "u", "result": null}, "metadata": {"scanFinishedOn": "2026-01-01T00:00:00Z"}},
    }))
    .unwrap()
}

/// A DSSE envelope over `payload` claiming `payload_type`, one signature per (key, PAE type).
fn envelope(payload_type: &str, payload: &[u8], signers: &[(&SigningKey, &str)]) -> Value {
    let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let sigs: Vec<Value> = signers
        .iter()
        .map(|(k, t)| serde_json::json!({"keyid": "", "sig": enc(&k.sign(&spec_pae(t, payload)))}))
        .collect();
    serde_json::json!({"payloadType": payload_type, "payload": enc(payload), "signatures": sigs})
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_envelopes_are_refused_and_good_ones_next_to_them_still_count() {
    let good = SigningKey::generate().unwrap();
    let stranger = SigningKey::generate().unwrap();
    let intoto = "application/vnd.in-toto+json";
    let dir = tempfile::tempdir().unwrap();
    // The image digest is known only after the image is written: build it first.
    let (_, digest) = support::layout::image(dir.path(), "app", b"content").await;
    let me = digest.hex().to_string();
    let other = Digest::sha256(b"another image").hex().to_string();
    let ok = statement(std::slice::from_ref(&me), VULN);
    let cases = [
        // 0: good.
        (envelope(intoto, &ok, &[(&good, intoto)]), VULN),
        // 1: two signatures, one by an unknown key.
        (
            envelope(intoto, &ok, &[(&good, intoto), (&stranger, intoto)]),
            VULN,
        ),
        // 2: the PAE was computed over another payload type.
        (envelope(intoto, &ok, &[(&good, "application/json")]), VULN),
        // 3: several subjects, none of them this image.
        (
            envelope(
                intoto,
                &statement(&[other.clone(), other.clone()], VULN),
                &[(&good, intoto)],
            ),
            VULN,
        ),
        // 4: the annotation says vuln, the signed statement is a CycloneDX SBOM.
        (
            envelope(
                intoto,
                &statement(std::slice::from_ref(&me), "https://cyclonedx.org/bom"),
                &[(&good, intoto)],
            ),
            VULN,
        ),
        // 5: signed by an untrusted key only.
        (envelope(intoto, &ok, &[(&stranger, intoto)]), VULN),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (image, _) = layout_with_envelopes(dir.path(), &cases).await;
    let verify = |any: bool| {
        let image = image.clone();
        let good = good.public_key();
        async move {
            AttestationVerifier::new(vec![Authority::key("scanner", good)])
                .with_predicate_type(Some("vuln"))
                .unwrap()
                .with_envelope_signatures(if any {
                    imgseal::attest::EnvelopeSignatures::Any
                } else {
                    imgseal::attest::EnvelopeSignatures::Every
                })
                .verify(&ImageRef::parse(&image).unwrap())
                .await
                .unwrap()
        }
    };
    let v = verify(false).await;
    assert!(v.verified);
    let results: Vec<(bool, String)> = v
        .attestations
        .iter()
        .map(|a| (a.verified, a.failure.clone().unwrap_or_default()))
        .collect();
    assert_eq!(results.len(), 6);
    assert!(results[0].0, "{results:?}");
    assert!(
        !results[1].0 && results[1].1.contains("signature 2 of 2"),
        "{results:?}"
    );
    assert!(
        !results[2].0 && results[2].1.contains("does not verify"),
        "{results:?}"
    );
    assert!(
        !results[3].0
            && results[3]
                .1
                .contains(&format!("sha256:{other}, sha256:{other}")),
        "{results:?}"
    );
    assert!(
        !results[4].0
            && results[4]
                .1
                .contains("predicate type is \"https://cyclonedx.org/bom\""),
        "{results:?}"
    );
    assert!(
        !results[5].0 && results[5].1.contains("does not verify"),
        "{results:?}"
    );
    // cosign's rule (one good signature is enough) accepts case 1, nothing else.
    let v = verify(true).await;
    let verified: Vec<bool> = v.attestations.iter().map(|a| a.verified).collect();
    assert_eq!(verified, [true, true, false, false, false, false]);
}

#[test]
fn bad_predicates_are_refused_before_anything_is_written() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let image = "127.0.0.1:1/nowhere:1";
    let not_json = cli.path("p.txt");
    std::fs::write(&not_json, "not json").unwrap();
    let o = cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&not_json),
        "--type",
        "cyclonedx",
        image,
    ]);
    assert_fails(&o, 2, &["not JSON"]);
    let big = cli.path("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let o = cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&big),
        "--type",
        "vuln",
        image,
    ]);
    assert_fails(&o, 2, &["larger than"]);
    let no_time = cli.path("trivy.json");
    std::fs::write(
        &no_time,
        r#"{"SchemaVersion":2,"ArtifactName":"x","Results":[]}"#,
    )
    .unwrap();
    let o = cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&no_time),
        "--type",
        "vuln",
        image,
    ]);
    assert_fails(&o, 2, &["no CreatedAt"]);
    let o = cli.run(&[
        "attest",
        "--key",
        &k.private,
        "--predicate",
        &arg(&no_time),
        "--type",
        "vulns",
        image,
    ]);
    assert_fails(&o, 2, &["invalid predicate type \"vulns\""]);
}

fn policy_file(cli: &Cli, key: &str, attestations: &str) -> std::path::PathBuf {
    let p = cli.path("policy.yaml");
    std::fs::write(
        &p,
        format!("version: 1\ndefaultAction: reject\nauthorities:\n  scanner: {{key: {key}}}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n{attestations}"),
    )
    .unwrap();
    p
}

#[test]
fn policies_refuse_fields_that_do_not_apply_and_cel_that_does_not_compile() {
    let cli = Cli::new();
    let k = cli.keypair("scanner");
    for (entry, want) in [
        ("      - {type: cyclonedx, authorities: {anyOf: [scanner]}, maxSeverity: HIGH}\n", "maxSeverity applies to vuln attestations only"),
        ("      - {type: vuln, authorities: {anyOf: [scanner]}, builderId: x}\n", "builderId applies to SLSA provenance"),
        ("      - {type: vuln, authorities: {anyOf: [scanner]}, ignoreUnfixed: true}\n", "ignoreUnfixed only applies with maxSeverity"),
        ("      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: SEVERE}\n", "maxSeverity \"SEVERE\""),
        ("      - {type: vuln, authorities: {anyOf: [nobody]}}\n", "unknown authority \"nobody\""),
        ("      - {type: vuln, authorities: {anyOf: [scanner]}, colour: red}\n", "unknown field `colour`"),
        ("      - {type: vuln, authorities: {anyOf: [scanner]}, conditions: ['predicate.scanner.uri ==']}\n", "<input>:1:"),
    ] {
        let p = policy_file(&cli, &k.public, entry);
        let o = cli.run(&["policy", "validate", &arg(&p)]);
        assert_fails(&o, 2, &[want]);
    }
    let p = policy_file(&cli, &k.public, "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: HIGH, maxAge: 24h, ignoreUnfixed: true, allowCVEs: [{id: CVE-1, expires: 2030-01-01}], conditions: ['predicate.scanner.uri.startsWith(\"pkg:\")']}\n");
    assert_ok(&cli.run(&["policy", "validate", &arg(&p)]));
}

/// Attest `predicate` (bytes) of `kind` on a fresh layout image; evaluate `attestations` (the
/// policy's list) at `now`; the decision's checks as (name, passed, reason).
async fn gate(
    kind: &str,
    predicate: &[u8],
    attestations: &str,
    now: Option<std::time::SystemTime>,
) -> Vec<(String, bool, String)> {
    let cli = Cli::new();
    let k = cli.keypair("scanner");
    let dir = tempfile::tempdir().unwrap();
    let (image, _) = support::layout::image(dir.path(), "app", b"x").await;
    let image = ImageRef::parse(&image).unwrap();
    Attester::new(k.key.clone())
        .attest(&image, kind, predicate)
        .await
        .unwrap();
    let p = policy_file(&cli, &k.public, attestations);
    let (policy, _) = Policy::load(&p).unwrap();
    let d = policy.with_now(now).evaluate(&image).await;
    d.checks
        .into_iter()
        .map(|c| (c.name, c.passed, c.reason))
        .collect()
}

fn failed(checks: &[(String, bool, String)], name: &str) -> Option<String> {
    checks
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, passed, reason)| {
            if *passed {
                String::new()
            } else {
                reason.clone()
            }
        })
}

fn at(rfc3339: &str) -> Option<std::time::SystemTime> {
    imgseal::util::time::parse_rfc3339(rfc3339)
}

#[tokio::test(flavor = "multi_thread")]
async fn vuln_gates_read_trivys_real_reports() {
    let Some(json) = interop("attestations/trivy/json") else {
        return;
    };
    let read = |f: &str| std::fs::read(json.join(f)).unwrap();
    let scanned = at("2021-08-25T13:00:00Z");
    // debian-buster: CRITICAL CVE-2019-18224 (fixed) and LOW CVE-2019-18276 (unfixed).
    let c = gate(
        "vuln",
        &read("debian-buster.json.golden"),
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: HIGH, maxAge: 24h}\n",
        scanned,
    )
    .await;
    let why = failed(&c, "attestation:vuln:maxSeverity").unwrap();
    assert!(
        why.contains("CVE-2019-18224 (CRITICAL, libidn2-0, fixed in 2.0.5-1+deb10u1)"),
        "{why}"
    );
    assert_eq!(failed(&c, "attestation:vuln:maxAge").unwrap(), "");
    assert_eq!(failed(&c, "attestation:vuln").unwrap(), "");
    // The same scan a day and a half later is stale.
    let c = gate(
        "vuln",
        &read("debian-buster.json.golden"),
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxAge: 24h}\n",
        at("2021-08-27T00:00:00Z"),
    )
    .await;
    assert!(
        failed(&c, "attestation:vuln:maxAge")
            .unwrap()
            .contains("limit 24h"),
        "{c:?}"
    );
    // An exception that has not expired lets the CRITICAL through; an expired one does not.
    let c = gate("vuln", &read("debian-buster.json.golden"), "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: HIGH, allowCVEs: [{id: CVE-2019-18224, expires: 2021-09-01}]}\n", scanned).await;
    assert_eq!(
        failed(&c, "attestation:vuln:maxSeverity").unwrap(),
        "",
        "{c:?}"
    );
    let c = gate("vuln", &read("debian-buster.json.golden"), "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: HIGH, allowCVEs: [{id: CVE-2019-18224, expires: 2021-08-01}]}\n", scanned).await;
    assert!(
        failed(&c, "attestation:vuln:maxSeverity")
            .unwrap()
            .contains("exception expired"),
        "{c:?}"
    );
    // distroless-base: MEDIUM findings are unfixed, so ignoreUnfixed lowers the highest to LOW.
    let c = gate(
        "vuln",
        &read("distroless-base.json.golden"),
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: LOW}\n",
        scanned,
    )
    .await;
    assert!(
        failed(&c, "attestation:vuln:maxSeverity")
            .unwrap()
            .contains("CVE-2019-1551 (MEDIUM"),
        "{c:?}"
    );
    let c = gate("vuln", &read("distroless-base.json.golden"), "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: LOW, ignoreUnfixed: true}\n", scanned).await;
    assert_eq!(
        failed(&c, "attestation:vuln:maxSeverity").unwrap(),
        "",
        "{c:?}"
    );
    // ubi-7: the HIGH is in the language-package Result; denyCVEs names it.
    let c = gate("vuln", &read("ubi-7-comprehensive.json.golden"), "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: MEDIUM, denyCVEs: [CVE-2022-40897]}\n", scanned).await;
    assert!(
        failed(&c, "attestation:vuln:maxSeverity")
            .unwrap()
            .contains("CVE-2022-40897 (HIGH, setuptools"),
        "{c:?}"
    );
    assert!(
        failed(&c, "attestation:vuln:denyCVEs")
            .unwrap()
            .contains("CVE-2022-40897"),
        "{c:?}"
    );
    // A report without Results or without Vulnerabilities has no finding.
    for f in [
        "alpine-39-skip.json.golden",
        "sl-micro-rancher5.4.json.golden",
    ] {
        let c = gate(
            "vuln",
            &read(f),
            "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: UNKNOWN}\n",
            scanned,
        )
        .await;
        assert_eq!(
            failed(&c, "attestation:vuln:maxSeverity").unwrap(),
            "",
            "{f}: {c:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vuln_gates_read_cosign_and_sarif_predicates_and_cel_conditions() {
    let Some(cosign) = interop("attestations/cosign/vuln-predicate.json") else {
        return;
    };
    let Some(sarif) = interop("attestations/trivy/sarif/alpine-310.sarif.golden") else {
        return;
    };
    let Some(docs) =
        interop("attestations/trivy/cosign-vuln/alpine-3.10.cosign-vuln.predicate.json")
    else {
        return;
    };
    // cosign's own example: no findings; CEL over it, as cosign's CUE policies check it.
    let c = gate(
        "vuln",
        &std::fs::read(&cosign).unwrap(),
        "      - type: vuln\n        authorities: {anyOf: [scanner]}\n        maxSeverity: LOW\n        conditions:\n          - predicate.scanner.uri == 'fakescanner.example.com/cosign-testing'\n          - predicate.invocation.uri == 'invocation.example.com/cosign-testing-invalid'\n          - predicate.scanner.nothing.here == 1\n",
        None,
    )
    .await;
    assert_eq!(failed(&c, "attestation:vuln:maxSeverity").unwrap(), "");
    assert_eq!(failed(&c, "attestation:vuln:condition[0]").unwrap(), "");
    let why = failed(&c, "attestation:vuln:condition[1]").unwrap();
    assert!(
        why.contains(r#"predicate.invocation.uri = "invocation.example.com/cosign-testing""#),
        "{why}"
    );
    // A run-time error fails its own check; the others were still made.
    assert!(failed(&c, "attestation:vuln:condition[2]")
        .unwrap()
        .contains("failed to evaluate"));
    // Trivy's documented cosign-vuln output: one CRITICAL.
    let c = gate(
        "vuln",
        &std::fs::read(&docs).unwrap(),
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: HIGH}\n",
        None,
    )
    .await;
    assert!(
        failed(&c, "attestation:vuln:maxSeverity")
            .unwrap()
            .contains("CVE-2021-36159 (CRITICAL, apk-tools, fixed in 2.10.7-r0)"),
        "{c:?}"
    );
    // SARIF in the predicate: the four MEDIUM findings of alpine-310.
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let predicate = serde_json::json!({
        "invocation": {}, "scanner": {"uri": "pkg:github/aquasecurity/trivy@dev", "result": sarif},
        "metadata": {"scanStartedOn": "2021-08-25T12:20:30Z", "scanFinishedOn": "2021-08-25T12:20:30Z"},
    });
    let bytes = serde_json::to_vec(&predicate).unwrap();
    let c = gate(
        "vuln",
        &bytes,
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: LOW}\n",
        None,
    )
    .await;
    let why = failed(&c, "attestation:vuln:maxSeverity").unwrap();
    assert!(why.starts_with("4 finding(s) above LOW"), "{why}");
    assert!(
        why.contains("CVE-2019-1549 (MEDIUM, libcrypto1.1, fixed in 1.1.1d-r0)"),
        "{why}"
    );
    let c = gate(
        "vuln",
        &bytes,
        "      - {type: vuln, authorities: {anyOf: [scanner]}, maxSeverity: MEDIUM}\n",
        None,
    )
    .await;
    assert_eq!(failed(&c, "attestation:vuln:maxSeverity").unwrap(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn sbom_and_slsa_gates() {
    let Some(spdx) = interop("attestations/trivy/spdx/centos-7-spdx.json") else {
        return;
    };
    let Some(cdx) =
        interop("attestations/trivy/cyclonedx/fluentd-multiple-lockfiles-short.cdx.json.golden")
    else {
        return;
    };
    let Some(slsa1) =
        interop("attestations/slsa/v1-gcb-container/v1.0-gcloud-container-github-single.json")
    else {
        return;
    };
    let c = gate(
        "spdxjson",
        &std::fs::read(&spdx).unwrap(),
        "      - {type: spdxjson, authorities: {anyOf: [scanner]}, denyPackages: [openssl-libs]}\n",
        None,
    )
    .await;
    assert!(
        failed(&c, "attestation:spdxjson:denyPackages")
            .unwrap()
            .contains("openssl-libs@1:1.0.2k-19.el7"),
        "{c:?}"
    );
    let c = gate("cyclonedx", &std::fs::read(&cdx).unwrap(), "      - {type: cyclonedx, authorities: {anyOf: [scanner]}, denyPackages: [log4j], denyLicenses: [GPL-3.0-only]}\n", None).await;
    assert_eq!(failed(&c, "attestation:cyclonedx").unwrap(), "");
    assert_eq!(
        failed(&c, "attestation:cyclonedx:denyPackages").unwrap(),
        ""
    );
    // Signed SBOM of another type does not satisfy a cyclonedx requirement.
    let c = gate(
        "spdxjson",
        &std::fs::read(&spdx).unwrap(),
        "      - {type: cyclonedx, authorities: {anyOf: [scanner]}}\n",
        None,
    )
    .await;
    assert!(
        failed(&c, "attestation:cyclonedx")
            .unwrap()
            .contains("verified attestations from none"),
        "{c:?}"
    );
    // SLSA v1 (Google Cloud Build's provenance, its predicate attested here).
    let gcb: Value = serde_json::from_slice(&std::fs::read(&slsa1).unwrap()).unwrap();
    let predicate =
        &gcb["provenance_summary"]["provenance"][0]["build"]["inTotoSlsaProvenanceV1"]["predicate"];
    let bytes = serde_json::to_vec(predicate).unwrap();
    let c = gate("slsaprovenance1", &bytes, "      - {type: slsaprovenance1, authorities: {anyOf: [scanner]}, builderId: 'https://cloudbuild.googleapis.com/GoogleHostedWorker', sourceRepository: github.com/khalkie/gcb-prod-prov, sourceRef: refs/heads/main}\n", None).await;
    for f in ["builderId", "sourceRepository", "sourceRef"] {
        assert_eq!(
            failed(&c, &format!("attestation:slsaprovenance1:{f}")).unwrap(),
            "",
            "{f}: {c:?}"
        );
    }
    let c = gate("slsaprovenance1", &bytes, "      - {type: slsaprovenance1, authorities: {anyOf: [scanner]}, builderId: 'https://example.com/other', sourceRepository: github.com/khalkie/gcb-prod-provA, sourceRef: master}\n", None).await;
    for f in ["builderId", "sourceRepository", "sourceRef"] {
        assert!(
            !failed(&c, &format!("attestation:slsaprovenance1:{f}"))
                .unwrap()
                .is_empty(),
            "{f}: {c:?}"
        );
    }
}

/// The real cosign legacy attestation of slsa-github-generator (Fulcio certificate, SLSA v0.2)
/// served from a layout at its `.att` tag, verified with a certificate authority at the time
/// it was made, then gated on its builder and source.
#[tokio::test(flavor = "multi_thread")]
async fn real_cosign_slsa_attestation_verifies_with_its_certificate() {
    let Some(src) = interop("attestations/slsa/v0.2-gha-container/container_workflow_dispatch")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (digest, att) = support::layout::slsa_attestation(&src, dir.path(), |att| att).await;
    // The root of the chain the layer carries is the trust root; the SAN URI the identity.
    let m = ImageManifest::from_bytes(&att).unwrap();
    let chain = imgseal::pki::load_pem_certificates(
        m.layers[0].annotations["dev.sigstore.cosign/chain"].as_bytes(),
    )
    .unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, chain.last().unwrap().to_pem()).unwrap();
    let identity = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";
    let trust = imgseal::trust::CertificateTrust::load(&roots, Some(identity.into())).unwrap();
    let built = at("2025-02-25T22:00:00Z");
    let image = ImageRef::parse(&format!("oci:{}:main", dir.path().display())).unwrap();
    let v = AttestationVerifier::new(vec![Authority::certificate("slsa", trust.clone())])
        .with_predicate_type(Some("slsaprovenance"))
        .unwrap()
        .with_now(built)
        .verify(&image)
        .await
        .unwrap();
    assert!(v.verified, "{}", v.failure_summary());
    let st = v.statements().next().unwrap();
    assert_eq!(st.subject[0].digest["sha256"], digest.hex());
    // Out of the certificate's ten minutes it no longer verifies.
    let v = AttestationVerifier::new(vec![Authority::certificate("slsa", trust)])
        .with_now(at("2025-03-01T00:00:00Z"))
        .verify(&image)
        .await
        .unwrap();
    assert!(!v.verified);
    // The policy: builder id and source, as slsa-verifier's regression test expects.
    let cli = Cli::new();
    let p = cli.path("policy.yaml");
    let write = |source: &str, reference: &str| {
        std::fs::write(&p, format!("version: 1\ndefaultAction: reject\nauthorities:\n  slsa: {{certificateRoots: {}, identity: '{identity}'}}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n      - {{type: slsaprovenance, authorities: {{anyOf: [slsa]}}, builderId: '{identity}', sourceRepository: '{source}', sourceRef: {reference}}}\n", roots.display())).unwrap();
        Policy::load(&p).unwrap().0.with_now(built)
    };
    let d = write(
        "github.com/slsa-framework/example-package",
        "refs/heads/main",
    )
    .evaluate(&image)
    .await;
    assert!(d.allowed, "{:?}", d.checks);
    let d = write("github.com/slsa-framework/example-packageA", "master")
        .evaluate(&image)
        .await;
    let failed: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "attestation:slsaprovenance:sourceRepository",
            "attestation:slsaprovenance:sourceRef"
        ]
    );
}

/// cosign v3's real attestation bundle, attached as a referrer of another image: discovered as
/// a bundle, and never accepted (its statement's subject is the image it was made for; it is
/// Fulcio-signed, not by the key given).
#[tokio::test(flavor = "multi_thread")]
async fn real_cosign_v3_attestation_bundle_is_read_and_not_accepted_for_another_image() {
    let Some(path) = interop("keyless/sigstore-cosign/oci-attestation.sigstore.json") else {
        return;
    };
    let bundle = std::fs::read(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (image, digest) = support::layout::image(dir.path(), "app", b"x").await;
    let store = support::layout::open(dir.path());
    let manifest = store
        .get_manifest(&ManifestRef::Digest(digest.clone()))
        .await
        .unwrap()
        .unwrap();
    store.put_blob(imgseal::oci::EMPTY_BLOB).await.unwrap();
    store.put_blob(&bundle).await.unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": imgseal::oci::OCI_MANIFEST, "artifactType": BUNDLE_V03,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": Digest::sha256(b"{}").to_string()},
        "layers": [{"mediaType": BUNDLE_V03, "size": bundle.len(), "digest": Digest::sha256(&bundle).to_string()}],
        "subject": {"mediaType": manifest.media_type, "size": manifest.bytes.len(), "digest": digest.to_string()},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://cosign.sigstore.dev/attestation/v1"},
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    let mut entry = imgseal::oci::Descriptor::of(imgseal::oci::OCI_MANIFEST, &bytes);
    entry.artifact_type = Some(BUNDLE_V03.into());
    store
        .attach_referrer(&digest, &bytes, imgseal::oci::OCI_MANIFEST, entry)
        .await
        .unwrap();
    let v = AttestationVerifier::new(vec![Authority::key(
        "k",
        SigningKey::generate().unwrap().public_key(),
    )])
    .verify(&ImageRef::parse(&image).unwrap())
    .await
    .unwrap();
    assert!(!v.verified);
    assert_eq!(v.attestations.len(), 1, "{v:?}");
    let a = &v.attestations[0];
    assert_eq!(a.format, "sigstore-bundle");
    assert_eq!(
        a.predicate_type.as_deref(),
        Some("https://cosign.sigstore.dev/attestation/v1")
    );
    assert!(
        a.failure.as_deref().unwrap().contains("does not verify"),
        "{a:?}"
    );
}

/// docs/attestations.md shows the gate policy that tests/docs.rs runs: the same text.
#[test]
fn the_guide_shows_the_policy_it_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/attestations.md")).unwrap();
    let start = guide.find("```yaml\n").unwrap() + "```yaml\n".len();
    let shown: String = guide[start..start + guide[start..].find("```").unwrap()]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let file =
        std::fs::read_to_string(root.join("testdata/attestations/gate-policy.yaml")).unwrap();
    assert_eq!(shown.trim_end(), file.trim_end());
}

/// Several attestations that fail: a headline, then one line each (not one `;`-joined line).
#[test]
fn several_failed_attestations_get_one_line_each() {
    let cli = Cli::new();
    let k = cli.keypair("k");
    let other = cli.keypair("other");
    let (image, _) = support::layout::image_blocking(&cli.path("app"), "v1", b"two attestations");
    let predicate = cli.path("p.json");
    for n in 1..=2 {
        std::fs::write(&predicate, format!(r#"{{"run":{n}}}"#)).unwrap();
        assert_ok(&cli.run(&[
            "attest",
            "--key",
            &k.private,
            "--predicate",
            predicate.to_str().unwrap(),
            &image,
        ]));
    }
    let o = cli.run(&["verify-attestation", "--key", &other.public, &image]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].contains("none of 2 attestations verified"),
        "{err}"
    );
    let each: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("imgseal:   ") && l.contains("does not verify"))
        .collect();
    assert_eq!(each.len(), 2, "{err}");
}
