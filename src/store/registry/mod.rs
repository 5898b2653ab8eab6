//! A repository in an OCI distribution registry.
//!
//! Transfers use `reqwest` directly so that every body is size-capped while it streams and every
//! manifest is re-hashed; authentication challenges are answered with `oci-client`'s token
//! exchange, with credentials from docker's `config.json` (`DOCKER_CONFIG`,
//! `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`). A request is first sent
//! without credentials (or with the token already held); only a `401` triggers the token
//! exchange, so an anonymous registry costs one request per operation.
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) are reached over plain HTTP, as
//! docker does; other hosts need [`StoreOptions::allow_http`](super::StoreOptions) for that.

use super::{ManifestRef, StoreOptions};
use crate::net::{read_capped, REQUEST_TIMEOUT};
use crate::oci::MANIFEST_MEDIA_TYPES;
use crate::oci::{embedded_media_type, Manifest};

mod auth;
pub mod credentials;
mod referrers;
pub(crate) use referrers::ReferrersMemo;
pub use referrers::{Listing, MAX_CACHED_LISTINGS};

use crate::reference::is_loopback_host;
use crate::{Digest, Error, Reference, Result};
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A connection to one repository of one registry.
#[derive(Debug)]
pub struct Repository {
    http: reqwest::Client,
    scheme: &'static str,
    /// Host we talk to (Docker Hub's API host for docker.io).
    api_host: String,
    /// Registry as the user named it.
    registry: String,
    repository: String,
    write: bool,
    authorization: Mutex<Option<HeaderValue>>,
    requests: AtomicU64,
    options: StoreOptions,
    /// What this repository already read (boxed: `Store` stays small).
    memo: Box<Reads>,
}

/// What one [`Repository`] already read.
#[derive(Debug, Default)]
struct Reads {
    /// Blobs fetched in this run: verified content, or `None` for a blob that is missing.
    blobs: Mutex<std::collections::HashMap<Digest, Option<std::sync::Arc<[u8]>>>>,
    /// Tags read by a read-only repository: what each held (`None`: missing). See
    /// [`Repository::get_manifest`].
    tags: Mutex<std::collections::HashMap<String, Option<Manifest>>>,
    /// Referrers API listings read by a read-only repository, per subject and filter.
    listings: Mutex<std::collections::HashMap<(Digest, Option<String>), referrers::Listing>>,
}

/// Attempts of one blob upload before its error is reported ([`Repository::put_blob`]).
pub(crate) const BLOB_UPLOAD_ATTEMPTS: u32 = 4;

impl Repository {
    /// Prepare a connection (no network traffic until the first call).
    pub fn new(reference: &Reference, options: &StoreOptions, write: bool) -> Result<Repository> {
        crate::net::install_crypto_provider();
        let loopback = is_loopback_host(reference.registry());
        // TLS settings given for the run mean HTTPS, loopback included.
        let scheme = if (loopback || options.allow_http) && options.tls.is_default() {
            "http"
        } else {
            "https"
        };
        let http = options.session.client(loopback, || {
            crate::net::registry_client(&options.tls, loopback).map_err(|e| Error::Registry {
                registry: reference.registry().to_string(),
                reason: format!("cannot set up HTTP client: {e}"),
            })
        })?;
        Ok(Repository {
            http,
            scheme,
            api_host: reference.api_host().to_string(),
            registry: reference.registry().to_string(),
            repository: reference.repository().to_string(),
            write,
            authorization: Mutex::new(options.session.token(&(
                reference.registry().to_string(),
                reference.repository().to_string(),
                write,
            ))),
            requests: AtomicU64::new(0),
            options: options.clone(),
            memo: Box::default(),
        })
    }

