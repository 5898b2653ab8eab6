//! Benchmark: one `imgseal verify --key` run, as a user runs it — a fresh process per
//! verification — against an image on the loopback registry (Debian's docker-registry, plain
//! HTTP) and against the same image in an OCI layout, plus the in-process library call for
//! comparison. Prints the mean wall time of each and the registry requests of one run.
//! Target (issue 14): loopback `verify` ≤ 5 ms wall.
//!
//! `cargo bench --bench verify_cli`

#[path = "../tests/support/registry.rs"]
mod common;

use common::{push_image, unique_repo, Registry};
use imgseal::{ImageRef, Signer, SigningKey, Verifier};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: u32 = 30;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let reg = Registry::start();
    let dir = std::env::temp_dir().join(format!("imgseal-bench-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = SigningKey::generate().expect("key");
    let public = key.public_key();
    let pub_path = dir.join("bench.pub");
    std::fs::write(&pub_path, public.to_pem()).expect("public key file");
    let none = BTreeMap::new();

    let repo = unique_repo("benchcli");
    let image_text = format!("{}/{repo}:v1", reg.host);
    let image = ImageRef::parse(&image_text).expect("reference");
    let digest = rt.block_on(async {
        let digest = push_image(&reg.host, &repo, "v1").await;
        Signer::new(key.clone())
            .sign(&image, &none)
            .await
            .expect("sign");
        digest
    });
    let layout = dir.join("layout");
    let layout_ref = format!("oci:{}:v1", layout.display());
    let copied = Command::new(env!("CARGO_BIN_EXE_imgseal"))
        .args(["copy", &image_text, &layout_ref])
        .output()
        .expect("run imgseal copy");
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );

    let cli = |target: &str, identity: Option<&str>| {
        let mut total = Duration::ZERO;
        for _ in 0..ROUNDS {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_imgseal"));
            cmd.args(["verify", "--key"]).arg(&pub_path).arg(target);
            if let Some(id) = identity {
                cmd.args(["--identity", id]);
            }
            let t = Instant::now();
            let out = cmd.output().expect("run imgseal verify");
            total += t.elapsed();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        total / ROUNDS
    };
    let registry_repo = format!("{}/{repo}", reg.host);
    let loopback = cli(&image_text, None);
    let on_layout = cli(&layout_ref, Some(&registry_repo));

    let (library, requests) = rt.block_on(async {
        let mut total = Duration::ZERO;
        let mut requests = 0;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let v = Verifier::new(public.clone())
                .verify(&image, &none)
                .await
                .expect("verify");
            total += t.elapsed();
            assert!(v.verified);
            requests = v.requests;
        }
        (total / ROUNDS, requests)
    });
    let floor = registry_floor(&reg.host, &repo, &digest.to_string());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("mean of {ROUNDS} runs each (target: loopback CLI verify <= 5 ms wall)");
    println!(
        "imgseal verify (CLI process), loopback registry  {:>7.2} ms  {requests} registry requests",
        ms(loopback)
    );
    println!(
        "imgseal verify (CLI process), OCI layout         {:>7.2} ms",
        ms(on_layout)
    );
    println!(
        "Verifier::verify (library), loopback registry    {:>7.2} ms  {requests} registry requests",
        ms(library)
    );
    println!(
        "the same 3 requests, minimal HTTP/1.1 client      {:>7.2} ms  (the registry's own floor: manifest by tag, .sig manifest, payload blob)",
        ms(floor)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The registry's own share of a verification: the three requests a `verify --key` of a
/// legacy-signed image by tag makes (the manifest by tag, the `.sig` manifest, the signed
/// payload blob), one after another on a fresh keep-alive connection, with nothing but a
/// hand-rolled HTTP/1.1 exchange around them. No client can be faster than this.
fn registry_floor(host: &str, repo: &str, digest: &str) -> Duration {
    use std::io::{BufRead, BufReader, Read, Write};
    const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    fn get(conn: &mut BufReader<std::net::TcpStream>, host: &str, path: &str) -> Vec<u8> {
        write!(
            conn.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {ACCEPT}\r\n\r\n"
        )
        .expect("send request");
        let mut length = 0usize;
        let mut status = String::new();
        conn.read_line(&mut status).expect("status line");
        assert!(status.contains(" 200 "), "{path}: {status}");
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("content length");
                }
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).expect("body");
        body
    }
    let sig_tag = digest.replace(':', "-") + ".sig";
    let mut total = Duration::ZERO;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let stream = std::net::TcpStream::connect(host).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut conn = BufReader::new(stream);
        get(&mut conn, host, &format!("/v2/{repo}/manifests/v1"));
        let sig = get(&mut conn, host, &format!("/v2/{repo}/manifests/{sig_tag}"));
        let sig: serde_json::Value = serde_json::from_slice(&sig).expect("signature manifest");
        let blob = sig["layers"][0]["digest"].as_str().expect("layer digest");
        get(&mut conn, host, &format!("/v2/{repo}/blobs/{blob}"));
        total += t.elapsed();
    }
    total / ROUNDS
}
