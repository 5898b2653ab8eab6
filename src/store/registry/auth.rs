//! Registry authentication: credentials from docker's `config.json` (only ever sent to the
//! registry they were stored for), the `WWW-Authenticate` challenge parser, and the bearer
//! token exchange (or basic auth) that answers a `401`.

use super::*;

impl Repository {
    /// The credentials for this registry ([`super::credentials::lookup`]), with errors
    /// reading them reported against the registry.
    pub(super) fn credentials(&self) -> Result<Option<super::credentials::Credential>> {
        let found =
            super::credentials::lookup(&self.registry, &self.options.credentials).map_err(|e| {
                Error::Unauthorized {
                    registry: self.registry.clone(),
                    reason: e.to_string(),
                }
            })?;
        match &found {
            Some(c) => tracing::debug!(
                target: "imgseal::credentials",
                "credentials for {}: from {}",
                self.registry,
                c.source
            ),
            None => tracing::debug!(
                target: "imgseal::credentials",
                "credentials for {}: none found (given, docker config, podman auth file)",
                self.registry
            ),
        }
        Ok(found)
    }

    pub(super) async fn answer_challenge(&self, challenge: &str) -> Result<HeaderValue> {
        use super::credentials::Secret;
        use base64::Engine as _;
        let found = self.credentials()?;
        let token = match found.as_ref().map(|c| &c.secret) {
            Some(Secret::Token(t)) => Some(t.clone()),
            _ => None,
        };
        let creds = match found.map(|c| c.secret) {
            Some(Secret::Basic { username, password }) => Some((username, password)),
            _ => None,
        };
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
            if token.is_some() {
                return Err(unauthorized(
                    "it asks for a username and password (basic auth); a registry token cannot answer that".into(),
                ));
            }
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
        // A registry token given for this run is the bearer token itself.
        if let Some(t) = token {
            return HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                unauthorized("the registry token contains invalid characters".into())
            });
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
