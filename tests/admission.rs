//! `imgseal::admission::review` on real AdmissionReview JSON: the upstream captures and
//! fixtures in `../shared/interop/admission` (GKE via kube-rs, kubewarden, the Kubernetes API
//! testdata), and reviews written here for the cases no public fixture covers (UPDATE with
//! oldObject, DELETE, ephemeral containers, CronJob), against a real docker-registry.

mod support;

use base64::Engine as _;
use imgseal::admission::{review, ReviewOptions};
use imgseal::policy::Policy;
use imgseal::{Signer, SigningKey};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use support::registry::*;

fn policy(yaml: &str, dir: &Path) -> Policy {
    Policy::from_yaml(yaml, dir, "policy.yaml").unwrap().0
}

fn patch_of(answer: &Value) -> Vec<Value> {
    let b64 = answer["response"]["patch"].as_str().expect("a patch");
    assert_eq!(answer["response"]["patchType"], "JSONPatch");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn every_upstream_fixture_gets_a_sensible_answer() {
    let Some(root) = support::interop::set("admission") else {
        return;
    };
    // Offline: a registry rule needs no registry. Docker Hub images are denied, others allowed.
    let p = policy(
        "version: 1\ndefaultAction: allow\nrules:\n  - name: no-hub\n    images: ['**']\n    deniedRegistries: [docker.io]\n",
        &root,
    );
    let mut seen = 0;
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let mut body: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if name.ends_with(".admissionrequest.json") {
                body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body});
            }
            let answer = review(&p, &body, &ReviewOptions::default()).await.unwrap();
            seen += 1;
            assert_eq!(answer["kind"], "AdmissionReview", "{name}");
            assert_eq!(answer["apiVersion"], body["apiVersion"], "{name}");
            assert_eq!(answer["response"]["uid"], body["request"]["uid"], "{name}");
            let images: Vec<String> = serde_json::to_string(&body["request"]["object"])
                .unwrap()
                .split("\"image\":\"")
                .skip(1)
                .map(|s| s.split('"').next().unwrap().to_string())
                .collect();
            let hub = images
                .iter()
                .any(|i| !i.contains('/') || i.starts_with("jmalloc/"));
            let judged = matches!(
                body["request"]["operation"].as_str(),
                Some("CREATE" | "UPDATE")
            );
            let expect_allowed = !(judged && hub);
            assert_eq!(
                answer["response"]["allowed"], expect_allowed,
                "{name}: images {images:?}: {answer}"
            );
            if !expect_allowed {
                let msg = answer["response"]["status"]["message"].as_str().unwrap();
                assert!(
                    msg.contains("docker.io is a denied registry"),
                    "{name}: {msg}"
                );
                assert!(msg.contains(&images[0]), "{name} names the image: {msg}");
            }
        }
    }
    assert!(seen >= 15, "read {seen} fixtures");
}

struct Live {
    _reg: Registry,
    host: String,
    dir: tempfile::TempDir,
    signed: String,
    unsigned: String,
    digest: String,
}

async fn live() -> Live {
    let reg = Registry::start();
    let host = reg.host.clone();
    let digest = push_image(&host, "team/app", "1.0.0").await;
    push_image(&host, "team/unsigned", "1.0.0").await;
    let key = SigningKey::generate().unwrap();
    let signed = format!("{host}/team/app:1.0.0");
    Signer::new(key.clone())
        .sign(
            &imgseal::ImageRef::parse(&signed).unwrap(),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("release.pub"), key.public_key().to_pem()).unwrap();
    Live {
        _reg: reg,
        unsigned: format!("{host}/team/unsigned:1.0.0"),
        host,
        dir,
        signed,
        digest: digest.to_string(),
    }
}

impl Live {
    fn policy(&self, mode: &str) -> Policy {
        policy(
            &format!("version: 1\ndefaultAction: reject\nauthorities:\n  release: {{key: release.pub}}\nrules:\n  - name: ours\n    images: ['{}/**']\n    mode: {mode}\n    authorities: {{anyOf: [release]}}\n", self.host),
            self.dir.path(),
        )
    }
}

fn pod(containers: &[(&str, &str)]) -> Value {
    let cs: Vec<Value> = containers
        .iter()
        .map(|(n, i)| json!({"name": n, "image": i}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"}, "spec": {"containers": cs}})
}

fn request(operation: &str, object: Value, old: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": object["kind"].clone()},
        "namespace": "team", "operation": operation, "object": object, "oldObject": old,
    }})
}

