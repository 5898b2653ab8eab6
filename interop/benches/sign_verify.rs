//! Benchmark: sign and verify one image on a loopback registry (Debian's docker-registry), with
//! imgseal and with sigstore-rs's cosign module, printing wall time and registry requests.
//!
//! Run with `cargo bench -p imgseal-interop --bench sign_verify`. Requests are counted twice:
//! by imgseal's own counter and independently from the registry's access log.

#[path = "../../tests/support/registry.rs"]
mod common;

use common::{push_image, unique_repo, Registry};
use imgseal::{ImageRef, Signer, SigningKey, Verifier};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const ROUNDS: u32 = 20;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let reg = Registry::start();
    let repo = unique_repo("bench");
    let digest = push_image(&reg.host, &repo, "v1").await;
    let image = ImageRef::parse(&format!("{}/{repo}:v1", reg.host)).expect("reference");
    let key = SigningKey::generate().expect("key");
    let public = key.public_key();
    let none = BTreeMap::new();

    let before = reg.logged_requests();
    let t = Instant::now();
    let signed = Signer::new(key).sign(&image, &none).await.expect("sign");
    let sign_time = t.elapsed();
    settle().await;
    let sign_logged = reg.logged_requests() - before;

    // imgseal verify: a fresh Verifier (fresh connections) per round, like one CLI run.
    let mut imgseal_total = Duration::ZERO;
    let mut imgseal_requests = 0;
    let before = reg.logged_requests();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let v = Verifier::new(public.clone())
            .verify(&image, &none)
            .await
            .expect("verify");
        imgseal_total += t.elapsed();
        assert!(v.verified);
        imgseal_requests = v.requests;
    }
    settle().await;
    let imgseal_logged = (reg.logged_requests() - before) as f64 / ROUNDS as f64;

    // sigstore-rs verify of the same signature.
    let mut peer_total = Duration::ZERO;
    let before = reg.logged_requests();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let payloads = imgseal_interop::peer_verify(
            &reg.host,
            &repo,
            &digest.to_string(),
            &public.to_pem(),
            &[],
        )
        .await
        .expect("sigstore-rs verify");
        peer_total += t.elapsed();
        assert_eq!(payloads.len(), 1);
    }
    settle().await;
    let peer_logged = (reg.logged_requests() - before) as f64 / ROUNDS as f64;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "sign (imgseal)            {:>8.2} ms  {:>5} requests (registry log: {sign_logged})",
        ms(sign_time),
        signed.requests
    );
    println!(
        "verify (imgseal)          {:>8.2} ms  {:>5} requests (registry log: {imgseal_logged:.1})  mean of {ROUNDS}",
        ms(imgseal_total) / ROUNDS as f64,
        imgseal_requests
    );
    println!(
        "verify (sigstore-rs 0.15) {:>8.2} ms  {:>5} requests (registry log: {peer_logged:.1})  mean of {ROUNDS}",
        ms(peer_total) / ROUNDS as f64,
        "-"
    );
}

/// Give the registry a moment to flush its access log.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
