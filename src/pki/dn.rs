//! Distinguished names, rendered and parsed in one place.
//!
//! `render_name` writes a certificate's subject or issuer as RFC 4514 text in the order Go's
//! `pkix.Name.String()` and notation print it (most specific first: `CN=...,O=...,C=US`),
//! backslash-escaping what RFC 4514 reserves (`escape_dn_value`); `parse_dn` reads such text
//! back exactly, and `parse_identity_dn` applies the Notary Project's rules for a trusted
//! identity's `x509.subject` value (no `=#`, no multi-valued RDNs, no repeated types, `C`, `ST`
//! and `O` present). Matching an identity against a subject is the trust policy's job, built
//! on `subject_attributes`.

use x509_parser::asn1_rs::{Any, Class};
use x509_parser::x509::X509Name;

/// The RFC 4514 keyword for a distinguished-name attribute OID, if it has one.
pub(crate) fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Render a name the way notation prints it: RDNs last-to-first, `type=value` joined by `,`,
/// multi-valued RDNs joined by `+`. Attributes outside Go's named set (and values that are not
/// strings) use the dotted OID and `#` + hex of the DER value, as RFC 4514 prescribes.
pub(crate) fn render_name(name: &X509Name<'_>) -> String {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut atvs = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let text = match attribute_name(&oid) {
                Some(short) => match attribute_string(atv.attr_value()) {
                    Some(value) => format!("{short}={}", escape_dn_value(&value)),
                    None => format!("{short}=#{}", hex::encode(any_der(atv.attr_value()))),
                },
                None => format!("{oid}=#{}", hex::encode(any_der(atv.attr_value()))),
            };
            atvs.push(text);
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The value of a directory string as text, for the string types certificates use.
fn attribute_string(value: &Any<'_>) -> Option<String> {
    use x509_parser::asn1_rs::Tag;
    let data = value.data;
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        // T61String: read as Latin-1, as Go does.
        Tag::TeletexString => Some(data.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            if data.len() % 4 != 0 {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// Re-encode an attribute value as DER (for the `#hex` form).
fn any_der(value: &Any<'_>) -> Vec<u8> {
    let class = value.class() as u8;
    let constructed = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    let tag = value.tag().0;
    let mut out = Vec::with_capacity(value.data.len() + 8);
    if tag < 31 {
        out.push((class << 6) | constructed | tag as u8);
    } else {
        out.push((class << 6) | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value.data);
    out
}

/// RFC 4514 escaping of an attribute value (plus `=`, which RFC 4514 allows escaping).
pub(crate) fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' | '"' | '+' | ',' | ';' | '<' | '>' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Why a distinguished name (or a trusted identity's DN) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    /// Nothing but spaces.
    #[error("the distinguished name is empty")]
    Empty,
    /// A separator where `type=value` was expected.
    #[error("expected type=value at {0:?}")]
    ExpectedTypeValue(String),
    /// An attribute without `=`.
    #[error("missing '=' in {0:?}")]
    MissingEquals(String),
    /// A `"quoted"` value.
    #[error("quoted attribute values are not supported; escape with '\\' instead")]
    Quoted,
    /// A `\` at the very end.
    #[error("a value ends with a lone '\\'")]
    LoneBackslash,
    /// `\` followed by one hex digit only.
    #[error("'\\' must be followed by a special character or two hex digits")]
    HexEscape,
    /// `\` followed by a character that needs no escaping.
    #[error("invalid escape '\\{0}'")]
    InvalidEscape(char),
    /// Escaped bytes that are not UTF-8.
    #[error("an escaped value is not valid UTF-8")]
    NotUtf8,
    /// A trailing `,`, `+` or `;`.
    #[error("the distinguished name ends with '{0}'")]
    TrailingSeparator(char),
    /// An empty attribute type.
    #[error("an attribute type is empty")]
    EmptyType,
    /// An attribute type that is neither a keyword nor a dotted OID.
    #[error("attribute type {0:?} is not a keyword or an OID")]
    BadType(String),
    /// A trusted identity uses `=#` (hex-encoded values).
    #[error("DNs containing \"=#\" (hex-encoded values) are not supported")]
    HexForm,
    /// A trusted identity's DN does not parse.
    #[error("{0}; a DN must follow RFC 4514 and contain at least C, ST and O")]
    Identity(Box<DnError>),
    /// A trusted identity with a multi-valued RDN.
    #[error("multi-valued RDNs ('+') are not supported")]
    MultiValued,
    /// A trusted identity with a `#hex` value.
    #[error("hex-encoded values are not supported")]
    HexValue,
    /// A trusted identity naming a type twice.
    #[error("attribute {0} appears more than once")]
    Repeated(String),
    /// A trusted identity without `C`, `ST` or `O`.
    #[error("the mandatory attribute {0} is missing; a DN must contain at least C, ST and O")]
    Missing(&'static str),
}

/// One parsed attribute value: text, or the RFC 4514 `#hex` form (never matched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DnValue {
    Text(String),
    Hex,
}

/// Parse an RFC 4514 DN into RDNs of (normalised type, value).
pub(crate) fn parse_dn(input: &str) -> Result<Vec<Vec<(String, DnValue)>>, DnError> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut rdns: Vec<Vec<(String, DnValue)>> = Vec::new();
    let mut rdn: Vec<(String, DnValue)> = Vec::new();
    if input.trim().is_empty() {
        return Err(DnError::Empty);
    }
    loop {
        // attribute type
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            if matches!(chars[i], ',' | '+' | ';') {
                return Err(DnError::ExpectedTypeValue(
                    chars[start..].iter().collect::<String>(),
                ));
            }
            i += 1;
        }
        if i == chars.len() {
            return Err(DnError::MissingEquals(
                chars[start..].iter().collect::<String>(),
            ));
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
            return Err(DnError::Quoted);
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            let mut keep = 0; // length of `bytes` up to the last character that is not a trailing unescaped space
            while i < chars.len() && !matches!(chars[i], ',' | '+' | ';') {
                let c = chars[i];
                if c == '\\' {
                    let next = chars.get(i + 1).copied().ok_or(DnError::LoneBackslash)?;
                    if next.is_ascii_hexdigit() {
                        let lo = chars
                            .get(i + 2)
                            .copied()
                            .filter(char::is_ascii_hexdigit)
                            .ok_or(DnError::HexEscape)?;
                        let byte = u8::from_str_radix(&format!("{next}{lo}"), 16)
                            .map_err(|_| DnError::HexEscape)?;
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
                        return Err(DnError::InvalidEscape(next));
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
            DnValue::Text(String::from_utf8(bytes).map_err(|_| DnError::NotUtf8)?)
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
            return Err(DnError::TrailingSeparator(sep));
        }
    }
    Ok(rdns)
}

fn normalise_type(t: &str) -> Result<String, DnError> {
    if t.is_empty() {
        return Err(DnError::EmptyType);
    }
    let b = t.as_bytes();
    if b[0].is_ascii_digit() {
        let ok = t
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(DnError::BadType(t.to_string()));
        }
        let named = attribute_name(t).unwrap_or(t);
        return Ok(named.to_string());
    }
    if !b[0].is_ascii_alphabetic() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return Err(DnError::BadType(t.to_string()));
    }
    let upper = t.to_ascii_uppercase();
    Ok(if upper == "S" { "ST".into() } else { upper })
}

/// A trusted identity's DN under notation's rules: parseable, no `=#`, no multi-valued RDNs,
/// no repeated attribute types, and `C`, `ST` and `O` present.
pub(crate) fn parse_identity_dn(value: &str) -> Result<Vec<(String, String)>, DnError> {
    if value.contains("=#") {
        return Err(DnError::HexForm);
    }
    let rdns = parse_dn(value).map_err(|e| DnError::Identity(Box::new(e)))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for rdn in rdns {
        if rdn.len() > 1 {
            return Err(DnError::MultiValued);
        }
        for (t, v) in rdn {
            let DnValue::Text(v) = v else {
                return Err(DnError::HexValue);
            };
            if out.iter().any(|(seen, _)| *seen == t) {
                return Err(DnError::Repeated(t));
            }
            out.push((t, v));
        }
    }
    for required in ["C", "ST", "O"] {
        if !out.iter().any(|(t, v)| t == required && !v.is_empty()) {
            return Err(DnError::Missing(required));
        }
    }
    Ok(out)
}

/// The certificate subject as type → value (`None` for `#hex` values); `None` when it has a
/// multi-valued RDN, a repeated type, or does not parse.
pub(crate) fn subject_attributes(dn: &str) -> Option<Vec<(String, Option<String>)>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_rfc4514_specials() {
        assert_eq!(escape_dn_value("a,b"), "a\\,b");
        assert_eq!(escape_dn_value("#x"), "\\#x");
        assert_eq!(escape_dn_value(" x "), "\\ x\\ ");
        assert_eq!(escape_dn_value("Bad=#CN"), "Bad\\=#CN");
        assert_eq!(escape_dn_value("a\\b"), "a\\\\b");
    }

    #[test]
    fn dn_round_trips_through_escaping() {
        for value in [
            "Bad=#CN",
            "a,b+c;d",
            " lead",
            "trail ",
            "#hash",
            "back\\slash",
            "q\"<>",
        ] {
            let rendered = format!("CN={},O=o,ST=s,C=c", escape_dn_value(value));
            let attrs = subject_attributes(&rendered).unwrap();
            assert_eq!(
                attrs[0],
                ("CN".to_string(), Some(value.to_string())),
                "{rendered}"
            );
        }
    }

    #[test]
    fn identity_dn_rules() {
        assert!(parse_identity_dn("C=US, ST=WA, O=Notary").is_ok());
        assert!(parse_identity_dn("C=US,S=WA,O=Notary").is_ok());
        assert!(parse_identity_dn("C=US, ST=WA").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a, O=b").is_err());
        assert!(parse_identity_dn("C=US+ST=WA, O=a").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a, CN=#0403").is_err());
        assert!(parse_identity_dn("C=US, ST=WA, O=a,").is_err());
    }
}
