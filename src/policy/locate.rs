//! Where a path such as `rules[2].attestations[0].maxAge` is written in a policy file's text:
//! the line and column of its key (or of its sequence item), so that problems found after
//! parsing can name their line as syntax errors do.
//!
//! serde_yaml_ng keeps no positions once a document is parsed, so this is a small structural
//! scan of the subset of YAML policy files are written in: block mappings and sequences
//! (compact `- key: value` items included), flow collections (`{…}`, `[…]`, JSON), quoted
//! and plain scalars, block scalars (`|`, `>`) and comments. It never decides validity (the
//! parser does); on text it does not follow it finds fewer positions, and a problem then names
//! the nearest enclosing key it found, or no line.

use std::collections::BTreeMap;

/// 1-based line and column of every key and sequence item in `text`, by path.
pub(super) fn positions(text: &str) -> BTreeMap<String, (usize, usize)> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut s = Scan {
        lines,
        out: BTreeMap::new(),
        steps: 0,
        depth: 0,
    };
    if let Some((li, col)) = s.next_content(0) {
        s.block_node(li, col, "");
    }
    s.out
}

/// The position of `path`, or of its nearest enclosing key or item that is written in `text`.
pub(super) fn locate(
    positions: &BTreeMap<String, (usize, usize)>,
    mut path: &str,
) -> Option<(usize, usize)> {
    loop {
        if let Some(p) = positions.get(path) {
            return Some(*p);
        }
        let cut = path.rfind(['.', '['])?;
        path = &path[..cut];
    }
}

/// `parent.key`, or `key` at the top.
fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Bound on the scan's work, against text it does not follow looping it.
const MAX_STEPS: usize = 1_000_000;
/// Bound on the scan's nesting (the YAML guard refuses deeper files before this runs).
const MAX_DEPTH: usize = 2 * super::yaml_guard::MAX_DEPTH;

struct Scan<'a> {
    lines: Vec<&'a str>,
    out: BTreeMap<String, (usize, usize)>,
    steps: usize,
    depth: usize,
}

