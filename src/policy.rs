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

mod yaml_guard;

use crate::oci::{self, ImageManifest, Index};
use crate::reference::ImageRef;
use crate::sign::{resolve, Resolved};
use crate::store::{Manifest, ManifestRef, Store, StoreOptions};
use crate::{Error, PublicKey, Result, Verifier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Cap on an image config blob read for label checks.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// The policy file as written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// Format version; must be 1.
    pub version: u32,
    /// What happens to images that no rule matches.
    pub default_action: DefaultAction,
    /// Named trust roots rules refer to.
    #[serde(default)]
    pub authorities: BTreeMap<String, AuthorityFile>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// `defaultAction`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAction {
    /// Images no rule matches are refused.
    Reject,
    /// Images no rule matches are allowed.
    Allow,
}

/// An authority: whose signatures count.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorityFile {
    /// A cosign/imgseal public key file (PKIX PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Root certificates (PEM) that cosign certificate-mode signatures must chain to.
    #[serde(default)]
    pub certificate_roots: Option<PathBuf>,
    /// With `certificateRoots`: the identity the signing certificate must carry (SAN email,
    /// URI or DNS name, CN, or subject DN).
    #[serde(default)]
    pub identity: Option<String>,
    /// A notation trust policy and trust store: Notary Project signatures.
    #[serde(default)]
    pub notation: Option<NotationAuthorityFile>,
}

/// A notation authority.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationAuthorityFile {
    /// notation's `trustpolicy.json`.
    pub trust_policy: PathBuf,
    /// The trust store directory.
    pub trust_store: PathBuf,
}

/// A loaded authority.
#[derive(Clone, Debug)]
enum Authority {
    Key(PublicKey),
    Certificate(crate::verify::CertificateTrust),
    Notation(crate::verify::NotationTrust),
}

/// One rule.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Name used in decisions.
    pub name: String,
    /// Globs over `registry/repository` this rule applies to.
    pub images: Vec<String>,
    /// What a failed check does.
    #[serde(default)]
    pub mode: Mode,
    /// Signature requirement.
    #[serde(default)]
    pub authorities: Option<AuthorityRequirement>,
    /// Annotations an accepted signature must carry: a list of keys (any value) or a map of
    /// exact values.
    #[serde(default)]
    pub annotations: Option<Annotations>,
    /// Registries images may come from.
    #[serde(default)]
    pub allowed_registries: Option<Vec<String>>,
    /// Registries images may not come from.
    #[serde(default)]
    pub denied_registries: Option<Vec<String>>,
    /// Tag rules.
    #[serde(default)]
    pub tags: Option<TagRules>,
    /// Labels the image config must have; a value is a regex the label must match, `null`
    /// means any value.
    #[serde(default)]
    pub required_labels: Option<BTreeMap<String, Option<String>>>,
    /// Maximum compressed size of layers per platform, e.g. `200MiB`, `1.5GB`, `5000000`.
    #[serde(default)]
    pub max_size: Option<Size>,
    /// Globs the `org.opencontainers.image.base.name` annotation must match.
    #[serde(default)]
    pub allowed_base_images: Option<Vec<String>>,
}

/// `mode`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Failures refuse the image.
    #[default]
    Enforce,
    /// Failures are reported as warnings; the image is allowed.
    Warn,
    /// Failures are recorded only.
    Audit,
}

/// `authorities` of a rule: exactly one of the three forms.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorityRequirement {
    /// At least one of these must have signed.
    #[serde(default)]
    pub any_of: Option<Vec<String>>,
    /// All of these must have signed.
    #[serde(default)]
    pub all_of: Option<Vec<String>>,
    /// At least `count` of `of` must have signed.
    #[serde(default)]
    pub threshold: Option<Threshold>,
}

/// A threshold requirement.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// How many.
    pub count: usize,
    /// Out of which authorities.
    pub of: Vec<String>,
}

