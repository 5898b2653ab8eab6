//! Certificate revocation checking with CRLs, for Notary Project (notation) signing chains.
//!
//! [`Checker::check_chain`] looks at every certificate of an ordered chain (signing certificate
//! first) except a self-signed root, following the Notary Project trust-store/trust-policy
//! specification ("Certificate Revocation Evaluation"):
//!
//! 1. the certificate's revocation sources: the `http`/`https` URIs of its CRL distribution
//!    points (`cRLDistributionPoints`) and whether its authority information access names an
//!    OCSP responder. No CRL distribution point and no OCSP responder: no revocation
//!    information, which the specification treats as "not revoked" ([`CertStatus::NoRevocationInfo`],
//!    no network traffic). OCSP only: imgseal does not speak OCSP, so the status is unknown.
//!    A `freshestCRL` extension (delta CRLs are published) also makes it unknown, without a
//!    download, since imgseal does not combine base and delta CRLs.
//! 2. the CRL, fetched with one bounded `GET` per URL ([`DEFAULT_TIMEOUT`], [`MAX_CRL_SIZE`],
//!    at most [`MAX_URLS_PER_CERTIFICATE`] URLs), tried in order until one yields a verdict;
//! 3. [`check_crl`]: DER (or PEM `X509 CRL`) parsed without trailing bytes; its issuer is the
//!    certificate's issuer; its signature verifies with the next certificate of the chain (RSA
//!    PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384; through
//!    ring) and that certificate may sign CRLs (`keyUsage` `cRLSign` when `keyUsage` is present);
//!    `thisUpdate ≤ now`, and `nextUpdate` is present and `now ≤ nextUpdate`; delta CRLs,
//!    base CRLs announcing delta CRLs (`freshestCRL`), indirect CRLs, partitioned CRLs
//!    (`issuingDistributionPoint` with a scope that excludes the certificate or only some
//!    reasons) and unknown critical extensions are refused;
//! 4. the certificate's serial number in the revoked list: revoked (with its revocation date
//!    and reason), unless the entry is `removeFromCRL`, or carries an `invalidityDate` later than
//!    the authentic signing time. An expired CRL that lists the certificate still says
//!    "revoked", as the specification prescribes; an expired CRL that does not list it leaves the
//!    status unknown.
//!
//! The chain's verdict ([`ChainRevocation::status`]) is revoked if any certificate is revoked,
//! else unknown if any certificate's status could not be determined, else good.
//!
//! Not done: OCSP, delta CRLs, indirect CRLs, CRL caching, revocation of the CRL issuer's own
//! certificate beyond the chain itself. Every error is one line; no input makes this module
//! panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::x509::AlgorithmIdentifier;

use crate::x509::{Certificate, EcCurve, KeyAlgorithm};

/// Largest CRL body fetched (larger bodies make the status unknown).
pub const MAX_CRL_SIZE: u64 = 8 * 1024 * 1024;

/// Time allowed for one CRL download (connect, headers and body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// CRL URLs tried per certificate, at most.
pub const MAX_URLS_PER_CERTIFICATE: usize = 4;

/// Certificates of a chain looked at, at most (longer chains are unknown past this point).
pub const MAX_CHAIN_LENGTH: usize = 10;

const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";