impl Scan<'_> {
    fn byte(&self, li: usize, ci: usize) -> Option<u8> {
        self.lines.get(li)?.as_bytes().get(ci).copied()
    }

    fn record(&mut self, path: String, li: usize, ci: usize) {
        let col = self.lines[li].get(..ci).map_or(ci, |p| p.chars().count()) + 1;
        self.out.entry(path).or_insert((li + 1, col));
    }

    fn tick(&mut self) -> bool {
        self.steps += 1;
        self.steps < MAX_STEPS
    }

    /// The first line at or after `li` with content (not blank, not only a comment, not a
    /// `---` document marker), and its indentation.
    fn next_content(&self, mut li: usize) -> Option<(usize, usize)> {
        while li < self.lines.len() {
            let l = self.lines[li];
            let indent = l.bytes().take_while(|b| *b == b' ').count();
            let rest = l[indent..].trim_end();
            if !(rest.is_empty() || rest.starts_with('#') || (indent == 0 && rest == "---")) {
                return Some((li, indent));
            }
            li += 1;
        }
        None
    }

    /// True when the line's content at `ci` is the rest of a line that means nothing more
    /// (end of line or a comment).
    fn rest_empty(&self, li: usize, ci: usize) -> bool {
        let rest = self.lines[li].get(ci..).unwrap_or("").trim_start();
        rest.is_empty() || rest.starts_with('#')
    }

    fn skip_spaces(&self, li: usize, mut ci: usize) -> usize {
        while self.byte(li, ci) == Some(b' ') || self.byte(li, ci) == Some(b'\t') {
            ci += 1;
        }
        ci
    }

    /// A block mapping key starting at `(li, ci)`: its text and the column just after its
    /// `:`, when the line holds one there.
    fn block_key(&self, li: usize, ci: usize) -> Option<(String, usize)> {
        let line = self.lines[li].as_bytes();
        let (key, mut j) = match line.get(ci)? {
            q @ (b'"' | b'\'') => {
                let end = self.quote_end_in_line(li, ci, *q)?;
                (unquote(&self.lines[li][ci..=end]), end + 1)
            }
            b'-' | b'[' | b'{' | b'#' | b'|' | b'>' | b'&' | b'*' | b'!' => return None,
            _ => {
                let mut j = ci;
                while j < line.len() {
                    if line[j] == b':' && line.get(j + 1).is_none_or(|c| *c == b' ' || *c == b'\t')
                    {
                        break;
                    }
                    if line[j] == b'#' && j > 0 && line[j - 1] == b' ' {
                        return None;
                    }
                    j += 1;
                }
                if j >= line.len() {
                    return None;
                }
                (self.lines[li][ci..j].trim_end().to_string(), j)
            }
        };
        while line.get(j) == Some(&b' ') {
            j += 1;
        }
        (line.get(j) == Some(&b':') && line.get(j + 1).is_none_or(|c| *c == b' ' || *c == b'\t'))
            .then_some((key, j + 1))
    }

    /// The index of the quote closing the one at `ci`, on the same line.
    fn quote_end_in_line(&self, li: usize, ci: usize, q: u8) -> Option<usize> {
        let line = self.lines[li].as_bytes();
        let mut j = ci + 1;
        while j < line.len() {
            if q == b'"' && line[j] == b'\\' {
                j += 2;
                continue;
            }
            if line[j] == q {
                if q == b'\'' && line.get(j + 1) == Some(&b'\'') {
                    j += 2;
                    continue;
                }
                return Some(j);
            }
            j += 1;
        }
        None
    }

    /// A block node whose content starts at `(li, col)`; returns the first line after it.
    fn block_node(&mut self, li: usize, col: usize, path: &str) -> usize {
        if !self.tick() || self.depth >= MAX_DEPTH || li >= self.lines.len() {
            return self.lines.len();
        }
        self.depth += 1;
        let next = self.block_node_at(li, col, path);
        self.depth -= 1;
        // Always forward, so that no caller looks at the same line twice.
        next.max(li + 1)
    }

    fn block_node_at(&mut self, li: usize, col: usize, path: &str) -> usize {
        match self.byte(li, col) {
            Some(b'-') if matches!(self.byte(li, col + 1), None | Some(b' ') | Some(b'\t')) => {
                self.block_sequence(li, col, path)
            }
            Some(b'[') | Some(b'{') => {
                let (end, _) = self.flow_node(li, col, path);
                end + 1
            }
            _ if self.block_key(li, col).is_some() => self.block_mapping(li, col, path),
            _ => self.scalar_lines(li, col),
        }
    }

    /// Lines after `li` that continue a scalar of a node at column `col` (more indented).
    fn scalar_lines(&self, li: usize, col: usize) -> usize {
        let mut next = li + 1;
        while next < self.lines.len() {
            let l = self.lines[next];
            let indent = l.bytes().take_while(|b| *b == b' ').count();
            if !l.trim().is_empty() && indent <= col {
                break;
            }
            next += 1;
        }
        next
    }

    fn block_sequence(&mut self, mut li: usize, col: usize, path: &str) -> usize {
        let mut i = 0;
        loop {
            if !self.tick() {
                return self.lines.len();
            }
            let item = format!("{path}[{i}]");
            self.record(item.clone(), li, col);
            let c2 = self.skip_spaces(li, col + 1);
            let next = if self.rest_empty(li, c2) {
                match self.next_content(li + 1) {
                    Some((nl, indent)) if indent > col => self.block_node(nl, indent, &item),
                    _ => li + 1,
                }
            } else {
                self.block_node(li, c2, &item)
            };
            match self.next_content(next) {
                Some((nl, indent))
                    if indent == col
                        && self.byte(nl, col) == Some(b'-')
                        && matches!(self.byte(nl, col + 1), None | Some(b' ') | Some(b'\t')) =>
                {
                    li = nl;
                    i += 1;
                }
                _ => return next,
            }
        }
    }

    fn block_mapping(&mut self, mut li: usize, col: usize, path: &str) -> usize {
        loop {
            if !self.tick() {
                return self.lines.len();
            }
            let Some((key, after)) = self.block_key(li, col) else {
                return self.scalar_lines(li, col);
            };
            let child = key_path(path, &key);
            self.record(child.clone(), li, col);
            let v = self.skip_spaces(li, after);
            let next = if self.rest_empty(li, v) {
                match self.next_content(li + 1) {
                    Some((nl, indent)) if indent > col => self.block_node(nl, indent, &child),
                    // A sequence may sit at its key's own indentation.
                    Some((nl, indent))
                        if indent == col
                            && self.byte(nl, col) == Some(b'-')
                            && matches!(self.byte(nl, col + 1), None | Some(b' ')) =>
                    {
                        self.block_sequence(nl, col, &child)
                    }
                    _ => li + 1,
                }
            } else {
                match self.byte(li, v) {
                    Some(b'[') | Some(b'{') => {
                        let (end, _) = self.flow_node(li, v, &child);
                        self.scalar_lines(end, col)
                    }
                    _ => self.scalar_lines(li, col),
                }
            };
            match self.next_content(next) {
                Some((nl, indent)) if indent == col && self.block_key(nl, col).is_some() => li = nl,
                _ => return next,
            }
        }
    }

    /// Skip spaces, line ends and comments inside a flow collection.
    fn flow_space(&self, mut li: usize, mut ci: usize) -> (usize, usize) {
        while li < self.lines.len() {
            match self.byte(li, ci) {
                Some(b' ') | Some(b'\t') => ci += 1,
                Some(b'#') => {
                    li += 1;
                    ci = 0
                }
                None => {
                    li += 1;
                    ci = 0
                }
                Some(_) => break,
            }
        }
        (li, ci)
    }

    /// A flow node at `(li, ci)`; returns the position just after it.
    fn flow_node(&mut self, li: usize, ci: usize, path: &str) -> (usize, usize) {
        let end = (self.lines.len(), 0);
        if self.depth >= MAX_DEPTH {
            return end;
        }
        self.depth += 1;
        let after = self.flow_node_at(li, ci, path);
        self.depth -= 1;
        // Always forward, so that no caller looks at the same text twice.
        if after <= (li, ci) {
            (li, ci + 1)
        } else {
            after
        }
    }

    fn flow_node_at(&mut self, li: usize, ci: usize, path: &str) -> (usize, usize) {
        let end = (self.lines.len(), 0);
        let (mut li, mut ci) = self.flow_space(li, ci);
        if !self.tick() || li >= self.lines.len() {
            return end;
        }
        match self.byte(li, ci) {
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                ci += 1;
                let mut i = 0;
                loop {
                    if !self.tick() {
                        return end;
                    }
                    (li, ci) = self.flow_space(li, ci);
                    match self.byte(li, ci) {
                        None => return end,
                        Some(c) if c == close => return (li, ci + 1),
                        Some(b',') => {
                            ci += 1;
                            continue;
                        }
                        _ => {}
                    }
                    if open == b'[' {
                        let item = format!("{path}[{i}]");
                        self.record(item.clone(), li, ci);
                        (li, ci) = self.flow_node(li, ci, &item);
                        i += 1;
                        continue;
                    }
                    // A key, then `:` and its value (or none: `{a, b}`).
                    let (kl, kc) = (li, ci);
                    let (key, end) = self.flow_scalar(li, ci, true);
                    self.record(key_path(path, &key), kl, kc);
                    (li, ci) = self.flow_space(end.0, end.1);
                    if self.byte(li, ci) == Some(b':') {
                        (li, ci) = self.flow_node(li, ci + 1, &key_path(path, &key));
                    }
                }
            }
            _ => self.flow_scalar(li, ci, false).1,
        }
    }

    /// A scalar in a flow collection: its text and the position after it. A key ends at `:`.
    fn flow_scalar(&self, li: usize, ci: usize, key: bool) -> (String, (usize, usize)) {
        let Some(text) = self.lines.get(li) else {
            return (String::new(), (self.lines.len(), 0));
        };
        let line = text.as_bytes();
        if let Some(q @ (b'"' | b'\'')) = line.get(ci).copied() {
            return match self.quote_end_in_line(li, ci, q) {
                Some(end) => (unquote(&self.lines[li][ci..=end]), (li, end + 1)),
                None => (String::new(), (li + 1, 0)),
            };
        }
        let mut j = ci;
        while j < line.len() {
            let c = line[j];
            if matches!(c, b',' | b']' | b'}') || (c == b'#' && j > 0 && line[j - 1] == b' ') {
                break;
            }
            if key && c == b':' {
                break;
            }
            j += 1;
        }
        let text = text.get(ci..j).unwrap_or("").trim_end().to_string();
        (text, (li, j.max(ci + 1)))
    }
}

