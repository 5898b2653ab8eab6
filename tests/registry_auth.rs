//! Where registry credentials come from, with the real binary against a real docker-registry
//! that requires basic auth (htpasswd): `--registry-username/--registry-password` and their
//! environment variables, `imgseal login`/`logout` writing docker's config.json, podman's
//! auth.json as a fallback, a credential helper (a real executable on PATH), and the errors a
//! malformed config.json or a missing helper give — never "no credentials are configured".

mod support;

use imgseal::store::registry::credentials::GivenCredentials;
use imgseal::store::{Store, StoreOptions};
use imgseal::ImageRef;
use support::cli::*;
use support::registry::*;

const USER: &str = "ci";
const PASS: &str = "s3cret";

/// A registry requiring basic auth, with an image pushed (through the library, with given
/// credentials) at `secured:v1`.
async fn secured() -> (Registry, String) {
    let reg = Registry::start_with_auth(Some((USER, PASS)));
    let image = format!("{}/secured:v1", reg.host);
    let options = StoreOptions {
        credentials: GivenCredentials {
            username: Some(USER.into()),
            password: Some(PASS.into()),
            token: None,
        },
        ..StoreOptions::default()
    };
    let store = Store::open(&ImageRef::parse(&image).unwrap(), &options, true).unwrap();
    push_image_to(&store, "v1", &random_bytes(64)).await;
    (reg, image)
}

#[tokio::test]
async fn given_credentials_flags_and_environment() {
    let (_reg, image) = secured().await;
    let cli = Cli::new();
    let out = cli.run(&["tree", &image]);
    assert_fails_one(&out, 2, "requires credentials");

    let out = cli.run(&[
        "tree",
        "--registry-username",
        USER,
        "--registry-password",
        PASS,
        &image,
    ]);
    assert_ok(&out);

    // -d says each request and where the credentials came from, never the secret.
    let out = cli.run(&[
        "-d",
        "tree",
        "--registry-username",
        USER,
        "--registry-password",
        PASS,
        &image,
    ]);
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("/v2/secured/manifests/v1 -> 401"), "{err}");
    assert!(err.contains("/v2/secured/manifests/v1 -> 200"), "{err}");
    assert!(
        err.contains("from the registry username and password given"),
        "{err}"
    );
    assert!(!err.contains(PASS), "{err}");
    // Without -d (and without RUST_LOG), nothing of that.
    let out = cli.run(&[
        "tree",
        "--registry-username",
        USER,
        "--registry-password",
        PASS,
        &image,
    ]);
    assert!(!stderr(&out).contains("-> 200"), "{}", stderr(&out));

    let out = cli
        .cmd(&["tree", &image])
        .env("IMGSEAL_REGISTRY_USERNAME", USER)
        .env("IMGSEAL_REGISTRY_PASSWORD", PASS)
        .output()
        .unwrap();
    assert_ok(&out);

    // Wrong ones are the registry's refusal; incomplete or conflicting ones a usage error
    // before any request.
    let out = cli.run(&[
        "tree",
        "--registry-username",
        USER,
        "--registry-password",
        "wrong",
        &image,
    ]);
    assert_fails_one(&out, 2, "refused access");
    let out = cli.run(&["tree", "--registry-username", USER, &image]);
    assert_fails_alone(&out, 2, "needs a password");
    let out = cli.run(&[
        "tree",
        "--registry-username",
        USER,
        "--registry-password",
        PASS,
        "--registry-token",
        "t",
        &image,
    ]);
    assert_fails_alone(&out, 2, "not both");
}

#[tokio::test]
async fn login_writes_docker_config_and_logout_removes_it() {
    let (reg, image) = secured().await;
    let cli = Cli::new();
    // An unrelated entry that login must keep.
    std::fs::write(
        cli.path("docker/config.json"),
        r#"{"auths":{"other.example":{"auth":"dTpw"}},"psFormat":"table"}"#,
    )
    .unwrap();
    let mut cmd = cli.cmd(&["login", &reg.host, "-u", USER, "--password-stdin"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASS}\n").as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    assert!(stdout(&out).contains("Login Succeeded"));
    let path = cli.path("docker/config.json");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(config["psFormat"], "table");
    assert!(config["auths"]["other.example"].is_object());
    assert!(config["auths"][&reg.host]["auth"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "config.json holds secrets");
    }
    assert_ok(&cli.run(&["tree", &image]));

    let out = cli.run(&["logout", &reg.host]);
    assert_ok(&out);
    assert!(stdout(&out).contains("Removed"));
    assert_fails_one(&cli.run(&["tree", &image]), 2, "requires credentials");
    // Nothing to remove the second time: said, not an error.
    assert_ok(&cli.run(&["logout", &reg.host]));

    // No password source and no terminal.
    let out = cli.run(&["login", &reg.host, "-u", USER]);
    assert_fails_alone(&out, 2, "--password-stdin");
}

#[tokio::test]
async fn podman_auth_file_and_credential_helpers() {
    let (reg, image) = secured().await;
    let cli = Cli::new();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));

    // podman's auth.json through REGISTRY_AUTH_FILE, when docker has nothing for the registry.
    let podman = cli.path("auth.json");
    std::fs::write(
        &podman,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host),
    )
    .unwrap();
    let out = cli
        .cmd(&["tree", &image])
        .env("REGISTRY_AUTH_FILE", &podman)
        .output()
        .unwrap();
    assert_ok(&out);

    // A malformed docker config is reported as such.
    std::fs::write(cli.path("docker/config.json"), "{not json").unwrap();
    let out = cli.run(&["tree", &image]);
    assert_fails_alone(&out, 2, "is not a valid docker config");

    // A helper that is not installed is named.
    std::fs::write(
        cli.path("docker/config.json"),
        format!(
            r#"{{"credHelpers":{{"{}":"imgseal-test-absent"}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    let out = cli.run(&["tree", &image]);
    assert_fails_alone(&out, 2, "docker-credential-imgseal-test-absent");

    // A real helper executable on PATH answering the helper protocol.
    let bin = cli.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-imgseal-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n[ \"$server\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}'\n",
            reg.host
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        cli.path("docker/config.json"),
        format!(r#"{{"credHelpers":{{"{}":"imgseal-test"}}}}"#, reg.host),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = cli
        .cmd(&["tree", &image])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_ok(&out);
    // credsStore: the same helper for every registry; "not found" means no credentials.
    std::fs::write(
        cli.path("docker/config.json"),
        r#"{"credsStore":"imgseal-test"}"#,
    )
    .unwrap();
    let out = cli
        .cmd(&["tree", &image])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_ok(&out);
}
