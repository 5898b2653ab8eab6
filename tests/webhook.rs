//! `imgseal admission serve`: the real binary serving real HTTPS on loopback, against the real
//! docker-registry with signed and unsigned images, driven with real AdmissionReview JSON.
//! Covers /validate, /mutate, bad bodies, the caches' metrics, a policy that becomes invalid
//! while serving, and TLS files replaced mid-run.

mod support;

use base64::Engine as _;
use imgseal::{Signer, SigningKey};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::registry::*;

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(ca_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let mut args: Vec<String> = [
        "admission",
        "serve",
        "--policy",
        "policy.yaml",
        "--tls-cert",
        "tls.crt",
        "--tls-key",
        "tls.key",
        "--reload-interval",
        "1s",
        "--addr",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("127.0.0.1:{port}"));
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new(env!("CARGO_BIN_EXE_imgseal"))
        .args(&args)
        .current_dir(dir)
        .env("DOCKER_CONFIG", dir.join("docker"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server { child, port }
}

async fn wait_ready(c: &reqwest::Client, port: u16) {
    let start = Instant::now();
    loop {
        if let Ok(r) = c
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the webhook did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn review_of(image: &str, uid: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "team", "operation": "CREATE",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
                   "spec": {"containers": [{"name": "app", "image": image}]}},
        "oldObject": null, "dryRun": false}})
}

async fn post(c: &reqwest::Client, port: u16, path: &str, body: Vec<u8>) -> (u16, String) {
    let r = c
        .post(format!("https://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(c: &reqwest::Client, port: u16, path: &str) -> (u16, String) {
    let r = c
        .get(format!("https://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn the_webhook_serves_reviews_over_https() {
    let reg = Registry::start();
    let h = reg.host.clone();
    let digest = push_image(&h, "team/app", "1.0.0").await;
    push_image(&h, "team/unsigned", "1.0.0").await;
    let key = SigningKey::generate().unwrap();
    let signed = format!("{h}/team/app:1.0.0");
    let unsigned = format!("{h}/team/unsigned:1.0.0");
    Signer::new(key.clone())
        .sign(
            &imgseal::ImageRef::parse(&signed).unwrap(),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("docker")).unwrap();
    write(d, "release.pub", &key.public_key().to_pem());
    let good_policy = format!("version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: release.pub}}\nrules:\n  - name: ours\n    images: ['{h}/**']\n    authorities: {{anyOf: [release]}}\n");
    write(d, "policy.yaml", &good_policy);
    let (ca, cert, tls_key) = support::pki::tls_server("first");
    write(d, "tls.crt", &cert);
    write(d, "tls.key", &tls_key);
    let server = start(d, &[]);
    let c = client(&ca);
    wait_ready(&c, server.port).await;
    let port = server.port;

    // /validate: signed allowed, unsigned denied naming the image and the check; uid echoed.
    let (code, body) = post(
        &c,
        port,
        "/validate",
        review_of(&signed, "u-1").to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["uid"], "u-1");
    assert_eq!(v["response"]["allowed"], true, "{v}");
    assert!(v["response"]["patch"].is_null());
    let (_, body) = post(
        &c,
        port,
        "/validate",
        review_of(&unsigned, "u-2").to_string().into_bytes(),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&unsigned) && msg.contains("signature"),
        "{msg}"
    );

    // /mutate: a base64 JSONPatch pinning the tag.
    let (_, body) = post(
        &c,
        port,
        "/mutate",
        review_of(&signed, "u-3").to_string().into_bytes(),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["patchType"], "JSONPatch", "{v}");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        patch,
        json!([{"op": "replace", "path": "/spec/containers/0/image", "value": format!("{signed}@{digest}")}])
    );

    // Bad bodies: HTTP 400 with a message, 413 past the cap; the server keeps serving.
    let (code, body) = post(&c, port, "/validate", b"{not json".to_vec()).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not JSON"), "{body}");
    let (code, _) = post(
        &c,
        port,
        "/validate",
        br#"{"kind":"AdmissionReview"}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 400);
    // (its own client: the server drops a connection whose body it refused to read)
    let (code, _) = post(&client(&ca), port, "/validate", vec![b' '; 4 * 1024 * 1024]).await;
    assert_eq!(code, 413);
    assert_eq!(get(&c, port, "/healthz").await.0, 200);

    // The second review of the signed image is a cache hit; metrics say so.
    let (_, metrics) = get(&c, port, "/metrics").await;
    assert!(
        metrics.contains("imgseal_admission_decisions_total{result=\"allow\",mode=\"enforce\",webhook=\"validate\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("imgseal_admission_decisions_total{result=\"deny\",mode=\"enforce\",webhook=\"validate\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("imgseal_cache_hits_total 1"), "{metrics}");
    assert!(
        metrics.contains("imgseal_admission_review_duration_seconds_bucket"),
        "{metrics}"
    );
    assert_eq!(get(&c, port, "/readyz").await, (200, "ready".to_string()));

    // A policy that becomes invalid keeps the last good one serving, and says so.
    write(d, "policy.yaml", "version: 1\ndefaultAction: [broken\n");
    let start = Instant::now();
    loop {
        let (_, r) = get(&c, port, "/readyz").await;
        if r.contains("refused") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "reload not noticed: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = post(
        &c,
        port,
        "/validate",
        review_of(&signed, "u-4").to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"],
        true
    );
    assert!(get(&c, port, "/metrics")
        .await
        .1
        .contains("imgseal_policy_reload_failures_total 1"));
    // A valid new policy is picked up: now everything from this registry is denied.
    write(
        d,
        "policy.yaml",
        &good_policy.replace(
            "anyOf: [release]}",
            "anyOf: [release]}\n    tags: {deny: ['1.0.0']}",
        ),
    );
    let start = Instant::now();
    loop {
        let (_, body) = post(
            &c,
            port,
            "/validate",
            review_of(&signed, "u-5").to_string().into_bytes(),
        )
        .await;
        if serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"] == false {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "new policy not loaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&c, port, "/readyz").await, (200, "ready".to_string()));

    // A bounded load from this (second) process: 400 reviews, 16 in flight, every one answered.
    let bodies: Vec<Vec<u8>> = (0..400)
        .map(|i| {
            review_of(&unsigned, &format!("load-{i}"))
                .to_string()
                .into_bytes()
        })
        .collect();
    use futures_util::StreamExt as _;
    let answers: Vec<(u16, String)> = futures_util::stream::iter(bodies)
        .map(|b| {
            let c = c.clone();
            async move { post(&c, port, "/validate", b).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(answers.len(), 400);
    for (code, body) in &answers {
        assert_eq!(*code, 200, "{body}");
        assert!(body.contains("\"allowed\":false"), "{body}");
    }
    assert_eq!(get(&c, port, "/healthz").await.0, 200);

    // TLS files replaced mid-run: new connections get the new certificate.
    let (ca2, cert2, key2) = support::pki::tls_server("second");
    write(d, "tls.key", &key2);
    write(d, "tls.crt", &cert2);
    let c2 = client(&ca2);
    let start = Instant::now();
    loop {
        if c2
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "new certificate not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        client(&ca)
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err(),
        "the old certificate is no longer served"
    );
}

#[test]
fn bad_serve_arguments_fail_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "policy.yaml", "version: 1\ndefaultAction: allow\n");
    write(d, "tls.crt", "not a certificate");
    write(d, "tls.key", "not a key");
    let out = Command::new(env!("CARGO_BIN_EXE_imgseal"))
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
            "127.0.0.1:0",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
