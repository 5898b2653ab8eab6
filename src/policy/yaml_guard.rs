//! Checks on policy YAML before serde_yaml_ng sees it.
//!
//! Two attacks on a YAML parser are cheap to write and expensive to parse:
//!
//! * **alias expansion** ("billion laughs"): one large anchor reused by many aliases expands
//!   to gigabytes while the file stays small, and the process aborts when memory runs out;
//! * **deep nesting**: tens of thousands of nested `[`, `{`, `- ` or indentation levels take
//!   the parser seconds before serde's recursion limit refuses them.
//!
//! Policy files need neither anchors nor aliases, nor more than a handful of levels, so
//! [`scan`] refuses any anchor or alias (naming the line) and more than [`MAX_DEPTH`] levels
//! of nesting, with a lexical pre-scan that costs one pass over the text. As a backstop that
//! does not depend on that scanner reading YAML exactly as libyaml does, [`check_expansion`]
//! walks the document as the parser sees it and refuses it when it expands to more than
//! twice the text (nothing but aliases can make a document larger than its text).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// Deepest nesting of collections accepted in a policy file.
pub const MAX_DEPTH: usize = 64;

/// Why YAML text was refused before parsing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlGuardError {
    /// An anchor (`&`) or alias (`*`) where they are not supported (policy files).
    #[error("line {line}: {what}; policy files do not support YAML anchors and aliases: write the value out")]
    AnchorOrAlias {
        /// 1-based line number.
        line: usize,
        /// `an anchor (&)` or `an alias (*)`.
        what: &'static str,
    },
    /// Collections nested deeper than [`MAX_DEPTH`].
    #[error("line {line}: nested more than {MAX_DEPTH} levels deep; {note}")]
    TooDeep {
        /// 1-based line number.
        line: usize,
        /// How deep such documents normally go.
        note: &'static str,
    },
    /// Aliases expand a policy file past twice its size.
    #[error("YAML aliases expand it to more than twice its size; policy files do not support anchors and aliases: write the values out")]
    PolicyExpansion,
    /// Aliases expand a stream of manifests past twice its size.
    #[error("YAML aliases expand it to more than twice its size; refusing it")]
    StreamExpansion,
}

/// Refuse anchors, aliases and nesting deeper than [`MAX_DEPTH`]; the error names the line.
pub fn scan(text: &str) -> Result<(), YamlGuardError> {
    scan_with(text, false, "a policy file needs only a few")
}

/// For Kubernetes manifests, which kubectl reads with anchors and aliases: refuse only
/// nesting deeper than [`MAX_DEPTH`] (aliases are bounded by [`check_expansion_stream`]).
pub fn scan_nesting(text: &str) -> Result<(), YamlGuardError> {
    scan_with(text, true, "even large manifests need far fewer")
}

fn scan_with(
    text: &str,
    anchors_allowed: bool,
    depth_note: &'static str,
) -> Result<(), YamlGuardError> {
    let mut flow: usize = 0; // depth of [ and { open around the current position
    let mut indents: Vec<usize> = Vec::new(); // block indentation levels open
    let mut quote: Option<u8> = None; // inside a "..." or '...' scalar
    let mut block_scalar: Option<usize> = None; // inside a | or > scalar deeper than this
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let blank = bytes[indent..].iter().all(|b| b.is_ascii_whitespace());
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let mut j = 0;
        // At the start of a line outside quotes and flow collections: block indentation.
        let mut line_depth = 0;
        if quote.is_none() && flow == 0 {
            if blank || bytes[indent] == b'#' {
                continue;
            }
            while indents.last().is_some_and(|&top| top > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
            j = indent;
        }
        // Whether the scanner is where a node may start (after indentation, `- `, `? `,
        // `: `, `[`, `{` or `,`); only there do `&`, `*`, quotes, `|` and `>` mean anything.
        let mut node_start = quote.is_none();
        while j < bytes.len() {
            let b = bytes[j];
            if let Some(q) = quote {
                if b == b'\\' && q == b'"' {
                    j += 2;
                    continue;
                }
                if b == q {
                    if q == b'\'' && bytes.get(j + 1) == Some(&b'\'') {
                        j += 2;
                        continue;
                    }
                    quote = None;
                    node_start = false;
                }
                j += 1;
                continue;
            }
            let next_is_space = bytes.get(j + 1).is_none_or(|c| c.is_ascii_whitespace());
            match b {
                b' ' | b'\t' | b'\r' => {}
                b'#' if j == 0 || bytes[j - 1].is_ascii_whitespace() => break,
                b'[' | b'{' if flow > 0 || node_start => {
                    flow += 1;
                    node_start = true;
                }
                b']' | b'}' if flow > 0 => {
                    flow -= 1;
                    node_start = false;
                }
                b',' if flow > 0 => node_start = true,
                b'-' | b'?' | b':' if next_is_space => {
                    if b != b':' && flow == 0 {
                        line_depth += 1; // `- - x` and `? x` nest on one line
                    }
                    node_start = true;
                }
                b'"' | b'\'' if node_start => quote = Some(b),
                b'&' | b'*' if node_start && !anchors_allowed => {
                    let what = if b == b'&' {
                        "an anchor (&)"
                    } else {
                        "an alias (*)"
                    };
                    return Err(YamlGuardError::AnchorOrAlias { line: n, what });
                }
                b'|' | b'>' if node_start && flow == 0 => {
                    block_scalar = Some(indent);
                    break;
                }
                _ => {
                    // The rest of a plain scalar, tag or key: skip to the next space.
                    node_start = false;
                    while let Some(&c) = bytes.get(j + 1) {
                        let ends = c.is_ascii_whitespace()
                            || (flow > 0 && b",[]{}".contains(&c))
                            || (c == b':'
                                && bytes.get(j + 2).is_none_or(|c| c.is_ascii_whitespace()));
                        if ends {
                            break;
                        }
                        j += 1;
                    }
                }
            }
            if indents.len() + line_depth + flow > MAX_DEPTH {
                return Err(YamlGuardError::TooDeep {
                    line: n,
                    note: depth_note,
                });
            }
            j += 1;
        }
        if indents.len() + line_depth + flow > MAX_DEPTH {
            return Err(YamlGuardError::TooDeep {
                line: n,
                note: depth_note,
            });
        }
    }
    Ok(())
}

