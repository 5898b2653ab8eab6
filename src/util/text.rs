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
/// use imgseal::util::text::escape_control;
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

/// Outside text (a response body, a helper's stderr) as one short line: control characters
/// become spaces, whitespace collapses, at most `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `d` the way Go prints a `time.Duration` (cosign's `--timeout`): `3m0s`, `2s`, `1h0m0s`,
/// `1.5s`, `250ms`.
///
/// ```
/// use std::time::Duration;
/// use imgseal::util::text::go_duration;
/// assert_eq!(go_duration(Duration::from_secs(180)), "3m0s");
/// assert_eq!(go_duration(Duration::from_secs(2)), "2s");
/// assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
/// assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
/// ```
pub fn go_duration(d: std::time::Duration) -> String {
    let total = d.as_secs();
    let millis = d.subsec_millis();
    if total == 0 {
        return format!("{millis}ms");
    }
    let secs = if millis == 0 {
        format!("{}s", total % 60)
    } else {
        let frac = format!("{millis:03}");
        format!("{}.{}s", total % 60, frac.trim_end_matches('0'))
    };
    match (total / 3600, (total / 60) % 60) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// Join `items` with `sep`, showing at most `max` of them and then `… and N more`, so that a
/// failure over thousands of candidates stays a readable line.
///
/// ```
/// use imgseal::util::text::bounded_join;
/// let v: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
/// assert_eq!(bounded_join(v.iter(), "; ", 10), "1; 2; 3; 4; 5");
/// assert_eq!(bounded_join(v.iter(), "; ", 2), "1; 2; … and 3 more");
/// ```
pub fn bounded_join<S: AsRef<str>>(
    items: impl IntoIterator<Item = S>,
    sep: &str,
    max: usize,
) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for item in items {
        if shown.len() < max {
            shown.push(item.as_ref().to_string());
        } else {
            more += 1;
        }
    }
    let mut out = shown.join(sep);
    if more > 0 {
        out.push_str(&format!("{sep}… and {more} more"));
    }
    out
}

/// How many reasons a failure message lists before summarising the rest.
pub const MAX_LISTED_REASONS: usize = 10;

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
