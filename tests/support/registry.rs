//! Test harness: a real CNCF distribution registry (Debian's `docker-registry`) on a free
//! loopback port with a temporary storage directory, and helpers to push small test images.
#![allow(dead_code)]

use imgseal::oci::OCI_MANIFEST;
use imgseal::reference::ImageRef;
use imgseal::store::{Store, StoreOptions};
use imgseal::Digest;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry; killed on drop.
pub struct Registry {
    pub host: String,
    child: Child,
    pub dir: tempfile::TempDir,
}

fn registry_binary() -> PathBuf {
    for p in ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("docker-registry is not installed: run scripts/test.sh (it installs Debian's docker-registry)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Start an open (anonymous) registry.
    pub fn start() -> Registry {
        Self::start_with_auth(None)
    }

    /// Start a registry requiring HTTP basic auth for `user`/`password` (htpasswd, bcrypt).
    pub fn start_with_auth(creds: Option<(&str, &str)>) -> Registry {
        Self::start_with(creds, None)
    }

    /// Start a registry serving HTTPS only with this certificate and key (PEM), optionally
    /// requiring client certificates issued by `client_ca` (PEM), and basic auth.
    pub fn start_tls(
        creds: Option<(&str, &str)>,
        cert_pem: &str,
        key_pem: &str,
        client_ca: Option<&str>,
    ) -> Registry {
        Self::start_with(creds, Some((cert_pem, key_pem, client_ca)))
    }

    fn start_with(
        creds: Option<(&str, &str)>,
        tls: Option<(&str, &str, Option<&str>)>,
    ) -> Registry {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            );
            if let Some((u, p)) = creds {
                let hash = bcrypt::hash(p, 4).unwrap();
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{u}:{hash}\n")).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: imgseal-test\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            if let Some((cert, key, client_ca)) = tls {
                let (c, k) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
                std::fs::write(&c, cert).unwrap();
                std::fs::write(&k, key).unwrap();
                let mut section = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    c.display(),
                    k.display()
                );
                if let Some(ca) = client_ca {
                    let p = dir.path().join("client-ca.crt");
                    std::fs::write(&p, ca).unwrap();
                    section.push_str(&format!("    clientcas:\n      - {}\n", p.display()));
                }
                // The tls block belongs under http:, which ends the base config.
                let at = config.find("http:\n").unwrap() + "http:\n".len();
                config.insert_str(at, &section);
            }
            let cfg = dir.path().join("config.yml");
            std::fs::write(&cfg, config).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(registry_binary())
                .arg("serve")
                .arg(&cfg)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let mut reg = Registry {
                host: format!("127.0.0.1:{port}"),
                child,
                dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = reg.child.try_wait() {
                    break; // exited (most likely lost a race for the port): try another port
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return reg;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("docker-registry did not start (see its log in the test's temp directory)")
    }

    /// Requests logged by the registry so far (its access log lines).
    pub fn logged_requests(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("registry.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("\"GET ")
                    || l.contains("\"HEAD ")
                    || l.contains("\"PUT ")
                    || l.contains("\"POST ")
                    || l.contains("\"PATCH ")
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Push a small random single-layer OCI image to `host/repo:tag`; returns its digest.
pub async fn push_image(host: &str, repo: &str, tag: &str) -> Digest {
    let image = ImageRef::parse(&format!("{host}/{repo}:{tag}")).unwrap();
    let store = Store::open(&image, &StoreOptions::default(), true).unwrap();
    push_image_to(&store, tag, &random_bytes(64)).await
}

/// Push a small image whose layer holds `content` to `store`, tagged `tag`.
pub async fn push_image_to(store: &Store, tag: &str, content: &[u8]) -> Digest {
    let layer = store.put_blob(content).await.unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}},"config":{{"Labels":{{"org.opencontainers.image.version":"1.0.0"}}}}}}"#
    );
    let config_digest = store.put_blob(config.as_bytes()).await.unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{}}}]}}"#,
        config.len(),
        content.len()
    );
    store
        .put_manifest(manifest.as_bytes(), OCI_MANIFEST, Some(tag))
        .await
        .unwrap()
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

/// A unique repository name per test.
pub fn unique_repo(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(random_bytes(4)))
}

/// Send `DELETE path` to a plain-HTTP registry and return the status code (test setup only).
pub fn http_delete(host: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Push an image index to `host/repo:tag` listing two small platform images, linux/amd64 and
/// linux/arm64 (pushed by digest); returns the index's digest.
pub async fn push_index(host: &str, repo: &str, tag: &str) -> Digest {
    use imgseal::oci::OCI_INDEX;
    use imgseal::oci::{Descriptor, Index, Platform};
    let image = ImageRef::parse(&format!("{host}/{repo}:{tag}")).unwrap();
    let store = Store::open(&image, &StoreOptions::default(), true).unwrap();
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = random_bytes(48);
        let layer_digest = store.put_blob(&layer).await.unwrap();
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{}}}}"#
        );
        let config_digest = store.put_blob(config.as_bytes()).await.unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        store
            .put_manifest(manifest.as_bytes(), OCI_MANIFEST, None)
            .await
            .unwrap();
        children.push(Descriptor {
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: None,
            }),
            ..Descriptor::of(OCI_MANIFEST, manifest.as_bytes())
        });
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.into()),
        manifests: children,
        ..Index::default()
    };
    store
        .put_manifest(&index.to_bytes().unwrap(), OCI_INDEX, Some(tag))
        .await
        .unwrap()
}
