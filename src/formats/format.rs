//! Which signature format a signature is written in, and the base64 rule the formats share.

/// A signature format imgseal signs and verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// cosign's simple-signing format (`.sig` tag or OCI 1.1 referrer).
    Cosign,
    /// Notary Project JWS envelopes (OCI 1.1 referrers).
    Notation,
}

/// Go's base64 decoder (cosign, containers/image) skips line breaks in a signature
/// annotation; so do we: the text with every ASCII whitespace character removed.
pub(crate) fn strip_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}
