//! Benchmark: `imgseal verify --policy` over 1,000 signed images on a loopback registry
//! (Debian's docker-registry). Prints wall time, registry requests per image (from the
//! registry's access log and imgseal's own count) and the CLI's peak RSS.
//!
//! `cargo bench --bench policy` (add `-- 200` for fewer images). Targets from issue 5:
//! ≤ 3 s wall and ≤ 50 MiB RSS for 1,000 images; requests per image no more than a
//! single-image verify (3) plus the config blob when label rules need it.

#[path = "../tests/support/registry.rs"]
mod common;

use common::{push_image_to, Registry};
use futures_util::StreamExt as _;
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::{Signer, SigningKey};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reg = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate().expect("key");
    std::fs::write(dir.path().join("release.pub"), key.public_key().to_pem()).expect("write key");

    let t = Instant::now();
    let images: Vec<String> = rt.block_on(async {
        let options = StoreOptions::default();
        futures_util::stream::iter(0..n)
            .map(|i| {
                let (host, key, options) = (reg.host.clone(), key.clone(), options.clone());
                async move {
                    let name = format!("{host}/bench/app{}:1.0.{}", i % 50, i / 50);
                    let image = ImageRef::parse(&name).expect("ref");
                    let store = Store::open(&image, &options, true).expect("store");
                    push_image_to(
                        &store,
                        &format!("1.0.{}", i / 50),
                        format!("layer {i}").as_bytes(),
                    )
                    .await;
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
    eprintln!(
        "setup: pushed and signed {n} images in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    for (name, extra) in [
        ("signatures only", ""),
        (
            "signatures + labels",
            "    requiredLabels: {org.opencontainers.image.version: null}\n",
        ),
    ] {
        let policy = format!(
            "version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: release.pub}}\nrules:\n  - name: bench\n    images: ['{}/bench/**']\n    authorities: {{anyOf: [release]}}\n    tags: {{deny: [latest]}}\n{extra}",
            reg.host
        );
        std::fs::write(dir.path().join("policy.yaml"), policy).expect("write policy");
        std::thread::sleep(Duration::from_millis(300));
        let before = reg.logged_requests();
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_imgseal"))
            .args([
                "verify",
                "--policy",
                "policy.yaml",
                "--output",
                "json",
                "--concurrency",
                "32",
            ])
            .args(&images)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run imgseal");
        let pid = child.id();
        let mut peak_kib = 0u64;
        let mut cpu_ticks = 0u64;
        let stdout = std::thread::spawn({
            let mut out = child.stdout.take().expect("stdout");
            move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut out, &mut s);
                s
            }
        });
        loop {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kib) = status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    peak_kib = peak_kib.max(kib);
                }
            }
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                // utime and stime are fields 14 and 15, after the parenthesised command name.
                if let Some(rest) = stat.rsplit(") ").next() {
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    if let (Some(u), Some(s)) = (f.get(11), f.get(12)) {
                        cpu_ticks = u.parse::<u64>().unwrap_or(0) + s.parse::<u64>().unwrap_or(0);
                    }
                }
            }
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let wall = t.elapsed();
        let out = stdout.join().expect("stdout thread");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json output");
        let decisions = v["decisions"].as_array().expect("decisions");
        let allowed = decisions.iter().filter(|d| d["allowed"] == true).count();
        let own: u64 = decisions
            .iter()
            .filter_map(|d| d["requests"].as_u64())
            .sum();
        std::thread::sleep(Duration::from_millis(500));
        let logged = reg.logged_requests() - before;
        println!(
            "policy ({name}): {n} images, {allowed} allowed, wall {:.2} s (imgseal CPU {:.2} s), requests/image {:.2} (imgseal count {:.2}), peak RSS {:.1} MiB",
            wall.as_secs_f64(),
            cpu_ticks as f64 / 100.0,
            logged as f64 / n as f64,
            own as f64 / n as f64,
            peak_kib as f64 / 1024.0
        );
    }
}