/// Required annotations.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Annotations {
    /// Keys that must be present (any value).
    Keys(Vec<String>),
    /// Exact values.
    Values(BTreeMap<String, String>),
}

/// Tag rules.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TagRules {
    /// Tags that are refused (e.g. `latest`).
    #[serde(default)]
    pub deny: Vec<String>,
    /// A regex every tag must match (e.g. semver).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The reference must pin a digest.
    #[serde(default)]
    pub require_digest: bool,
}

/// A size in bytes, written as a number or with a unit (`KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a size (examples: 5000000, 200MB, 1.5GiB)"
                ))
            }),
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = n * mult;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

/// A loaded, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    file: PolicyFile,
    authorities: BTreeMap<String, Authority>,
    patterns: Vec<Vec<Glob>>,
    tag_patterns: Vec<Option<regex::Regex>>,
    label_patterns: Vec<BTreeMap<String, Option<regex::Regex>>>,
    options: StoreOptions,
}

/// What [`Policy::evaluate`] decided for one image.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// The image as given.
    pub image: String,
    /// The digest it resolved to, when it could be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The rule that applied, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// A glob over `registry/repository`.
#[derive(Clone, Debug)]
struct Glob {
    text: String,
    re: regex::Regex,
    literal_chars: usize,
}

impl Glob {
    fn new(text: &str) -> Result<Glob> {
        let mut re = String::from("^");
        let mut chars = text.chars().peekable();
        let mut literal_chars = 0;
        while let Some(c) = chars.next() {
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    re.push_str(".*");
                } else {
                    re.push_str("[^/]*");
                }
            } else if c == '?' {
                re.push_str("[^/]");
            } else {
                literal_chars += 1;
                re.push_str(&regex::escape(&c.to_string()));
            }
        }
        re.push('$');
        let re = regex::Regex::new(&re)
            .map_err(|e| Error::invalid(format!("pattern {text:?}"), e.to_string()))?;
        Ok(Glob {
            text: text.to_string(),
            re,
            literal_chars,
        })
    }

    fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

fn compile_regex(what: &str, re: &str) -> Result<regex::Regex> {
    regex::Regex::new(re).map_err(|e| Error::invalid(what, format!("invalid regex {re:?}: {e}")))
}

impl Policy {
    /// Load and validate a policy file. Returns the policy and warnings (rules that can never
    /// match, catch-all rules listed before specific ones). Errors name the problem and, for
    /// syntax and unknown keys, the line.
    pub fn load(path: &Path) -> Result<(Policy, Vec<String>)> {
        let shown = path.display().to_string();
        let text = crate::fsutil::read_capped_string(path, MAX_POLICY_BYTES, "a policy file")?;
        let base = path.parent().unwrap_or(Path::new("."));
        Policy::from_yaml(&text, base, &shown)
    }

    /// Parse a policy from YAML text; relative key paths resolve against `base`.
    pub fn from_yaml(text: &str, base: &Path, shown: &str) -> Result<(Policy, Vec<String>)> {
        // Anchors, aliases and deep nesting are refused before the parser can spend memory
        // or time on them (see yaml_guard).
        yaml_guard::scan(text).map_err(|reason| Error::invalid(shown, reason))?;
        yaml_guard::check_expansion(text).map_err(|reason| Error::invalid(shown, reason))?;
        let file: PolicyFile = serde_yaml_ng::from_str(text)
            .map_err(|e| Error::invalid(shown, e.to_string().replace('\n', " ")))?;
        Policy::from_file(file, base, shown)
    }

