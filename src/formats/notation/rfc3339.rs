//! RFC 3339 time stamps as the Notary Project headers and annotations carry them, through the
//! crate's one RFC 3339 implementation in [`crate::util::time`].

use super::*;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whole seconds since the Unix epoch (truncating), or an error before 1970.
pub(super) fn unix_seconds(t: SystemTime, what: &'static str) -> Result<i64, EnvelopeError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| EnvelopeError::TimeOutOfRange(what))?
        .as_secs();
    i64::try_from(secs).map_err(|_| EnvelopeError::TimeOutOfRange(what))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for non-negative Unix seconds up to year 9999
/// ([`crate::util::time`], the crate's one RFC 3339 writer).
pub(super) fn format_rfc3339(secs: i64, what: &'static str) -> Result<String, EnvelopeError> {
    crate::util::time::format_rfc3339_seconds(secs).ok_or(EnvelopeError::TimeOutOfRange(what))
}

/// An RFC 3339 `date-time` ([`crate::util::time::parse_rfc3339`], the crate's one reader).
pub(super) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    crate::util::time::parse_rfc3339(text)
}
