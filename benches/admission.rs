//! Benchmark: the admission webhook and `k8s verify` on a loopback docker-registry.
//!
//! `cargo bench --bench admission` (add `-- quick` for a short run). Prints:
//! - reviews per second and p50/p99 latency at the client, over HTTPS, for cached reviews
//!   (one signed image, reviewed again and again) and uncached ones (a Pod with one signed
//!   image, a fresh image every review, so every review resolves and verifies);
//! - how many verifications a Deployment whose 8 containers share one image costs (from the
//!   cache's miss counter in /metrics: 1, not 8);
//! - `imgseal k8s verify` over a directory of 10,000 objects referencing 500 distinct images:
//!   wall time and registry requests (from the registry's access log).
//!
//! Targets (issue 15): cached p99 ≤ 1 ms and ≥ 5,000 cached reviews/s; uncached p99 ≤ 50 ms;
//! 10,000 objects / 500 images ≤ 5 s. The client runs in this process on the same 2 cores as
//! the server and the registry, so its own cost is in the numbers.

#[path = "../tests/support/registry.rs"]
mod common;

use common::{push_image_to, Registry};
use futures_util::StreamExt as _;
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::{Signer, SigningKey};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn review(image: &str, uid: usize) -> Vec<u8> {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("u-{uid}"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "namespace": "team", "operation": "CREATE",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "app", "image": image}]}}}})
    .to_string()
    .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Send `bodies` with `concurrency` in flight; (wall time, latencies sorted).
async fn load(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let mut lat: Vec<Duration> = futures_util::stream::iter(bodies)
        .map(|b| {
            let client = client.clone();
            let url = url.to_string();
            async move {
                let t = Instant::now();
                let r = client.post(&url).body(b).send().await.expect("review");
                assert_eq!(r.status(), 200);
                let v: serde_json::Value =
                    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
                assert_eq!(v["response"]["allowed"], true, "{v}");
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = start.elapsed();
    lat.sort();
    (wall, lat)
}

fn report(what: &str, wall: Duration, lat: &[Duration]) {
    println!(
        "{what}: {} reviews in {:.2} s = {:.0} reviews/s; p50 {:.3} ms, p99 {:.3} ms",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(lat, 0.50).as_secs_f64() * 1e3,
        percentile(lat, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let (cached_n, uncached_n, objects, distinct) = if quick {
        (2_000, 50, 1_000, 50)
    } else {
        (20_000, 300, 10_000, 500)
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reg = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = SigningKey::generate().expect("key");
    std::fs::write(d.join("release.pub"), key.public_key().to_pem()).expect("key file");

    // Images: `distinct` for k8s verify (also the uncached reviews), all signed.
    let h = reg.host.clone();
    let images: Vec<String> = rt.block_on(async {
        let options = StoreOptions::default();
        futures_util::stream::iter(0..distinct.max(uncached_n + 2))
            .map(|i| {
                let (h, key, options) = (h.clone(), key.clone(), options.clone());
                async move {
                    let name = format!("{h}/bench/app{i}:1.0.0");
                    let image = ImageRef::parse(&name).expect("ref");
                    let store = Store::open(&image, &options, true).expect("store");
                    push_image_to(&store, "1.0.0", format!("layer {i}").as_bytes()).await;
                    Signer::new(key)
                        .with_options(options)
                        .sign(&image, &BTreeMap::new())
                        .await
                        .expect("sign");
                    name
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    });
    std::fs::write(
        d.join("policy.yaml"),
        format!("version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: release.pub}}\nrules:\n  - name: ours\n    images: ['{h}/**']\n    authorities: {{anyOf: [release]}}\n"),
    )
    .expect("policy");

    // The webhook, on a self-signed certificate.
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let cert = params.self_signed(&ca_key).expect("cert");
    std::fs::write(d.join("tls.crt"), cert.pem()).expect("crt");
    std::fs::write(d.join("tls.key"), ca_key.serialize_pem()).expect("key");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let bin = env!("CARGO_BIN_EXE_imgseal");
    let mut server = Command::new(bin)
        .args([
            "admission",
            "serve",
            "--policy",
            "policy.yaml",
            "--tls-cert",
            "tls.crt",
            "--tls-key",
            "tls.key",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.pem().as_bytes()).expect("ca")])
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let base = format!("https://127.0.0.1:{port}");
    rt.block_on(async {
        let start = Instant::now();
        while client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "webhook did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = format!("{base}/validate");
        // Uncached: a fresh image every review, one at a time (latency of a cold review).
        let bodies: Vec<Vec<u8>> = (0..uncached_n).map(|i| review(&images[i + 1], i)).collect();
        let (wall, lat) = load(&client, &url, bodies, 1).await;
        report("uncached (Pod, 1 signed image, sequential)", wall, &lat);
        // Cached: one image, reviewed again and again, 32 in flight.
        let _ = load(&client, &url, vec![review(&images[0], 0)], 1).await;
        let bodies: Vec<Vec<u8>> = (0..cached_n).map(|i| review(&images[0], i)).collect();
        let (wall, lat) = load(&client, &url, bodies, 32).await;
        report("cached (32 in flight)", wall, &lat);
        let bodies: Vec<Vec<u8>> = (0..cached_n / 4).map(|i| review(&images[0], i)).collect();
        let (wall, lat) = load(&client, &url, bodies, 1).await;
        report("cached (sequential)", wall, &lat);
        // A Deployment whose 8 containers use one image never reviewed before.
        let metrics = |t: String| -> u64 {
            t.lines()
                .find(|l| l.starts_with("imgseal_cache_misses_total "))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let before = metrics(client.get(format!("{base}/metrics")).send().await.expect("m").text().await.expect("t"));
        let fresh = &images[uncached_n + 1]; // never reviewed
        let cs: Vec<serde_json::Value> = (0..8).map(|i| json!({"name": format!("c{i}"), "image": fresh})).collect();
        let deploy = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "d", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "namespace": "team",
            "operation": "CREATE", "object": {"kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": cs}}}}}});
        let _ = load(&client, &url, vec![deploy.to_string().into_bytes()], 1).await;
        let after = metrics(client.get(format!("{base}/metrics")).send().await.expect("m").text().await.expect("t"));
        println!(
            "Deployment with 8 containers of one image: {} verification(s)",
            after - before
        );
    });
    let _ = server.kill();
    let _ = server.wait();

    // k8s verify over `objects` objects referencing `distinct` images.
    let m = d.join("manifests");
    std::fs::create_dir_all(&m).expect("dir");
    for f in 0..(objects / 100) {
        let mut text = String::new();
        for o in 0..100 {
            let i = f * 100 + o;
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers:\n    - {{name: c, image: {}}}\n",
                images[i % distinct]
            ));
        }
        std::fs::write(m.join(format!("m{f}.yaml")), text).expect("manifest");
    }
    let before = reg.logged_requests();
    let t = Instant::now();
    let out = Command::new(bin)
        .args([
            "k8s",
            "verify",
            "-f",
            "manifests",
            "--policy",
            "policy.yaml",
            "-o",
            "json",
        ])
        .current_dir(d)
        .output()
        .expect("k8s verify");
    let wall = t.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = reg.logged_requests() - before;
    println!(
        "k8s verify: {objects} objects, {distinct} distinct images: {:.2} s wall, {requests} registry requests ({:.1} per distinct image)",
        wall.as_secs_f64(),
        requests as f64 / distinct as f64
    );
}