/// Refuse a document that expands to more than twice its text (scalar bytes plus one per
/// node), which only aliases can do. Walks the document as serde_yaml_ng presents it,
/// stopping as soon as the budget is spent, so the cost is bounded by the text's size.
pub fn check_expansion(text: &str) -> Result<(), YamlGuardError> {
    let budget = Cell::new(2 * text.len() as u64 + 4096);
    let exceeded = Cell::new(false);
    let seed = Budget {
        left: &budget,
        exceeded: &exceeded,
    };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match seed.deserialize(de) {
        Ok(()) => Ok(()),
        Err(_) if exceeded.get() => Err(YamlGuardError::PolicyExpansion),
        // Syntax errors are reported by the real parse, with their line.
        Err(_) => Ok(()),
    }
}

/// [`check_expansion`] for a stream of YAML documents (Kubernetes manifests), all of them
/// together against one budget of twice the text.
pub fn check_expansion_stream(text: &str) -> Result<(), YamlGuardError> {
    let budget = Cell::new(2 * text.len() as u64 + 4096);
    let exceeded = Cell::new(false);
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let seed = Budget {
            left: &budget,
            exceeded: &exceeded,
        };
        match seed.deserialize(doc) {
            Ok(()) => {}
            Err(_) if exceeded.get() => return Err(YamlGuardError::StreamExpansion),
            // Syntax errors are reported by the real parse, with their line.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Budget<'a> {
    left: &'a Cell<u64>,
    exceeded: &'a Cell<bool>,
}

impl Budget<'_> {
    fn charge<E: de::Error>(self, n: usize) -> Result<(), E> {
        let n = n as u64 + 1;
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.exceeded.set(true);
                Err(E::custom("expansion budget exceeded"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.charge(0)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.charge(0)?;
        while map.next_entry_seed(self, self)?.is_some() {}
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess as _;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_policies_pass() {
        let text = r#"
version: 1
defaultAction: reject   # comment with & and * and [
authorities:
  release: { key: release.pub }
rules:
  - name: "prod & staging *"
    images: ["registry.corp.example/prod/**", 'it''s [ok']
    tags: { deny: [latest], pattern: '^v?\d+\.\d+\.\d+$' }
    requiredLabels: { org.opencontainers.image.source: null }
    note: a*b&c [x
    desc: |
      *not an alias* &nor an anchor
      [[[[[[
  - name: x
"#;
        scan(text).unwrap();
        check_expansion(text).unwrap();
    }

    #[test]
    fn anchors_and_aliases_are_refused_with_their_line() {
        let e = scan("a: &x 1\nb: *x\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: an anchor"), "{e}");
        let e = scan("a: 1\nb: [1, *x]\n").unwrap_err().to_string();
        assert!(e.starts_with("line 2: an alias"), "{e}");
        let e = scan("- - &x y\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: an anchor"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(scan(&deep)
            .unwrap_err()
            .to_string()
            .contains("more than 64 levels"));
        let dashes = "- ".repeat(MAX_DEPTH + 1) + "x";
        assert!(scan(&dashes)
            .unwrap_err()
            .to_string()
            .contains("more than 64 levels"));
        let mut indented = String::new();
        for i in 0..=MAX_DEPTH {
            indented.push_str(&" ".repeat(i));
            indented.push_str("a:\n");
        }
        assert!(scan(&indented)
            .unwrap_err()
            .to_string()
            .contains("more than 64 levels"));
        let ok = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
        scan(&ok).unwrap();
    }

    #[test]
    fn expansion_is_bounded_even_past_the_scanner() {
        let big = "x".repeat(10_000);
        let text = format!("a: &a {big}\nb: [{}]\n", vec!["*a"; 100].join(", "));
        let e = check_expansion(&text).unwrap_err().to_string();
        assert!(e.contains("twice its size"), "{e}");
        check_expansion("a: &a 1\nb: *a\n").unwrap();
    }
}