/// Why a certificate's revocation status could not be determined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The certificate's extensions could not be read.
    #[error("cannot read the revocation information of the certificate: {0}")]
    Certificate(String),
    /// The certificate names only an OCSP responder, which imgseal does not query.
    #[error(
        "the certificate names only an OCSP responder ({0}); OCSP is not supported by imgseal"
    )]
    OcspUnsupported(String),
    /// CRL distribution points are present but none names an `http`/`https` URL.
    #[error("no CRL distribution point of the certificate is an http(s) URL ({0})")]
    NoUsableDistributionPoint(String),
    /// The certificate announces delta CRLs (`freshestCRL`), which imgseal does not fetch.
    #[error("the certificate announces delta CRLs (freshestCRL); delta CRLs are not supported by imgseal")]
    DeltaCrlUnsupported,
    /// The issuing certificate is not in the chain.
    #[error("the certificate's issuer is not in the chain, so its CRL cannot be verified")]
    NoIssuer,
    /// The download failed (connection, TLS, redirect, body).
    #[error("fetching CRL {url} failed: {reason}")]
    Fetch {
        /// The CRL URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with a status other than 2xx.
    #[error("fetching CRL {url} failed: HTTP status {status}")]
    HttpStatus {
        /// The CRL URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The download did not finish in time.
    #[error("fetching CRL {url} timed out after {}s", .after.as_secs_f64())]
    Timeout {
        /// The CRL URL.
        url: String,
        /// The time allowed.
        after: Duration,
    },
    /// The body exceeded the size cap.
    #[error("CRL {url} is larger than {limit} bytes")]
    TooLarge {
        /// The CRL URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The bytes are not a well-formed CRL.
    #[error("CRL {url} is malformed: {reason}")]
    Malformed {
        /// The CRL URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The CRL is issued by someone other than the certificate's issuer.
    #[error("CRL {url} is issued by {crl_issuer:?}, not by the certificate's issuer {issuer:?}")]
    WrongIssuer {
        /// The CRL URL.
        url: String,
        /// The CRL's issuer name.
        crl_issuer: String,
        /// The certificate's issuer name.
        issuer: String,
    },
    /// The CRL's signature does not verify with the issuing certificate.
    #[error("CRL {url} signature does not verify with the issuing certificate: {reason}")]
    BadSignature {
        /// The CRL URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The CRL is not yet valid (`thisUpdate` in the future).
    #[error("CRL {url} is not valid yet (thisUpdate {this_update})")]
    NotYetValid {
        /// The CRL URL.
        url: String,
        /// `thisUpdate`, RFC 3339.
        this_update: String,
    },
    /// The CRL has no `nextUpdate`.
    #[error("CRL {url} has no nextUpdate")]
    NoNextUpdate {
        /// The CRL URL.
        url: String,
    },
    /// The CRL expired (`nextUpdate` in the past) and does not list the certificate.
    #[error("CRL {url} expired at {next_update}")]
    Expired {
        /// The CRL URL.
        url: String,
        /// `nextUpdate`, RFC 3339.
        next_update: String,
    },
    /// The CRL uses a feature imgseal does not evaluate (delta, indirect or partitioned CRLs,
    /// critical extensions it does not know).
    #[error("CRL {url} cannot be evaluated: {reason}")]
    Unsupported {
        /// The CRL URL.
        url: String,
        /// What is not supported.
        reason: String,
    },
    /// The chain is longer than [`MAX_CHAIN_LENGTH`].
    #[error("the chain is longer than {MAX_CHAIN_LENGTH} certificates")]
    ChainTooLong,
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client for CRL downloads: {0}")]
    Client(String),
}

/// A revoked certificate's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// `revocationDate`.
    pub revoked_at: SystemTime,
    /// The `reasonCode` entry extension, as named by RFC 5280 (`keyCompromise`, ...).
    pub reason: Option<String>,
    /// The URL of the CRL that lists it.
    pub crl: String,
}

/// What one CRL says about one certificate ([`check_crl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlVerdict {
    /// The CRL is valid and does not list the certificate.
    Good,
    /// The CRL lists the certificate.
    Revoked(Revoked),
}

/// The revocation status of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertStatus {
    /// A valid CRL from this URL does not list the certificate.
    Good {
        /// The CRL URL consulted.
        crl: String,
    },
    /// The certificate carries no CRL distribution point and no OCSP responder (the
    /// specification treats it as not revoked); or it is the chain's self-signed root.
    NoRevocationInfo,
    /// The certificate is revoked.
    Revoked(Revoked),
    /// The status could not be determined ("revocation unavailable").
    Unknown(RevocationError),
}

/// One certificate's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRevocation {
    /// The certificate's subject (RFC 4514).
    pub subject: String,
    /// The certificate's serial number, lowercase hex.
    pub serial_hex: String,
    /// Its status.
    pub status: CertStatus,
}

/// The result for a chain, one entry per certificate in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRevocation {
    /// Per-certificate results (signing certificate first).
    pub certificates: Vec<CertRevocation>,
}

