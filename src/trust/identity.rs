//! Trusted identities (`x509.subject: <DN>`) matched against a signing certificate's subject;
//! the DNs themselves are parsed by [`crate::pki::dn`].

use super::*;

pub use crate::pki::dn::DnError;
pub(super) use crate::pki::dn::{parse_identity_dn, subject_attributes};

/// True when the signing certificate whose subject DN is `leaf_subject_dn` (as
/// [`Certificate::subject`](crate::pki::Certificate::subject) renders it) satisfies `statement`'s trusted identities: `*`
/// matches anything; `x509.subject: <DN>` matches when every attribute of the DN is present in
/// the subject with an equal value (case-sensitive), other attributes of the subject being
/// ignored. A subject with multi-valued RDNs or a repeated attribute type matches no
/// `x509.subject` identity (as in notation). Identities with other prefixes never match here.
pub fn trusted_identity_matches(statement: &PolicyStatement, leaf_subject_dn: &str) -> bool {
    if statement
        .trusted_identities
        .iter()
        .any(|i| matches!(i, TrustedIdentity::Any))
    {
        return true;
    }
    let Some(subject) = subject_attributes(leaf_subject_dn) else {
        return false;
    };
    statement
        .trusted_identities
        .iter()
        .any(|identity| match identity {
            TrustedIdentity::X509Subject { dn, .. } => dn.iter().all(|(t, v)| {
                subject
                    .iter()
                    .any(|(st, sv)| st == t && sv.as_ref() == Some(v))
            }),
            _ => false,
        })
}
