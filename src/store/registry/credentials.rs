//! Where registry credentials come from, in cosign's order: credentials given for this run
//! ([`GivenCredentials`]: `--registry-username/--registry-password`, `--registry-token`, or
//! their environment variables), then docker's `config.json` (`$DOCKER_CONFIG`, else
//! `~/.docker`; `auths`, `credHelpers`, `credsStore`), then podman's `auth.json`
//! (`$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
//! `~/.config/containers/auth.json`). Stored credentials are only ever sent to the registry
//! they were stored for. Also [`login`] and [`logout`], which write docker's `config.json`
//! as `docker login` does.
//!
//! A malformed `config.json` or a credential helper that cannot be run is an error that says
//! so, never "no credentials are configured".

use base64::Engine as _;
use std::path::{Path, PathBuf};

/// A docker `config.json` or podman `auth.json` is small; a larger one is refused.
pub const MAX_AUTH_FILE: u64 = 4 * 1024 * 1024;

/// Credentials given for this run, sent to every registry it talks to (as cosign does).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GivenCredentials {
    /// Username for basic auth or the token exchange (with `password`).
    pub username: Option<String>,
    /// Password (with `username`).
    pub password: Option<String>,
    /// A registry bearer token, sent as `Authorization: Bearer` when a registry asks.
    pub token: Option<String>,
}

impl std::fmt::Debug for GivenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GivenCredentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

/// What a registry is answered with.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Username and password (basic auth, or the token exchange's basic auth).
    Basic {
        /// The username.
        username: String,
        /// The password or personal access token.
        password: String,
    },
    /// A bearer token used as it is.
    Token(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Basic { username, .. } => write!(f, "Basic({username}, …)"),
            Secret::Token(_) => write!(f, "Token(…)"),
        }
    }
}

/// Credentials for one registry and where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The secret.
    pub secret: Secret,
    /// Where it came from, e.g. `docker config /home/u/.docker/config.json` or
    /// `credential helper docker-credential-pass`.
    pub source: String,
}

/// Why stored credentials could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Only a username, or only a password, was given.
    #[error("a registry username needs a password and a password needs a username")]
    Incomplete,
    /// Both a username/password and a token were given.
    #[error("give either a registry username and password or a registry token, not both")]
    Ambiguous,
    /// The file is not JSON, or not the shape docker and podman write.
    #[error("{path} is not a valid {what}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// `docker config` or `podman auth file`.
        what: &'static str,
        /// The parser's words.
        reason: String,
    },
    /// The file could not be read (other than being absent).
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The configured credential helper is not installed or could not be run.
    #[error("the credential helper docker-credential-{helper} configured for {registry} in {path} could not be run (is it installed and on PATH?)")]
    HelperMissing {
        /// The helper's name (after `docker-credential-`).
        helper: String,
        /// The registry.
        registry: String,
        /// The config file naming it.
        path: PathBuf,
    },
    /// The credential helper ran and failed.
    #[error("the credential helper docker-credential-{helper} failed for {registry}: {reason}")]
    HelperFailed {
        /// The helper's name.
        helper: String,
        /// The registry.
        registry: String,
        /// What it said.
        reason: String,
    },
    /// An identity token, which needs an OAuth2 refresh exchange imgseal does not do.
    #[error("{path} holds an identity token for {registry}, which needs an OAuth2 refresh exchange imgseal does not do; log in with a username and a password or token")]
    IdentityToken {
        /// The registry.
        registry: String,
        /// The config file.
        path: PathBuf,
    },
    /// A stored `auth` value is not base64 of `user:password`.
    #[error("{path}: the stored credentials for {registry} cannot be decoded")]
    Undecodable {
        /// The registry.
        registry: String,
        /// The config file.
        path: PathBuf,
    },
    /// Writing the config file failed.
    #[error(transparent)]
    Write(#[from] Box<crate::Error>),
}

impl GivenCredentials {
    /// The given credentials as a [`Credential`], or `None` when none were given.
    pub fn credential(&self) -> Result<Option<Credential>, CredentialError> {
        match (&self.username, &self.password, &self.token) {
            (None, None, None) => Ok(None),
            (Some(_), Some(_), Some(_)) | (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => {
                Err(CredentialError::Ambiguous)
            }
            (Some(u), Some(p), None) => Ok(Some(Credential {
                secret: Secret::Basic {
                    username: u.clone(),
                    password: p.clone(),
                },
                source: "the registry username and password given".into(),
            })),
            (None, None, Some(t)) => Ok(Some(Credential {
                secret: Secret::Token(t.clone()),
                source: "the registry token given".into(),
            })),
            _ => Err(CredentialError::Incomplete),
        }
    }
}

/// docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => Some(PathBuf::from(d).join("config.json")),
        None => std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker/config.json")),
    }
}

