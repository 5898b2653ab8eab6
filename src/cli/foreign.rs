//! Verbs that cosign and notation users type and imgseal names differently: each answers with
//! the imgseal way to do it (exit 2), instead of clap's "did you mean".

use super::*;

/// The imgseal way to do what `verb` does in cosign or notation.
pub(crate) fn advice(verb: &str) -> &'static str {
    match verb {
        "save" => "cosign save: use `imgseal copy IMAGE oci:DIR:TAG` (the image, its signatures and referrers, digests kept)",
        "load" => "cosign load: use `imgseal copy oci:DIR:TAG REGISTRY/REPO:TAG`",
        "triangulate" => "cosign triangulate: use `imgseal tree IMAGE` (prints the .sig tag and every referrer, by scheme; -o json for scripts)",
        "download" => "cosign download signature|attestation|sbom: use `imgseal tree IMAGE -o json` to list them and `imgseal copy IMAGE oci:DIR:TAG` to fetch them",
        "inspect" => "notation inspect: use `imgseal tree IMAGE` (signatures with signer, signing time and format) or `imgseal verify ... -o json`",
        "list" | "ls" => "notation list: use `imgseal tree IMAGE`",
        _ => "see `imgseal --help`",
    }
}

pub(crate) fn foreign(verb: &str) -> Result<u8, Error> {
    Err(Error::Usage(format!(
        "imgseal has no `{verb}` command; {}",
        advice(verb)
    )))
}
