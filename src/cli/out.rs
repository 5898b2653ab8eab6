//! stdout and stderr that never panic (`println!` panics on a closed pipe).

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDOUT_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Every line is passed through `imgseal::util::text::escape_lines`: digests, tags,
/// annotations, error bodies and certificate names come from registries, layouts and
/// signatures, and a control character among them must not reach the terminal as an
/// escape sequence (a cleared screen, a fake "verified" line). JSON is unchanged by it
/// (serde already escapes control characters; line breaks are kept).
fn shown(args: std::fmt::Arguments<'_>) -> String {
    let text = args.to_string();
    // A progress line's leading carriage return is imgseal's own.
    match text.strip_prefix('\r') {
        Some(rest) => format!("\r{}", imgseal::util::text::escape_lines(rest)),
        None => imgseal::util::text::escape_lines(&text).into_owned(),
    }
}

pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(shown(args).as_bytes())
        .and_then(|()| out.write_all(b"\n"));
    if let Err(e) = written {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            if let Ok(mut slot) = STDOUT_ERROR.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

pub(crate) fn err(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(shown(args).as_bytes());
    if newline {
        let _ = e.write_all(b"\n");
    }
}

/// Flush stdout; the write error to report, if any (a closed pipe is none).
pub(crate) fn finish() -> Option<String> {
    if !STDOUT_GONE.load(Ordering::Relaxed) {
        if let Err(e) = std::io::stdout().lock().flush() {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Some(e.to_string());
            }
        }
    }
    STDOUT_ERROR.lock().ok().and_then(|mut s| s.take())
}
