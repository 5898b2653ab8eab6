//! HTTPS registries with a private CA, basic auth and mutual TLS: a real docker-registry on
//! loopback serving TLS only, reached by the real binary with `--registry-cacert`,
//! `--registry-client-cert/--registry-client-key` and `--allow-insecure-registry`, and the
//! errors a user meets without them: an untrusted certificate names `--registry-cacert`
//! (not "is the registry running?"), and so does an HTTPS-only registry reached over HTTP.

mod support;

use imgseal::store::registry::credentials::GivenCredentials;
use imgseal::store::{Store, StoreOptions, TlsOptions};
use imgseal::ImageRef;
use support::cli::*;
use support::pki::*;
use support::registry::*;

const USER: &str = "ci";
const PASS: &str = "s3cret";

/// A CA, a server certificate from it for localhost/127.0.0.1, and a client certificate.
struct Pki {
    ca: Node,
    server: Node,
    client: Node,
}

fn pki(name: &str) -> Pki {
    let ca = issue(ca_params(&format!("{name} CA"), None), None);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = issue(leaf, Some(&ca));
    let mut client = leaf_params(&format!("{name} client"));
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = issue(client, Some(&ca));
    Pki { ca, server, client }
}

/// Push an image to `image` over HTTPS with the CA and, when given, the client identity.
async fn push(image: &str, pki: &Pki, mtls: bool) {
    let options = StoreOptions {
        credentials: GivenCredentials {
            username: Some(USER.into()),
            password: Some(PASS.into()),
            token: None,
        },
        tls: TlsOptions {
            extra_roots: vec![pki.ca.cert.der().to_vec()],
            client_identity: mtls.then(|| {
                (
                    vec![pki.client.cert.der().to_vec()],
                    pki.client.key.serialize_der(),
                )
            }),
            insecure_skip_verify: false,
        },
        ..StoreOptions::default()
    };
    let store = Store::open(&ImageRef::parse(image).unwrap(), &options, true).unwrap();
    push_image_to(&store, "v1", &random_bytes(64)).await;
}

#[tokio::test]
async fn private_ca_and_basic_auth() {
    let p = pki("tls");
    let reg = Registry::start_tls(
        Some((USER, PASS)),
        &p.server.pem(),
        &p.server.key_pem(),
        None,
    );
    let image = format!("{}/secure:v1", reg.host);
    push(&image, &p, false).await;
    let cli = Cli::new();
    std::fs::write(cli.path("ca.pem"), p.ca.pem()).unwrap();
    let creds = ["--registry-username", USER, "--registry-password", PASS];

    // Loopback is plain HTTP by default: the registry's answer names --registry-cacert.
    let out = cli.run(&[&["tree"][..], &creds, &[&image]].concat());
    assert_fails_alone(&out, 2, "--registry-cacert");
    assert!(stderr(&out).contains("speaks HTTPS"), "{}", stderr(&out));

    // With the CA: HTTPS, verified, authenticated.
    let out = cli.run(
        &[
            &["tree", "--registry-cacert", "ca.pem"][..],
            &creds,
            &[&image],
        ]
        .concat(),
    );
    assert_ok(&out);

    // Loopback is never sent through a proxy (as Go's tools behave): a dead proxy changes nothing.
    let args = [
        &["tree", "--registry-cacert", "ca.pem"][..],
        &creds,
        &[&image],
    ]
    .concat();
    let out = cli
        .cmd(&args)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    assert_ok(&out);

    // Another CA: the certificate is not trusted, said as such.
    let other = pki("other");
    std::fs::write(cli.path("other.pem"), other.ca.pem()).unwrap();
    let out = cli.run(
        &[
            &["tree", "--registry-cacert", "other.pem"][..],
            &creds,
            &[&image],
        ]
        .concat(),
    );
    assert_fails_alone(&out, 2, "is not trusted");
    assert!(
        stderr(&out).contains("--registry-cacert"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("is the registry running"),
        "{}",
        stderr(&out)
    );

    // Skipping verification works, loudly.
    let out = cli.run(
        &[
            &["tree", "--allow-insecure-registry"][..],
            &creds,
            &[&image],
        ]
        .concat(),
    );
    assert_ok(&out);
    assert!(stderr(&out).contains("NOT verified"), "{}", stderr(&out));

    // A CA file that holds no certificate: refused before any request.
    std::fs::write(cli.path("empty.pem"), "nothing here\n").unwrap();
    let out = cli.run(&["tree", "--registry-cacert", "empty.pem", &image]);
    assert_fails_alone(&out, 2, "empty.pem");
}

#[tokio::test]
async fn mutual_tls() {
    let p = pki("mtls");
    let ca = p.ca.pem();
    let reg = Registry::start_tls(
        Some((USER, PASS)),
        &p.server.pem(),
        &p.server.key_pem(),
        Some(&ca),
    );
    let image = format!("{}/mutual:v1", reg.host);
    push(&image, &p, true).await;
    let cli = Cli::new();
    std::fs::write(cli.path("ca.pem"), &ca).unwrap();
    std::fs::write(cli.path("client.pem"), p.client.pem()).unwrap();
    std::fs::write(cli.path("client.key"), p.client.key_pem()).unwrap();
    let base = [
        "tree",
        "--registry-cacert",
        "ca.pem",
        "--registry-username",
        USER,
        "--registry-password",
        PASS,
    ];
    // No client certificate: the handshake is refused.
    let out = cli.run(&[&base[..], &[&image]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = cli.run(
        &[
            &base[..],
            &[
                "--registry-client-cert",
                "client.pem",
                "--registry-client-key",
                "client.key",
                &image,
            ],
        ]
        .concat(),
    );
    assert_ok(&out);
    // A certificate without its key: clap's usage error.
    let out = cli.run(&[&base[..], &["--registry-client-cert", "client.pem", &image]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--registry-client-key"),
        "{}",
        stderr(&out)
    );
}
