//! Output shared by every command: JSON documents on stdout, warnings on stderr.

/// `value` as pretty-printed JSON (what `--output json` prints).
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Print each warning on stderr as `imgseal: warning: …`.
pub(crate) fn warnings<'a>(warnings: impl IntoIterator<Item = &'a String>) {
    for w in warnings {
        errln!("imgseal: warning: {w}");
    }
}