/// The verdict for a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// No certificate is revoked and every status was determined (or there was nothing to
    /// check).
    Good,
    /// A certificate is revoked (the first one, from the signing certificate up).
    Revoked {
        /// Its subject.
        subject: String,
        /// Its serial number, lowercase hex.
        serial_hex: String,
        /// The CRL entry.
        entry: Revoked,
    },
    /// No certificate is known to be revoked, but a status could not be determined.
    Unknown {
        /// The certificate whose status is unknown.
        subject: String,
        /// Why.
        reason: RevocationError,
    },
}

impl ChainRevocation {
    /// Revoked if any certificate is revoked, else unknown if any is unknown, else good.
    pub fn status(&self) -> ChainStatus {
        for c in &self.certificates {
            if let CertStatus::Revoked(entry) = &c.status {
                return ChainStatus::Revoked {
                    subject: c.subject.clone(),
                    serial_hex: c.serial_hex.clone(),
                    entry: entry.clone(),
                };
            }
        }
        for c in &self.certificates {
            if let CertStatus::Unknown(reason) = &c.status {
                return ChainStatus::Unknown {
                    subject: c.subject.clone(),
                    reason: reason.clone(),
                };
            }
        }
        ChainStatus::Good
    }

    /// A one-line failure message for a revoked or unknown chain (`None` when good).
    pub fn failure(&self) -> Option<String> {
        match self.status() {
            ChainStatus::Good => None,
            ChainStatus::Revoked {
                subject,
                serial_hex,
                entry,
            } => Some(format!(
                "certificate {subject:?} (serial {serial_hex}) was revoked at {}{} according to CRL {}",
                rfc3339(entry.revoked_at),
                entry
                    .reason
                    .map(|r| format!(" (reason {r})"))
                    .unwrap_or_default(),
                entry.crl
            )),
            ChainStatus::Unknown { subject, reason } => Some(format!(
                "the revocation status of certificate {subject:?} is unknown: {reason}"
            )),
        }
    }
}

/// Where a certificate says its revocation status is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// `http`/`https` CRL distribution point URIs, in order.
    pub crl_urls: Vec<String>,
    /// CRL distribution point entries that are not usable (other schemes, relative names,
    /// indirect CRL issuers), described.
    pub other_crl: Vec<String>,
    /// OCSP responder URIs from the authority information access.
    pub ocsp: Vec<String>,
    /// The certificate has a `freshestCRL` extension: delta CRLs are published for it.
    pub delta_crls: bool,
}

