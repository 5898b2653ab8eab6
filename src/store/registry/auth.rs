//! Registry authentication: credentials from docker's `config.json` (only ever sent to the
//! registry they were stored for), the `WWW-Authenticate` challenge parser, and the bearer
//! token exchange (or basic auth) that answers a `401`.

use super::*;

impl Repository {
    pub(super) fn credentials(&self) -> Result<Option<(String, String)>> {
        let mut keys = vec![self.registry.clone()];
        if self.registry == crate::reference::DOCKER_HUB {
            keys.push("https://index.docker.io/v1/".into());
            keys.push("index.docker.io".into());
        }
        // Read config.json ourselves (the crate would read a FIFO or /dev/zero without end),
        // then let docker_credential interpret it (auths, credHelpers, credsStore).
        let Some(config) = docker_config()? else {
            return Ok(None);
        };
        for k in keys {
            match docker_credential::get_credential_from_reader(config.as_slice(), &k) {
                Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
                    return Ok(Some((u, p)))
                }
                Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        reason: "docker config holds an identity token, which needs an OAuth2 refresh exchange imgseal does not do; run `docker login` with a username and password or token".into(),
                    })
                }
                Err(_) => continue,
            }
        }
        Ok(None)
    }

    pub(super) async fn answer_challenge(&self, challenge: &str) -> Result<HeaderValue> {
        use base64::Engine as _;
        let creds = self.credentials()?;
        let scheme = challenge
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let unauthorized = |reason: String| Error::Unauthorized {
            registry: self.registry.clone(),
            reason,
        };
        if scheme == "basic" {
            let Some((u, p)) = creds else {
                return Err(unauthorized(format!(
                    "it requires credentials and none are configured; run `docker login {}` or set DOCKER_CONFIG",
                    self.registry
                )));
            };
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            return HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| unauthorized("credentials contain invalid characters".into()));
        }
        if scheme != "bearer" {
            return Err(unauthorized(format!(
                "unsupported authentication challenge {challenge:?}"
            )));
        }
        // Bearer: the Docker token flow, with imgseal's own client so the token response is
        // size-capped and timed out like every other request.
        let params = parse_challenge(challenge);
        let realm = params
            .get("realm")
            .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
            .ok_or_else(|| {
                unauthorized(format!(
                    "bearer challenge without a usable realm: {challenge:?}"
                ))
            })?
            .clone();
        let action = if self.write { "pull,push" } else { "pull" };
        let scope = format!("repository:{}:{action}", self.repository);
        let mut url = realm;
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("scope={}", percent_encode(&scope)));
        if let Some(service) = params.get("service") {
            url.push_str(&format!("&service={}", percent_encode(service)));
        }
        if self.scheme == "https" && url.starts_with("http://") && creds.is_some() {
            return Err(unauthorized(format!(
                "the token service {} is plain HTTP while the registry is HTTPS; refusing to send credentials there",
                url.split('?').next().unwrap_or("")
            )));
        }
        let doing = "token exchange".to_string();
        let mut req = self
            .http
            .get(&url)
            .timeout(self.clamp(REQUEST_TIMEOUT, &doing)?);
        if let Some((u, p)) = &creds {
            req = req.basic_auth(u, Some(p));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .within_deadline(req.send(), &doing)
            .await?
            .map_err(|e| self.transport_error(e, &doing))?;
        let status = resp.status();
        let body = match self
            .read_body(resp, MAX_TOKEN_RESPONSE, "token response")
            .await
        {
            Err(e @ Error::Deadline { .. }) => return Err(e),
            other => other.map_err(|e| unauthorized(format!("token exchange failed: {e}")))?,
        };
        if !status.is_success() {
            let hint = if creds.is_some() {
                format!("check your credentials (docker login {})", self.registry)
            } else {
                format!(
                    "it may need credentials: run `docker login {}`",
                    self.registry
                )
            };
            return Err(unauthorized(format!(
                "token exchange failed: the token service answered HTTP {}: {}; {hint}",
                status.as_u16(),
                one_line(&body)
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            unauthorized(format!(
                "token exchange failed: the token service's answer is not a token response ({e})"
            ))
        })?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthorized("token exchange failed: the token service gave no token".into())
            })?;
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            unauthorized(
                "token exchange failed: the token service returned an unusable token".into(),
            )
        })
    }
}

/// Cap on a token service's answer.
/// A docker config.json is small; a larger one is refused rather than read without end.
pub(super) const MAX_DOCKER_CONFIG: u64 = 4 * 1024 * 1024;

/// The bytes of docker's config.json (`$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`, where docker_credential looks); `None` when there is none.
pub(super) fn docker_config() -> Result<Option<Vec<u8>>> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("HOME") {
            Some(h) => std::path::Path::new(&h).join(".docker"),
            None => return Ok(None),
        },
    };
    match crate::util::fs::read_capped(
        &dir.join("config.json"),
        MAX_DOCKER_CONFIG,
        "a docker config",
    ) {
        Ok(bytes) => Ok(Some(bytes)),
        // Missing or unreadable: no credentials, as before (docker too carries on).
        Err(crate::util::fs::FileError::Io { .. }) => Ok(None),
        // A FIFO or device would hang or never end, a huge file exhaust memory: say so.
        Err(e) => Err(e.into()),
    }
}

pub(super) const MAX_TOKEN_RESPONSE: u64 = 64 * 1024;

/// The parameters of a `WWW-Authenticate: Bearer k="v",k2="v2"` challenge (quoted values may
/// contain commas).
pub(super) fn parse_challenge(header: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let rest = header.trim();
    let rest = rest
        .split_once(char::is_whitespace)
        .map(|x| x.1)
        .unwrap_or("");
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => {
                        value.push(c);
                        escaped = false;
                    }
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}
