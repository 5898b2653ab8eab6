//! `imgseal tree`.

use super::*;

pub(crate) async fn tree(a: TreeArgs) -> Result<u8, Error> {
    let image = image_ref(&a.image, &a.store)?;
    warn_unused_http(a.store.allow_http_registry, &[&image]);
    let mut keys = Vec::new();
    for k in &a.key {
        keys.push((k.display().to_string(), PublicKey::from_file(k)?));
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
        }
    }
    Ok(0)
}
