//! docs/deploy: the manifests build with kubectl (`kubectl kustomize`, Debian's
//! kubernetes-client, installed by scripts/setup.sh: `kubectl apply --dry-run=client` would need
//! an API server for discovery, which no test here has), hold what docs/kubernetes.md promises,
//! and the certificates gen-certs.sh makes with openssl serve the real webhook with the
//! Deployment's own arguments.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn objects() -> Vec<Value> {
    let out = Command::new("kubectl")
        .args([
            "kustomize",
            &root().join("docs/deploy").display().to_string(),
        ])
        .output()
        .expect("kubectl is installed by scripts/setup.sh");
    assert!(
        out.status.success(),
        "kubectl kustomize docs/deploy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    imgseal::k8s::parse_documents(&String::from_utf8(out.stdout).unwrap(), "kustomize").unwrap()
}

fn find<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in docs/deploy"))
}

#[test]
fn the_manifests_build_and_hold_what_the_docs_promise() {
    let objs = objects();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        find(&objs, kind);
    }
    let deploy = find(&objs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        let w = &find(&objs, kind)["webhooks"][0];
        assert_eq!(w["failurePolicy"], "Fail", "{kind}");
        assert!(w["timeoutSeconds"].as_u64().unwrap() <= 30, "{kind}");
        let excluded = w["namespaceSelector"]["matchExpressions"].to_string();
        assert!(excluded.contains("kube-system"), "{kind}: {excluded}");
        assert_eq!(w["admissionReviewVersions"][0], "v1");
    }
    assert_eq!(
        find(&objs, "MutatingWebhookConfiguration")["webhooks"][0]["reinvocationPolicy"],
        "IfNeeded"
    );
    // The budget the Deployment gives imgseal is below the webhooks' timeout.
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(args.contains(&"--budget=8s".to_string()), "{args:?}");
}

#[test]
fn gen_certs_output_serves_the_webhook_with_the_deployments_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = Command::new("bash")
        .args([
            &root()
                .join("docs/deploy/gen-certs.sh")
                .display()
                .to_string(),
            &d.join("tls").display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(d.join("policy.yaml"), "version: 1\ndefaultAction: allow\n").unwrap();
    // The Deployment's arguments, with the mounted paths pointed at the temporary files.
    let objs = objects();
    let args: Vec<String> = find(&objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        ["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .replace("/etc/imgseal/tls/", &format!("{}/tls/", d.display()))
                .replace(
                    "/etc/imgseal/policy.yaml",
                    &format!("{}/policy.yaml", d.display()),
                )
                .replace("0.0.0.0:8443", "127.0.0.1:0")
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imgseal"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It logs `serving` once the certificate, key and policy loaded and the port is bound.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let mut first = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            first = l;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read as _;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("imgseal exited {status}: {err}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("\"msg\":\"serving\""), "{first}");
}