#[tokio::test]
async fn signed_images_are_allowed_and_pinned_unsigned_denied() {
    let l = live().await;
    let p = l.policy("enforce");
    let mutate = ReviewOptions {
        mutate: true,
        ..ReviewOptions::default()
    };
    let a = review(
        &p,
        &request("CREATE", pod(&[("app", &l.signed)]), Value::Null),
        &mutate,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    assert_eq!(
        patch_of(&a),
        vec![
            json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{}@{}", l.signed, l.digest)})
        ]
    );
    let a = review(
        &p,
        &request(
            "CREATE",
            pod(&[("app", &l.signed), ("side", &l.unsigned)]),
            Value::Null,
        ),
        &mutate,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
    let msg = a["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("container side image {}", l.unsigned)),
        "{msg}"
    );
    assert!(msg.contains("signature"), "{msg}");
    assert!(
        a["response"]["patch"].is_null(),
        "a denial carries no patch"
    );

    // A Deployment whose 8 containers share the image, and a CronJob: patch paths by kind.
    let cs: Vec<Value> = (0..8)
        .map(|i| json!({"name": format!("c{i}"), "image": l.signed}))
        .collect();
    let deploy = json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": cs}}}});
    let a = review(&p, &request("CREATE", deploy, Value::Null), &mutate)
        .await
        .unwrap();
    let ops = patch_of(&a);
    assert_eq!(ops.len(), 8);
    assert_eq!(ops[7]["path"], "/spec/template/spec/containers/7/image");
    let cron = json!({"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": l.signed}]}}}}}});
    let a = review(&p, &request("CREATE", cron, Value::Null), &mutate)
        .await
        .unwrap();
    assert_eq!(
        patch_of(&a)[0]["path"],
        "/spec/jobTemplate/spec/template/spec/initContainers/0/image"
    );
    // Already pinned (right digest): checked and allowed, no patch.
    let pinned = format!("{}/team/app@{}", l.host, l.digest);
    let a = review(
        &p,
        &request("CREATE", pod(&[("app", &pinned)]), Value::Null),
        &mutate,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    assert!(a["response"]["patch"].is_null());
    // Pinned to a digest that is not there: denied.
    let wrong = format!("{}/team/app@sha256:{}", l.host, "0".repeat(64));
    let a = review(
        &p,
        &request("CREATE", pod(&[("app", &wrong)]), Value::Null),
        &mutate,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
}

#[tokio::test]
async fn update_delete_ephemeral_and_modes() {
    let l = live().await;
    let p = l.policy("enforce");
    let opts = ReviewOptions::default();
    // UPDATE: the unsigned image ran before; only the changed image is judged.
    let old = pod(&[("side", &l.unsigned)]);
    let new = pod(&[("side", &l.unsigned), ("app", &l.signed)]);
    let a = review(&p, &request("UPDATE", new, old), &opts)
        .await
        .unwrap();
    assert_eq!(a["response"]["allowed"], true, "{a}");
    let a = review(
        &p,
        &request(
            "UPDATE",
            pod(&[("x", &l.unsigned)]),
            pod(&[("x", &l.signed)]),
        ),
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(
        a["response"]["allowed"], false,
        "a changed image is judged: {a}"
    );
    // DELETE (object null) and CONNECT are allowed.
    for op in ["DELETE", "CONNECT"] {
        let a = review(
            &p,
            &request(op, Value::Null, pod(&[("x", &l.unsigned)])),
            &opts,
        )
        .await
        .unwrap();
        assert_eq!(a["response"]["allowed"], true, "{op}");
    }
    // pods/ephemeralcontainers: the Pod's ephemeral containers are judged.
    let mut eph = pod(&[("app", &l.signed)]);
    eph["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": l.unsigned}]);
    let mut r = request("UPDATE", eph, pod(&[("app", &l.signed)]));
    r["request"]["subResource"] = json!("ephemeralcontainers");
    let a = review(&p, &r, &opts).await.unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
    assert!(a["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("container debug"));
    // Exempt namespace; unknown kind; no request.
    let mut r = request("CREATE", pod(&[("x", &l.unsigned)]), Value::Null);
    r["request"]["namespace"] = json!("kube-system");
    assert_eq!(
        review(&p, &r, &opts).await.unwrap()["response"]["allowed"],
        true
    );
    let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": l.unsigned}});
    assert_eq!(
        review(&p, &request("CREATE", cm, Value::Null), &opts)
            .await
            .unwrap()["response"]["allowed"],
        true
    );
    assert!(review(&p, &json!({"kind": "AdmissionReview"}), &opts)
        .await
        .is_err());
    assert!(review(&p, &json!([1, 2]), &opts).await.is_err());
    // warn and audit modes allow, and say so where Kubernetes shows it.
    let a = review(
        &l.policy("warn"),
        &request("CREATE", pod(&[("x", &l.unsigned)]), Value::Null),
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], true);
    assert!(
        a["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains(&l.unsigned),
        "{a}"
    );
    let a = review(
        &l.policy("audit"),
        &request("CREATE", pod(&[("x", &l.unsigned)]), Value::Null),
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], true);
    assert!(
        a["response"]["auditAnnotations"]["imgseal.dev/audit"]
            .as_str()
            .unwrap()
            .contains(&l.unsigned),
        "{a}"
    );
}

#[tokio::test]
async fn a_registry_that_is_down_denies_with_the_reason() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again: nothing listens there
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
    let p = policy(
        "version: 1\ndefaultAction: reject\nauthorities:\n  k: {key: k.pub}\nrules:\n  - name: r\n    images: ['**']\n    authorities: {anyOf: [k]}\n",
        dir.path(),
    );
    let image = format!("127.0.0.1:{port}/team/app:1");
    let a = review(
        &p,
        &request("CREATE", pod(&[("x", &image)]), Value::Null),
        &ReviewOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(a["response"]["allowed"], false, "{a}");
    let msg = a["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&image) && msg.contains("cannot connect"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_hanging_registry_runs_into_the_budget() {
    // A listener that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().take(16) {
            held.push(c);
        }
        std::thread::sleep(std::time::Duration::from_secs(20));
    });
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("k.pub"), key.public_key().to_pem()).unwrap();
    let p = policy(
        "version: 1\ndefaultAction: reject\nauthorities:\n  k: {key: k.pub}\nrules:\n  - name: r\n    images: ['**']\n    authorities: {anyOf: [k]}\n",
        dir.path(),
    );
    let image = format!("{host}/team/app:1");
    for fail_open in [false, true] {
        let opts = ReviewOptions {
            budget: std::time::Duration::from_millis(500),
            fail_open,
            ..ReviewOptions::default()
        };
        let a = review(
            &p,
            &request("CREATE", pod(&[("x", &image)]), Value::Null),
            &opts,
        )
        .await
        .unwrap();
        assert_eq!(a["response"]["allowed"], fail_open, "{a}");
        assert!(a.to_string().contains("still being verified"), "{a}");
        assert!(
            a.to_string().contains(&image),
            "names the pending image: {a}"
        );
    }
}

