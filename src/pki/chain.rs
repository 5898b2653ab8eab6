//! Certificate chain validation and its three profiles.
//!
//! [`validate_chain`] checks an ordered chain (signing certificate first) against a set of
//! trusted certificates, under one of three rule sets ([`Profile`]; the third,
//! [`Profile::TimeStamping`], is for RFC 3161 TSA chains — see `crate::pki::tsp`):
//!
//! - [`Profile::CodeSigning`], for cosign's certificate mode: the leaf must carry the
//!   `codeSigning` extended key usage and the `digitalSignature` key usage.
//! - [`Profile::Notary`], the Notary Project signature specification's "Certificate
//!   Requirements" as notation applies them: leaf `keyUsage` present, critical,
//!   `digitalSignature` and nothing that encrypts or signs certificates; leaf `extendedKeyUsage`
//!   optional, but when present it must not name `anyExtendedKeyUsage`, `serverAuth`,
//!   `clientAuth`, `emailProtection`, `timeStamping` or `OCSPSigning` (the specification says
//!   `codeSigning` MAY be present: it is not required); CA `keyUsage` present and critical with
//!   `keyCertSign`.
//!
//! Every profile checks the signature of every link (RSA PKCS#1 v1.5 and RSA-PSS with
//! SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384; SHA-1 and MD5 are refused),
//! `basicConstraints` `cA=true` and `pathLenConstraint` on every issuer, that the leaf is not a
//! CA, key sizes (RSA ≥ 2048 bits, EC on P-256, P-384 or P-521), and the validity period of
//! every certificate **including the root**. After imgseal's own rules pass, the path is checked
//! once more, independently, by rustls-webpki (signatures, constraints, name constraints,
//! critical extensions it does not understand).
//!
//! Validity-period failures ([`CertError::Expired`], [`CertError::NotYetValid`]) are reported only
//! when every other rule passed, so a Notary Project verifier can treat them as the
//! "authentic timestamp" outcome (logged at `permissive`) without skipping anything else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::pki::cert::{CertError, Certificate, EcCurve, KeyAlgorithm, KeyPurpose};
use crate::util::time::{format_rfc3339 as rfc3339, Clock};

/// Which set of certificate rules [`validate_chain`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// cosign certificate mode: leaf EKU must contain `codeSigning`, leaf key usage
    /// `digitalSignature`; CA `keyUsage`, when present, must allow `keyCertSign`.
    CodeSigning,
    /// Notary Project signature specification, "Certificate Requirements" (see the module docs).
    Notary,
    /// An RFC 3161 time-stamping authority: the leaf's `extendedKeyUsage` must be present,
    /// critical, and list exactly `timeStamping` (RFC 3161 §2.3); leaf `keyUsage` must allow
    /// `digitalSignature`; CA `keyUsage`, when present, must allow `keyCertSign`.
    TimeStamping,
}

fn check_key(cert: &Certificate) -> Result<(), CertError> {
    match &cert.key_algorithm {
        KeyAlgorithm::Rsa { bits } if *bits >= 2048 => Ok(()),
        KeyAlgorithm::Rsa { bits } => Err(CertError::rule(
            cert,
            format!("RSA key of {bits} bits is below the 2048-bit minimum"),
        )),
        KeyAlgorithm::Ec(EcCurve::P256 | EcCurve::P384 | EcCurve::P521) => Ok(()),
        other => Err(CertError::rule(
            cert,
            format!("{other} keys are not accepted (RSA of at least 2048 bits or EC P-256/P-384/P-521 are)"),
        )),
    }
}

