//! imgseal's image policy: which images may run, who must have signed them, and the image
//! rules from the best practices we build on (private registries, versioned tags, labels and
//! annotations, slim images, known base images).
//!
//! A policy is a YAML file (JSON Schema: `docs/policy.schema.json`; guide: `docs/policy.md`):
//!
//! ```yaml
//! version: 1
//! defaultAction: reject          # required: what happens to images no rule matches
//! authorities:
//!   release: { key: release.pub } # paths are relative to the policy file
//! rules:
//!   - name: production
//!     images: ["registry.corp.example/prod/**"]
//!     mode: enforce               # enforce | warn | audit
//!     authorities: { anyOf: [release] }
//!     annotations: [build-version]
//!     allowedRegistries: [registry.corp.example]
//!     tags: { deny: [latest], pattern: '^v?\d+\.\d+\.\d+$' }
//!     requiredLabels: { org.opencontainers.image.source: null }
//!     maxSize: 200MiB
//! ```
//!
//! Each image is matched against the rules' `images` globs over `registry/repository`
//! (`*` within one path segment, `**` across segments); the **most specific** matching rule
//! wins (most literal characters; ties go to the earlier rule). [`Policy::evaluate`] returns a
//! [`Decision`] with every check and its reason.
//!
//! ```no_run
//! # async fn demo() -> imgseal::Result<()> {
//! use imgseal::{ImageRef, Policy};
//! // `load` also returns warnings: rules that can never match, catch-alls listed first.
//! let (policy, warnings) = Policy::load("policy.yaml".as_ref())?;
//! for warning in &warnings {
//!     eprintln!("warning: {warning}");
//! }
//! let decision = policy.evaluate(&ImageRef::parse("registry.example/app:1.0")?).await;
//! for check in &decision.checks {
//!     println!("{} {}: {}", if check.passed { "ok  " } else { "FAIL" }, check.name, check.reason);
//! }
//! println!("{}: {}", decision.image, decision.verdict());
//! # Ok(()) }
//! ```

use crate::oci::Manifest;
use crate::oci::{self, ImageManifest, Index};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::{ManifestRef, Store, StoreOptions};
use crate::{Error, PublicKey, Result, Verifier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod attestations;
mod checks;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod containers;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod containers_eval;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod containers_import;
mod eval;
mod glob;
mod load;
mod locate;
mod problems;
mod schema;
pub(crate) mod yaml_guard;

pub use attestations::{AttestationRule, CveException, RequirementError};
use checks::*;
use glob::*;
use problems::Problems;
pub use problems::{PolicyError, Problem};
pub use schema::*;

/// Cap on an image config blob read for label checks.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// A loaded authority.
#[derive(Clone, Debug)]
enum Authority {
    Key(PublicKey),
    Certificate(crate::trust::CertificateTrust),
    Notation(crate::verify::NotationTrust),
    Keyless(crate::verify::KeylessTrust),
}

/// A loaded, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    file: PolicyFile,
    authorities: BTreeMap<String, Authority>,
    patterns: Vec<Vec<Glob>>,
    tag_patterns: Vec<Option<regex::Regex>>,
    label_patterns: Vec<BTreeMap<String, Option<regex::Regex>>>,
    /// Each rule's `attestations:` entries, validated.
    attestation_rules: Vec<Vec<attestations::Requirement>>,
    options: StoreOptions,
    extra: Extra,
    /// sha256 over the policy text and the bytes of every file its authorities name.
    content_hash: String,
}

/// Requirements the caller adds on top of the file, for every image.
#[derive(Clone, Debug, Default)]
struct Extra {
    annotations: BTreeMap<String, String>,
    identity: Option<String>,
    /// Overrides every rule's `signedIdentity` (and `identity`).
    signed_identity: Option<crate::trust::signed_identity::SignedIdentity>,
    platform: Option<String>,
    /// The instant time-dependent checks use (`None`: the system clock).
    now: Option<std::time::SystemTime>,
}

