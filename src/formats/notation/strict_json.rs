//! Duplicate-refusing JSON for envelopes, headers and payloads ([`crate::util::json`]), with
//! the envelope's error for each refusal.

use super::*;
use crate::util::json::{parse_strict, StrictJsonError};
use serde_json::Value;

/// Parse JSON into a `Value`, failing on a repeated member name in any object.
pub(super) fn parse_strict_json(
    bytes: &[u8],
    location: &'static str,
) -> Result<Value, EnvelopeError> {
    parse_strict(bytes).map_err(|e| match e {
        StrictJsonError::Duplicate(name) => EnvelopeError::DuplicateMember { location, name },
        StrictJsonError::Invalid(reason) => EnvelopeError::InvalidJson { location, reason },
    })
}
