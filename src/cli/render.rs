//! Output shared by every command: JSON documents on stdout, warnings on stderr.
//!
//! Every JSON document imgseal prints (`-o json` of verify, tree, copy, sign, attest, policy,
//! k8s verify, verify-attestation, verify-blob, `policy validate`) is an object with
//! `"schemaVersion": 1` and camelCase keys; arrays are always present (`[]` when empty). Their
//! JSON Schemas are in docs/schemas/.

/// The version of every JSON output's shape (docs/schemas/README.md lists the changes).
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// `value` as pretty-printed JSON (what `--output json` prints), with `schemaVersion` added
/// when it is an object.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("schemaVersion".into(), SCHEMA_VERSION.into());
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// `value` as pretty-printed JSON, unchanged (formats defined elsewhere: SARIF).
pub(crate) fn raw_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A scheme of the JSON vocabulary (`tag`, `referrers-api`, `referrers-tag-schema`,
/// `layout-index`) in words, for text output.
pub(crate) fn scheme_words(id: &str) -> &str {
    match id {
        "referrers-api" => "referrers API",
        "referrers-tag-schema" => "referrers tag schema",
        "layout-index" => "layout index.json",
        other => other,
    }
}

/// Each failed signature of `v` as `SOURCE: FAILURE`.
pub(crate) fn failed_signatures(v: &imgseal::verify::Verification) -> Vec<String> {
    v.signatures
        .iter()
        .filter(|s| !s.verified)
        .map(|s| {
            format!(
                "{}: {}",
                s.source,
                s.failure.as_deref().unwrap_or("not valid")
            )
        })
        .collect()
}

/// One `imgseal:   SOURCE: FAILURE` line per failed signature under a failure's headline, at
/// most [`imgseal::util::text::MAX_LISTED_REASONS`] of them, then `… and N more`.
pub(crate) fn failure_lines(failed: &[String]) {
    let max = imgseal::util::text::MAX_LISTED_REASONS;
    for f in failed.iter().take(max) {
        errln!("imgseal:   {f}");
    }
    if failed.len() > max {
        errln!(
            "imgseal:   … and {} more (see --output json)",
            failed.len() - max
        );
    }
}

/// The warning for an image named by a registry tag, once its digest is known: a tag can be
/// moved, the digest cannot. (An OCI layout on disk is not warned about.)
pub(crate) fn tag_warning(image: &imgseal::ImageRef, digest: &imgseal::Digest) {
    if let imgseal::ImageRef::Registry(r) = image {
        if r.digest().is_none() {
            errln!(
                "imgseal: warning: {image} is a tag, which can be moved; it resolved to {digest} (name {} to pin it)",
                r.with_digest(digest.clone())
            );
        }
    }
}

/// A progress bar on stderr when stderr is a terminal (indicatif), else nothing at all.
pub(crate) fn count_bar(what: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{bar:30}} {{pos}}/{{len}} {what} ({{elapsed}})"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// A bar on stderr for the blob `copy` is streaming, when stderr is a terminal, else `None`:
/// bytes of the blob against its descriptor's size, rate and ETA, restarted for each blob
/// and stage (fetch, upload). See [`copy_progress`].
pub(crate) fn blob_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, ETA {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// The library's copy progress callback drawing into `bar` (see [`blob_bar`]).
pub(crate) fn copy_progress(bar: indicatif::ProgressBar) -> imgseal::copy::Progress {
    std::sync::Arc::new(move |p: &imgseal::copy::CopyProgress<'_>| {
        if p.bytes.done == 0 {
            let stage = match p.bytes.stage {
                imgseal::copy::BlobStage::Upload => "uploading",
                _ => "fetching",
            };
            let hex = p.blob.hex();
            let short = &hex[..12.min(hex.len())];
            bar.reset();
            bar.set_length(p.bytes.size);
            bar.set_message(format!(
                "{stage} blob {} ({short}, {} copied before)",
                p.blobs_copied + 1,
                indicatif::BinaryBytes(p.bytes_copied)
            ));
        }
        bar.set_position(p.bytes.done);
    })
}

/// `, 1.5 MiB` for sizes of a KiB and more (text output beside the exact byte count).
pub(crate) fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        return String::new();
    }
    format!(", {}", indicatif::BinaryBytes(bytes))
}

/// `(done, total)` into `bar`, finishing it at the end.
pub(crate) fn advance(bar: &Option<indicatif::ProgressBar>, done: usize, total: usize) {
    if let Some(b) = bar {
        b.set_length(total as u64);
        b.set_position(done as u64);
        if done == total {
            b.finish_and_clear();
        }
    }
}

/// Print each warning on stderr as `imgseal: warning: …`.
pub(crate) fn warnings<'a>(warnings: impl IntoIterator<Item = &'a String>) {
    for w in warnings {
        errln!("imgseal: warning: {w}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_human_readable_from_a_kib() {
        assert_eq!(super::human_size(722), "");
        assert_eq!(super::human_size(1536), ", 1.50 KiB");
        assert_eq!(super::human_size(5 * 1024 * 1024 * 1024), ", 5.00 GiB");
    }
}