/// podman's `auth.json`, in containers-auth.json(5)'s order: `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json`.
pub fn podman_auth_path() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        return Some(PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        let p = Path::new(&d).join("containers/auth.json");
        if p.exists() {
            return Some(p);
        }
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".config/containers/auth.json"))
}

/// The file's JSON object, or `None` when it does not exist.
fn read_json(
    path: &Path,
    what: &'static str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, CredentialError> {
    let bytes = match crate::util::fs::read_capped(path, MAX_AUTH_FILE, what) {
        Ok(b) => b,
        Err(crate::util::fs::FileError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(CredentialError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let malformed = |reason: String| CredentialError::Malformed {
        path: path.to_path_buf(),
        what,
        reason,
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(malformed("not a JSON object".into())),
        Err(e) => Err(malformed(e.to_string())),
    }
}

/// The names a registry is stored under: itself, and for Docker Hub its legacy keys.
fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if registry == crate::reference::DOCKER_HUB {
        keys.push("https://index.docker.io/v1/".into());
        keys.push("index.docker.io".into());
        keys.push("registry-1.docker.io".into());
    }
    keys
}

/// The `auths` entry for `registry` in a docker config or podman auth file.
fn from_auths(
    config: &serde_json::Map<String, serde_json::Value>,
    registry: &str,
    path: &Path,
    what: &'static str,
) -> Result<Option<Credential>, CredentialError> {
    let Some(auths) = config.get("auths") else {
        return Ok(None);
    };
    let auths = auths
        .as_object()
        .ok_or_else(|| CredentialError::Malformed {
            path: path.to_path_buf(),
            what,
            reason: "\"auths\" is not an object".into(),
        })?;
    for key in keys_for(registry) {
        let Some(entry) = auths.get(&key).and_then(|e| e.as_object()) else {
            continue;
        };
        if entry
            .get("identitytoken")
            .and_then(|t| t.as_str())
            .is_some_and(|t| !t.is_empty())
        {
            return Err(CredentialError::IdentityToken {
                registry: registry.to_string(),
                path: path.to_path_buf(),
            });
        }
        let source = format!("{what} {}", path.display());
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            if auth.is_empty() {
                continue;
            }
            let undecodable = || CredentialError::Undecodable {
                registry: registry.to_string(),
                path: path.to_path_buf(),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| undecodable())?;
            let text = String::from_utf8(decoded).map_err(|_| undecodable())?;
            let (u, p) = text.split_once(':').ok_or_else(undecodable)?;
            return Ok(Some(Credential {
                secret: Secret::Basic {
                    username: u.to_string(),
                    password: p.to_string(),
                },
                source,
            }));
        }
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(|v| v.as_str()),
            entry.get("password").and_then(|v| v.as_str()),
        ) {
            return Ok(Some(Credential {
                secret: Secret::Basic {
                    username: u.to_string(),
                    password: p.to_string(),
                },
                source,
            }));
        }
    }
    Ok(None)
}