fn check_leaf(cert: &Certificate, profile: Profile) -> Result<(), CertError> {
    if cert.is_ca() {
        return Err(CertError::rule(
            cert,
            "a CA certificate (basicConstraints cA=true) cannot be the signing certificate",
        ));
    }
    let Some(ku) = cert.key_usage else {
        return Err(CertError::rule(
            cert,
            "the signing certificate has no keyUsage extension; digitalSignature is required",
        ));
    };
    if !ku.digital_signature {
        return Err(CertError::rule(
            cert,
            "the signing certificate's keyUsage lacks digitalSignature",
        ));
    }
    match profile {
        Profile::CodeSigning => match &cert.extended_key_usage {
            Some(eku) if eku.contains(&KeyPurpose::CodeSigning) => {}
            Some(eku) => {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "extendedKeyUsage lacks codeSigning (has {})",
                        join(&eku.purposes)
                    ),
                ))
            }
            // No EKU extension means "any purpose" (RFC 5280), as Go's x509.Verify, cosign and
            // containers/image read it; an EKU that is present must include codeSigning.
            None => {}
        },
        Profile::TimeStamping => match &cert.extended_key_usage {
            Some(eku) if eku.purposes == [KeyPurpose::TimeStamping] && eku.critical => {}
            Some(eku) if eku.purposes == [KeyPurpose::TimeStamping] => {
                return Err(CertError::rule(
                    cert,
                    "the timeStamping extendedKeyUsage of a TSA certificate must be marked critical (RFC 3161)",
                ))
            }
            Some(eku) => {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "a TSA certificate's extendedKeyUsage must be exactly timeStamping (has {})",
                        join(&eku.purposes)
                    ),
                ))
            }
            None => {
                return Err(CertError::rule(
                    cert,
                    "a TSA certificate must have a critical extendedKeyUsage of timeStamping (RFC 3161)",
                ))
            }
        },
        Profile::Notary => {
            if !ku.critical {
                return Err(CertError::rule(
                    cert,
                    "keyUsage must be marked critical (Notary Project certificate requirements)",
                ));
            }
            let forbidden: Vec<&str> = [
                (ku.key_encipherment, "keyEncipherment"),
                (ku.data_encipherment, "dataEncipherment"),
                (ku.key_agreement, "keyAgreement"),
                (ku.key_cert_sign, "keyCertSign"),
                (ku.crl_sign, "cRLSign"),
                (ku.encipher_only, "encipherOnly"),
                (ku.decipher_only, "decipherOnly"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            if !forbidden.is_empty() {
                return Err(CertError::rule(
                    cert,
                    format!(
                        "keyUsage of a signing certificate must not include {}",
                        forbidden.join(", ")
                    ),
                ));
            }
            if let Some(eku) = &cert.extended_key_usage {
                let bad: Vec<&KeyPurpose> = eku
                    .purposes
                    .iter()
                    .filter(|p| {
                        matches!(
                            p,
                            KeyPurpose::Any
                                | KeyPurpose::ServerAuth
                                | KeyPurpose::ClientAuth
                                | KeyPurpose::EmailProtection
                                | KeyPurpose::TimeStamping
                                | KeyPurpose::OcspSigning
                        )
                    })
                    .collect();
                if !bad.is_empty() {
                    let names: Vec<String> = bad.iter().map(|p| p.to_string()).collect();
                    return Err(CertError::rule(
                        cert,
                        format!(
                            "extendedKeyUsage of a signing certificate must not include {}",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `issuer` signs certificates for a path in which `below` CA certificates sit between it and
/// the leaf.
fn check_issuer(issuer: &Certificate, below: usize, profile: Profile) -> Result<(), CertError> {
    match issuer.basic_constraints {
        Some(bc) if bc.ca => {
            if let Some(limit) = bc.path_len {
                if (limit as usize) < below {
                    return Err(CertError::rule(
                        issuer,
                        format!(
                            "pathLenConstraint {limit} allows {limit} CA certificate(s) below it but the chain has {below}"
                        ),
                    ));
                }
            }
        }
        _ => {
            return Err(CertError::rule(
                issuer,
                "issues certificates but is not a CA (basicConstraints cA=true is required)",
            ))
        }
    }
    match (issuer.key_usage, profile) {
        (Some(ku), _) if !ku.key_cert_sign => Err(CertError::rule(
            issuer,
            "issues certificates but its keyUsage lacks keyCertSign",
        )),
        (Some(ku), Profile::Notary) if !ku.critical => Err(CertError::rule(
            issuer,
            "keyUsage of a CA certificate must be marked critical (Notary Project certificate requirements)",
        )),
        (None, Profile::Notary) => Err(CertError::rule(
            issuer,
            "a CA certificate must have a keyUsage extension with keyCertSign (Notary Project certificate requirements)",
        )),
        _ => Ok(()),
    }
}

fn join(purposes: &[KeyPurpose]) -> String {
    if purposes.is_empty() {
        return "none".into();
    }
    purposes
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validate `leaf_first_chain` (signing certificate first, each certificate issued by the next)
/// against the trusted certificates `roots`, at the time `at` tells (a [`SystemTime`] or any
/// other [`Clock`]), under `profile`.
///
/// The chain reaches trust when one of its certificates is a trusted certificate (same DER, or
/// same subject name and public key), or when its last certificate is signed by one: a root
/// may be the chain's last element or appear only in `roots`. A chain of one certificate that
/// is itself trusted must be self-signed and pass the leaf rules (notation's self-signed signing
/// certificates).
///
/// Checked, in this order, so that the first failure is reported:
/// 1. each link: issuer name matches, signature verifies with an accepted algorithm;
///    certificates other than the last are not self-signed;
/// 2. key sizes of every certificate, leaf rules, issuer rules (CA, `pathLenConstraint`,
///    `keyUsage`), per [`Profile`];
/// 3. rustls-webpki's independent path validation;
/// 4. validity of every certificate at `at`, the root included.
pub fn validate_chain(
    leaf_first_chain: &[Certificate],
    roots: &[Certificate],
    at: impl Clock,
    profile: Profile,
) -> Result<(), CertError> {
    let at = at.now();
    let leaf = leaf_first_chain.first().ok_or(CertError::EmptyChain)?;
    let mut path: Vec<Certificate> = leaf_first_chain.to_vec();

    // Links inside the supplied chain.
    for (i, pair) in leaf_first_chain.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        check_link(child, parent)?;
        if child.is_self_signed() {
            let which = if i == 0 {
                "the signing certificate is self-signed but the chain continues after it"
            } else {
                "an intermediate certificate is self-signed but the chain continues after it"
            };
            return Err(CertError::rule(child, which));
        }
    }

    // Where does trust come in? The highest trusted certificate of the chain, so that as much
    // of the path as possible is checked against it; else a trusted issuer of the last one.
    let anchor_index = match leaf_first_chain
        .iter()
        .rposition(|c| roots.iter().any(|r| r.same_anchor(c)))
    {
        Some(i) => i,
        None => {
            let last = leaf_first_chain.last().unwrap_or(leaf);
            let named: Vec<&Certificate> = roots
                .iter()
                .filter(|r| r.raw_subject == last.raw_issuer)
                .collect();
            if named.is_empty() {
                let reason = if last.is_self_signed() {
                    "the chain ends at a self-signed certificate that is not in the trust store"
                        .to_string()
                } else {
                    format!("no trusted certificate is named {:?}", last.issuer)
                };
                return Err(CertError::Untrusted {
                    subject: last.subject.clone(),
                    reason,
                });
            }
            let mut first_err = None;
            let mut found = None;
            for root in named {
                match check_link(last, root) {
                    Ok(()) => {
                        found = Some(root.clone());
                        break;
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            match found {
                Some(root) => {
                    path.push(root);
                    path.len() - 1
                }
                None => {
                    return Err(first_err.unwrap_or_else(|| CertError::Untrusted {
                        subject: last.subject.clone(),
                        reason: "no trusted certificate signed it".into(),
                    }))
                }
            }
        }
    };

    if anchor_index == 0 && !leaf.is_self_signed() {
        return Err(CertError::rule(
            leaf,
            "a signing certificate trusted directly must be self-signed",
        ));
    }

    for cert in &path {
        check_key(cert)?;
    }
    check_leaf(leaf, profile)?;
    for (i, issuer) in path.iter().enumerate().skip(1) {
        check_issuer(issuer, i - 1, profile)?;
    }

    webpki_check(&path, anchor_index, at, profile)?;

    for cert in &path {
        if at < cert.not_before {
            return Err(CertError::NotYetValid {
                subject: cert.subject.clone(),
                not_before: rfc3339(cert.not_before),
                at: rfc3339(at),
            });
        }
        if at > cert.not_after {
            return Err(CertError::Expired {
                subject: cert.subject.clone(),
                not_after: rfc3339(cert.not_after),
                at: rfc3339(at),
            });
        }
    }
    Ok(())
}

fn check_link(child: &Certificate, parent: &Certificate) -> Result<(), CertError> {
    if child.raw_issuer != parent.raw_subject {
        return Err(CertError::Signature {
            subject: child.subject.clone(),
            issuer: parent.subject.clone(),
            reason: format!(
                "its issuer name {:?} is not the next certificate's subject",
                child.issuer
            ),
        });
    }
    crate::pki::cert::verify_signature(child, parent).map_err(|e| CertError::Signature {
        subject: child.subject.clone(),
        issuer: parent.subject.clone(),
        reason: e.to_string(),
    })
}

/// EKU policy for webpki under [`Profile::Notary`]: imgseal checks the leaf's EKU itself, and
/// the Notary Project puts no EKU requirement on CA certificates.
struct AnyEku;

impl webpki::ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

/// DER of `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), as webpki takes it.
const EKU_CODE_SIGNING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Run rustls-webpki over `path[..=anchor]` (leaf, intermediates, trust anchor). The time given
/// to webpki is `at` when every certificate it checks is valid then; otherwise a time at which
/// they all are, so this step judges structure only and validity is reported afterwards with
/// imgseal's own message. When no such time exists the step is skipped: the validity check
/// that follows fails anyway.
fn webpki_check(
    path: &[Certificate],
    anchor: usize,
    at: SystemTime,
    profile: Profile,
) -> Result<(), CertError> {
    use rustls::pki_types::{CertificateDer, UnixTime};
    let leaf = &path[0];
    let checked = &path[..anchor.max(1)];
    let latest_start = checked.iter().map(|c| c.not_before).max().unwrap_or(at);
    let earliest_end = checked.iter().map(|c| c.not_after).min().unwrap_or(at);
    let when = if checked.iter().all(|c| c.is_valid_at(at)) {
        at
    } else if latest_start <= earliest_end {
        latest_start
    } else {
        return Ok(());
    };
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let fail = |e: webpki::Error| CertError::PathCheck {
        subject: leaf.subject.clone(),
        reason: format!("{e:?}"),
    };
    let anchor_der = CertificateDer::from(path[anchor].der.as_slice());
    let anchors = [webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(fail)?
        .to_owned()];
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(fail)?;
    let intermediates: Vec<CertificateDer<'_>> = if anchor > 1 {
        path[1..anchor]
            .iter()
            .map(|c| CertificateDer::from(c.der.as_slice()))
            .collect()
    } else {
        Vec::new()
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
    let result = match profile {
        Profile::CodeSigning => ee.verify_for_usage(
            crate::crypto::algorithms::WEBPKI_ALGORITHMS,
            &anchors,
            &intermediates,
            time,
            webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING_DER),
            None,
            None,
        ),
        Profile::Notary | Profile::TimeStamping => ee.verify_for_usage(
            crate::crypto::algorithms::WEBPKI_ALGORITHMS,
            &anchors,
            &intermediates,
            time,
            AnyEku,
            None,
            None,
        ),
    };
    result.map(|_| ()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::test_pki::generate_test;

    #[test]
    fn generated_pki_validates_under_both_profiles() {
        let pki = generate_test("unit").unwrap();
        let chain = [pki.leaf.clone()];
        let roots = [pki.root.clone()];
        let now = SystemTime::now();
        validate_chain(&chain, &roots, now, Profile::CodeSigning).unwrap();
        validate_chain(&chain, &roots, now, Profile::Notary).unwrap();
        assert_eq!(pki.leaf.subject(), "CN=unit,O=Notary,ST=WA,C=US");
        assert!(pki.root.is_self_signed());
        assert!(!pki.leaf.is_self_signed());
        crate::crypto::keys::SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "test")
            .unwrap();
    }

    #[test]
    fn expiry_is_checked_at_the_injected_instant() {
        use crate::pki::test_pki::generate_test_at;
        use crate::util::time::FixedClock;
        let t = FixedClock::at_unix(1_800_000_000); // 2027-01-15
        let pki = generate_test_at("clock", &t).unwrap();
        let chain = [pki.leaf.clone()];
        let roots = [pki.root.clone()];
        let day = Duration::from_secs(86_400);
        validate_chain(&chain, &roots, t, Profile::Notary).unwrap();
        validate_chain(&chain, &roots, t.0 + 364 * day, Profile::Notary).unwrap();
        let later = FixedClock(t.0 + 366 * day);
        match validate_chain(&chain, &roots, later, Profile::Notary) {
            Err(CertError::Expired { not_after, at, .. }) => {
                assert_eq!(not_after, "2028-01-15T08:00:00Z");
                assert_eq!(at, "2028-01-16T08:00:00Z");
            }
            other => panic!("{other:?}"),
        }
        let earlier = FixedClock(t.0 - Duration::from_secs(1));
        assert!(matches!(
            validate_chain(&chain, &roots, earlier, Profile::CodeSigning),
            Err(CertError::NotYetValid { .. })
        ));
    }
}