/// Read a certificate's CRL distribution points and OCSP responders.
pub fn sources(cert: &Certificate) -> Result<Sources, RevocationError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.der())
        .map_err(|e| RevocationError::Certificate(e.to_string()))?;
    let mut out = Sources::default();
    for ext in parsed.tbs_certificate.extensions() {
        if ext.oid.to_id_string() == "2.5.29.46" {
            out.delta_crls = true;
            continue;
        }
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if point.crl_issuer.is_some() {
                        out.other_crl.push("an indirect CRL (cRLIssuer)".into());
                        continue;
                    }
                    match &point.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            for name in names {
                                match name {
                                    GeneralName::URI(uri) if is_http(uri) => {
                                        out.crl_urls.push(uri.to_string())
                                    }
                                    GeneralName::URI(uri) => {
                                        out.other_crl.push(format!("{:?}", truncate(uri)))
                                    }
                                    _ => out.other_crl.push("a non-URI name".into()),
                                }
                            }
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => out
                            .other_crl
                            .push("a name relative to the CRL issuer".into()),
                        None => out.other_crl.push("an empty distribution point".into()),
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in aia.iter() {
                    if desc.access_method.to_id_string() == OID_OCSP {
                        if let GeneralName::URI(uri) = &desc.access_location {
                            out.ocsp.push(uri.to_string());
                        } else {
                            out.ocsp.push("a non-URI name".into());
                        }
                    }
                }
            }
            ParsedExtension::ParseError { error } => {
                let oid = ext.oid.to_id_string();
                if oid == "2.5.29.31" || oid == "1.3.6.1.5.5.7.1.1" {
                    return Err(RevocationError::Certificate(format!(
                        "invalid extension {oid}: {error}"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn is_http(uri: &str) -> bool {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s.to_string()
    }
}

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
        // One crypto stack (ring) for TLS; ignore "already installed".
        crate::net::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("imgseal/", env!("CARGO_PKG_VERSION")))
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
        now: SystemTime,
        signing_time: Option<SystemTime>,
    ) -> ChainRevocation {
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
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Evaluate one CRL (DER, or PEM `X509 CRL`) fetched from `url` for `cert`, issued by
/// `issuer`, at `now` (see the module documentation for the rules).
pub fn check_crl(
    bytes: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    now: SystemTime,
    signing_time: Option<SystemTime>,
    url: &str,
) -> Result<CrlVerdict, RevocationError> {
    let url = truncate(url);
    let malformed = |reason: String| RevocationError::Malformed {
        url: url.clone(),
        reason,
    };
    let unsupported = |reason: String| RevocationError::Unsupported {
        url: url.clone(),
        reason,
    };
    let pem_body;
    let der: &[u8] = if bytes.starts_with(b"-----BEGIN") {
        let block = pem::parse(bytes).map_err(|e| malformed(format!("invalid PEM: {e}")))?;
        if block.tag() != "X509 CRL" {
            return Err(malformed(format!(
                "PEM block {:?} is not an X509 CRL",
                truncate(block.tag())
            )));
        }
        pem_body = block.into_contents();
        &pem_body
    } else {
        bytes
    };
    let (rest, crl) = x509_parser::parse_x509_crl(der)
        .map_err(|e| malformed(format!("not a DER CertificateList ({e})")))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes of trailing data after the CRL",
            rest.len()
        )));
    }
    let tbs = &crl.tbs_cert_list;
    if let Some(v) = tbs.version {
        if v.0 != 1 {
            return Err(malformed(format!("version {} is not v2", v.0 + 1)));
        }
    }

    // The CRL's issuer is the certificate's issuer, and that is the issuing certificate.
    let (_, child) = x509_parser::parse_x509_certificate(cert.der())
        .map_err(|e| RevocationError::Certificate(e.to_string()))?;
    let (_, parent) = x509_parser::parse_x509_certificate(issuer.der())
        .map_err(|e| RevocationError::Certificate(e.to_string()))?;
    let child_issuer = child.tbs_certificate.issuer.as_raw();
    if tbs.issuer.as_raw() != child_issuer
        || parent.tbs_certificate.subject.as_raw() != child_issuer
    {
        return Err(RevocationError::WrongIssuer {
            url: url.clone(),
            crl_issuer: truncate(&tbs.issuer.to_string()),
            issuer: cert.issuer().to_string(),
        });
    }

    // Signature.
    if crl.signature_algorithm != tbs.signature {
        return Err(RevocationError::BadSignature {
            url: url.clone(),
            reason: "the signature algorithm inside the signed part differs from the outer one"
                .into(),
        });
    }
    verify_signature(
        &crl.signature_algorithm,
        issuer,
        tbs.as_ref(),
        &crl.signature_value.data,
    )
    .map_err(|reason| RevocationError::BadSignature {
        url: url.clone(),
        reason,
    })?;
    if issuer.key_usage().is_some_and(|ku| !ku.crl_sign) {
        return Err(RevocationError::BadSignature {
            url: url.clone(),
            reason: format!(
                "the issuing certificate {:?} lacks the cRLSign key usage",
                issuer.subject()
            ),
        });
    }

    // CRL extensions.
    for ext in tbs.extensions() {
        let oid = ext.oid.to_id_string();
        if let Some(e) = ext.parsed_extension().error() {
            return Err(malformed(format!("invalid extension {oid}: {e}")));
        }
        match oid.as_str() {
            "2.5.29.27" => {
                return Err(unsupported(
                    "it is a delta CRL (deltaCRLIndicator), not a base CRL".into(),
                ))
            }
            "2.5.29.46" => {
                return Err(unsupported(
                    "it announces delta CRLs (freshestCRL), which imgseal does not fetch".into(),
                ))
            }
            "2.5.29.28" => {
                let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() else {
                    return Err(malformed("unreadable issuingDistributionPoint".into()));
                };
                if idp.indirect_crl {
                    return Err(unsupported("it is an indirect CRL".into()));
                }
                if idp.only_some_reasons.is_some() {
                    return Err(unsupported(
                        "it covers only some revocation reasons (onlySomeReasons)".into(),
                    ));
                }
                if idp.only_contains_attribute_certs {
                    return Err(unsupported("it covers only attribute certificates".into()));
                }
                if idp.only_contains_ca_certs && !cert.is_ca() {
                    return Err(unsupported(
                        "it covers only CA certificates, and this one is not".into(),
                    ));
                }
                if idp.only_contains_user_certs && cert.is_ca() {
                    return Err(unsupported(
                        "it covers only end-entity certificates, and this one is a CA".into(),
                    ));
                }
            }
            // cRLNumber, authorityKeyIdentifier, issuerAltName.
            "2.5.29.20" | "2.5.29.35" | "2.5.29.18" => {}
            _ if ext.critical => {
                return Err(unsupported(format!(
                    "critical CRL extension {oid} is not understood"
                )))
            }
            _ => {}
        }
    }

    // Validity.
    let this_update = system_time(tbs.this_update.timestamp());
    if this_update > now {
        return Err(RevocationError::NotYetValid {
            url: url.clone(),
            this_update: rfc3339(this_update),
        });
    }
    let Some(next_update) = tbs.next_update.map(|t| system_time(t.timestamp())) else {
        return Err(RevocationError::NoNextUpdate { url: url.clone() });
    };
    let expired = now > next_update;

    // The revoked list.
    let serial = strip_zeros(child.tbs_certificate.raw_serial());
    for entry in tbs.revoked_certificates.iter() {
        for ext in entry.extensions() {
            let oid = ext.oid.to_id_string();
            if let Some(e) = ext.parsed_extension().error() {
                return Err(malformed(format!("invalid entry extension {oid}: {e}")));
            }
            match oid.as_str() {
                "2.5.29.29" => {
                    return Err(unsupported(
                        "an entry names a certificate issuer (indirect CRL)".into(),
                    ))
                }
                // reasonCode, invalidityDate, holdInstructionCode.
                "2.5.29.21" | "2.5.29.24" | "2.5.29.23" => {}
                _ if ext.critical => {
                    return Err(unsupported(format!(
                        "critical CRL entry extension {oid} is not understood"
                    )))
                }
                _ => {}
            }
        }
        if strip_zeros(entry.raw_serial()) != serial {
            continue;
        }
        let reason = entry.reason_code().map(|(_, r)| r.0);
        if reason == Some(8) {
            // removeFromCRL: the certificate is no longer revoked.
            continue;
        }
        if let (Some((_, invalid_from)), Some(signed)) = (entry.invalidity_date(), signing_time) {
            if signed < system_time(invalid_from.timestamp()) {
                // Signed (at an authentic time) before the key became invalid.
                continue;
            }
        }
        return Ok(CrlVerdict::Revoked(Revoked {
            revoked_at: system_time(entry.revocation_date.timestamp()),
            reason: reason.map(reason_name),
            crl: url.clone(),
        }));
    }
    if expired {
        return Err(RevocationError::Expired {
            url: url.clone(),
            next_update: rfc3339(next_update),
        });
    }
    Ok(CrlVerdict::Good)
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        other => return format!("reason code {other}"),
    }
    .to_string()
}

