//! Rendering library errors, once, for the terminal: the library's message plus the advice
//! that names this command line's flags and environment variables (library messages never
//! name CLI flags).

use imgseal::sign::SignError;
use imgseal::Error;

/// The one line printed after `imgseal: error: ` for `e`.
pub(crate) fn render(e: &Error) -> String {
    match e {
        Error::WrongPassword { .. } => {
            format!("{e}; check IMGSEAL_PASSWORD/COSIGN_PASSWORD or --password-file")
        }
        Error::NoPassword => format!(
            "{e}: set IMGSEAL_PASSWORD (or COSIGN_PASSWORD), pass --password-file, or run on a terminal"
        ),
        Error::Exists { .. } => format!("{e}; pass --force to overwrite it"),
        Error::Copy(imgseal::copy::CopyError::TagMoved { .. }) => {
            format!("{e}; pass -f/--force to move it")
        }
        Error::Sign(SignError::NotationNeedsReferrers) => format!(
            "{e}; drop --attach or use --attach referrers"
        ),
        Error::Sign(SignError::ExpiryNeedsNotation) => {
            "--expiry applies to --format notation only".to_string()
        }
        Error::Sign(SignError::NoCertificateChain) => format!("{e} (--certificate-chain)"),
        Error::UntrustedCertificate { .. } => format!(
            "{e} with --registry-cacert FILE (or, to skip verification, --allow-insecure-registry)"
        ),
        Error::HttpsOnly { .. } => {
            format!("{e}; give its CA with --registry-cacert FILE to use HTTPS")
        }
        Error::Unauthorized { .. } if e.to_string().contains("none are configured") => format!(
            "{e} (or pass --registry-username/--registry-password, or imgseal login)"
        ),
        Error::Sign(SignError::Identity(_)) | Error::IdentityRule(_) => format!("{e} (--identity)"),
        Error::Sign(SignError::IdentityNeedsCosign) => {
            "--identity applies to --format cosign only: notation signatures name no repository"
                .to_string()
        }
        Error::Sign(SignError::IdentityNotInBundle) => {
            format!("{e}; drop --identity or --new-bundle-format")
        }
        Error::Sign(SignError::BundleNeedsCosign) => {
            format!("{e}; drop --new-bundle-format or --format notation")
        }
        Error::Sign(SignError::BundleNeedsReferrers) => {
            format!("{e}; drop --attach or use --attach referrers")
        }
        e if is_deadline(e) => format!("{e}; allow more time with -t/--timeout"),
        e => e.to_string(),
    }
}

/// The command line's way forward when valid signatures were refused only for the repository
/// they name (`repositories`, from `Verification::refused_identities`), appended to the
/// library's message (which names `signedIdentity`, the policy file's way).
pub(crate) fn identity_hint(repositories: &[String]) -> Option<String> {
    let first = repositories.first()?;
    Some(format!("on the command line: --identity {first}"))
}

/// True when the run ran out of its `-t/--timeout` budget.
fn is_deadline(e: &Error) -> bool {
    match e {
        Error::Deadline { .. } => true,
        Error::Usage(m) => m.starts_with("did not finish within the "),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_flags_the_library_does_not() {
        let wrong = Error::WrongPassword {
            path: "k.key".into(),
        };
        assert!(!wrong.to_string().contains("--"));
        assert_eq!(
            render(&wrong),
            "key k.key: wrong password (decryption failed); check IMGSEAL_PASSWORD/COSIGN_PASSWORD or --password-file"
        );
        assert_eq!(
            render(&Error::NoPassword),
            "a password is needed: set IMGSEAL_PASSWORD (or COSIGN_PASSWORD), pass --password-file, or run on a terminal"
        );
        let exists = Error::Exists {
            path: "a.key".into(),
        };
        assert_eq!(
            render(&exists),
            "a.key already exists; pass --force to overwrite it"
        );
        assert_eq!(
            render(&SignError::NotationNeedsReferrers.into()),
            "notation signatures are attached as OCI 1.1 referrers only; drop --attach or use --attach referrers"
        );
        assert_eq!(
            render(&SignError::NoCertificateChain.into()),
            "notation signatures need the signing certificate chain (--certificate-chain)"
        );
    }
}