/// What [`Policy::evaluate`] decided for one image.
///
/// In JSON (camelCase) it also carries `decision`: its [`Verdict`].
#[derive(Clone, Debug)]
pub struct Decision {
    /// The image as given.
    pub image: String,
    /// The digest it resolved to, when it could be resolved.
    pub digest: Option<String>,
    /// The rule that applied, if any.
    pub rule: Option<String>,
    /// The rule's mode.
    pub mode: Mode,
    /// True when the image may run (no enforce-mode check failed).
    pub allowed: bool,
    /// Every check made, with its reason.
    pub checks: Vec<Check>,
    /// Registry requests made for this image.
    pub requests: u64,
}

/// A [`Decision`] in one word, as `verify --policy`, `k8s verify` and the webhook report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every check passed.
    Allow,
    /// A `warn`-mode rule's check failed: allowed, with a warning.
    Warn,
    /// An `audit`-mode rule's check failed: allowed, recorded.
    Audit,
    /// An enforce-mode check failed: not allowed.
    Deny,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Allow => "ALLOW",
            Verdict::Warn => "WARN",
            Verdict::Audit => "AUDIT",
            Verdict::Deny => "DENY",
        })
    }
}

impl Decision {
    /// `DENY` when not allowed, `WARN`/`AUDIT` when allowed by a warn/audit rule despite a
    /// failed check, else `ALLOW`.
    pub fn verdict(&self) -> Verdict {
        let failed = self.checks.iter().any(|c| !c.passed);
        match (self.allowed, failed, self.mode) {
            (false, _, _) => Verdict::Deny,
            (true, true, Mode::Warn) => Verdict::Warn,
            (true, true, Mode::Audit) => Verdict::Audit,
            (true, _, _) => Verdict::Allow,
        }
    }
}

impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = s.serialize_struct("Decision", 8)?;
        out.serialize_field("image", &self.image)?;
        if let Some(d) = &self.digest {
            out.serialize_field("digest", d)?;
        }
        if let Some(r) = &self.rule {
            out.serialize_field("rule", r)?;
        }
        out.serialize_field("mode", &self.mode)?;
        out.serialize_field("decision", &self.verdict())?;
        out.serialize_field("allowed", &self.allowed)?;
        out.serialize_field("checks", &self.checks)?;
        out.serialize_field("requests", &self.requests)?;
        out.end()
    }
}

/// One check of a [`Decision`].
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Which check (`signature`, `registry`, `tag`, `labels`, `size`, `base-image`, …).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why, in words.
    pub reason: String,
}

impl Check {
    fn new(name: &str, passed: bool, reason: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            passed,
            reason: reason.into(),
        }
    }
}

impl Policy {
    /// Use these store options.
    pub fn with_options(mut self, options: StoreOptions) -> Policy {
        self.options = options;
        self
    }

    /// Require, on top of the file, that every image carries a signature with these exact
    /// annotations: they join the `annotations` of the rule that applies (a rule without
    /// authorities then accepts any authority of the policy, as for `annotations` alone), and
    /// an image that no rule matches is allowed by `defaultAction: allow` only when one of the
    /// policy's authorities signed it with them.
    pub fn with_required_annotations(mut self, annotations: BTreeMap<String, String>) -> Policy {
        self.extra.annotations = annotations;
        self
    }

    /// Accept signatures naming `identity` (a repository) instead of each image's own, as
    /// [`Verifier::with_signed_repository`] does, in every signature check, in place of each
    /// rule's `signedIdentity`.
    pub fn with_signed_repository(mut self, identity: Option<String>) -> Policy {
        self.extra.identity = identity;
        self
    }

    /// Check every signature with this identity rule, in place of each rule's
    /// `signedIdentity` (`None`: each rule's own, default `matchRepository`).
    pub fn with_signed_identity(
        mut self,
        rule: Option<crate::trust::signed_identity::SignedIdentity>,
    ) -> Policy {
        self.extra.signed_identity = rule;
        self
    }

    /// In every signature check, also verify the signatures of the platform manifest for
    /// `os/arch[/variant]` of an index, as [`Verifier::with_platform`] does; a single-platform
    /// image then fails its signature check.
    pub fn with_platform(mut self, platform: Option<String>) -> Policy {
        self.extra.platform = platform;
        self
    }

    /// Evaluate time-dependent checks (`maxImageAge`, certificate validity, signature expiry,
    /// revocation) at this instant instead of the system clock (`None`: the system clock).
    pub fn with_now(mut self, now: Option<std::time::SystemTime>) -> Policy {
        self.extra.now = now;
        self
    }