/// Verify `signature` over `data` with `issuer`'s key under `alg`.
fn verify_signature(
    alg: &AlgorithmIdentifier<'_>,
    issuer: &Certificate,
    data: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    use ring::signature as rs;
    let oid = alg.algorithm.to_id_string();
    let key = issuer.key_algorithm();
    let rsa = matches!(key, KeyAlgorithm::Rsa { .. });
    let curve = match key {
        KeyAlgorithm::Ec(c) => Some(c),
        _ => None,
    };
    let algorithm: &'static dyn rs::VerificationAlgorithm = match oid.as_str() {
        "1.2.840.113549.1.1.11" if rsa => &rs::RSA_PKCS1_2048_8192_SHA256,
        "1.2.840.113549.1.1.12" if rsa => &rs::RSA_PKCS1_2048_8192_SHA384,
        "1.2.840.113549.1.1.13" if rsa => &rs::RSA_PKCS1_2048_8192_SHA512,
        "1.2.840.113549.1.1.10" if rsa => pss(alg)?,
        "1.2.840.10045.4.3.2" => match curve {
            Some(EcCurve::P256) => &rs::ECDSA_P256_SHA256_ASN1,
            Some(EcCurve::P384) => &rs::ECDSA_P384_SHA256_ASN1,
            _ => {
                return Err(format!(
                    "ECDSA with SHA-256 by a {key} key is not supported"
                ))
            }
        },
        "1.2.840.10045.4.3.3" => match curve {
            Some(EcCurve::P256) => &rs::ECDSA_P256_SHA384_ASN1,
            Some(EcCurve::P384) => &rs::ECDSA_P384_SHA384_ASN1,
            _ => {
                return Err(format!(
                    "ECDSA with SHA-384 by a {key} key is not supported"
                ))
            }
        },
        "1.2.840.113549.1.1.5" | "1.2.840.113549.1.1.4" | "1.2.840.10045.4.1" => {
            return Err(format!(
                "signature algorithm {oid} is refused (SHA-1 and MD5 signatures can be forged)"
            ))
        }
        _ => {
            return Err(format!(
                "signature algorithm {oid} with a {key} key is not supported"
            ))
        }
    };
    rs::UnparsedPublicKey::new(algorithm, issuer.public_key_raw())
        .verify(data, signature)
        .map_err(|_| "the signature does not verify with the issuer's public key".to_string())
}

