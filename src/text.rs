//! Text from outside shown to people: registries, layouts, certificates and envelopes choose
//! strings (digests, annotations, tags, error bodies) that end up in warnings, errors and
//! `tree` output. On a terminal, an escape sequence in such a string could clear the screen or
//! print a fake "verified" line, so every text-mode string is passed through
//! [`escape_control`] before it is printed. (JSON output needs nothing: serde escapes control
//! characters itself.)

use std::borrow::Cow;

/// `s` with every control character (C0, DEL, C1, and the Unicode bidirectional overrides that
/// reorder what a terminal shows) written as a visible escape (`\u{1b}`); newlines and tabs are
/// escaped too, so one untrusted value stays on one line. Unchanged strings are borrowed.
///
/// ```
/// use imgseal::text::escape_control;
/// assert_eq!(escape_control("sha256-ab.sig"), "sha256-ab.sig");
/// assert_eq!(escape_control("\u{1b}[2Jok"), "\\u{1b}[2Jok");
/// ```
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape_control`] for a multi-line text of imgseal's own making: each line's content is
/// escaped, the line breaks between them are kept.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.split('\n')
            .map(|l| escape_control(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences_and_keeps_the_rest() {
        let hostile = "\u{1b}[2J\u{1b}[H\u{1b}[32mVerified OK\u{1b}[0m";
        let shown = escape_control(hostile);
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert!(shown.contains("Verified OK"));
        assert_eq!(
            escape_control("a\nb\tc\u{7f}\u{9b}"),
            "a\\u{a}b\\u{9}c\\u{7f}\\u{9b}"
        );
        assert_eq!(escape_control("\u{202e}txt"), "\\u{202e}txt");
        assert_eq!(escape_control("plain ünïcode"), "plain ünïcode");
        assert_eq!(escape_lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
    }
}