    /// The parsed file.
    pub fn file(&self) -> &PolicyFile {
        &self.file
    }

    /// [`Policy::rule_for`], logged (`-d`/`RUST_LOG`) with what it is looked up for.
    pub(crate) fn rule_for_logged(&self, name: &str, what: &str) -> Option<usize> {
        let matched = self.rule_for(name);
        tracing::debug!(
            image = %name,
            rule = matched
                .and_then(|i| self.file.rules.get(i))
                .map(|r| r.name.as_str())
                .unwrap_or("(none: defaultAction applies)"),
            "policy rule ({what})"
        );
        matched
    }

    /// The index of the rule that applies to `registry/repository`, if any.
    pub fn rule_for(&self, name: &str) -> Option<usize> {
        let name = canonical_pattern(name);
        let name = name.as_str();
        let mut best: Option<(usize, &[(u8, usize)])> = None;
        for (i, globs) in self.patterns.iter().enumerate() {
            for g in globs {
                if g.matches(name) && best.is_none_or(|(_, score)| g.specificity.as_slice() > score)
                {
                    best = Some((i, &g.specificity));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<(Policy, Vec<String>)> {
        Policy::from_yaml(yaml, Path::new("."), "policy.yaml")
    }

    #[test]
    fn unknown_keys_are_errors_with_the_line() {
        let e = load("version: 1\ndefaultAction: reject\nrules:\n  - name: a\n    images: ['**']\n    colour: red\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("policy.yaml:6:5: rules[0].colour: unknown field `colour`"),
            "{e}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_path_and_line() {
        let text = "version: 1\ndefaultAction: reject\nrules:\n  - name: a\n    images: ['**']\n    authorities: {anyOf: [nobody]}\n  - name: b\n    images: ['x/**']\n    maxImageAge: 90 days\n  - name: c\n    images: ['y/**']\n    tags: {pattern: '('}\n    allowMissingCreated: true\n";
        let Err(Error::Policy(e)) = load(text) else {
            panic!("not refused as a policy error")
        };
        let got: Vec<(String, Option<usize>, Option<usize>)> = e
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.line, p.column))
            .collect();
        let want = |p: &str, l: usize, c: usize| (p.to_string(), Some(l), Some(c));
        assert_eq!(
            got,
            vec![
                want("rules[0].authorities.anyOf[0]", 6, 27),
                want("rules[1].maxImageAge", 9, 5),
                want("rules[2].tags.pattern", 12, 12),
                want("rules[2].allowMissingCreated", 13, 5),
            ],
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("policy.yaml:6:27: rules[0].authorities.anyOf[0]: rule \"a\": unknown authority \"nobody\"")
                && e.to_string().ends_with("(and 3 more problems)"),
            "{e}"
        );
        // A file that does not parse at all has one problem, where the parser stopped.
        let Err(Error::Policy(e)) = load("version: 1\ndefaultAction: reject\nrules: [\n") else {
            panic!("not refused as a policy error")
        };
        assert_eq!(e.problems().len(), 1, "{e:?}");
        assert!(e.problems()[0].line.is_some(), "{e:?}");
    }

    #[test]
    fn default_action_is_required() {
        let e = load("version: 1\nrules: []\n").unwrap_err().to_string();
        assert!(e.contains("defaultAction"), "{e}");
    }

    #[test]
    fn most_specific_rule_wins_and_catch_all_first_is_flagged() {
        let (p, w) = load(
            "version: 1\ndefaultAction: reject\nrules:\n  - name: all\n    images: ['**']\n  - name: prod\n    images: ['registry.corp.example/prod/**']\n  - name: app\n    images: ['registry.corp.example/prod/app']\n",
        )
        .unwrap();
        assert_eq!(p.rule_for("registry.corp.example/prod/app"), Some(2));
        assert_eq!(p.rule_for("registry.corp.example/prod/other"), Some(1));
        assert_eq!(p.rule_for("docker.io/library/nginx"), Some(0));
        assert!(
            w.iter().any(|w| w.contains("\"all\" matches every image")),
            "{w:?}"
        );
    }

    #[test]
    fn rule_rank_is_by_path_prefix_not_by_letter_count() {
        // Security: a long repository name must not pick a weaker rule over `prod/**`.
        let (p, w) = load(
            "version: 1\ndefaultAction: reject\nrules:\n  - name: prod\n    images: ['registry.corp.example/prod/**']\n  - name: scratch\n    mode: audit\n    images: ['**/tmp-scratch-builds-for-ci-only']\n  - name: app\n    images: ['registry.corp.example/prod/app']\n  - name: team\n    images: ['registry.corp.example/*/app']\n",
        )
        .unwrap();
        let rule = |n: &str| p.rule_for(n).map(|i| p.file().rules[i].name.clone());
        assert_eq!(
            rule("registry.corp.example/prod/tmp-scratch-builds-for-ci-only").as_deref(),
            Some("prod")
        );
        assert_eq!(
            rule("registry.corp.example/prod/app").as_deref(),
            Some("app")
        );
        assert_eq!(
            rule("registry.corp.example/dev/app").as_deref(),
            Some("team")
        );
        assert_eq!(
            rule("other.example/tmp-scratch-builds-for-ci-only").as_deref(),
            Some("scratch")
        );
        // ...and validate says that one image can match rules with different modes.
        assert!(
            w.iter().any(|w| w.contains("\"prod\" (enforce, no authorities) and \"scratch\" (audit, no authorities) can both match one image")),
            "{w:?}"
        );
    }

    #[test]
    fn overlapping_globs_have_a_witness() {
        let g = |t: &str| Glob::new(t).unwrap();
        let w = g("a.example/prod/**").overlap(&g("**/tmp")).unwrap();
        assert!(
            g("a.example/prod/**").matches(&w) && g("**/tmp").matches(&w),
            "{w}"
        );
        assert!(g("a.example/prod/*")
            .overlap(&g("a.example/dev/*"))
            .is_none());
        assert!(g("a.example/*/app")
            .overlap(&g("a.example/x/y/app"))
            .is_none());
        assert!(g("a.example/**/app")
            .overlap(&g("a.example/x/y/app"))
            .is_some());
    }

    #[test]
    fn host_spellings_match_the_same_rule() {
        // Security: REGISTRY.corp.example, :443 and docker.io aliases are the same registry.
        let (p, w) = load(
            "version: 1\ndefaultAction: allow\nrules:\n  - name: prod\n    images: ['REGISTRY.corp.example:443/prod/**']\n  - name: hub\n    images: ['index.docker.io/**']\n    deniedRegistries: [Docker.io]\n",
        )
        .unwrap();
        assert!(w.iter().all(|w| !w.contains("never match")), "{w:?}");
        assert_eq!(p.rule_for("registry.corp.example/prod/app"), Some(0));
        assert_eq!(p.rule_for("docker.io/library/nginx"), Some(1));
        assert!(same_registry("Docker.io", "docker.io"));
        assert!(same_registry("INDEX.DOCKER.IO", "docker.io"));
        assert!(same_registry("docker.io:443", "docker.io"));
        assert!(same_registry("127.0.0.1:05123", "127.0.0.1:5123"));
        let e = load("version: 1\ndefaultAction: allow\nrules:\n  - name: a\n    images: ['**']\n    allowedRegistries: ['not a host']\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowedRegistries entry \"not a host\""), "{e}");
    }

    #[test]
    fn an_authority_listed_twice_is_refused() {
        for req in [
            "{threshold: {count: 2, of: [c, c]}}",
            "{allOf: [c, c]}",
            "{anyOf: [c, c]}",
        ] {
            let e = load(&format!("version: 1\ndefaultAction: reject\nauthorities:\n  c: {{key: keys/demo.pub}}\nrules:\n  - name: a\n    images: ['**']\n    authorities: {req}\n"))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(e.contains("authority \"c\" is listed twice"), "{req}: {e}");
        }
    }

    #[test]
    fn duplicate_authority_names_and_keys_are_refused() {
        let e = load("version: 1\ndefaultAction: reject\nauthorities:\n  c: {key: keys/demo.pub}\n  c: {key: keys/demo.pub}\nrules: []\n")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate"), "{e}");
        let e = load("version: 1\ndefaultAction: reject\nauthorities:\n  c: {key: keys/demo.pub}\n  d: {key: ./keys/demo.pub}\nrules: []\n")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"c\" and \"d\" are the same public key"), "{e}");
    }

