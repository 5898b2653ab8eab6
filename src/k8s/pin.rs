//! Pinning: rewrite each allowed image value `repo:tag` to `repo:tag@sha256:…` (the form
//! policy-controller adopted: the tag stays for people, the digest decides what runs), in the
//! file's own text, so comments, key order, quoting, indentation, document separators and line
//! endings stay byte for byte.
//!
//! Every occurrence of one image value gets the same decision (the policy judges an image, not
//! an object), so an allowed value is rewritten wherever it stands as the value of an `image`
//! key (or `reference`, for image volumes), in YAML block or flow style and in JSON.

use super::{Manifests, Report};
use crate::{Error, Result};
use std::collections::BTreeMap;

/// One file after pinning.
#[derive(Clone, Debug)]
pub struct Pinned {
    /// The file as given.
    pub file: String,
    /// Its new text.
    pub text: String,
    /// The image values rewritten (as written → pinned).
    pub changed: Vec<(String, String)>,
}

/// Pin every allowed, not yet pinned image of `report` in the files of `manifests`. Refuses
/// (and changes nothing) when any image is denied.
pub fn pin(manifests: &Manifests, report: &Report) -> Result<Vec<Pinned>> {
    if !report.allowed {
        let denied: Vec<&str> = report
            .containers
            .iter()
            .filter(|c| !c.allowed)
            .map(|c| c.image.as_str())
            .collect();
        return Err(Error::Usage(format!(
            "not pinning: the policy denies {}",
            denied.join(", ")
        )));
    }
    let mut per_file: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for c in &report.containers {
        let Some(digest) = c.decision.as_ref().and_then(|d| d.digest.as_deref()) else {
            continue;
        };
        if c.image.contains('@') {
            continue; // already pinned: checked, not changed
        }
        per_file
            .entry(c.file.as_str())
            .or_default()
            .insert(c.image.clone(), format!("{}@{digest}", c.image));
    }
    let mut out = Vec::new();
    for (file, text) in &manifests.texts {
        let Some(map) = per_file.get(file.as_str()) else {
            continue;
        };
        let pairs: Vec<(String, String)> =
            map.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        let (text, changed) = pin_text(text, &pairs)?;
        out.push(Pinned {
            file: file.clone(),
            text,
            changed,
        });
    }
    Ok(out)
}

/// Rewrite the values of `image:`/`reference:` keys in `text` that equal a `from` of
/// `replacements` to its `to`; nothing else changes. Returns the text and the pairs applied.
pub fn pin_text(
    text: &str,
    replacements: &[(String, String)],
) -> Result<(String, Vec<(String, String)>)> {
    let mut text = text.to_string();
    let mut changed = Vec::new();
    for (from, to) in replacements {
        let pattern = format!(
            r#"(?m)((?:^|[\s{{,\[])["']?(?:image|reference)["']?[ \t]*:[ \t]*)(["']?)({})(["']?)([ \t]*(?:[,}}\]#\r\n]|$))"#,
            regex::escape(from)
        );
        let re = regex::Regex::new(&pattern)
            .map_err(|e| Error::invalid("image pattern", e.to_string()))?;
        let mut hit = false;
        let new = re.replace_all(&text, |c: &regex::Captures| {
            if c[2] != c[4] {
                return c[0].to_string(); // mismatched quotes: not this value
            }
            hit = true;
            format!("{}{}{}{}{}", &c[1], &c[2], to, &c[4], &c[5])
        });
        let new = new.into_owned();
        if hit {
            changed.push((from.clone(), to.clone()));
        }
        text = new;
    }
    Ok((text, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_values_change() {
        let text = "# top comment\r\napiVersion: apps/v1\r\nkind: Deployment\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n        - name: app   # the app\r\n          image: node:14-alpine # pinned later\r\n        - {name: side, image: 'node:14-alpine'}\r\n        - name: other\r\n          image: \"node:14-alpine-extra\"\r\n      labels: {note: \"image: node:14-alpine\"}\r\n---\r\n{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"image\": \"node:14-alpine\"}]}}\r\n";
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let (out, changed) = pin_text(
            text,
            &[("node:14-alpine".to_string(), format!("node:14-alpine@{d}"))],
        )
        .unwrap();
        assert_eq!(changed.len(), 1);
        let want = text
            .replace(
                "image: node:14-alpine # pinned",
                &format!("image: node:14-alpine@{d} # pinned"),
            )
            .replace(
                "image: 'node:14-alpine'}",
                &format!("image: 'node:14-alpine@{d}'}}"),
            )
            .replace(
                "\"image\": \"node:14-alpine\"",
                &format!("\"image\": \"node:14-alpine@{d}\""),
            );
        assert_eq!(out, want);
        assert!(out.contains("\"node:14-alpine-extra\""));
        assert!(out.contains("{note: \"image: node:14-alpine\"}"), "{out}");
    }
}
