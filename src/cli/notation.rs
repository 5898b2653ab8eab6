//! What `imgseal verify` does the way notation does: trust from notation's own configuration
//! directory when no trust flags are given, `--scope` for layout images, and notation's
//! success line with the signer's user metadata.
//!
//! # When notation's files are used
//!
//! `verify` without `--trust-policy`/`--trust-store` reads notation's trust policy and trust
//! store from its configuration directory ([`imgseal::trust::notation_config`]) when
//!
//! - `--format notation` is given (then a missing trust policy is an error naming where it
//!   was looked for), or
//! - no other trust material is given: no `--key`, `--certificate-chain` or `--trusted-root`
//!   (and not `--policy`/`--containers-policy`, which bring their own).
//!
//! So a cosign command line (`--key`, `--certificate-chain`, `--trusted-root`) never picks up
//! a notation setup by surprise, and a notation user's `imgseal verify IMAGE` works as
//! `notation verify IMAGE` does.

use super::*;
use imgseal::trust::notation_config::NotationConfig;

/// True when `a` names trust material other than notation's.
fn other_trust(a: &VerifyArgs) -> bool {
    a.key.is_some() || a.certificate_chain.is_some() || a.trusted_root.is_some()
}

/// The notation trust for a single-image `verify`: `--trust-policy` with `--trust-store`;
/// else notation's configuration directory under the rule of the module documentation; else
/// none. A usage error when nothing at all says whom to trust.
pub(crate) fn notation_trust(a: &VerifyArgs) -> Result<Option<NotationTrust>, Error> {
    if let (Some(p), Some(d)) = (&a.trust_policy, &a.trust_store) {
        tracing::debug!(target: "imgseal::notation", "trust policy {} and trust store {} (from --trust-policy and --trust-store)", p.display(), d.display());
        return Ok(Some(NotationTrust::load(p, d)?));
    }
    let asked = a.format == Some(FormatArg::Notation);
    if !asked && other_trust(a) {
        return Ok(None);
    }
    let config = NotationConfig::discover(|k| std::env::var_os(k));
    let found = config
        .as_ref()
        .and_then(|c| c.trust_policy().map(|p| (c, p)));
    match found {
        Some((c, policy)) => {
            tracing::debug!(
                target: "imgseal::notation",
                "notation configuration directory {} (from {}): trust policy {}, trust store {}",
                c.dir.display(),
                c.source.as_str(),
                policy.display(),
                c.trust_store.display()
            );
            Ok(Some(NotationTrust::load(policy, &c.trust_store)?))
        }
        None => {
            let looked = match &config {
                Some(c) => {
                    tracing::debug!(target: "imgseal::notation", "notation configuration directory {} (from {}) has no trustpolicy.oci.json or trustpolicy.json", c.dir.display(), c.source.as_str());
                    format!(
                        "no notation trust policy in {} (trustpolicy.oci.json or trustpolicy.json; set NOTATION_CONFIG for another directory)",
                        c.dir.display()
                    )
                }
                None => "no notation configuration directory (NOTATION_CONFIG, XDG_CONFIG_HOME and HOME are unset)".to_string(),
            };
            if asked {
                Err(Error::Usage(format!(
                    "--format notation needs a trust policy and trust store: {looked}; give --trust-policy and --trust-store"
                )))
            } else {
                Err(Error::Usage(format!(
                    "verify needs to know whom to trust: --key, --certificate-chain, --trusted-root (keyless), --trust-policy with --trust-store (Notary Project), --policy or --containers-policy; {looked}"
                )))
            }
        }
    }
}

/// `--scope` (notation's, for `--oci-layout`): the repository a layout image's trust-policy
/// statement is chosen by. Returns the repository to accept, or a usage error when the image
/// is not in a layout.
pub(crate) fn layout_scope(a: &VerifyArgs, image: &ImageRef) -> Result<Option<String>, Error> {
    let Some(scope) = &a.scope else {
        return Ok(None);
    };
    if !matches!(image, ImageRef::Layout(_)) {
        return Err(Error::Usage(format!(
            "--scope is for OCI layout images (oci:PATH or --oci-layout): a registry image's trust-policy scope is its own repository ({image}); drop --scope, or use --identity to accept signatures made for another repository"
        )));
    }
    Ok(Some(scope.clone()))
}

/// `REF@DIGEST` as notation prints it: the repository (a layout's directory) and the digest.
fn digest_reference(image: &ImageRef, digest: &imgseal::Digest) -> String {
    match image {
        ImageRef::Registry(r) => format!("{}/{}@{digest}", r.registry(), r.repository()),
        ImageRef::Layout(l) => format!("{}@{digest}", l.path.display()),
    }
}

/// notation's success output on stdout for each part of `v` a notation signature (or a `skip`
/// trust-policy statement) verified: `Successfully verified signature for REF@DIGEST`, then the
/// user metadata the signer added, as notation prints it.
pub(crate) fn print_notation_success(
    v: &imgseal::Verification,
    image: &ImageRef,
    notation_used: bool,
) {
    use imgseal::util::text::escape_control as esc;
    for part in v.parts() {
        let reference = digest_reference(image, &part.digest);
        let notation_sig = part
            .signatures
            .iter()
            .find(|s| s.verified && s.format == "notation");
        if let Some(s) = notation_sig {
            outln!("Successfully verified signature for {reference}");
            let meta = s
                .notation
                .as_ref()
                .map(|n| &n.user_metadata)
                .filter(|m| !m.is_empty());
            if let Some(meta) = meta {
                outln!("");
                outln!("The artifact was signed with the following user metadata.");
                let rows: Vec<(String, String)> = meta
                    .iter()
                    .map(|(k, v)| (esc(k).into_owned(), esc(v).into_owned()))
                    .collect();
                for line in metadata_table(&rows) {
                    outln!("{line}");
                }
            }
        } else if notation_used && part.signatures.is_empty() && part.own_verified() {
            outln!("Trust policy is configured to skip signature verification for {reference}");
        }
    }
}

/// notation's `KEY   VALUE` table (Go's tabwriter, padding 3, every cell padded), after a
/// blank line.
fn metadata_table(rows: &[(String, String)]) -> Vec<String> {
    let width = |f: &dyn Fn(&(String, String)) -> usize, head: &str| {
        rows.iter()
            .map(f)
            .max()
            .unwrap_or(0)
            .max(head.chars().count())
            + 3
    };
    let kw = width(&|r| r.0.chars().count(), "KEY");
    let vw = width(&|r| r.1.chars().count(), "VALUE");
    let mut out = vec![String::new(), format!("{:kw$}{:vw$}", "KEY", "VALUE")];
    out.extend(rows.iter().map(|(k, v)| format!("{k:kw$}{v:vw$}")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_as_notation_prints_it() {
        let rows = vec![("foo".to_string(), "bar".to_string())];
        assert_eq!(
            metadata_table(&rows).join("\n"),
            "\nKEY   VALUE   \nfoo   bar     "
        );
    }
}