    /// HTTP requests made so far (for benchmarks and tests).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `scheme://host` of the registry's API.
    fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.api_host)
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}://{}/v2/{}/{}",
            self.scheme, self.api_host, self.repository, tail
        )
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Registry {
            registry: self.registry.clone(),
            reason: reason.into(),
        }
    }

    fn transport_error(&self, e: reqwest::Error, doing: &str) -> Error {
        if e.is_timeout() && self.options.deadline.is_some_and(|d| d.expired()) {
            return self.deadline_error(doing);
        }
        let mut msg = if e.is_connect() {
            format!("cannot connect to {}://{}", self.scheme, self.api_host)
        } else if e.is_timeout() {
            format!("request to {}://{} timed out", self.scheme, self.api_host)
        } else {
            format!("request failed: {e}")
        };
        let mut source = std::error::Error::source(&e);
        let mut certificate = None;
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            if let Some(rustls::Error::InvalidCertificate(c)) = s.downcast_ref::<rustls::Error>() {
                certificate = Some(format!("{c:?}"));
            }
            if certificate.is_none() && s.to_string().contains("invalid peer certificate") {
                certificate = Some(s.to_string());
            }
            source = s.source();
        }
        if let Some(why) = certificate {
            return Error::UntrustedCertificate {
                registry: self.registry.clone(),
                reason: why,
            };
        }
        if e.is_connect() {
            msg.push_str(" (is the registry running and the address right?)");
        }
        self.err(msg)
    }

    /// Send a request built by `build`, answering one auth challenge if the registry sends it.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        self.try_send(|c| Ok(build(c))).await
    }

    /// [`Repository::send`] for requests whose building can fail (a body opened from a file,
    /// re-opened for the retry after an auth challenge since a stream cannot be replayed).
    ///
    /// Idempotent requests (GET, HEAD, and the PUT of content-addressed blobs and manifests)
    /// are retried on `429`/`502`/`503`/`504` and on connections reset or closed mid-request:
    /// at most [`MAX_ATTEMPTS`] attempts, waiting 100 ms then 400 ms (or what `Retry-After`
    /// asks, up to [`MAX_RETRY_AFTER`]), never past the deadline. A POST is never retried.
    async fn try_send(
        &self,
        build: impl Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder>,
    ) -> Result<reqwest::Response> {
        let mut answered = false;
        let mut attempt = 0u32;
        loop {
            let mut req = build(&self.http)?
                .build()
                .map_err(|e| self.err(format!("cannot build request: {e}")))?;
            let doing = format!("{} {}", req.method(), req.url().path());
            let retryable = is_idempotent(&req);
            let own_timeout = req.timeout().copied().unwrap_or(REQUEST_TIMEOUT);
            *req.timeout_mut() = Some(self.clamp(own_timeout, &doing)?);
            // Credentials go only to the registry itself (scheme, host and port), as docker,
            // containerd and go-containerregistry do: never to a host an upload `Location`
            // or a redirect names.
            let ours = self.is_own_origin(req.url());
            let held = self.authorization.lock().ok().and_then(|g| g.clone());
            if let (Some(a), true) = (held, ours) {
                req.headers_mut().insert(AUTHORIZATION, a);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let (method, url) = (req.method().clone(), req.url().clone());
            let started = std::time::Instant::now();
            let sent = self.within_deadline(self.http.execute(req), &doing).await?;
            match &sent {
                Ok(r) => tracing::debug!(
                    target: "imgseal::registry",
                    "{method} {url} -> {} in {:.1} ms",
                    r.status().as_u16(),
                    started.elapsed().as_secs_f64() * 1000.0
                ),
                Err(e) => tracing::debug!(
                    target: "imgseal::registry",
                    "{method} {url} -> failed after {:.1} ms: {e}",
                    started.elapsed().as_secs_f64() * 1000.0
                ),
            }
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    if retryable && is_reset(&e) && self.backoff(attempt, None).await {
                        attempt += 1;
                        continue;
                    }
                    return Err(self.transport_error(e, &doing));
                }
            };
            if retryable
                && matches!(
                    resp.status(),
                    StatusCode::TOO_MANY_REQUESTS
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                )
            {
                let asked = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                if self.backoff(attempt, Some(asked)).await {
                    attempt += 1;
                    continue;
                }
            }
            if resp.status() != StatusCode::UNAUTHORIZED || answered || !ours {
                if matches!(
                    resp.status(),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ) {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        reason: format!(
                            "HTTP {} for {}; check the credentials in your docker config (docker login {})",
                            resp.status().as_u16(),
                            self.repository,
                            self.registry
                        ),
                    });
                }
                return Ok(resp);
            }
            answered = true;
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let value = self.answer_challenge(&challenge).await?;
            self.options.session.set_token(
                (self.registry.clone(), self.repository.clone(), self.write),
                value.clone(),
            );
            if let Ok(mut g) = self.authorization.lock() {
                *g = Some(value);
            }
        }
    }

    /// Wait before retry number `attempt + 1`; false (no wait) when no attempt is left, the
    /// server asks for longer than [`MAX_RETRY_AFTER`], or the wait would run past the
    /// deadline. `retry_after` is `Some` for status answers (with the header's value, if any).
    async fn backoff(&self, attempt: u32, retry_after: Option<Option<Duration>>) -> bool {
        if attempt + 1 >= MAX_ATTEMPTS {
            return false;
        }
        let mut wait = Duration::from_millis(100 * 4u64.pow(attempt));
        if let Some(Some(asked)) = retry_after {
            if asked > MAX_RETRY_AFTER {
                return false;
            }
            wait = wait.max(asked);
        }
        if let Some(d) = &self.options.deadline {
            if wait >= d.remaining() {
                return false;
            }
        }
        tokio::time::sleep(wait).await;
        true
    }

    /// `timeout` clamped to the time left before the deadline; the deadline error when none is.
    fn clamp(&self, timeout: Duration, doing: &str) -> Result<Duration> {
        match &self.options.deadline {
            None => Ok(timeout),
            Some(d) if d.expired() => Err(self.deadline_error(doing)),
            Some(d) => Ok(timeout.min(d.remaining())),
        }
    }

    /// The deadline error once the overall deadline has passed.
    pub(crate) fn check_deadline(&self) -> Result<()> {
        match &self.options.deadline {
            Some(d) if d.expired() => Err(self.deadline_error("examining signatures")),
            _ => Ok(()),
        }
    }

    fn deadline_error(&self, doing: &str) -> Error {
        Error::Deadline {
            registry: self.registry.clone(),
            budget: self.options.deadline.map(|d| d.budget).unwrap_or_default(),
            doing: doing.to_string(),
        }
    }

    /// Run `fut`, cut off (with the deadline error) when the overall deadline passes.
    async fn within_deadline<T>(
        &self,
        fut: impl std::future::Future<Output = T>,
        doing: &str,
    ) -> Result<T> {
        match &self.options.deadline {
            None => Ok(fut.await),
            Some(d) => tokio::time::timeout_at(tokio::time::Instant::from_std(d.at), fut)
                .await
                .map_err(|_| self.deadline_error(doing)),
        }
    }

    /// Read a response body with [`read_capped`], under the overall deadline; a timeout once
    /// the deadline has passed is reported as the deadline.
    async fn read_body(&self, resp: reqwest::Response, cap: u64, what: &str) -> Result<Vec<u8>> {
        let doing = format!("reading {what}");
        match self
            .within_deadline(read_capped(resp, cap, what), &doing)
            .await?
        {
            Err(Error::Registry { reason, .. })
                if reason.contains("timed out")
                    && self.options.deadline.is_some_and(|d| d.expired()) =>
            {
                Err(self.deadline_error(&doing))
            }
            other => other,
        }
    }

    async fn error_for(&self, resp: reqwest::Response, what: &str) -> Error {
        let status = resp.status();
        let body = self.read_body(resp, 1024, what).await.unwrap_or_default();
        let text = one_line(&body);
        if status == StatusCode::BAD_REQUEST
            && text.contains("Client sent an HTTP request to an HTTPS server")
        {
            return Error::HttpsOnly {
                registry: self.registry.clone(),
            };
        }
        self.err(format!(
            "HTTP {} for {what}: {}",
            status.as_u16(),
            text.trim()
        ))
    }

    /// A failed body read: "timed out" (or the deadline) when it was a timeout.
    fn body_error(&self, e: reqwest::Error, what: &str) -> Error {
        if e.is_timeout() {
            if self.options.deadline.is_some_and(|d| d.expired()) {
                return self.deadline_error(&format!("reading {what}"));
            }
            return self.err(format!("reading {what} timed out"));
        }
        self.err(format!("reading {what}: {e}"))
    }

    /// Fetch a manifest by tag or digest; `Ok(None)` on 404.
    ///
    /// A repository opened read-only lives for one operation (one image's verification or
    /// policy evaluation) and reads each tag once: the signature and attestation lookups of
    /// the same image, and each attestation requirement of a rule, share one read of the
    /// `.sig`, `.att` and referrers fallback tags (at most [`MAX_CACHED_TAGS`] tags and
    /// [`MAX_CACHED_TAG_BYTES`] of manifests are kept). A repository opened for writing always
    /// reads again (the shared-tag update loop depends on it).
    pub async fn get_manifest(&self, r: &ManifestRef) -> Result<Option<Manifest>> {
        let ManifestRef::Tag(tag) = r else {
            return self.fetch_manifest(r).await;
        };
        if self.write {
            return self.fetch_manifest(r).await;
        }
        if let Some(held) = self.memo.tags.lock().ok().and_then(|t| t.get(tag).cloned()) {
            tracing::debug!(
                target: "imgseal::registry",
                "manifest {}:{tag} already read in this operation ({})",
                self.repository,
                held.as_ref().map_or("missing".to_string(), |m| m.digest.to_string())
            );
            return Ok(held);
        }
        let got = self.fetch_manifest(r).await?;
        if let Ok(mut t) = self.memo.tags.lock() {
            let held: usize = t.values().flatten().map(|m| m.bytes.len()).sum();
            let adds = got.as_ref().map_or(0, |m| m.bytes.len());
            if t.len() < MAX_CACHED_TAGS && held + adds <= MAX_CACHED_TAG_BYTES {
                t.insert(tag.clone(), got.clone());
            }
        }
        Ok(got)
    }

    /// [`Repository::get_manifest`] from the registry, always.
    async fn fetch_manifest(&self, r: &ManifestRef) -> Result<Option<Manifest>> {
        let url = self.url(&format!("manifests/{r}"));
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let resp = self
            .send(|c| c.get(&url).header(ACCEPT, accept.as_str()))
            .await?;
        let what = format!("manifest {}:{r}", self.repository);
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.error_for(resp, &what).await);
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or("").trim().to_string());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<Digest>().ok());
        let bytes = self
            .read_body(resp, self.options.max_manifest_bytes, &what)
            .await?;
        let digest = match r {
            ManifestRef::Digest(d) => {
                d.verify(&bytes, &what)?;
                d.clone()
            }
            ManifestRef::Tag(_) => Digest::sha256(&bytes),
        };
        if let Some(h) = header_digest {
            let computed = h.of_same_kind(&bytes);
            if computed != h {
                return Err(Error::DigestMismatch {
                    what: format!("{what} (Docker-Content-Digest header)"),
                    expected: h.to_string(),
                    actual: computed.to_string(),
                });
            }
        }
        let media_type = match content_type {
            Some(ct) if MANIFEST_MEDIA_TYPES.contains(&ct.as_str()) => ct,
            _ => embedded_media_type(&bytes).unwrap_or_default(),
        };
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// Fetch a blob, refusing it when over `cap`, not `size` bytes, or not matching `digest`.
    pub async fn get_blob(&self, digest: &Digest, size: u64, cap: u64) -> Result<Vec<u8>> {
        let what = format!("blob {digest}");
        if size > cap {
            return Err(Error::TooLarge { what, limit: cap });
        }
        let not_found = || Error::NotFound {
            what: format!("{what} in {}", self.repository),
        };
        // Within a run, a blob is asked for once: what it was (verified), or that it is missing.
        let cached = self
            .memo
            .blobs
            .lock()
            .ok()
            .and_then(|c| c.get(digest).cloned());
        match cached {
            Some(None) => return Err(not_found()),
            Some(Some(bytes)) if bytes.len() as u64 > size.min(cap) => {
                return Err(Error::TooLarge {
                    what,
                    limit: size.min(cap),
                })
            }
            Some(Some(bytes)) => return Ok(bytes.to_vec()),
            None => {}
        }
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(|c| c.get(&url)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            self.remember_blob(digest, None);
            return Err(not_found());
        }
        if !resp.status().is_success() {
            return Err(self.error_for(resp, &what).await);
        }
        let bytes = self.read_body(resp, size.min(cap), &what).await?;
        digest.verify(&bytes, &what)?;
        self.remember_blob(digest, Some(&bytes));
        Ok(bytes)
    }

    /// Remember blob `digest`'s verified content (`None`: it is missing) for the rest of the
    /// run, within [`MAX_CACHED_BLOB_BYTES`] of content and [`MAX_CACHED_BLOBS`] entries.
    fn remember_blob(&self, digest: &Digest, bytes: Option<&[u8]>) {
        let Ok(mut cache) = self.memo.blobs.lock() else {
            return;
        };
        let held: usize = cache.values().flatten().map(|b| b.len()).sum();
        let adds = bytes.map_or(0, <[u8]>::len);
        if cache.len() >= MAX_CACHED_BLOBS || held + adds > MAX_CACHED_BLOB_BYTES {
            return;
        }
        cache.insert(digest.clone(), bytes.map(std::sync::Arc::from));
    }

    /// True when the repository has blob `digest` (HEAD).
    pub(crate) async fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(|c| c.head(&url)).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.error_for(resp, &format!("blob {digest}")).await),
        }
    }

    /// Upload a blob unless the registry already has it (HEAD first). Blobs are content
    /// addressed, so the upload is retried (`BLOB_UPLOAD_ATTEMPTS` in all, short backoff)
    /// when the registry fails it transiently: a 5xx, or a `400`/`404` naming the digest or
    /// the upload session (docker-registry when clients upload the same blob at once). A blob
    /// present after a failure counts as uploaded.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256(bytes);
        let mut last = None;
        for attempt in 0..BLOB_UPLOAD_ATTEMPTS {
            if attempt > 0 {
                let jitter = (super::random_unit() * 50.0) as u64;
                let wait = 50 * (1u64 << (attempt - 1)) + jitter;
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            let url = self.url(&format!("blobs/{digest}"));
            let head = self.send(|c| c.head(&url)).await?;
            match head.status() {
                s if s.is_success() => return Ok(digest),
                StatusCode::NOT_FOUND => {}
                s if s.is_server_error() => {
                    last = Some(self.error_for(head, &format!("blob {digest}")).await);
                    continue;
                }
                _ => return Err(self.error_for(head, &format!("blob {digest}")).await),
            }
            match self.upload_once(&digest, bytes).await? {
                None => return Ok(digest),
                Some(e) => last = Some(e),
            }
        }
        if self.blob_exists(&digest).await? {
            return Ok(digest);
        }
        Err(match last {
            Some(Error::Registry { registry, reason }) => Error::Registry {
                registry,
                reason: format!("{reason} (after {BLOB_UPLOAD_ATTEMPTS} attempts)"),
            },
            Some(e) => e,
            None => self.err(format!("upload of blob {digest} failed")),
        })
    }

    /// One monolithic upload (POST, then PUT) of blob `digest`: `Ok(None)` when done,
    /// `Ok(Some(error))` when the registry failed it in a way worth retrying, `Err` otherwise.
    async fn upload_once(&self, digest: &Digest, bytes: &[u8]) -> Result<Option<Error>> {
        let what = format!("upload of blob {digest}");
        let start = self.url("blobs/uploads/");
        let resp = self.send(|c| c.post(&start)).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return self.upload_failure(resp, &what).await;
        }
        let put = self.finish_url(&self.upload_location(&resp)?, digest);
        let body = bytes.to_vec();
        let resp = self
            .send(|c| {
                c.request(Method::PUT, &put)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return self.upload_failure(resp, &what).await;
        }
        Ok(None)
    }

    /// The error for a failed blob upload step: `Ok(Some(_))` when transient (5xx, or a
    /// 400/404 whose error code names the digest or upload session), else `Err`.
    async fn upload_failure(&self, resp: reqwest::Response, what: &str) -> Result<Option<Error>> {
        let status = resp.status();
        let body = read_capped(resp, 1024, what).await.unwrap_or_default();
        let text = one_line(&body);
        let err = self.err(format!(
            "HTTP {} for {what}: {}",
            status.as_u16(),
            text.trim()
        ));
        if transient_upload_failure(status, &text) {
            Ok(Some(err))
        } else {
            Err(err)
        }
    }

    /// Open an upload session; returns its absolute URL.
    async fn start_upload(&self, what: &str) -> Result<String> {
        let start = self.url("blobs/uploads/");
        let resp = self.send(|c| c.post(&start)).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.error_for(resp, what).await);
        }
        self.upload_location(&resp).map_err(|e| match e {
            Error::Registry { registry, reason } => Error::Registry {
                registry,
                reason: format!("{what}: {reason}"),
            },
            other => other,
        })
    }

    /// True when `url` is this registry: same scheme, host and port.
    fn is_own_origin(&self, url: &reqwest::Url) -> bool {
        match reqwest::Url::parse(&format!("{}://{}/", self.scheme, self.api_host)) {
            Ok(base) => base.origin() == url.origin(),
            Err(_) => false,
        }
    }

    /// The absolute upload-session URL in a `202 Accepted` response's `Location`, resolved
    /// against the registry's URL. A plain-HTTP location from an HTTPS registry is refused (the
    /// blob would travel unprotected); another host is allowed, but gets no credentials.
    fn upload_location(&self, resp: &reqwest::Response) -> Result<String> {
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| self.err("no usable Location header in the upload response"))?;
        self.resolve_location(location)
    }

    /// [`Repository::upload_location`] for the header's value.
    fn resolve_location(&self, location: &str) -> Result<String> {
        let base = reqwest::Url::parse(&self.url("blobs/uploads/"))
            .map_err(|e| self.err(format!("bad registry URL: {e}")))?;
        let url = base.join(location).map_err(|e| {
            self.err(format!(
                "upload Location {:?} is not a URL: {e}",
                crate::util::text::escape_control(location)
            ))
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.scheme == "http" => {}
            other => {
                return Err(self.err(format!(
                    "the registry named an upload location over {other}:// ({}); refusing to send the blob there from an https registry",
                    url.host_str().unwrap_or("")
                )))
            }
        }
        Ok(url.to_string())
    }

    /// The URL that completes upload session `location` with a monolithic PUT of `digest`.
    fn finish_url(&self, location: &str, digest: &Digest) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }

    /// This repository's path (`library/nginx`).
    pub(crate) fn repository(&self) -> &str {
        &self.repository
    }

    /// True when `other` is a repository of the same registry, reached the same way (so a
    /// blob can be mounted from it).
    pub(crate) fn same_registry(&self, other: &Repository) -> bool {
        self.scheme == other.scheme && self.api_host == other.api_host
    }

    /// Ask the registry to mount blob `digest` from repository `from` (same registry) instead
    /// of uploading it. A registry that refuses (no such blob there, no pull access to `from`,
    /// mounting unsupported) answers `202` with an upload session, returned for the upload.
    pub(crate) async fn mount_blob(&self, digest: &Digest, from: &str) -> Result<Mount> {
        let url = self.url(&format!("blobs/uploads/?mount={digest}&from={from}"));
        let resp = match self.send(|c| c.post(&url)).await {
            Ok(r) => r,
            // A token scoped to this repository may not grant pull on `from`: upload instead.
            Err(Error::Unauthorized { .. }) => return Ok(Mount::Refused(None)),
            Err(e) => return Err(e),
        };
        Ok(match resp.status() {
            StatusCode::CREATED => Mount::Mounted,
            StatusCode::ACCEPTED => Mount::Refused(self.upload_location(&resp).ok()),
            _ => Mount::Refused(None),
        })
    }

    /// Stream blob `digest` into `out`, which hashes and counts it: refused as soon as it
    /// runs past `size` bytes (or announces more); `out.finish()` checks the digest.
    pub(crate) async fn download_blob(
        &self,
        digest: &Digest,
        size: u64,
        out: &mut super::VerifiedSink,
    ) -> Result<()> {
        let what = format!("blob {digest}");
        let url = self.url(&format!("blobs/{digest}"));
        let timeout = crate::net::transfer_timeout(size);
        let resp = self.send(|c| c.get(&url).timeout(timeout)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(Error::NotFound {
                what: format!("{what} in {}", self.repository),
            });
        }
        if !resp.status().is_success() {
            return Err(self.error_for(resp, &what).await);
        }
        if let Some(len) = resp.content_length() {
            if len > size {
                return Err(Error::TooLarge { what, limit: size });
            }
        }
        let doing = format!("reading {what}");
        let stream = async {
            let mut resp = resp;
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.body_error(e, &what))? {
                out.write(&chunk).await?;
            }
            Ok::<(), Error>(())
        };
        self.within_deadline(stream, &doing).await?
    }

    /// Upload the `size`-byte file at `path` (already verified to hash to `digest`) as blob
    /// `digest`, streaming it in one PUT; `session` is an upload already opened (by a refused
    /// mount), else one is opened. `observer` is told the bytes handed to the connection.
    pub(crate) async fn upload_blob_file(
        &self,
        digest: &Digest,
        size: u64,
        path: &std::path::Path,
        session: Option<String>,
        observer: Option<super::BlobObserver>,
    ) -> Result<()> {
        let what = format!("upload of blob {digest}");
        let location = match session {
            Some(l) => l,
            None => self.start_upload(&what).await?,
        };
        let put = self.finish_url(&location, digest);
        let timeout = crate::net::transfer_timeout(size);
        let reporter = observer.map(|o| {
            std::sync::Arc::new(super::StageReporter::new(o, super::BlobStage::Upload, size))
        });
        if let Some(r) = &reporter {
            r.start();
        }
        let resp = self
            .try_send(|c| {
                let file = tokio::fs::File::from_std(crate::util::fs::open_regular(path)?);
                let body = match &reporter {
                    None => reqwest::Body::from(file),
                    Some(r) => reqwest::Body::wrap_stream(counted(file, r.clone())),
                };
                Ok(c.put(&put)
                    .timeout(timeout)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(reqwest::header::CONTENT_LENGTH, size)
                    .body(body))
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.error_for(resp, &what).await);
        }
        Ok(())
    }

    /// Push a manifest's exact bytes, at `tag` or else at its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest> {
        Ok(self.put_manifest_subject(bytes, media_type, tag).await?.0)
    }

    /// Push a manifest; also returns the `OCI-Subject` header the registry sent back, which
    /// says it indexed the manifest's `subject` for the referrers API.
    pub async fn put_manifest_subject(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<(Digest, Option<String>)> {
        let digest = Digest::sha256(bytes);
        let target = tag
            .map(str::to_string)
            .unwrap_or_else(|| digest.to_string());
        let url = self.url(&format!("manifests/{target}"));
        let body = bytes.to_vec();
        let resp = self
            .send(|c| {
                c.put(&url)
                    .header(CONTENT_TYPE, media_type)
                    .body(body.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self
                .error_for(
                    resp,
                    &format!("push of manifest {}:{target}", self.repository),
                )
                .await);
        }
        if let Some(h) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse::<Digest>().ok())
        {
            if h != digest {
                return Err(Error::DigestMismatch {
                    what: format!("pushed manifest {}:{target}", self.repository),
                    expected: digest.to_string(),
                    actual: h.to_string(),
                });
            }
        }
        let subject = resp
            .headers()
            .get("oci-subject")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if subject.is_some() {
            // The registry indexes subjects: it has the referrers API after all.
            self.options
                .session
                .referrers_memo()
                .forget(&self.origin(), &self.repository);
        }
        Ok((digest, subject))
    }
}

