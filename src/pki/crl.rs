//! Certificate revocation lists: parsing and checking, with no network.
//!
//! [`sources`] reads a certificate's revocation sources: the `http`/`https` URIs of its CRL
//! distribution points (`cRLDistributionPoints`) and whether its authority information access
//! names an OCSP responder. No CRL distribution point and no OCSP responder: no revocation
//! information, which the Notary Project specification treats as "not revoked"
//! ([`CertStatus::NoRevocationInfo`]). OCSP only: imgseal does not speak OCSP, so the status is
//! unknown. A `freshestCRL` extension (delta CRLs are published) also makes it unknown, since
//! imgseal does not combine base and delta CRLs.
//!
//! [`check_crl`] evaluates one CRL: DER (or PEM `X509 CRL`) parsed without trailing bytes; its
//! issuer is the certificate's issuer; its signature verifies with the next certificate of the
//! chain (RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384;
//! through ring) and that certificate may sign CRLs (`keyUsage` `cRLSign` when `keyUsage` is
//! present); `thisUpdate ≤ now`, and `nextUpdate` is present and `now ≤ nextUpdate`; delta CRLs,
//! base CRLs announcing delta CRLs (`freshestCRL`), indirect CRLs, partitioned CRLs
//! (`issuingDistributionPoint` with a scope that excludes the certificate or only some reasons)
//! and unknown critical extensions are refused. Then the certificate's serial number in the
//! revoked list: revoked (with its revocation date and reason), unless the entry is
//! `removeFromCRL`, or carries an `invalidityDate` later than the authentic signing time. An
//! expired CRL that lists the certificate still says "revoked", as the specification
//! prescribes; an expired CRL that does not list it leaves the status unknown.
//!
//! The chain's verdict ([`ChainRevocation::status`]) is revoked if any certificate is revoked,
//! else unknown if any certificate's status could not be determined, else good. Fetching the
//! CRLs over HTTP is done a layer up, by the notation trust code.
//!
//! Not done: OCSP, delta CRLs, indirect CRLs, CRL caching, revocation of the CRL issuer's own
//! certificate beyond the chain itself. Every error is one line; no input makes this module
//! panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::x509::AlgorithmIdentifier;

use crate::pki::cert::{Certificate, SignatureError};
use crate::util::time::{format_rfc3339 as rfc3339, Clock};

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

pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Evaluate one CRL (DER, or PEM `X509 CRL`) fetched from `url` for `cert`, issued by
/// `issuer`, at the time `now` tells (a [`SystemTime`] or any other [`Clock`]; see the module
/// documentation for the rules).
pub fn check_crl(
    bytes: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    now: impl Clock,
    signing_time: Option<SystemTime>,
    url: &str,
) -> Result<CrlVerdict, RevocationError> {
    let now = now.now();
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
    .map_err(|e| RevocationError::BadSignature {
        url: url.clone(),
        reason: e.to_string(),
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

/// Verify `signature` over `data` with `issuer`'s key under `alg`, as the crate's one
/// [table](crate::crypto::algorithms) allows.
fn verify_signature(
    alg: &AlgorithmIdentifier<'_>,
    issuer: &Certificate,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let signature_algorithm = crate::crypto::algorithms::from_algorithm_identifier(alg);
    let algorithm =
        crate::crypto::algorithms::verifier(&signature_algorithm, issuer.key_algorithm())?;
    ring::signature::UnparsedPublicKey::new(algorithm, issuer.public_key_raw())
        .verify(data, signature)
        .map_err(|_| SignatureError::InvalidSignature)
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
        let pki = crate::pki::test_pki::generate_test("rev-unit").unwrap();
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
        let pki = crate::pki::test_pki::generate_test("rev-unit2").unwrap();
        assert_eq!(sources(&pki.leaf).unwrap(), Sources::default());
    }

    #[test]
    fn freshness_is_checked_at_the_injected_instant() {
        use crate::util::time::FixedClock;
        use rcgen::{
            BasicConstraints, CertificateParams, CertificateRevocationListParams,
            DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
            SerialNumber, PKCS_ECDSA_P256_SHA256,
        };
        let t = FixedClock::at_unix(1_800_000_000);
        let start = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let name = |cn: &str| {
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, cn);
            dn
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("crl clock root");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = start - time::Duration::days(1);
        ca.not_after = start + time::Duration::days(365);
        let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = name("crl clock leaf");
        leaf.not_before = start - time::Duration::days(1);
        leaf.not_after = start + time::Duration::days(30);
        leaf.serial_number = Some(SerialNumber::from(7u64));
        let leaf_der = leaf.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
        let crl = CertificateRevocationListParams {
            this_update: start,
            next_update: start + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap()
        .der()
        .to_vec();
        let root = Certificate::from_der(&ca_der).unwrap();
        let leaf = Certificate::from_der(&leaf_der).unwrap();
        let url = "http://t/crl";
        let day = Duration::from_secs(86_400);
        assert_eq!(
            check_crl(&crl, &leaf, &root, t, None, url),
            Ok(CrlVerdict::Good)
        );
        assert_eq!(
            check_crl(&crl, &leaf, &root, FixedClock(t.0 + 7 * day), None, url),
            Ok(CrlVerdict::Good)
        );
        let stale = check_crl(&crl, &leaf, &root, FixedClock(t.0 + 8 * day), None, url);
        assert!(
            matches!(stale, Err(RevocationError::Expired { .. })),
            "{stale:?}"
        );
        let early = check_crl(&crl, &leaf, &root, t.0 - Duration::from_secs(1), None, url);
        match early {
            Err(RevocationError::NotYetValid { this_update, .. }) => {
                assert_eq!(this_update, "2027-01-15T08:00:00Z")
            }
            other => panic!("{other:?}"),
        }
    }
}
