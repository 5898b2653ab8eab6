//! Benchmark: the registry requests imgseal needs to discover and verify signatures when an
//! image carries 1, 10 or 100 of them, in each attachment scheme:
//!
//! - `tag`: cosign's `sha256-<hex>.sig` tag (one layer per signature), docker-registry 2.8;
//! - `tag-schema`: OCI 1.1 referrers through the referrers tag schema, docker-registry 2.8;
//! - `api`: OCI 1.1 referrers through the native referrers API (ferro-oci-server).
//!
//! For each it prints the requests for `verify` with the key of the FIRST signature (should not
//! grow with the count), of the LAST one (grows: every candidate is fetched), and for `tree`
//! with no keys. `cargo bench --bench discovery`.

#[path = "../tests/support/registry.rs"]
mod common;
#[path = "../tests/support/ferro.rs"]
mod ferro;

use common::{push_image, unique_repo, Registry};
use imgseal::reference::ImageRef;
use imgseal::store::StoreOptions;
use imgseal::{Attach, Signer, SigningKey, Verifier};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let reg = Registry::start();
    let api = ferro::Ferro::start();
    println!(
        "{:<11} {:>5}  {:>16}  {:>15}  {:>13}  {:>9}",
        "scheme", "sigs", "verify(first) rq", "verify(last) rq", "tree (no key)", "setup s"
    );
    for (scheme, host, attach) in [
        ("tag", reg.host.clone(), Attach::Tag),
        ("tag-schema", reg.host.clone(), Attach::Referrers),
        ("api", api.host.clone(), Attach::Referrers),
    ] {
        for n in [1usize, 10, 100] {
            rt.block_on(async {
                let repo = unique_repo("disc");
                push_image(&host, &repo, "v1").await;
                let image = ImageRef::parse(&format!("{host}/{repo}:v1")).expect("ref");
                let keys: Vec<SigningKey> = (0..n).map(|_| SigningKey::generate().expect("key")).collect();
                let t = Instant::now();
                for k in &keys {
                    Signer::new(k.clone())
                        .with_attach(attach)
                        .sign(&image, &BTreeMap::new())
                        .await
                        .expect("sign");
                }
                let setup = t.elapsed().as_secs_f64();
                let count = |k: &SigningKey| {
                    let image = image.clone();
                    let k = k.public_key();
                    async move {
                        let v = Verifier::new(k).verify(&image, &BTreeMap::new()).await.expect("verify");
                        assert!(v.verified);
                        v.requests
                    }
                };
                let first = count(&keys[0]).await;
                let last = count(&keys[n - 1]).await;
                let tree = imgseal::tree::tree(&image, &StoreOptions::default(), &[]).await.expect("tree");
                assert!(!tree.attachments.is_empty());
                let tree_requests = tree.requests;
                println!("{scheme:<11} {n:>5}  {first:>16}  {last:>15}  {tree_requests:>13}  {setup:>9.1}");
            });
        }
    }
}