    #[test]
    fn one_signing_key_counts_for_one_authority() {
        let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut keys_of = BTreeMap::new();
        keys_of.insert("a".to_string(), set(&["k1"]));
        keys_of.insert("b".to_string(), set(&["k1"]));
        assert_eq!(distinct_signers(&names, &keys_of), vec!["a".to_string()]);
        // b can take k2 when a has only k1: the matching finds both.
        keys_of.insert("b".to_string(), set(&["k1", "k2"]));
        keys_of.insert("a".to_string(), set(&["k1"]));
        assert_eq!(distinct_signers(&names, &keys_of).len(), 2);
        keys_of.insert("a".to_string(), set(&["k1", "k2"]));
        keys_of.insert("c".to_string(), set(&["k2"]));
        assert_eq!(distinct_signers(&names, &keys_of).len(), 2);
    }

    #[test]
    fn rules_that_never_match_are_warned() {
        let (_, w) = load(
            "version: 1\ndefaultAction: allow\nrules:\n  - name: a\n    images: ['x/**']\n  - name: b\n    images: ['x/**']\n  - name: c\n    images: ['Registry/App']\n",
        )
        .unwrap();
        assert!(
            w.iter().any(|w| w.contains("rule \"b\" can never match")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.contains("rule \"c\" can never match")),
            "{w:?}"
        );
    }

