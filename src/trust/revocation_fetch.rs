//! Fetching CRLs for a Notary Project signing chain: the network half of revocation checking.
//!
//! [`Checker::check_chain`] looks at every certificate of an ordered chain (signing certificate
//! first) except a self-signed root, following the Notary Project trust-store/trust-policy
//! specification ("Certificate Revocation Evaluation"): it reads the certificate's revocation
//! sources ([`crate::pki::crl::sources`]), fetches the CRL with one bounded `GET` per URL
//! ([`DEFAULT_TIMEOUT`], [`MAX_CRL_SIZE`], at most [`MAX_URLS_PER_CERTIFICATE`] URLs), tried in
//! order until one yields a verdict, and evaluates it with [`crate::pki::crl::check_crl`]
//! (which does no I/O).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::pki::cert::Certificate;
use crate::pki::crl::{
    check_crl, sources, truncate, CertRevocation, CertStatus, ChainRevocation, CrlVerdict,
    RevocationError, MAX_CHAIN_LENGTH,
};
use crate::util::time::Clock;

/// Largest CRL body fetched (larger bodies make the status unknown).
pub const MAX_CRL_SIZE: u64 = 8 * 1024 * 1024;

/// Time allowed for one CRL download (connect, headers and body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// CRL URLs tried per certificate, at most.
pub const MAX_URLS_PER_CERTIFICATE: usize = 4;

/// Checks chains against CRLs, over HTTP, counting requests.
#[derive(Debug)]
pub struct Checker {
    http: reqwest::Client,
    timeout: Duration,
    max_size: u64,
    requests: AtomicU64,
}

impl Checker {
    /// A checker with [`DEFAULT_TIMEOUT`] and [`MAX_CRL_SIZE`] (no network traffic until a
    /// certificate with a CRL distribution point is checked).
    pub fn new() -> Result<Checker, RevocationError> {
        Checker::with_limits(DEFAULT_TIMEOUT, MAX_CRL_SIZE)
    }

    /// A checker with another per-download timeout and size cap.
    pub fn with_limits(timeout: Duration, max_size: u64) -> Result<Checker, RevocationError> {
        // The process's one TLS configuration (ring, system roots read on first use).
        let http = crate::net::client_builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| RevocationError::Client(e.to_string()))?;
        Ok(Checker {
            http,
            timeout,
            max_size,
            requests: AtomicU64::new(0),
        })
    }

    /// HTTP requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Check every certificate of `chain` (signing certificate first; each certificate issued
    /// by the next) except a self-signed last certificate, at `now`. `signing_time` is the
    /// authentic signing time when there is one (a verified timestamp, or the signing
    /// authority's authentic signing time): a revocation entry whose `invalidityDate` is later
    /// does not revoke the signature.
    pub async fn check_chain(
        &self,
        chain: &[Certificate],
        now: impl Clock,
        signing_time: Option<SystemTime>,
    ) -> ChainRevocation {
        let now = now.now();
        let mut certificates = Vec::with_capacity(chain.len());
        for (i, cert) in chain.iter().enumerate() {
            let status = if i >= MAX_CHAIN_LENGTH {
                CertStatus::Unknown(RevocationError::ChainTooLong)
            } else if i + 1 == chain.len() && cert.is_self_signed() {
                CertStatus::NoRevocationInfo
            } else {
                self.check_one(cert, chain.get(i + 1), now, signing_time)
                    .await
            };
            certificates.push(CertRevocation {
                subject: cert.subject().to_string(),
                serial_hex: cert.serial_hex(),
                status,
            });
        }
        ChainRevocation { certificates }
    }

    async fn check_one(
        &self,
        cert: &Certificate,
        issuer: Option<&Certificate>,
        now: SystemTime,
        signing_time: Option<SystemTime>,
    ) -> CertStatus {
        let src = match sources(cert) {
            Ok(s) => s,
            Err(e) => return CertStatus::Unknown(e),
        };
        if src.delta_crls {
            return CertStatus::Unknown(RevocationError::DeltaCrlUnsupported);
        }
        if src.crl_urls.is_empty() {
            return if !src.other_crl.is_empty() {
                CertStatus::Unknown(RevocationError::NoUsableDistributionPoint(
                    src.other_crl.join(", "),
                ))
            } else if !src.ocsp.is_empty() {
                CertStatus::Unknown(RevocationError::OcspUnsupported(
                    src.ocsp
                        .iter()
                        .take(3)
                        .map(|u| truncate(u))
                        .collect::<Vec<_>>()
                        .join(", "),
                ))
            } else {
                CertStatus::NoRevocationInfo
            };
        }
        let Some(issuer) = issuer else {
            return CertStatus::Unknown(RevocationError::NoIssuer);
        };
        let mut first_error = None;
        for url in src.crl_urls.iter().take(MAX_URLS_PER_CERTIFICATE) {
            let verdict = match self.fetch(url).await {
                Ok(body) => check_crl(&body, cert, issuer, now, signing_time, url),
                Err(e) => Err(e),
            };
            match verdict {
                Ok(CrlVerdict::Good) => return CertStatus::Good { crl: url.clone() },
                Ok(CrlVerdict::Revoked(r)) => return CertStatus::Revoked(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        CertStatus::Unknown(
            first_error.unwrap_or(RevocationError::NoUsableDistributionPoint("none".into())),
        )
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, RevocationError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url_s = truncate(url);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                return RevocationError::Timeout {
                    url: url_s.clone(),
                    after: self.timeout,
                };
            }
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason.push_str(&format!(": {s}"));
                source = s.source();
            }
            RevocationError::Fetch {
                url: url_s.clone(),
                reason: one_line(&reason),
            }
        };
        let download = async {
            let resp = self.http.get(url).send().await.map_err(transport)?;
            if !resp.status().is_success() {
                return Err(RevocationError::HttpStatus {
                    url: url_s.clone(),
                    status: resp.status().as_u16(),
                });
            }
            crate::net::read_capped(resp, self.max_size, "CRL")
                .await
                .map_err(|e| match e {
                    crate::Error::TooLarge { limit, .. } => RevocationError::TooLarge {
                        url: url_s.clone(),
                        limit,
                    },
                    other => RevocationError::Fetch {
                        url: url_s.clone(),
                        reason: one_line(&other.to_string()),
                    },
                })
        };
        match tokio::time::timeout(self.timeout, download).await {
            Ok(r) => r,
            Err(_) => Err(RevocationError::Timeout {
                url: url_s.clone(),
                after: self.timeout,
            }),
        }
    }
}

fn one_line(s: &str) -> String {
    crate::util::text::one_line(s, usize::MAX)
}
