//! Where notation keeps its trust policy and trust store, found the way notation finds them,
//! so that `imgseal verify` can use a machine's notation setup without flags.
//!
//! The directory (the Notary Project's `{NOTATION_CONFIG}`):
//!
//! 1. `$NOTATION_CONFIG` when it is set and not empty (the name the Notary Project's directory
//!    specification gives the directory; notation itself has no such variable, so this is
//!    imgseal's way to point at another one);
//! 2. else the user configuration directory as Go's `os.UserConfigDir` finds it, plus
//!    `notation`: `$XDG_CONFIG_HOME/notation` when `XDG_CONFIG_HOME` is an absolute path, else
//!    `$HOME/.config/notation` (Linux and other Unix); `$HOME/Library/Application
//!    Support/notation` on macOS.
//!
//! In it, the OCI trust policy is `trustpolicy.oci.json`, else the older `trustpolicy.json`
//! (notation 1.2 and later read them in that order), and the trust store is `truststore/`.
//! Nothing is read here: [`NotationConfig`] only says which paths exist.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// notation 1.2+'s OCI trust policy file name.
pub(crate) const OCI_TRUST_POLICY_FILE: &str = "trustpolicy.oci.json";
/// The OCI trust policy file name before notation 1.2 (still read when the other is absent).
pub(crate) const LEGACY_TRUST_POLICY_FILE: &str = "trustpolicy.json";
/// The trust store directory's name in the configuration directory.
pub(crate) const TRUST_STORE_DIR: &str = "truststore";

/// Where the configuration directory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// `$NOTATION_CONFIG`.
    NotationConfigVar,
    /// `$XDG_CONFIG_HOME/notation`.
    XdgConfigHome,
    /// `$HOME/.config/notation`, or `$HOME/Library/Application Support/notation` on macOS.
    Home,
}

impl ConfigSource {
    /// How a log line names the source.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::NotationConfigVar => "$NOTATION_CONFIG",
            ConfigSource::XdgConfigHome => "$XDG_CONFIG_HOME/notation",
            ConfigSource::Home => "the home directory's user configuration directory",
        }
    }
}

/// notation's configuration directory and the trust files in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotationConfig {
    /// The directory.
    pub dir: PathBuf,
    /// Where [`NotationConfig::dir`] came from.
    pub source: ConfigSource,
    /// The OCI trust policy that exists in it (`trustpolicy.oci.json`, else `trustpolicy.json`),
    /// if either does.
    pub trust_policy: Option<PathBuf>,
    /// `truststore/` in it (whether or not it exists).
    pub trust_store: PathBuf,
}

impl NotationConfig {
    /// Find notation's configuration for this platform, reading the environment only through
    /// `env` (pass `|k| std::env::var_os(k)` for the process's). `None` when no directory can
    /// be named (no `NOTATION_CONFIG`, `XDG_CONFIG_HOME` or `HOME`).
    pub fn discover(env: impl Fn(&str) -> Option<OsString>) -> Option<NotationConfig> {
        Self::discover_on(env, cfg!(target_os = "macos"))
    }

    /// [`NotationConfig::discover`] with the platform given: `macos` selects
    /// `~/Library/Application Support` (and ignores `XDG_CONFIG_HOME`, as Go does).
    pub(crate) fn discover_on(
        env: impl Fn(&str) -> Option<OsString>,
        macos: bool,
    ) -> Option<NotationConfig> {
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        let (dir, source) = if let Some(d) = set("NOTATION_CONFIG") {
            (PathBuf::from(d), ConfigSource::NotationConfigVar)
        } else if macos {
            let home = PathBuf::from(set("HOME")?);
            (
                home.join("Library/Application Support/notation"),
                ConfigSource::Home,
            )
        } else {
            match set("XDG_CONFIG_HOME").map(PathBuf::from) {
                // Go's os.UserConfigDir refuses a relative XDG_CONFIG_HOME; so does notation.
                Some(x) if x.is_absolute() => (x.join("notation"), ConfigSource::XdgConfigHome),
                _ => (
                    PathBuf::from(set("HOME")?).join(".config/notation"),
                    ConfigSource::Home,
                ),
            }
        };
        Some(Self::in_dir(dir, source))
    }

    /// The trust files of the configuration directory `dir`.
    pub(crate) fn in_dir(dir: PathBuf, source: ConfigSource) -> NotationConfig {
        let trust_policy = [OCI_TRUST_POLICY_FILE, LEGACY_TRUST_POLICY_FILE]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists());
        NotationConfig {
            trust_store: dir.join(TRUST_STORE_DIR),
            trust_policy,
            source,
            dir,
        }
    }

    /// The trust policy file, when there is one.
    pub fn trust_policy(&self) -> Option<&Path> {
        self.trust_policy.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn directory_order() {
        let all = env(&[
            ("NOTATION_CONFIG", "/n"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        let c = NotationConfig::discover_on(&all, false).unwrap();
        assert_eq!(
            (c.dir.as_path(), c.source),
            (Path::new("/n"), ConfigSource::NotationConfigVar)
        );
        let c = NotationConfig::discover_on(
            env(&[
                ("NOTATION_CONFIG", ""),
                ("XDG_CONFIG_HOME", "/x"),
                ("HOME", "/h"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(c.dir, Path::new("/x/notation"));
        assert_eq!(c.trust_store, Path::new("/x/notation/truststore"));
        let c = NotationConfig::discover_on(
            env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")]),
            false,
        )
        .unwrap();
        assert_eq!(
            (c.dir.as_path(), c.source),
            (Path::new("/h/.config/notation"), ConfigSource::Home)
        );
        let c =
            NotationConfig::discover_on(env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]), true)
                .unwrap();
        assert_eq!(c.dir, Path::new("/h/Library/Application Support/notation"));
        assert_eq!(NotationConfig::discover_on(env(&[]), false), None);
    }

    #[test]
    fn oci_policy_file_is_preferred() {
        let dir = std::env::temp_dir().join(format!("imgseal-nconf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = NotationConfig::in_dir(dir.clone(), ConfigSource::Home);
        assert_eq!(c.trust_policy(), None);
        std::fs::write(dir.join(LEGACY_TRUST_POLICY_FILE), "{}").unwrap();
        let c = NotationConfig::in_dir(dir.clone(), ConfigSource::Home);
        assert_eq!(
            c.trust_policy(),
            Some(dir.join("trustpolicy.json").as_path())
        );
        std::fs::write(dir.join(OCI_TRUST_POLICY_FILE), "{}").unwrap();
        let c = NotationConfig::in_dir(dir.clone(), ConfigSource::Home);
        assert_eq!(
            c.trust_policy(),
            Some(dir.join("trustpolicy.oci.json").as_path())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