    #[test]
    fn globs() {
        let g = Glob::new("registry.example/*/app").unwrap();
        assert!(g.matches("registry.example/team/app"));
        assert!(!g.matches("registry.example/a/b/app"));
        assert!(Glob::new("registry.example/**")
            .unwrap()
            .matches("registry.example/a/b/c"));
    }

    #[test]
    fn non_root_and_age_checks() {
        let cfg = |user: &str, created: &str| serde_json::json!({"config": {"User": user}, "created": created});
        for root in ["", "0", "root", "0:0", "root:wheel", "00"] {
            assert!(!check_non_root("image", &cfg(root, "")).passed, "{root:?}");
        }
        for ok in ["1000", "app", "1000:1000", "nobody"] {
            assert!(check_non_root("image", &cfg(ok, "")).passed, "{ok:?}");
        }
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let day = 86_400;
        let at = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let max = Age(90 * day);
        assert!(
            check_age(
                "i",
                &cfg("", &at(1_800_000_000 - 10 * day as i64)),
                max,
                false,
                now
            )
            .passed
        );
        let old = check_age(
            "i",
            &cfg("", &at(1_800_000_000 - 100 * day as i64)),
            max,
            false,
            now,
        );
        assert!(
            !old.passed && old.reason.contains("older than"),
            "{}",
            old.reason
        );
        let epoch = check_age("i", &cfg("", "1970-01-01T00:00:00Z"), max, false, now);
        assert!(
            !epoch.passed && epoch.reason.contains("epoch"),
            "{}",
            epoch.reason
        );
        let missing = check_age("i", &serde_json::json!({}), max, false, now);
        assert!(!missing.passed && missing.reason.contains("no created time"));
        assert!(check_age("i", &serde_json::json!({}), max, true, now).passed);
        assert_eq!(parse_age("90d"), Some(90 * day));
        assert_eq!(parse_age("2w"), Some(14 * day));
        assert_eq!(parse_age("90"), None);
        let e = load("version: 1\ndefaultAction: allow\nrules:\n  - name: a\n    images: ['**']\n    allowMissingCreated: true\n")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("allowMissingCreated only applies with maxImageAge"),
            "{e}"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("200MiB"), Some(200 * 1024 * 1024));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("5000"), Some(5000));
        assert_eq!(parse_size("5 parsecs"), None);
    }

    #[test]
    fn bad_authorities() {
        let e = load("version: 1\ndefaultAction: reject\nrules:\n  - name: a\n    images: ['**']\n    authorities: {anyOf: [nobody]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown authority \"nobody\""), "{e}");
        let e = load("version: 1\ndefaultAction: reject\nauthorities:\n  k: {key: /nonexistent/k.pub}\nrules: []\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("authority \"k\"") && e.contains("/nonexistent/k.pub"),
            "{e}"
        );
    }
}