/// The text of a quoted scalar (escapes beyond `\"`, `\\` and `''` are kept as written).
fn unquote(q: &str) -> String {
    let inner = &q[1..q.len() - 1];
    if q.starts_with('\'') {
        inner.replace("''", "'")
    } else {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_paths_have_positions() {
        let text = "version: 1\ndefaultAction: reject\nauthorities:\n  a: {key: a.pub}\nrules:\n  # c\n  - name: one\n    images: ['x/**', \"y/*\"]\n    authorities: {anyOf: [a, b]}\n  - name: two\n    images:\n    - z/**\n    attestations:\n      - type: vuln\n        maxAge: 24hours\n    tags: {pattern: '(' }\n";
        let p = positions(text);
        assert_eq!(p["version"], (1, 1));
        assert_eq!(p["authorities.a.key"], (4, 7));
        assert_eq!(p["rules[0]"], (7, 3));
        assert_eq!(p["rules[0].name"], (7, 5));
        assert_eq!(p["rules[0].images[1]"], (8, 22));
        assert_eq!(p["rules[0].authorities.anyOf[1]"], (9, 30));
        assert_eq!(p["rules[1].images[0]"], (12, 5));
        assert_eq!(p["rules[1].attestations[0].maxAge"], (15, 9));
        assert_eq!(p["rules[1].tags.pattern"], (16, 12));
        assert_eq!(
            locate(&p, "rules[1].attestations[0].maxSeverity"),
            Some((14, 7))
        );
        assert_eq!(locate(&p, "rules[7].name"), Some((5, 1)));
        assert_eq!(locate(&p, "nowhere"), None);
    }

    #[test]
    fn json_paths_have_positions() {
        let text = "{\n  \"version\": 1,\n  \"rules\": [\n    {\"name\": \"a\",\n     \"images\": [\"**\"]}\n  ]\n}\n";
        let p = positions(text);
        assert_eq!(p["version"], (2, 3));
        assert_eq!(p["rules[0].name"], (4, 6));
        assert_eq!(p["rules[0].images[0]"], (5, 17));
    }

    #[test]
    fn odd_text_ends_without_positions_or_panics() {
        for text in [
            "",
            "{",
            "[",
            "- ",
            "a: [b, {c: ",
            "\"a",
            "a: |\n  x\nb: 1",
            "- - - x",
        ] {
            let _ = positions(text);
        }
        assert_eq!(positions("a: |\n  x: 1\nb: 2")["b"], (3, 1));
    }
}
