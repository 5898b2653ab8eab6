//! `imgseal version [--json]`: the version, the formats it reads and writes, and how it was
//! built — what `cosign version` and `notation version` print.

use super::*;

/// The facts `version` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    schema_version: u32,
    version: &'static str,
    git_commit: &'static str,
    rust_version: &'static str,
    platform: String,
    signature_formats: [&'static str; 3],
}

pub(crate) fn version(json: bool) -> Result<u8, Error> {
    let v = Version {
        schema_version: 1,
        version: env!("CARGO_PKG_VERSION"),
        git_commit: option_env!("IMGSEAL_GIT_COMMIT").unwrap_or("unknown"),
        rust_version: env!("CARGO_PKG_RUST_VERSION"),
        platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        signature_formats: [
            "cosign simple signing (.sig tag, OCI 1.1 referrer)",
            "Sigstore bundle v0.1-v0.3",
            "Notary Project JWS",
        ],
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        outln!("imgseal {}", v.version);
        outln!("GitCommit:   {}", v.git_commit);
        outln!("RustVersion: {} or later", v.rust_version);
        outln!("Platform:    {}", v.platform);
        outln!("Formats:     {}", v.signature_formats.join("; "));
    }
    Ok(0)
}
