//! The Notary Project's "authentic timestamp" validation for `notary.x509` envelopes: when a
//! timestamp countersignature is called for, and which instant certificate validity is then
//! checked against. The RFC 3161 token itself is parsed and verified by [`crate::pki::tsp`],
//! which knows nothing of notation.

use std::time::SystemTime;

use crate::pki::cert::Certificate;
use crate::pki::tsp::{verify, VerifiedTimestamp};
use crate::util::time::format_rfc3339;

/// Why the authentic-timestamp validation failed, one line, in notation's words where it has
/// them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticTimestampError {
    /// The trust policy calls for a timestamp and the envelope has none.
    #[error("no timestamp countersignature was found in the signature envelope")]
    NoCountersignature,
    /// The statement's tsa trust stores could not be read.
    #[error("{0}")]
    TrustStore(String),
    /// The RFC 3161 token does not verify.
    #[error("failed to verify the timestamp countersignature: {0}")]
    Countersignature(String),
    /// The timestamp may lie before a certificate's validity.
    #[error("timestamp can be before certificate {subject:?} validity period, it will be valid from {} (timestamp {} ± {accuracy}s)", format_rfc3339(*not_before), format_rfc3339(*gen_time))]
    BeforeValidity {
        /// The certificate's subject.
        subject: String,
        /// Its notBefore.
        not_before: SystemTime,
        /// The timestamp's genTime.
        gen_time: SystemTime,
        /// The timestamp's accuracy in seconds.
        accuracy: f64,
    },
    /// The timestamp may lie after a certificate's validity.
    #[error("timestamp can be after certificate {subject:?} validity period, it was expired at {} (timestamp {} ± {accuracy}s)", format_rfc3339(*not_after), format_rfc3339(*gen_time))]
    AfterValidity {
        /// The certificate's subject.
        subject: String,
        /// Its notAfter.
        not_after: SystemTime,
        /// The timestamp's genTime.
        gen_time: SystemTime,
        /// The timestamp's accuracy in seconds.
        accuracy: f64,
    },
}

/// What the Notary Project's authenticTimestamp validation (`notary.x509` signing scheme)
/// decided to check certificate validity against.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthenticTime {
    /// No timestamp verification is called for (the statement names no `tsa` trust store, or
    /// `verifyTimestamp` is `afterCertExpiry` and no certificate of the chain has expired): the
    /// signing certificate chain must be valid at the time of verification. `token_ignored` is
    /// true when the envelope carries a timestamp countersignature that was not verified.
    Now {
        /// The envelope carries a timestamp token that was not looked at.
        token_ignored: bool,
    },
    /// The timestamp countersignature verified, and every certificate of the signing chain is
    /// valid throughout `[genTime - accuracy, genTime + accuracy]`.
    Timestamp(VerifiedTimestamp),
}

/// The Notary Project trust-policy "authentic timestamp" validation for an envelope signed
/// under `notary.x509`, as notation applies it:
///
/// - the statement names no `tsa` trust store: no timestamp verification
///   ([`AuthenticTime::Now`]; the caller checks validity at `now`);
/// - `verifyTimestamp: afterCertExpiry` and no certificate of `chain` has expired at `now`:
///   likewise;
/// - otherwise the envelope must carry a timestamp countersignature, the token must verify
///   over the envelope's signature bytes against the statement's `tsa` roots ([`verify`]), and
///   every certificate of `chain` must be valid over the timestamp's whole accuracy range.
///
/// `Err` is the validation's failure ([`AuthenticTimestampError`]).
pub fn notation_authentic_timestamp(
    envelope: &crate::formats::notation::VerifiedEnvelope,
    chain: &[Certificate],
    statement: &crate::trust::PolicyStatement,
    store: &crate::trust::TrustStore,
    now: SystemTime,
) -> Result<AuthenticTime, AuthenticTimestampError> {
    use crate::trust::{TrustStoreKind, VerifyTimestamp};
    let tsa_configured = statement
        .trust_stores()
        .iter()
        .any(|s| s.store_type == TrustStoreKind::Tsa);
    let expired_now = chain.iter().any(|c| now > c.not_after());
    if !tsa_configured
        || (statement.verify_timestamp() == VerifyTimestamp::AfterCertExpiry && !expired_now)
    {
        return Ok(AuthenticTime::Now {
            token_ignored: envelope.has_timestamp(),
        });
    }
    let Some(token) = envelope.timestamp_signature.as_deref() else {
        return Err(AuthenticTimestampError::NoCountersignature);
    };
    let roots = store
        .roots_for(statement, TrustStoreKind::Tsa)
        .map_err(|e| AuthenticTimestampError::TrustStore(e.to_string()))?;
    let ts = verify(token, &envelope.signature, &roots)
        .map_err(|e| AuthenticTimestampError::Countersignature(e.to_string()))?;
    for cert in chain {
        if ts.earliest() < cert.not_before() {
            return Err(AuthenticTimestampError::BeforeValidity {
                subject: cert.subject().to_string(),
                not_before: cert.not_before(),
                gen_time: ts.gen_time,
                accuracy: ts.accuracy.unwrap_or_default().as_secs_f64(),
            });
        }
        if ts.latest() > cert.not_after() {
            return Err(AuthenticTimestampError::AfterValidity {
                subject: cert.subject().to_string(),
                not_after: cert.not_after(),
                gen_time: ts.gen_time,
                accuracy: ts.accuracy.unwrap_or_default().as_secs_f64(),
            });
        }
    }
    Ok(AuthenticTime::Timestamp(ts))
}
