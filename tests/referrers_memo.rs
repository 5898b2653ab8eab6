//! The session's memo of repositories without the OCI referrers API (issue 11's performance
//! target): on Debian's docker-registry (CNCF distribution 2.8, which answers the referrers
//! API with a plain `404`) the API is probed once per repository and minute, not per image,
//! while the referrers tag schema is still read for every image; so a referrer written to the
//! fallback tag after the memo was taken is still found, and a newer critical scan attached
//! that way still denies. On a registry with the API (ferro-oci-server) nothing is remembered.
//! Within one evaluation (one read-only repository) each tag is read once, whatever the number
//! of attestation requirements; the next evaluation reads it again.

mod support;

use imgseal::attest::{AttestationVerifier, Attester, Authority};
use imgseal::reference::ImageRef;
use imgseal::store::StoreOptions;
use imgseal::{Policy, SigningKey};
use support::ferro::Ferro;
use support::registry::*;

/// Referrers API requests the registry logged (its access log).
fn api_probes(reg: &Registry) -> usize {
    std::fs::read_to_string(reg.dir.path().join("registry.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("/referrers/sha256:"))
        .count()
}

fn report(created: &str, severity: &str) -> String {
    format!(
        r#"{{"SchemaVersion":2,"Trivy":{{"Version":"0.58.1"}},"CreatedAt":"{created}","ArtifactName":"app","Results":[{{"Target":"app","Vulnerabilities":[{{"VulnerabilityID":"CVE-2024-0009","PkgName":"zlib1g","InstalledVersion":"1.2.13","FixedVersion":"1.3.1","Severity":"{severity}"}}]}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_without_the_api_is_probed_once_and_later_fallback_referrers_still_count() {
    let reg = Registry::start();
    let repo = unique_repo("memo");
    push_image(&reg.host, &repo, "a").await;
    push_image(&reg.host, &repo, "b").await;
    let (a, b) = (
        ImageRef::parse(&format!("{}/{repo}:a", reg.host)).unwrap(),
        ImageRef::parse(&format!("{}/{repo}:b", reg.host)).unwrap(),
    );
    let key = SigningKey::generate().unwrap();
    // One session for every read below, as in one CLI run or webhook process.
    let options = StoreOptions::default();
    let verifier = custom_verifier(&key, &options);

    // a: nothing attached. The API is probed (404), the fallback tag read: 4 requests.
    let v = verifier.verify(&a).await.unwrap();
    assert!(!v.verified);
    assert_eq!(
        v.requests, 4,
        "manifest, .att tag, referrers API, fallback tag"
    );
    assert_eq!(api_probes(&reg), 1);

    // Another client (its own session) then attaches a bundle attestation to a, which on
    // this registry goes to the fallback tag only.
    Attester::new(key.clone())
        .with_bundle(true)
        .attest(&a, "custom", br#"{"run": 1}"#)
        .await
        .unwrap();
    let probes = api_probes(&reg);

    // b, then a again: the API is not probed again, but the fallback tag still is, so the
    // referrer written after the memo was taken is found.
    let v = verifier.verify(&b).await.unwrap();
    assert!(!v.verified);
    assert_eq!(v.requests, 3, "manifest, .att tag, fallback tag");
    let v = verifier.verify(&a).await.unwrap();
    assert!(v.verified, "{}", v.failure_summary());
    assert!(
        v.attestations[0].source.starts_with("referrers tag schema"),
        "{}",
        v.attestations[0].source
    );
    assert_eq!(api_probes(&reg), probes, "no second probe of the API");
    // Without the memo (a fresh session) the same lookup costs the probe again.
    let fresh = verifier.clone().with_options(StoreOptions::default());
    let again = fresh.verify(&a).await.unwrap();
    assert!(again.verified);
    assert_eq!(again.requests, v.requests + 1);
    assert_eq!(api_probes(&reg), probes + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_critical_scan_in_the_fallback_tag_denies_although_the_probe_is_remembered() {
    let reg = Registry::start();
    let repo = unique_repo("memo-gate");
    push_image(&reg.host, &repo, "1.0").await;
    let image = ImageRef::parse(&format!("{}/{repo}:1.0", reg.host)).unwrap();
    let key = SigningKey::generate().unwrap();
    Attester::new(key.clone())
        .attest(
            &image,
            "vuln",
            report("2026-01-15T09:30:00Z", "MEDIUM").as_bytes(),
        )
        .await
        .unwrap();
    let (policy, _dir) = load_policy(
        &key,
        "scanner.pub",
        "version: 1\ndefaultAction: reject\nauthorities:\n  scanner: {key: scanner.pub}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n      - type: vuln\n        authorities: {anyOf: [scanner]}\n        maxSeverity: HIGH\n",
    );

    let d = policy.evaluate(&image).await;
    assert!(d.allowed, "{d:?}");
    assert_eq!(api_probes(&reg), 1);

    // A newer scan finds a CRITICAL vulnerability; it is attached as a bundle referrer, which
    // lands in the fallback tag, after the evaluation above remembered "no referrers API".
    Attester::new(key.clone())
        .with_bundle(true)
        .attest(
            &image,
            "vuln",
            report("2026-01-16T09:30:00Z", "CRITICAL").as_bytes(),
        )
        .await
        .unwrap();
    let probes = api_probes(&reg);
    let d = policy.evaluate(&image).await;
    assert!(!d.allowed, "the newer critical scan must deny: {d:?}");
    assert!(
        d.checks
            .iter()
            .any(|c| !c.passed && c.reason.contains("CVE-2024-0009")),
        "{d:?}"
    );
    assert_eq!(api_probes(&reg), probes, "the API probe was remembered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_with_the_api_is_asked_every_time() {
    let ferro = Ferro::start();
    let repo = unique_repo("memo-api");
    push_image(&ferro.host, &repo, "1.0").await;
    let image = ImageRef::parse(&format!("{}/{repo}:1.0", ferro.host)).unwrap();
    let key = SigningKey::generate().unwrap();
    let options = StoreOptions::default();
    let verifier = custom_verifier(&key, &options);
    // An empty referrers list (200) is the API answering, not its absence.
    let v = verifier.verify(&image).await.unwrap();
    assert!(!v.verified);
    assert_eq!(v.requests, 3, "manifest, .att tag, referrers API");
    Attester::new(key.clone())
        .with_bundle(true)
        .with_options(options.clone())
        .attest(&image, "custom", br#"{"run": 1}"#)
        .await
        .unwrap();
    let v = verifier.verify(&image).await.unwrap();
    assert!(v.verified, "{}", v.failure_summary());
    assert!(
        v.attestations[0].source.starts_with("referrers API"),
        "{}",
        v.attestations[0].source
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_evaluation_reads_each_tag_once_for_all_its_attestation_requirements() {
    let reg = Registry::start();
    let repo = unique_repo("memo-tags");
    push_image(&reg.host, &repo, "1.0").await;
    let image = ImageRef::parse(&format!("{}/{repo}:1.0", reg.host)).unwrap();
    let key = SigningKey::generate().unwrap();
    let attester = Attester::new(key.clone());
    attester
        .attest(
            &image,
            "vuln",
            report("2026-01-15T09:30:00Z", "MEDIUM").as_bytes(),
        )
        .await
        .unwrap();
    attester
        .attest(
            &image,
            "cyclonedx",
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#,
        )
        .await
        .unwrap();
    let (policy, _dir) = load_policy(
        &key,
        "k.pub",
        "version: 1\ndefaultAction: reject\nauthorities:\n  k: {key: k.pub}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n      - type: vuln\n        authorities: {anyOf: [k]}\n        maxSeverity: HIGH\n      - type: cyclonedx\n        authorities: {anyOf: [k]}\n",
    );
    let d = policy.evaluate(&image).await;
    assert!(d.allowed, "{d:?}");
    // The image's manifest; the .att tag, the referrers API (404) and the fallback tag once
    // for both requirements; each requirement's envelope.
    assert_eq!(d.requests, 6, "{d:?}");
    // A second evaluation reads the tags again (a new attestation would be seen), but does
    // not probe the referrers API again.
    let d = policy.evaluate(&image).await;
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.requests, 5, "{d:?}");
}

/// A policy from `yaml` (with a fresh store session), its authority key file `key_file`
/// holding `key`'s public half; the directory holding both is returned to keep it alive.
fn load_policy(key: &SigningKey, key_file: &str, yaml: &str) -> (Policy, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(key_file), key.public_key().to_pem()).unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (policy, _) = Policy::load(&file).unwrap();
    (policy.with_options(StoreOptions::default()), dir)
}

/// A verifier of `custom` attestations signed by `key`, reading through `options`' session.
fn custom_verifier(key: &SigningKey, options: &StoreOptions) -> AttestationVerifier {
    AttestationVerifier::new(vec![Authority::key("ci", key.public_key())])
        .with_predicate_type(Some("custom"))
        .unwrap()
        .with_options(options.clone())
}
