//! Benchmark: attestations on a loopback registry (Debian's docker-registry).
//!
//! 1. `AttestationVerifier::verify` of one image with 1, 10 and 100 attestations attached
//!    (legacy `.att` layers): wall time and registry requests;
//! 2. a policy evaluation (`Policy::evaluate_many`, 16 at a time) of 1,000 images, each with a
//!    vuln attestation, against a rule with `maxSeverity` and a CEL condition (issue 11
//!    target: ≤ 4 s).
//!
//! `cargo bench --bench attestations` (add `-- 200` for fewer images in part 2).

#[path = "../tests/support/registry.rs"]
mod common;

use common::{push_image_to, Registry};
use futures_util::StreamExt as _;
use imgseal::attest::{AttestationVerifier, Attester, Authority};
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::{Policy, SigningKey};
use std::time::Instant;

const REPORT: &str = r#"{"SchemaVersion":2,"Trivy":{"Version":"0.58.1"},"CreatedAt":"2026-01-15T09:30:00Z","ArtifactName":"app","Results":[{"Target":"app","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-0003","PkgName":"zlib1g","InstalledVersion":"1.2.13","FixedVersion":"1.3.1","Severity":"MEDIUM"}]}]}"#;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reg = Registry::start();
    let key = SigningKey::generate().expect("key");
    let options = StoreOptions::default();

    println!("verify-attestation of one image (legacy .att layers, type custom):");
    for count in [1usize, 10, 100] {
        let name = format!("{}/bench/many{count}:1.0", reg.host);
        let image = ImageRef::parse(&name).expect("ref");
        rt.block_on(async {
            let store = Store::open(&image, &options, true).expect("store");
            push_image_to(&store, "1.0", format!("many {count}").as_bytes()).await;
            let attester = Attester::new(key.clone()).with_options(options.clone());
            for i in 0..count {
                attester
                    .attest(&image, "custom", format!("run {i}").as_bytes())
                    .await
                    .expect("attest");
            }
        });
        let verifier = AttestationVerifier::new(vec![Authority::key("ci", key.public_key())])
            .with_predicate_type(Some("custom"))
            .expect("type")
            .with_options(options.clone());
        // One warm-up run (connections), then the measured one.
        rt.block_on(verifier.verify(&image)).expect("verify");
        let t = Instant::now();
        let v = rt.block_on(verifier.verify(&image)).expect("verify");
        let wall = t.elapsed();
        assert_eq!(
            v.verified_attestations().count(),
            count,
            "{}",
            v.failure_summary()
        );
        println!(
            "  {count:>3} attestations: {:>8.1} ms, {} registry requests",
            wall.as_secs_f64() * 1000.0,
            v.requests
        );
    }

    let t = Instant::now();
    let images: Vec<ImageRef> = rt.block_on(async {
        futures_util::stream::iter(0..n)
            .map(|i| {
                let (host, key, options) = (reg.host.clone(), key.clone(), options.clone());
                async move {
                    let tag = format!("1.0.{}", i / 50);
                    let image =
                        ImageRef::parse(&format!("{host}/bench/app{}:{tag}", i % 50)).expect("ref");
                    let store = Store::open(&image, &options, true).expect("store");
                    push_image_to(&store, &tag, format!("layer {i}").as_bytes()).await;
                    Attester::new(key)
                        .with_options(options)
                        .attest(&image, "vuln", REPORT.as_bytes())
                        .await
                        .expect("attest");
                    image
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    });
    eprintln!(
        "setup: {n} attested images in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("scanner.pub"), key.public_key().to_pem()).expect("key");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "version: 1\ndefaultAction: reject\nauthorities:\n  scanner: {key: scanner.pub}\nrules:\n  - name: all\n    images: ['**']\n    attestations:\n      - type: vuln\n        authorities: {anyOf: [scanner]}\n        maxSeverity: HIGH\n        conditions: ['predicate.scanner.uri.startsWith(\"pkg:\")']\n",
    )
    .expect("policy");
    let (policy, _) = Policy::load(&policy).expect("load");
    let policy = policy.with_options(options.clone());
    let registry_pid = child_pids().into_iter().next();
    let (own_before, reg_before) = (cpu_ticks("self"), registry_pid.as_deref().map(cpu_ticks));
    let t = Instant::now();
    let decisions = rt.block_on(policy.evaluate_many(&images, 16, |_, _| {}));
    let wall = t.elapsed();
    let own_cpu = (cpu_ticks("self") - own_before) as f64 / 100.0;
    let registry_cpu = match (registry_pid, reg_before) {
        (Some(p), Some(b)) => (cpu_ticks(&p) - b) as f64 / 100.0,
        _ => f64::NAN,
    };
    let allowed = decisions.iter().filter(|d| d.allowed).count();
    let requests: u64 = decisions.iter().map(|d| d.requests).sum();
    assert_eq!(allowed, n, "{:?}", decisions.iter().find(|d| !d.allowed));
    println!(
        "policy evaluation of {n} images with a vuln attestation: {:.2} s wall ({:.2} ms/image), {:.2} requests/image, CPU: imgseal {own_cpu:.2} s, registry {registry_cpu:.2} s ({:.2} ms per request); target ≤ 4 s for 1,000",
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1000.0 / n as f64,
        requests as f64 / n as f64,
        registry_cpu * 1000.0 / requests.max(1) as f64
    );
}

/// CPU time (user + system, in clock ticks of 1/100 s) of process `pid` (`self` for this one).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // utime and stime are fields 14 and 15, after the parenthesised command name.
    let f: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// This process's children (the registry), from `/proc/self/task/*/children`.
fn child_pids() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(children.split_whitespace().map(str::to_string));
    }
    out
}
