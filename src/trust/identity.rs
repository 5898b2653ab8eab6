//! Trusted identities (`x509.subject: <DN>`): RFC 4514 DN parsing under notation's rules
//! and matching against a signing certificate's subject.

use super::*;

/// Why a distinguished name in a trusted identity was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    /// Not an RFC 4514 distinguished name.
    #[error("{0}")]
    Syntax(String),
    /// A valid DN that notation's rules for trusted identities refuse (hex values, multi-valued
    /// RDNs, repeated attributes, C, ST or O missing).
    #[error("{0}")]
    Unsupported(String),
}

impl From<&str> for DnError {
    fn from(reason: &str) -> DnError {
        DnError::Syntax(reason.to_string())
    }
}

/// One parsed attribute value: text, or the RFC 4514 `#hex` form (never matched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum DnValue {
    Text(String),
    Hex,
}

/// Parse an RFC 4514 DN into RDNs of (normalised type, value).
pub(super) fn parse_dn(input: &str) -> Result<Vec<Vec<(String, DnValue)>>, DnError> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut rdns: Vec<Vec<(String, DnValue)>> = Vec::new();
    let mut rdn: Vec<(String, DnValue)> = Vec::new();
    if input.trim().is_empty() {
        return Err("the distinguished name is empty".into());
    }
    loop {
        // attribute type
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            if matches!(chars[i], ',' | '+' | ';') {
                return Err(DnError::Syntax(format!(
                    "expected type=value at {:?}",
                    chars[start..].iter().collect::<String>()
                )));
            }
            i += 1;
        }
        if i == chars.len() {
            return Err(DnError::Syntax(format!(
                "missing '=' in {:?}",
                chars[start..].iter().collect::<String>()
            )));
        }
        let raw_type: String = chars[start..i].iter().collect();
        let attr_type = normalise_type(raw_type.trim())?;
        i += 1; // '='
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        // attribute value
        let value = if i < chars.len() && chars[i] == '#' {
            while i < chars.len() && !matches!(chars[i], ',' | '+' | ';') {
                i += 1;
            }
            DnValue::Hex
        } else if i < chars.len() && chars[i] == '"' {
            return Err(
                "quoted attribute values are not supported; escape with '\\' instead".into(),
            );
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            let mut keep = 0; // length of `bytes` up to the last character that is not a trailing unescaped space
            while i < chars.len() && !matches!(chars[i], ',' | '+' | ';') {
                let c = chars[i];
                if c == '\\' {
                    let next = chars
                        .get(i + 1)
                        .copied()
                        .ok_or("a value ends with a lone '\\'")?;
                    if next.is_ascii_hexdigit() {
                        let lo = chars
                            .get(i + 2)
                            .copied()
                            .filter(char::is_ascii_hexdigit)
                            .ok_or(
                                "'\\' must be followed by a special character or two hex digits",
                            )?;
                        let byte = u8::from_str_radix(&format!("{next}{lo}"), 16)
                            .map_err(|e| DnError::Syntax(e.to_string()))?;
                        bytes.push(byte);
                        i += 3;
                    } else if matches!(
                        next,
                        ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | ' ' | '#'
                    ) {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                        i += 2;
                    } else {
                        return Err(DnError::Syntax(format!("invalid escape '\\{next}'")));
                    }
                    keep = bytes.len();
                } else {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    if c != ' ' {
                        keep = bytes.len();
                    }
                    i += 1;
                }
            }
            bytes.truncate(keep);
            DnValue::Text(
                String::from_utf8(bytes).map_err(|_| "an escaped value is not valid UTF-8")?,
            )
        };
        rdn.push((attr_type, value));
        if i == chars.len() {
            rdns.push(std::mem::take(&mut rdn));
            break;
        }
        let sep = chars[i];
        i += 1;
        if sep != '+' {
            rdns.push(std::mem::take(&mut rdn));
        }
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if i == chars.len() {
            return Err(DnError::Syntax(format!(
                "the distinguished name ends with '{sep}'"
            )));
        }
    }
    Ok(rdns)
}

pub(super) fn normalise_type(t: &str) -> Result<String, DnError> {
    if t.is_empty() {
        return Err("an attribute type is empty".into());
    }
    let b = t.as_bytes();
    if b[0].is_ascii_digit() {
        let ok = t
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(DnError::Syntax(format!(
                "attribute type {t:?} is not a keyword or an OID"
            )));
        }
        let named = crate::x509::attribute_name(t).unwrap_or(t);
        return Ok(named.to_string());
    }
    if !b[0].is_ascii_alphabetic() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return Err(DnError::Syntax(format!(
            "attribute type {t:?} is not a keyword or an OID"
        )));
    }
    let upper = t.to_ascii_uppercase();
    Ok(if upper == "S" { "ST".into() } else { upper })
}

/// A trusted identity's DN under notation's rules: parseable, no `=#`, no multi-valued RDNs,
/// no repeated attribute types, and `C`, `ST` and `O` present.
pub(super) fn parse_identity_dn(value: &str) -> Result<Vec<(String, String)>, DnError> {
    if value.contains("=#") {
        return Err(DnError::Unsupported(
            "DNs containing \"=#\" (hex-encoded values) are not supported".into(),
        ));
    }
    let rdns = parse_dn(value).map_err(|e| {
        DnError::Syntax(format!(
            "{e}; a DN must follow RFC 4514 and contain at least C, ST and O"
        ))
    })?;
    let mut out: Vec<(String, String)> = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return Err(DnError::Unsupported(
                "multi-valued RDNs ('+') are not supported".into(),
            ));
        }
        for (t, v) in rdn {
            let DnValue::Text(v) = v else {
                return Err(DnError::Unsupported(
                    "hex-encoded values are not supported".into(),
                ));
            };
            if out.iter().any(|(seen, _)| *seen == t) {
                return Err(DnError::Unsupported(format!(
                    "attribute {t} appears more than once"
                )));
            }
            out.push((t, v));
        }
    }
    for required in ["C", "ST", "O"] {
        if !out.iter().any(|(t, v)| t == required && !v.is_empty()) {
            return Err(DnError::Unsupported(format!(
                "the mandatory attribute {required} is missing; a DN must contain at least C, ST and O"
            )));
        }
    }
    Ok(out)
}

/// True when the signing certificate whose subject DN is `leaf_subject_dn` (as
/// [`Certificate::subject`] renders it) satisfies `statement`'s trusted identities: `*`
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

/// The certificate subject as type → value (`None` for `#hex` values); `None` when it has a
/// multi-valued RDN, a repeated type, or does not parse.
pub(super) fn subject_attributes(dn: &str) -> Option<Vec<(String, Option<String>)>> {
    let rdns = parse_dn(dn).ok()?;
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return None;
        }
        for (t, v) in rdn {
            if out.iter().any(|(seen, _)| *seen == t) {
                return None;
            }
            out.push((
                t,
                match v {
                    DnValue::Text(s) => Some(s),
                    DnValue::Hex => None,
                },
            ));
        }
    }
    Some(out)
}