/// The outcome of [`Repository::mount_blob`].
#[derive(Debug)]
pub(crate) enum Mount {
    /// The registry linked the blob into this repository.
    Mounted,
    /// Not mounted; the upload session the registry opened instead, if any.
    Refused(Option<String>),
}

/// Attempts of an idempotent request answered 429/502/503/504 or cut by a connection reset.
const MAX_ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured; a server asking for longer gets no retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Blobs remembered per repository and run (present or missing).
const MAX_CACHED_BLOBS: usize = 4096;
/// Content remembered per repository and run.
const MAX_CACHED_BLOB_BYTES: usize = 32 * 1024 * 1024;
/// Tags remembered by a read-only repository ([`Repository::get_manifest`]).
pub const MAX_CACHED_TAGS: usize = 64;
/// Manifest bytes remembered by a read-only repository ([`Repository::get_manifest`]).
pub const MAX_CACHED_TAG_BYTES: usize = 16 * 1024 * 1024;

/// True for requests that may be sent again: GET and HEAD, and PUTs of content-addressed
/// things (a blob upload completed by `digest=`, a manifest pushed by digest). Never a POST
/// (it opens an upload session) or a PUT to a tag (the tag-update loop retries those itself).
fn is_idempotent(req: &reqwest::Request) -> bool {
    match *req.method() {
        Method::GET | Method::HEAD => true,
        Method::PUT => {
            let url = req.url();
            url.query_pairs().any(|(k, _)| k == "digest")
                || url
                    .path()
                    .rsplit_once("/manifests/")
                    .is_some_and(|(_, r)| r.contains(':'))
        }
        _ => false,
    }
}

