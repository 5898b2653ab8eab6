//! The HTTP client every registry and CRL request goes through: one TLS stack (rustls with
//! ring), system root certificates loaded only when a TLS connection first needs them, response
//! bodies capped before they are buffered, per-request timeouts and an overall [`Deadline`].
//!
//! The TLS configuration (and so the system roots, read once) is shared by the whole process;
//! a `reqwest::Client` is cheap to build on top of it, so each store session keeps its own
//! (a client's pooled connections belong to the tokio runtime that opened them).

mod tls;

pub use tls::{TlsError, TlsOptions};

use crate::{Error, Result};
use std::time::Duration;

/// Longest a single blob transfer may take, however large the blob claims to be (the
/// per-request timeout grows with the announced size up to this).
pub const MAX_TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// An overall deadline for a run (a CLI command, one admission review): every registry request
/// made with these options is cut off when it passes, and each request's own timeout is
/// clamped to the time left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// When time is up.
    pub at: std::time::Instant,
    /// The whole budget (for messages).
    pub budget: std::time::Duration,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: std::time::Duration) -> Deadline {
        let now = std::time::Instant::now();
        Deadline {
            at: now
                .checked_add(budget)
                .unwrap_or(now + MAX_TRANSFER_TIMEOUT * 24),
            budget,
        }
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> std::time::Duration {
        self.at.saturating_duration_since(std::time::Instant::now())
    }

    /// True once the deadline has passed (within a few milliseconds of timer slack).
    pub fn expired(&self) -> bool {
        self.remaining() <= std::time::Duration::from_millis(20)
    }
}

/// The client's per-request timeout (each request's own timeout unless it sets a longer one).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a registry connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a blob transfer of `size` bytes may take: the usual two minutes plus one second
/// per 256 KiB, so large layers are not cut off by the client's per-request timeout, but never
/// more than [`MAX_TRANSFER_TIMEOUT`] (a descriptor claiming 100 GB must not buy days). The
/// overall deadline, when there is one, clamps it further.
pub(crate) fn transfer_timeout(size: u64) -> std::time::Duration {
    std::time::Duration::from_secs(120 + size / (256 * 1024)).min(MAX_TRANSFER_TIMEOUT)
}

/// Install ring as the process's rustls crypto provider (one crypto stack for TLS); a provider
/// already installed is kept.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client builder with imgseal's user agent and the shared TLS configuration (lazy system
/// roots); callers add their timeouts and redirect policy.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("imgseal/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls::client_config())
}

/// The client registries are reached with: 10 s to connect, [`REQUEST_TIMEOUT`] per request,
/// the TLS settings `tls`. `direct`: no proxy (loopback registries are never reached through
/// `HTTP(S)_PROXY`, as Go's tools behave).
pub(crate) fn registry_client(
    tls: &TlsOptions,
    direct: bool,
) -> std::result::Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let config = tls::client_config_with(tls)?;
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("imgseal/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(config)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if direct {
        builder = builder.no_proxy();
    }
    Ok(builder.build()?)
}

/// Why an HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// reqwest refused the configuration.
    #[error(transparent)]
    Build(#[from] reqwest::Error),
}

/// Read a response body, failing as soon as it exceeds `cap` bytes (before buffering more).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    cap: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let too_large = || Error::TooLarge {
        what: what.to_string(),
        limit: cap,
    };
    if let Some(len) = resp.content_length() {
        if len > cap {
            return Err(too_large());
        }
    }
    let mut buf = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| Error::Registry {
            registry: resp.url().host_str().unwrap_or("").to_string(),
            reason: if e.is_timeout() {
                format!("reading {what} timed out")
            } else {
                format!("reading {what}: {e}")
            },
        })?;
        let Some(chunk) = chunk else { break };
        if buf.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
