//! Image patterns: globs over `registry/repository` (`*` within one path segment, `**` across
//! segments) and how specific each one is (the most specific matching rule wins).

use super::*;

/// A glob over `registry/repository`.
#[derive(Clone, Debug)]
pub(super) struct Glob {
    pub(super) text: String,
    pub(super) re: regex::Regex,
    pub(super) tokens: Vec<Token>,
    pub(super) specificity: Vec<(u8, usize)>,
}

/// One piece of a glob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
}

/// The pattern with its registry part in canonical form (lowercase host, default port
/// dropped, Docker Hub aliases folded), so it matches what references parse to.
pub(super) fn canonical_pattern(text: &str) -> String {
    let (host, rest) = match text.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (text, None),
    };
    let looks_like_host = host.contains('.')
        || host.contains(':')
        || host.starts_with('[')
        || host.eq_ignore_ascii_case("localhost");
    if rest.is_none() || !looks_like_host {
        return text.to_string();
    }
    let host = if host.contains(['*', '?']) {
        let h = host.to_ascii_lowercase();
        h.strip_suffix(":443").map(str::to_string).unwrap_or(h)
    } else {
        crate::reference::canonical_registry(host).unwrap_or_else(|_| host.to_ascii_lowercase())
    };
    format!("{host}/{}", rest.unwrap_or_default())
}

impl Glob {
    pub(super) fn new(text: &str) -> Result<Glob> {
        let text = canonical_pattern(text);
        let mut re = String::from("^");
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    re.push_str(".*");
                    tokens.push(Token::DoubleStar);
                } else {
                    re.push_str("[^/]*");
                    tokens.push(Token::Star);
                }
            } else if c == '?' {
                re.push_str("[^/]");
                tokens.push(Token::One);
            } else {
                re.push_str(&regex::escape(&c.to_string()));
                tokens.push(Token::Char(c));
            }
        }
        re.push('$');
        let re = regex::Regex::new(&re)
            .map_err(|e| Error::invalid(format!("pattern {text:?}"), e.to_string()))?;
        let specificity = specificity(&text);
        Ok(Glob {
            text,
            re,
            tokens,
            specificity,
        })
    }

    pub(super) fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// An image name both globs match, if there is one (product of the two automata).
    pub(super) fn overlap(&self, other: &Glob) -> Option<String> {
        use std::collections::{BTreeMap, VecDeque};
        let (a, b) = (&self.tokens, &other.tokens);
        // Positions reachable without consuming a character (stars may match nothing).
        let close = |t: &[Token], mut i: usize| -> Vec<usize> {
            let mut out = vec![i];
            while i < t.len() && matches!(t[i], Token::Star | Token::DoubleStar) {
                i += 1;
                out.push(i);
            }
            out
        };
        let accepts = |t: Token, c: char| match t {
            Token::Char(x) => x == c,
            Token::One | Token::Star => c != '/',
            Token::DoubleStar => true,
        };
        let next = |t: Token, i: usize| match t {
            Token::Star | Token::DoubleStar => i,
            _ => i + 1,
        };
        // Product state -> (previous state, character that led here), for the witness.
        type Back = Option<((usize, usize), char)>;
        let mut seen: BTreeMap<(usize, usize), Back> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for i in close(a, 0) {
            for j in close(b, 0) {
                seen.entry((i, j)).or_insert(None);
                queue.push_back((i, j));
            }
        }
        while let Some((i, j)) = queue.pop_front() {
            if i == a.len() && j == b.len() {
                let mut out = Vec::new();
                let mut at = (i, j);
                while let Some(Some((prev, c))) = seen.get(&at) {
                    out.push(*c);
                    at = *prev;
                }
                return Some(out.into_iter().rev().collect());
            }
            if i == a.len() || j == b.len() {
                continue;
            }
            // Characters worth trying: each side's literal, else a plain letter or '/'.
            let mut candidates = Vec::new();
            for t in [a[i], b[j]] {
                if let Token::Char(c) = t {
                    candidates.push(c);
                }
            }
            candidates.extend(['x', '/']);
            for c in candidates {
                if !(accepts(a[i], c) && accepts(b[j], c)) {
                    continue;
                }
                for ni in close(a, next(a[i], i)) {
                    for nj in close(b, next(b[j], j)) {
                        if let std::collections::btree_map::Entry::Vacant(e) = seen.entry((ni, nj))
                        {
                            e.insert(Some(((i, j), c)));
                            queue.push_back((ni, nj));
                        }
                    }
                }
            }
        }
        None
    }
}

/// How specific a pattern is, segment by segment from the registry down (compared
/// lexicographically, as Connaisseur ranks its rules): a literal segment beats one with a
/// wildcard, which beats `**`; within a class, more literal characters win. A repository name
/// an attacker chooses further down the path cannot outrank a rule that names the registry and
/// the path above it.
pub(super) fn specificity(text: &str) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    for segment in text.split('/') {
        let literal = segment.chars().filter(|c| !matches!(c, '*' | '?')).count();
        if segment.contains("**") {
            out.push((0, literal));
            break;
        }
        let class = if segment.contains(['*', '?']) { 1 } else { 2 };
        out.push((class, literal));
    }
    out
}
