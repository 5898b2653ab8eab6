//! `imgseal tree`.

use super::*;

pub(crate) async fn tree(a: TreeArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let mut keys = Vec::new();
    for k in &a.key {
        keys.push(load_public_key(k)?);
    }
    let t = imgseal::tree::tree(&image, &store_options(&a.store), &keys).await?;
    render::warnings(&t.warnings);
    if a.output == Output::Json {
        outln!("{}", render::json(&t));
        return Ok(0);
    }
    outln!("{} ({}, {})", t.image, t.digest, t.media_type);
    for (p, d) in &t.platforms {
        outln!("  platform {p}: {d}");
    }
    if t.attachments.is_empty() {
        outln!("└── nothing attached");
    }
    let n = t.attachments.len();
    for (i, att) in t.attachments.iter().enumerate() {
        let (branch, pad) = if i + 1 == n {
            ("└──", "    ")
        } else {
            ("├──", "│   ")
        };
        let at = att
            .artifact_type
            .as_deref()
            .map(|t| format!(", artifactType {t}"))
            .unwrap_or_default();
        outln!(
            "{branch} {} via {} {} (manifest {}{at})",
            att.kind,
            render::scheme_words(&att.scheme),
            att.location,
            att.digest
        );
        if let Some(t) = &att.predicate_type {
            outln!("{pad}    predicate type {t}");
        }
        for (k, v) in &att.annotations {
            outln!("{pad}    annotation {k}={v}");
        }
        let m = att.layers.len();
        for (j, l) in att.layers.iter().enumerate() {
            let b = if j + 1 == m { "└──" } else { "├──" };
            let by = l
                .signed_by
                .as_deref()
                .map(|s| format!(", signed by {s}"))
                .unwrap_or_default();
            let pt = l
                .predicate_type
                .as_deref()
                .map(|t| format!(", predicate type {t}"))
                .unwrap_or_default();
            outln!(
                "{pad}{b} {} {} ({} bytes{by}{pt})",
                l.digest,
                l.media_type,
                l.size
            );
            if let Some(n) = &l.notation {
                let sub = if j + 1 == m { "    " } else { "│   " };
                for line in notation_lines(n) {
                    outln!("{pad}{sub}    {line}");
                }
            }
        }
    }
    Ok(0)
}

/// What `notation inspect` shows of a notation signature, one line each (terminal-escaped:
/// the values come from the signature).
fn notation_lines(n: &imgseal::formats::notation::inspect::NotationInfo) -> Vec<String> {
    use imgseal::util::text::escape_control as esc;
    let mut out = vec![format!(
        "{} {}, signing scheme {}, signed {}, {}{}",
        n.media_type,
        n.signature_algorithm,
        n.signing_scheme,
        n.signing_time.as_deref().unwrap_or("at no stated time"),
        match &n.expiry {
            Some(e) => format!("expires {e}"),
            None => "no expiry".to_string(),
        },
        if n.timestamped { ", timestamped" } else { "" }
    )];
    for (k, v) in &n.user_metadata {
        out.push(format!("user metadata {}={}", esc(k), esc(v)));
    }
    for c in &n.certificates {
        out.push(format!(
            "certificate {} (issued by {}, expires {}, SHA-256 {})",
            esc(&c.subject),
            esc(&c.issuer),
            c.expiry,
            c.sha256_fingerprint
        ));
    }
    out
}
