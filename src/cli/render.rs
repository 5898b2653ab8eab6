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
                "imgseal: note: {image} is a tag, which can be moved; it resolved to {digest} (name {} to pin it)",
                r.with_digest(digest.clone())
            );
        }
    }
}

/// Print each warning on stderr as `imgseal: warning: …`.
pub(crate) fn warnings<'a>(warnings: impl IntoIterator<Item = &'a String>) {
    for w in warnings {
        errln!("imgseal: warning: {w}");
    }
}