    fn from_file(file: PolicyFile, base: &Path, shown: &str) -> Result<(Policy, Vec<String>)> {
        let bad = |reason: String| Error::invalid(shown, reason);
        if file.version != 1 {
            return Err(bad(format!(
                "version {} is not supported (use 1)",
                file.version
            )));
        }
        let mut keys = BTreeMap::new();
        let at = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        for (name, a) in &file.authorities {
            let what = |e: Error| bad(format!("authority {name:?}: {e}"));
            let authority = match (&a.key, &a.certificate_roots, &a.notation) {
                (Some(k), None, None) if a.identity.is_none() => {
                    Authority::Key(PublicKey::from_file(&at(k)).map_err(what)?)
                }
                (None, Some(roots), None) => Authority::Certificate(
                    crate::verify::CertificateTrust::load(&at(roots), a.identity.clone()).map_err(what)?,
                ),
                (None, None, Some(n)) if a.identity.is_none() => Authority::Notation(
                    crate::verify::NotationTrust::load(&at(&n.trust_policy), &at(&n.trust_store)).map_err(what)?,
                ),
                _ => {
                    return Err(bad(format!(
                        "authority {name:?}: give exactly one of key, certificateRoots (optionally with identity), notation"
                    )))
                }
            };
            keys.insert(name.clone(), authority);
        }
        let mut warnings = Vec::new();
        let mut patterns = Vec::new();
        let mut tag_patterns = Vec::new();
        let mut label_patterns = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, rule) in file.rules.iter().enumerate() {
            let what = format!("rule {:?}", rule.name);
            if !names.insert(rule.name.clone()) {
                return Err(bad(format!("{what}: the name is used twice")));
            }
            if rule.images.is_empty() {
                return Err(bad(format!("{what}: `images` is empty")));
            }
            let globs = rule
                .images
                .iter()
                .map(|g| Glob::new(g))
                .collect::<Result<Vec<_>>>()?;
            for g in &globs {
                if g.text
                    .chars()
                    .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
                {
                    warnings.push(format!(
                        "{what} can never match: pattern {:?} has uppercase letters or spaces, which image references never do",
                        g.text
                    ));
                }
            }
            // A rule whose every pattern appears, identically, in an earlier rule never wins.
            for (j, earlier) in file.rules[..i].iter().enumerate() {
                if rule.images.iter().all(|p| earlier.images.contains(p)) {
                    warnings.push(format!(
                        "{what} can never match: rule {:?} (#{}) has the same patterns and comes first",
                        earlier.name,
                        j + 1
                    ));
                }
            }
            if let Some(req) = &rule.authorities {
                let forms = [
                    req.any_of.is_some(),
                    req.all_of.is_some(),
                    req.threshold.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if forms != 1 {
                    return Err(bad(format!(
                        "{what}: `authorities` needs exactly one of anyOf, allOf, threshold"
                    )));
                }
                let listed: Vec<&String> = req
                    .any_of
                    .iter()
                    .flatten()
                    .chain(req.all_of.iter().flatten())
                    .chain(req.threshold.iter().flat_map(|t| t.of.iter()))
                    .collect();
                if listed.is_empty() {
                    return Err(bad(format!("{what}: `authorities` lists no authority")));
                }
                for n in &listed {
                    if !keys.contains_key(*n) {
                        return Err(bad(format!(
                            "{what}: unknown authority {n:?} (define it under `authorities:`)"
                        )));
                    }
                }
                if let Some(t) = &req.threshold {
                    if t.count == 0 || t.count > t.of.len() {
                        return Err(bad(format!(
                            "{what}: threshold count {} must be between 1 and {}",
                            t.count,
                            t.of.len()
                        )));
                    }
                }
            }
            tag_patterns.push(match rule.tags.as_ref().and_then(|t| t.pattern.as_ref()) {
                Some(p) => Some(compile_regex(&format!("{what} tags.pattern"), p)?),
                None => None,
            });
            let mut labels = BTreeMap::new();
            for (k, v) in rule.required_labels.iter().flatten() {
                let re = match v {
                    Some(p) => Some(compile_regex(&format!("{what} requiredLabels.{k}"), p)?),
                    None => None,
                };
                labels.insert(k.clone(), re);
            }
            label_patterns.push(labels);
            patterns.push(globs);
        }
        // A catch-all listed before more specific rules reads as if it wins; it does not.
        for (i, rule) in file.rules.iter().enumerate() {
            if rule.images.iter().any(|p| p == "**") && i + 1 < file.rules.len() {
                warnings.push(format!(
                    "rule {:?} matches every image and comes before more specific rules; the most specific rule wins, so list catch-alls last to avoid confusion",
                    rule.name
                ));
            }
        }
        Ok((
            Policy {
                file,
                authorities: keys,
                patterns,
                tag_patterns,
                label_patterns,
                options: StoreOptions::default(),
            },
            warnings,
        ))
    }