/// Concurrent reviews of one image share one verification (counted at the real registry), and
/// a second review is a cache hit that costs no request.
#[tokio::test]
async fn concurrent_reviews_of_one_image_share_one_verification() {
    use imgseal::admission::Cache;
    use std::sync::Arc;
    let l = live().await;
    let p = l.policy("enforce");
    let cache = Arc::new(Cache::new(
        std::time::Duration::from_secs(300),
        std::time::Duration::from_secs(30),
        100,
    ));
    let opts = ReviewOptions {
        cache: Some(cache.clone()),
        ..ReviewOptions::default()
    };
    // What one verification costs.
    let one_start = l._reg.logged_requests();
    let solo = imgseal::admission::review(
        &p,
        &request("CREATE", pod(&[("a", &l.signed)]), Value::Null),
        &ReviewOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(solo["response"]["allowed"], true);
    let one = l._reg.logged_requests() - one_start;
    assert!(one >= 2, "a verification reads the registry ({one})");
    // Eight at once, through the cache.
    let before = l._reg.logged_requests();
    let reqs: Vec<Value> = (0..8)
        .map(|i| request("CREATE", pod(&[(&format!("c{i}"), &l.signed)]), Value::Null))
        .collect();
    let answers = futures_util::future::join_all(reqs.iter().map(|r| review(&p, r, &opts))).await;
    for a in answers {
        assert_eq!(a.unwrap()["response"]["allowed"], true);
    }
    let shared = l._reg.logged_requests() - before;
    assert_eq!(
        shared, one,
        "eight concurrent reviews cost one verification"
    );
    let before = l._reg.logged_requests();
    let a = review(&p, &reqs[0], &opts).await.unwrap();
    assert_eq!(a["response"]["allowed"], true);
    assert_eq!(
        l._reg.logged_requests() - before,
        0,
        "a cache hit reads nothing"
    );
    assert!(cache.stats().0 >= 1);
}