/// True for transport failures worth one more attempt: the connection was reset or closed
/// mid-request (not a timeout, a refused connection, a redirect loop or a bad request).
fn is_reset(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() || e.is_redirect() || e.is_builder() || e.is_status() {
        return false;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ) {
                return true;
            }
        }
        let text = s.to_string();
        if text.contains("connection closed before message completed")
            || text.contains("connection reset")
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Percent-encode a query value (media types contain `+` and `/`).
/// True when a failed blob upload step (`status`, error body `text`) is worth retrying: a 5xx,
/// or a `400`/`404` whose error code names the digest or the upload session, as
/// docker-registry answers when several clients upload the same blob at once.
fn transient_upload_failure(status: StatusCode, text: &str) -> bool {
    const CODES: [&str; 4] = [
        "DIGEST_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UNKNOWN",
    ];
    status.is_server_error()
        || (matches!(status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND)
            && CODES.iter().any(|c| text.contains(c)))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response body as one short line (at most 300 characters).
fn one_line(body: &[u8]) -> String {
    crate::util::text::one_line(&String::from_utf8_lossy(body), 300)
}

/// `file`'s bytes as a stream of chunks, telling `reporter` the bytes read so far.
fn counted(
    file: tokio::fs::File,
    reporter: std::sync::Arc<super::StageReporter>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::try_unfold((file, 0u64), move |(mut file, done)| {
        let reporter = reporter.clone();
        async move {
            use tokio::io::AsyncReadExt as _;
            let mut buf = vec![0u8; 256 * 1024];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            let done = done + n as u64;
            reporter.report(done);
            Ok(Some((buf, (file, done))))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::auth::parse_challenge;
    use super::referrers::parse_next_link;
    use super::*;

    #[test]
    fn upload_locations_are_resolved_and_never_downgraded() {
        let https = Repository::new(
            &"registry.example/app".parse().unwrap(),
            &StoreOptions::default(),
            true,
        )
        .unwrap();
        assert_eq!(
            https
                .resolve_location("/v2/app/blobs/uploads/u1?x=1")
                .unwrap(),
            "https://registry.example/v2/app/blobs/uploads/u1?x=1"
        );
        assert_eq!(
            https.resolve_location("u1").unwrap(),
            "https://registry.example/v2/app/blobs/uploads/u1"
        );
        // Another host is allowed (storage backends), but it gets no credentials…
        let elsewhere = https
            .resolve_location("https://storage.example/u1")
            .unwrap();
        assert!(!https.is_own_origin(&reqwest::Url::parse(&elsewhere).unwrap()));
        assert!(
            https.is_own_origin(&reqwest::Url::parse("https://registry.example:443/v2/").unwrap())
        );
        assert!(!https.is_own_origin(&reqwest::Url::parse("http://registry.example/v2/").unwrap()));
        assert!(!https
            .is_own_origin(&reqwest::Url::parse("https://registry.example:8443/v2/").unwrap()));
        // …and plain HTTP from an HTTPS registry is refused outright.
        let e = https
            .resolve_location("http://registry.example/v2/app/blobs/uploads/u1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing to send the blob there"), "{e}");
        let plain = Repository::new(
            &"127.0.0.1:5000/app".parse().unwrap(),
            &StoreOptions::default(),
            true,
        )
        .unwrap();
        assert!(plain.resolve_location("http://127.0.0.1:5000/u1").is_ok());
    }

    #[test]
    fn only_idempotent_requests_are_retried() {
        let r = |m: Method, tail: &str| {
            let url = reqwest::Url::parse(&format!("http://127.0.0.1:5000/v2/app/{tail}")).unwrap();
            is_idempotent(&reqwest::Request::new(m, url))
        };
        assert!(r(Method::GET, "manifests/v1"));
        assert!(r(Method::HEAD, "blobs/sha256:ab"));
        assert!(r(Method::PUT, "blobs/uploads/u1?digest=sha256:ab"));
        assert!(r(Method::PUT, "manifests/sha256:ab"));
        assert!(!r(Method::PUT, "manifests/sha256-ab.sig"));
        assert!(!r(Method::PUT, "manifests/v1"));
        assert!(!r(Method::POST, "blobs/uploads/"));
        assert!(!r(Method::PATCH, "blobs/uploads/u1"));
    }

    #[test]
    fn transfer_timeout_is_bounded() {
        assert_eq!(crate::net::transfer_timeout(0), REQUEST_TIMEOUT);
        assert_eq!(
            crate::net::transfer_timeout(100 * 1024 * 1024 * 1024),
            crate::net::MAX_TRANSFER_TIMEOUT
        );
    }

    #[test]
    fn challenges() {
        let p = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        assert!(parse_challenge("Bearer").is_empty());
        assert!(parse_challenge("").is_empty());
        let p = parse_challenge("Bearer realm=unquoted, service=\"x\"");
        assert_eq!(p["realm"], "unquoted");
        assert_eq!(p["service"], "x");
    }

    #[test]
    fn transient_upload_failures() {
        let t = |code: u16, body: &str| {
            transient_upload_failure(StatusCode::from_u16(code).unwrap(), body)
        };
        assert!(t(500, ""));
        assert!(t(503, "upstream unavailable"));
        assert!(t(
            400,
            r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#
        ));
        assert!(t(404, r#"{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}"#));
        // Not transient: retrying cannot help.
        assert!(!t(400, r#"{"errors":[{"code":"NAME_INVALID"}]}"#));
        assert!(!t(404, r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#));
        assert!(!t(413, ""));
        assert!(!t(405, r#"{"errors":[{"code":"UNSUPPORTED"}]}"#));
    }

    #[test]
    fn link_header() {
        assert_eq!(
            parse_next_link(r#"</v2/a/referrers/sha256:x?n=1&last=y>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=1&last=y")
        );
        assert_eq!(parse_next_link(r#"<x>; rel="prev""#), None);
        assert_eq!(parse_next_link("garbage"), None);
    }

    #[test]
    fn encoding() {
        assert_eq!(
            percent_encode("application/vnd.dev.cosign.artifact.sig.v1+json"),
            "application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson"
        );
    }
}