/// Ask `docker-credential-<helper> get` for `registry`'s credentials.
fn from_helper(
    helper: &str,
    registry: &str,
    path: &Path,
) -> Result<Option<Credential>, CredentialError> {
    use std::io::Write as _;
    let program = format!("docker-credential-{helper}");
    let mut child = match std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            return Err(CredentialError::HelperMissing {
                helper: helper.to_string(),
                registry: registry.to_string(),
                path: path.to_path_buf(),
            })
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CredentialError::HelperFailed {
            helper: helper.to_string(),
            registry: registry.to_string(),
            reason: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // The helpers' protocol: "credentials not found in native keychain" is not an error.
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        let said = String::from_utf8_lossy(&out.stderr);
        let said = if said.trim().is_empty() {
            stdout.clone()
        } else {
            said
        };
        return Err(CredentialError::HelperFailed {
            helper: helper.to_string(),
            registry: registry.to_string(),
            reason: crate::util::text::one_line(said.trim(), 200),
        });
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: Answer =
        serde_json::from_str(&stdout).map_err(|e| CredentialError::HelperFailed {
            helper: helper.to_string(),
            registry: registry.to_string(),
            reason: format!("its answer is not a credential ({e})"),
        })?;
    let secret = if answer.username == "<token>" {
        return Err(CredentialError::IdentityToken {
            registry: registry.to_string(),
            path: path.to_path_buf(),
        });
    } else {
        Secret::Basic {
            username: answer.username,
            password: answer.secret,
        }
    };
    Ok(Some(Credential {
        secret,
        source: format!("credential helper {program} (named in {})", path.display()),
    }))
}

/// The credentials for `registry`: given ones first, then docker's config (its helper for
/// this registry, its `auths` entry, its `credsStore`), then podman's auth file.
pub fn lookup(
    registry: &str,
    given: &GivenCredentials,
) -> Result<Option<Credential>, CredentialError> {
    if let Some(c) = given.credential()? {
        return Ok(Some(c));
    }
    if let Some(path) = docker_config_path() {
        if let Some(config) = read_json(&path, "docker config")? {
            let helper_for = config
                .get("credHelpers")
                .and_then(|h| h.as_object())
                .and_then(|h| {
                    keys_for(registry)
                        .into_iter()
                        .find_map(|k| h.get(&k).cloned())
                })
                .and_then(|v| v.as_str().map(str::to_string));
            if let Some(helper) = helper_for {
                return from_helper(&helper, registry, &path);
            }
            if let Some(c) = from_auths(&config, registry, &path, "docker config")? {
                return Ok(Some(c));
            }
            if let Some(store) = config.get("credsStore").and_then(|s| s.as_str()) {
                if !store.is_empty() {
                    if let Some(c) = from_helper(store, registry, &path)? {
                        return Ok(Some(c));
                    }
                }
            }
        }
    }
    if let Some(path) = podman_auth_path() {
        if let Some(config) = read_json(&path, "podman auth file")? {
            return from_auths(&config, registry, &path, "podman auth file");
        }
    }
    Ok(None)
}

/// Store `username`/`password` for `registry` in docker's `config.json` (created with mode
/// 0600 when missing; every other entry kept), as `docker login` does without a helper.
/// Returns the file written.
pub fn login(registry: &str, username: &str, password: &str) -> Result<PathBuf, CredentialError> {
    let path = docker_config_path().ok_or_else(|| CredentialError::Unreadable {
        path: PathBuf::from("~/.docker/config.json"),
        reason: "neither DOCKER_CONFIG nor HOME is set".into(),
    })?;
    let mut config = read_json(&path, "docker config")?.unwrap_or_default();
    let auths = config
        .entry("auths")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    let auths = auths
        .as_object_mut()
        .ok_or_else(|| CredentialError::Malformed {
            path: path.clone(),
            what: "docker config",
            reason: "\"auths\" is not an object".into(),
        })?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    auths.insert(registry.to_string(), serde_json::json!({ "auth": auth }));
    write_config(&path, &config)?;
    Ok(path)
}

/// Remove `registry`'s entry from docker's `config.json`; `false` when there was none.
pub fn logout(registry: &str) -> Result<bool, CredentialError> {
    let Some(path) = docker_config_path() else {
        return Ok(false);
    };
    let Some(mut config) = read_json(&path, "docker config")? else {
        return Ok(false);
    };
    let removed = config
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .map(|a| {
            keys_for(registry)
                .iter()
                .filter(|k| a.remove(k.as_str()).is_some())
                .count()
                > 0
        })
        .unwrap_or(false);
    if removed {
        write_config(&path, &config)?;
    }
    Ok(removed)
}

fn write_config(
    path: &Path,
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), CredentialError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CredentialError::Unreadable {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    let mut text = serde_json::to_string_pretty(config).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    crate::util::fs::write_file_atomic(path, text.as_bytes(), 0o600, true)
        .map_err(|e| CredentialError::Write(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn auths_entries_decode_and_docker_hub_has_its_legacy_key() {
        let p = Path::new("/c.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p:w");
        let c = map(serde_json::json!({"auths": {"https://index.docker.io/v1/": {"auth": auth}}}));
        let got = from_auths(&c, "docker.io", p, "docker config")
            .unwrap()
            .unwrap();
        assert_eq!(
            got.secret,
            Secret::Basic {
                username: "u".into(),
                password: "p:w".into()
            }
        );
        assert!(from_auths(&c, "other.example", p, "docker config")
            .unwrap()
            .is_none());
        let bad = map(serde_json::json!({"auths": {"r.example": {"auth": "!!"}}}));
        assert!(matches!(
            from_auths(&bad, "r.example", p, "docker config"),
            Err(CredentialError::Undecodable { .. })
        ));
        let tok = map(serde_json::json!({"auths": {"r.example": {"identitytoken": "x"}}}));
        assert!(matches!(
            from_auths(&tok, "r.example", p, "docker config"),
            Err(CredentialError::IdentityToken { .. })
        ));
    }

    #[test]
    fn given_credentials_must_be_complete_and_of_one_kind() {
        let g = |u: Option<&str>, p: Option<&str>, t: Option<&str>| GivenCredentials {
            username: u.map(Into::into),
            password: p.map(Into::into),
            token: t.map(Into::into),
        };
        assert!(g(None, None, None).credential().unwrap().is_none());
        assert!(g(Some("u"), Some("p"), None)
            .credential()
            .unwrap()
            .is_some());
        assert!(g(None, None, Some("t")).credential().unwrap().is_some());
        assert!(matches!(
            g(Some("u"), None, None).credential(),
            Err(CredentialError::Incomplete)
        ));
        assert!(matches!(
            g(Some("u"), Some("p"), Some("t")).credential(),
            Err(CredentialError::Ambiguous)
        ));
        assert!(!format!("{:?}", g(Some("u"), Some("secret"), None)).contains("secret"));
    }
}