fn pss(
    alg: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn ring::signature::VerificationAlgorithm, String> {
    use ring::signature as rs;
    use x509_parser::signature_algorithm::RsaSsaPssParams;
    let unsupported = || "RSASSA-PSS with unsupported parameters".to_string();
    let params = alg.parameters.as_ref().ok_or_else(unsupported)?;
    let params = RsaSsaPssParams::try_from(params).map_err(|_| unsupported())?;
    let hash_oid = params.hash_algorithm_oid().to_id_string();
    let (algorithm, len): (&'static dyn rs::VerificationAlgorithm, u32) = match hash_oid.as_str() {
        "2.16.840.1.101.3.4.2.1" => (&rs::RSA_PSS_2048_8192_SHA256, 32),
        "2.16.840.1.101.3.4.2.2" => (&rs::RSA_PSS_2048_8192_SHA384, 48),
        "2.16.840.1.101.3.4.2.3" => (&rs::RSA_PSS_2048_8192_SHA512, 64),
        _ => return Err(unsupported()),
    };
    let mgf_ok = params.mask_gen_algorithm().is_ok_and(|m| {
        m.mgf.to_id_string() == "1.2.840.113549.1.1.8" && m.hash.to_id_string() == hash_oid
    });
    if !mgf_ok || params.salt_length() != len || params.trailer_field() != 1 {
        return Err(unsupported());
    }
    Ok(algorithm)
}

fn system_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs as u64))
            .unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(dt) => dt
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| secs.to_string()),
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_only() {
        assert!(is_http("http://x/crl"));
        assert!(is_http("HTTPS://x/crl"));
        assert!(!is_http("ldap://x/crl"));
        assert!(!is_http("htt"));
        assert!(!is_http("é"));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let pki = crate::x509::generate_test("rev-unit").unwrap();
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x82\xff\xff",
            b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
            b"-----BEGIN",
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ] {
            let r = check_crl(
                bytes,
                &pki.leaf,
                &pki.root,
                SystemTime::now(),
                None,
                "http://t/crl",
            );
            assert!(matches!(r, Err(RevocationError::Malformed { .. })), "{r:?}");
        }
    }

    #[test]
    fn generated_test_pki_has_no_revocation_info() {
        let pki = crate::x509::generate_test("rev-unit2").unwrap();
        assert_eq!(sources(&pki.leaf).unwrap(), Sources::default());
    }
}