    /// Use these store options.
    pub fn with_options(mut self, options: StoreOptions) -> Policy {
        self.options = options;
        self
    }

    /// The parsed file.
    pub fn file(&self) -> &PolicyFile {
        &self.file
    }

    /// The index of the rule that applies to `registry/repository`, if any.
    pub fn rule_for(&self, name: &str) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        for (i, globs) in self.patterns.iter().enumerate() {
            for g in globs {
                if g.matches(name) && best.is_none_or(|(_, score)| g.literal_chars > score) {
                    best = Some((i, g.literal_chars));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Evaluate every matching check for `image` and decide. Problems with the image (cannot be
    /// resolved, config missing or too large) become failed checks, not errors.
    pub async fn evaluate(&self, image: &ImageRef) -> Decision {
        let mut d = Decision {
            image: image.to_string(),
            digest: None,
            rule: None,
            mode: Mode::Enforce,
            allowed: true,
            checks: Vec::new(),
            requests: 0,
        };
        let (registry, repository, tag, pinned) = match image {
            ImageRef::Registry(r) => (
                r.registry().to_string(),
                r.repository().to_string(),
                r.tag().map(str::to_string),
                r.digest().is_some(),
            ),
            ImageRef::Layout(l) => (
                "oci-layout".to_string(),
                l.identity(),
                l.name.clone(),
                l.digest.is_some(),
            ),
        };
        let name = format!("{registry}/{repository}");
        let Some(idx) = self.rule_for(&name) else {
            let allow = self.file.default_action == DefaultAction::Allow;
            d.checks.push(Check::new(
                "rule",
                allow,
                format!(
                    "no rule matches {name}; defaultAction is {}",
                    if allow { "allow" } else { "reject" }
                ),
            ));
            d.allowed = allow;
            return d;
        };
        let rule = &self.file.rules[idx];
        d.rule = Some(rule.name.clone());
        d.mode = rule.mode;

        if let Some(allowed) = &rule.allowed_registries {
            let ok = allowed.iter().any(|r| r == &registry);
            d.checks.push(Check::new(
                "registry",
                ok,
                if ok {
                    format!("{registry} is an allowed registry")
                } else {
                    format!("{registry} is not in allowedRegistries {allowed:?}")
                },
            ));
        }
        if let Some(denied) = &rule.denied_registries {
            let hit = denied.iter().any(|r| {
                r == &registry || (r == "docker.io" && registry == crate::reference::DOCKER_HUB)
            });
            d.checks.push(Check::new(
                "registry",
                !hit,
                if hit {
                    format!("{registry} is a denied registry")
                } else {
                    format!("{registry} is not denied")
                },
            ));
        }
        if let Some(t) = &rule.tags {
            if t.require_digest {
                d.checks.push(Check::new(
                    "digest",
                    pinned,
                    if pinned {
                        "the reference pins a digest".to_string()
                    } else {
                        "the reference does not pin a digest; deploy by digest (image@sha256:…)"
                            .to_string()
                    },
                ));
            }
            if let Some(tag) = &tag {
                if t.deny.contains(tag) {
                    d.checks.push(Check::new(
                        "tag",
                        false,
                        format!("tag {tag:?} is denied (mutable tag); use a version tag or digest"),
                    ));
                } else if let Some(re) = &self.tag_patterns[idx] {
                    let ok = re.is_match(tag);
                    d.checks.push(Check::new(
                        "tag",
                        ok,
                        if ok {
                            format!("tag {tag:?} matches {}", re.as_str())
                        } else {
                            format!("tag {tag:?} does not match {}", re.as_str())
                        },
                    ));
                } else {
                    d.checks.push(Check::new(
                        "tag",
                        true,
                        format!("tag {tag:?} is not denied"),
                    ));
                }
            } else if t.pattern.is_some() && !pinned {
                d.checks
                    .push(Check::new("tag", false, "the reference has no tag"));
            }
        }

        let needs_registry = rule.authorities.is_some()
            || rule.annotations.is_some()
            || rule.required_labels.is_some()
            || rule.max_size.is_some()
            || rule.allowed_base_images.is_some();
        if needs_registry {
            match resolve(image, &self.options, false).await {
                Ok(resolved) => {
                    d.digest = Some(resolved.manifest.digest.to_string());
                    self.check_image(idx, image, &resolved, &mut d).await;
                    d.requests = resolved.store.requests();
                }
                Err(e) => d.checks.push(Check::new("resolve", false, e.to_string())),
            }
        }
        d.allowed = rule.mode != Mode::Enforce || d.checks.iter().all(|c| c.passed);
        d
    }

    async fn check_image(&self, idx: usize, image: &ImageRef, r: &Resolved, d: &mut Decision) {
        let rule = &self.file.rules[idx];
        if rule.authorities.is_some() || rule.annotations.is_some() {
            d.checks.push(self.check_signatures(rule, image, r).await);
        }
        let wants_platforms = rule.required_labels.is_some()
            || rule.max_size.is_some()
            || rule.allowed_base_images.is_some();
        if !wants_platforms {
            return;
        }
        // The platform manifests to inspect: the image itself, or each entry of an index.
        let mut manifests: Vec<(String, std::result::Result<Manifest, String>)> = Vec::new();
        let mut index_annotations = BTreeMap::new();
        if oci::is_index_media_type(&r.manifest.media_type) {
            match Index::from_bytes(&r.manifest.bytes) {
                Ok(index) => {
                    index_annotations = index.annotations.clone();
                    for child in index.manifests {
                        let label = child
                            .platform
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| child.digest.clone());
                        if child.platform.as_ref().is_some_and(|p| p.os == "unknown") {
                            continue; // buildkit attestation manifests
                        }
                        let got = match child.digest() {
                            Ok(dg) => match r.store.get_manifest(&ManifestRef::Digest(dg)).await {
                                Ok(Some(m)) => Ok(m),
                                Ok(None) => Err("platform manifest missing".to_string()),
                                Err(e) => Err(e.to_string()),
                            },
                            Err(e) => Err(e.to_string()),
                        };
                        manifests.push((label, got));
                    }
                }
                Err(e) => manifests.push(("index".into(), Err(e.to_string()))),
            }
        } else {
            manifests.push(("image".into(), Ok(r.manifest.clone())));
        }
        for (label, m) in manifests {
            let parsed =
                m.and_then(|m| ImageManifest::from_bytes(&m.bytes).map_err(|e| e.to_string()));
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => {
                    d.checks
                        .push(Check::new("manifest", false, format!("{label}: {e}")));
                    continue;
                }
            };
            if let Some(max) = rule.max_size {
                let total: u64 = parsed.layers.iter().map(|l| l.size).sum();
                let ok = total <= max.0;
                d.checks.push(Check::new(
                    "size",
                    ok,
                    format!(
                        "{label}: compressed layers are {} ({total} bytes), limit {} ({} bytes)",
                        human(total),
                        human(max.0),
                        max.0
                    ),
                ));
            }
            if let Some(allowed) = &rule.allowed_base_images {
                let base = parsed
                    .annotations
                    .get("org.opencontainers.image.base.name")
                    .or_else(|| index_annotations.get("org.opencontainers.image.base.name"));
                let check = match base {
                    None => Check::new(
                        "base-image",
                        false,
                        format!("{label}: no org.opencontainers.image.base.name annotation"),
                    ),
                    Some(b) => {
                        let ok = allowed
                            .iter()
                            .filter_map(|g| Glob::new(g).ok())
                            .any(|g| g.matches(b));
                        Check::new(
                            "base-image",
                            ok,
                            if ok {
                                format!("{label}: base image {b} is allowed")
                            } else {
                                format!("{label}: base image {b} is not in allowedBaseImages")
                            },
                        )
                    }
                };
                d.checks.push(check);
            }
            if rule.required_labels.is_some() {
                d.checks
                    .push(self.check_labels(idx, &label, &r.store, &parsed).await);
            }
        }
    }

    async fn check_labels(
        &self,
        idx: usize,
        label: &str,
        store: &Store,
        m: &ImageManifest,
    ) -> Check {
        let size = m.config.size;
        if size > MAX_CONFIG_BYTES {
            return Check::new(
                "labels",
                false,
                format!("{label}: config blob is {size} bytes, over the {MAX_CONFIG_BYTES}-byte cap; labels not checked"),
            );
        }
        let config = match m.config.digest() {
            Ok(dg) => store.get_blob(&dg, size, MAX_CONFIG_BYTES).await,
            Err(e) => Err(e),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => return Check::new("labels", false, format!("{label}: config blob: {e}")),
        };
        let v: serde_json::Value = match serde_json::from_slice(&config) {
            Ok(v) => v,
            Err(e) => {
                return Check::new(
                    "labels",
                    false,
                    format!("{label}: config blob is not JSON: {e}"),
                )
            }
        };
        let labels = v["config"]["Labels"].as_object();
        let mut problems = Vec::new();
        for (k, re) in &self.label_patterns[idx] {
            match labels.and_then(|l| l.get(k)).and_then(|x| x.as_str()) {
                None => problems.push(format!("label {k} is missing")),
                Some(val) => {
                    if let Some(re) = re {
                        if !re.is_match(val) {
                            problems
                                .push(format!("label {k}={val:?} does not match {}", re.as_str()));
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Check::new("labels", true, format!("{label}: required labels present"))
        } else {
            Check::new("labels", false, format!("{label}: {}", problems.join("; ")))
        }
    }

    async fn check_signatures(&self, rule: &Rule, image: &ImageRef, r: &Resolved) -> Check {
        let (names, need, all): (Vec<String>, usize, bool) = match &rule.authorities {
            Some(a) => {
                if let Some(any) = &a.any_of {
                    (any.clone(), 1, false)
                } else if let Some(all) = &a.all_of {
                    (all.clone(), all.len(), true)
                } else if let Some(t) = &a.threshold {
                    (t.of.clone(), t.count, true)
                } else {
                    (Vec::new(), 1, false)
                }
            }
            // Annotations without authorities: any authority of the policy may have signed.
            None => (self.authorities.keys().cloned().collect(), 1, false),
        };
        if names.is_empty() {
            return Check::new("signature", false, "no authority to verify against");
        }
        let (exact, presence) = match &rule.annotations {
            None => (BTreeMap::new(), Vec::new()),
            Some(Annotations::Values(m)) => (m.clone(), Vec::new()),
            Some(Annotations::Keys(k)) => (BTreeMap::new(), k.clone()),
        };
        let mut signed: Vec<String> = Vec::new();
        let mut why: Vec<String> = Vec::new();
        let mut absorb = |v: crate::Result<crate::Verification>,
                          label: Option<&str>,
                          signed: &mut Vec<String>| match v {
            Err(e) => why.push(e.to_string()),
            Ok(v) => {
                match label {
                    Some(l) if v.verified => signed.push(l.to_string()),
                    Some(_) => {}
                    None => signed.extend(v.verified_by.iter().cloned()),
                }
                if !v.verified {
                    why.push(v.reason.clone().unwrap_or_else(|| {
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
                            .collect::<Vec<_>>()
                            .join("; ")
                    }));
                }
            }
        };
        // Keys: one pass over the signatures serves them all.
        let keys: Vec<(String, PublicKey)> = names
            .iter()
            .filter_map(|n| match self.authorities.get(n) {
                Some(Authority::Key(k)) => Some((n.clone(), k.clone())),
                _ => None,
            })
            .collect();
        if !keys.is_empty() {
            let v = Verifier::with_keys(keys)
                .with_options(self.options.clone())
                .with_required_annotation_keys(presence.clone())
                .require_all(all)
                .verify_resolved(&r.store, image, &r.manifest, &r.identity, &exact)
                .await;
            absorb(v, None, &mut signed);
        }
        // Certificate and notation authorities: each checked with the verify code on its own.
        for n in &names {
            if signed.len() >= need {
                break;
            }
            let verifier = match self.authorities.get(n) {
                Some(Authority::Certificate(t)) => Verifier::with_keys(Vec::new())
                    .with_certificate_trust(Some(t.clone()))
                    .with_format(Some(crate::verify::SignatureFormat::Cosign))
                    .with_required_annotation_keys(presence.clone()),
                Some(Authority::Notation(t)) => Verifier::with_keys(Vec::new())
                    .with_notation_trust(Some(t.clone()))
                    .with_format(Some(crate::verify::SignatureFormat::Notation)),
                _ => continue,
            };
            let v = verifier
                .with_options(self.options.clone())
                .verify_resolved(&r.store, image, &r.manifest, &r.identity, &exact)
                .await;
            absorb(v, Some(n), &mut signed);
        }
        let got = signed.len();
        if got >= need {
            Check::new(
                "signature",
                true,
                format!("signed by {} ({got} of {need} required)", signed.join(", ")),
            )
        } else {
            let have = if signed.is_empty() {
                "no authority".to_string()
            } else {
                signed.join(", ")
            };
            Check::new(
                "signature",
                false,
                format!(
                    "{need} of [{}] must sign; valid signatures from {have}; {}",
                    names.join(", "),
                    why.join("; ")
                ),
            )
        }
    }

    /// Evaluate many images, at most `concurrency` at a time, returning decisions in input
    /// order. The same reference given twice is evaluated once. Connections and registry
    /// tokens are shared through the policy's [`StoreOptions`] session. `progress` is called
    /// after each image with (done, total).
    pub async fn evaluate_many(
        &self,
        images: &[ImageRef],
        concurrency: usize,
        progress: impl Fn(usize, usize),
    ) -> Vec<Decision> {
        use futures_util::StreamExt as _;
        let total = images.len();
        let mut first_of: BTreeMap<String, usize> = BTreeMap::new();
        let mut unique = Vec::new();
        for (i, img) in images.iter().enumerate() {
            first_of.entry(img.to_string()).or_insert_with(|| {
                unique.push((i, img));
                i
            });
        }
        let mut out: Vec<Option<Decision>> = vec![None; total];
        let mut stream = futures_util::stream::iter(unique)
            .map(|(i, img)| async move { (i, self.evaluate(img).await) })
            .buffer_unordered(concurrency.max(1));
        let mut done = 0;
        while let Some((i, d)) = stream.next().await {
            out[i] = Some(d);
            done += 1;
            progress(done, first_of.len());
        }
        images
            .iter()
            .enumerate()
            .filter_map(|(i, img)| {
                let first = first_of.get(&img.to_string()).copied().unwrap_or(i);
                out.get(first).cloned().flatten()
            })
            .collect()
    }
}

fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
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
            e.contains("unknown field `colour`") && e.contains("line 6"),
            "{e}"
        );
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
