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

pub(crate) mod yaml_guard;

use crate::oci::{self, ImageManifest, Index};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
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
    #[serde(default, deserialize_with = "unique_keys")]
    pub authorities: BTreeMap<String, AuthorityFile>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A map that refuses a key given twice (YAML parsers otherwise keep the last one silently,
/// so a second `release:` authority would quietly replace the first).
fn unique_keys<'de, D, V>(d: D) -> std::result::Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Visit<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of names")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate key {k:?}: each name may be defined once"
                    )));
                }
                let v = map.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visit(std::marker::PhantomData))
}

fn unique_keys_opt<'de, D, V>(d: D) -> std::result::Result<Option<BTreeMap<String, V>>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    unique_keys(d).map(Some)
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
    /// With `certificateRoots`: the identity the signing certificate must carry (a SAN
    /// email, URI or DNS name, as cosign matches; never the subject).
    #[serde(default)]
    pub identity: Option<String>,
    /// With `certificateRoots`: the subject CN or whole DN the signing certificate must have
    /// (an explicit opt-in for PKIs without SANs).
    #[serde(default)]
    pub subject: Option<String>,
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
    #[serde(default, deserialize_with = "unique_keys_opt")]
    pub required_labels: Option<BTreeMap<String, Option<String>>>,
    /// Maximum compressed size of layers per platform, e.g. `200MiB`, `1.5GB`, `5000000`.
    #[serde(default)]
    pub max_size: Option<Size>,
    /// Globs the `org.opencontainers.image.base.name` annotation must match.
    #[serde(default)]
    pub allowed_base_images: Option<Vec<String>>,
    /// The image config's `User` must name a non-root user (not empty, not `0`, not `root`,
    /// not `0:…`/`root:…`).
    #[serde(default)]
    pub non_root_user: Option<bool>,
    /// The config's `created` must be at most this old (`90d`, `12h`, `2w`).
    #[serde(default)]
    pub max_image_age: Option<Age>,
    /// With `maxImageAge`: an image without a `created` time (or with the epoch, as
    /// reproducible builds write) passes instead of failing.
    #[serde(default)]
    pub allow_missing_created: Option<bool>,
}

/// An age limit, written with a unit: `90d`, `36h`, `2w`, `30m`, `600s`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Age(pub u64);

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_age(&s).map(Age).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not an age (a number with s, m, h, d or w: 90d, 36h, 2w)"
            ))
        })
    }
}

/// Seconds in `90d`, `36h`, `2w`, `30m`, `600s`.
fn parse_age(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
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
    extra: Extra,
    /// sha256 over the policy text and the bytes of every file its authorities name.
    content_hash: String,
}

/// Requirements the caller adds on top of the file, for every image.
#[derive(Clone, Debug, Default)]
struct Extra {
    annotations: BTreeMap<String, String>,
    identity: Option<String>,
    platform: Option<String>,
    /// The instant time-dependent checks use (`None`: the system clock).
    now: Option<std::time::SystemTime>,
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
    tokens: Vec<Token>,
    specificity: Vec<(u8, usize)>,
}

/// One piece of a glob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
}

/// The pattern with its registry part in canonical form (lowercase host, default port
/// dropped, Docker Hub aliases folded), so it matches what references parse to.
fn canonical_pattern(text: &str) -> String {
    let (host, rest) = match text.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (text, None),
    };
    let looks_like_host = host.contains('.')
        || host.contains(':')
        || host.starts_with('[')
        || host.eq_ignore_ascii_case("localhost");
    if rest.is_none() || !looks_like_host {
        return text.to_string();
    }
    let host = if host.contains(['*', '?']) {
        let h = host.to_ascii_lowercase();
        h.strip_suffix(":443").map(str::to_string).unwrap_or(h)
    } else {
        crate::reference::canonical_registry(host).unwrap_or_else(|_| host.to_ascii_lowercase())
    };
    format!("{host}/{}", rest.unwrap_or_default())
}

impl Glob {
    fn new(text: &str) -> Result<Glob> {
        let text = canonical_pattern(text);
        let mut re = String::from("^");
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    re.push_str(".*");
                    tokens.push(Token::DoubleStar);
                } else {
                    re.push_str("[^/]*");
                    tokens.push(Token::Star);
                }
            } else if c == '?' {
                re.push_str("[^/]");
                tokens.push(Token::One);
            } else {
                re.push_str(&regex::escape(&c.to_string()));
                tokens.push(Token::Char(c));
            }
        }
        re.push('$');
        let re = regex::Regex::new(&re)
            .map_err(|e| Error::invalid(format!("pattern {text:?}"), e.to_string()))?;
        let specificity = specificity(&text);
        Ok(Glob {
            text,
            re,
            tokens,
            specificity,
        })
    }

    fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// An image name both globs match, if there is one (product of the two automata).
    fn overlap(&self, other: &Glob) -> Option<String> {
        use std::collections::{BTreeMap, VecDeque};
        let (a, b) = (&self.tokens, &other.tokens);
        // Positions reachable without consuming a character (stars may match nothing).
        let close = |t: &[Token], mut i: usize| -> Vec<usize> {
            let mut out = vec![i];
            while i < t.len() && matches!(t[i], Token::Star | Token::DoubleStar) {
                i += 1;
                out.push(i);
            }
            out
        };
        let accepts = |t: Token, c: char| match t {
            Token::Char(x) => x == c,
            Token::One | Token::Star => c != '/',
            Token::DoubleStar => true,
        };
        let next = |t: Token, i: usize| match t {
            Token::Star | Token::DoubleStar => i,
            _ => i + 1,
        };
        // Product state -> (previous state, character that led here), for the witness.
        type Back = Option<((usize, usize), char)>;
        let mut seen: BTreeMap<(usize, usize), Back> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for i in close(a, 0) {
            for j in close(b, 0) {
                seen.entry((i, j)).or_insert(None);
                queue.push_back((i, j));
            }
        }
        while let Some((i, j)) = queue.pop_front() {
            if i == a.len() && j == b.len() {
                let mut out = Vec::new();
                let mut at = (i, j);
                while let Some(Some((prev, c))) = seen.get(&at) {
                    out.push(*c);
                    at = *prev;
                }
                return Some(out.into_iter().rev().collect());
            }
            if i == a.len() || j == b.len() {
                continue;
            }
            // Characters worth trying: each side's literal, else a plain letter or '/'.
            let mut candidates = Vec::new();
            for t in [a[i], b[j]] {
                if let Token::Char(c) = t {
                    candidates.push(c);
                }
            }
            candidates.extend(['x', '/']);
            for c in candidates {
                if !(accepts(a[i], c) && accepts(b[j], c)) {
                    continue;
                }
                for ni in close(a, next(a[i], i)) {
                    for nj in close(b, next(b[j], j)) {
                        if let std::collections::btree_map::Entry::Vacant(e) = seen.entry((ni, nj))
                        {
                            e.insert(Some(((i, j), c)));
                            queue.push_back((ni, nj));
                        }
                    }
                }
            }
        }
        None
    }
}

/// How specific a pattern is, segment by segment from the registry down (compared
/// lexicographically, as Connaisseur ranks its rules): a literal segment beats one with a
/// wildcard, which beats `**`; within a class, more literal characters win. A repository name
/// an attacker chooses further down the path cannot outrank a rule that names the registry and
/// the path above it.
fn specificity(text: &str) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    for segment in text.split('/') {
        let literal = segment.chars().filter(|c| !matches!(c, '*' | '?')).count();
        if segment.contains("**") {
            out.push((0, literal));
            break;
        }
        let class = if segment.contains(['*', '?']) { 1 } else { 2 };
        out.push((class, literal));
    }
    out
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
        let (mut policy, warnings) = Policy::from_file(file, base, shown)?;
        policy.content_hash = content_hash(text, &policy.file, base);
        Ok((policy, warnings))
    }

    /// Names this policy's content: the text, every file its authorities name (keys, roots,
    /// trust policies, trust stores) and the requirements added with `with_…`. Two policies
    /// with one fingerprint decide alike; caches key their decisions by it.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.content_hash.as_bytes());
        h.update(format!("{:?}", self.extra).as_bytes());
        hex::encode(h.finalize())
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
                (Some(k), None, None) if a.identity.is_none() && a.subject.is_none() => {
                    Authority::Key(PublicKey::from_file(&at(k)).map_err(what)?)
                }
                (None, Some(roots), None) => Authority::Certificate(
                    crate::verify::CertificateTrust::load(&at(roots), a.identity.clone())
                        .map_err(what)?
                        .with_subject(a.subject.clone()),
                ),
                (None, None, Some(n)) if a.identity.is_none() && a.subject.is_none() => Authority::Notation(
                    crate::verify::NotationTrust::load(&at(&n.trust_policy), &at(&n.trust_store)).map_err(what)?,
                ),
                _ => {
                    return Err(bad(format!(
                        "authority {name:?}: give exactly one of key, certificateRoots (optionally with identity and subject), notation"
                    )))
                }
            };
            keys.insert(name.clone(), authority);
        }
        // Two key authorities with one key would let one signature count twice.
        let mut seen_keys: BTreeMap<String, &String> = BTreeMap::new();
        for (name, a) in &keys {
            if let Authority::Key(k) = a {
                if let Some(other) = seen_keys.insert(k.fingerprint(), name) {
                    return Err(bad(format!(
                        "authorities {other:?} and {name:?} are the same public key; define it once"
                    )));
                }
            }
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
                // Registry hosts are case-insensitive (folded above); repository paths are not.
                let path = g.text.split_once('/').map_or(g.text.as_str(), |(_, p)| p);
                if path.chars().any(|c| c.is_ascii_uppercase())
                    || g.text.contains(char::is_whitespace)
                {
                    warnings.push(format!(
                        "{what} can never match: pattern {:?} has uppercase letters in its repository path or spaces, which image references never do",
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
                let mut once = std::collections::BTreeSet::new();
                for n in &listed {
                    if !once.insert(n.as_str()) {
                        return Err(bad(format!(
                            "{what}: authority {n:?} is listed twice; each authority counts once, so list it once (and raise the threshold's authorities, not its repetitions)"
                        )));
                    }
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
            if rule.allow_missing_created.is_some() && rule.max_image_age.is_none() {
                return Err(bad(format!(
                    "{what}: allowMissingCreated only applies with maxImageAge; add maxImageAge or remove it"
                )));
            }
            for (field, list) in [
                ("allowedRegistries", &rule.allowed_registries),
                ("deniedRegistries", &rule.denied_registries),
            ] {
                for entry in list.iter().flatten() {
                    if let Err(why) = crate::reference::canonical_registry(entry) {
                        return Err(bad(format!(
                            "{what}: {field} entry {entry:?} is not a registry host ({why})"
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
        // One image matching rules with different modes or authorities: whichever pattern is
        // more specific decides, and a repository name may be chosen by whoever creates it.
        let describe = |r: &Rule| {
            let a = match &r.authorities {
                None => "no authorities".to_string(),
                Some(a) => match (&a.any_of, &a.all_of, &a.threshold) {
                    (Some(l), _, _) => format!("anyOf {l:?}"),
                    (_, Some(l), _) => format!("allOf {l:?}"),
                    (_, _, Some(t)) => format!("threshold {} of {:?}", t.count, t.of),
                    _ => "no authorities".to_string(),
                },
            };
            format!("{}, {a}", format!("{:?}", r.mode).to_lowercase())
        };
        for i in 0..file.rules.len() {
            for j in i + 1..file.rules.len() {
                let (a, b) = (&file.rules[i], &file.rules[j]);
                if a.mode == b.mode && describe(a) == describe(b) {
                    continue;
                }
                'pairs: for ga in patterns[i].iter().filter(|g| g.text != "**") {
                    for gb in patterns[j].iter().filter(|g| g.text != "**") {
                        if let Some(example) = ga.overlap(gb) {
                            let winner = if gb.specificity > ga.specificity {
                                b
                            } else {
                                a
                            };
                            warnings.push(format!(
                                "rules {:?} ({}) and {:?} ({}) can both match one image, e.g. {example}; the more specific pattern decides (there: {:?}), so make sure no one can pick the weaker rule by naming a repository",
                                a.name,
                                describe(a),
                                b.name,
                                describe(b),
                                winner.name
                            ));
                            break 'pairs;
                        }
                    }
                }
            }
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
                extra: Extra::default(),
                content_hash: String::new(),
            },
            warnings,
        ))
    }

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
    /// [`Verifier::with_identity`] does, in every signature check.
    pub fn with_identity(mut self, identity: Option<String>) -> Policy {
        self.extra.identity = identity;
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
            if allow && !self.extra.annotations.is_empty() {
                // Annotations required of every image: an allowed image must carry them too.
                match resolve(image, &self.options, false).await {
                    Ok(resolved) => {
                        d.digest = Some(resolved.manifest.digest.to_string());
                        d.checks
                            .push(self.check_signatures(None, None, image, &resolved).await);
                        d.requests = resolved.store.requests();
                    }
                    Err(e) => d.checks.push(Check::new("resolve", false, e.to_string())),
                }
            }
            d.allowed = d.checks.iter().all(|c| c.passed);
            return d;
        };
        let rule = &self.file.rules[idx];
        d.rule = Some(rule.name.clone());
        d.mode = rule.mode;

        if let Some(allowed) = &rule.allowed_registries {
            let ok = allowed.iter().any(|r| same_registry(r, &registry));
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
            let hit = denied.iter().any(|r| same_registry(r, &registry));
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
            || !self.extra.annotations.is_empty()
            || rule.required_labels.is_some()
            || rule.max_size.is_some()
            || rule.allowed_base_images.is_some()
            || rule.wants_config();
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
        if rule.authorities.is_some()
            || rule.annotations.is_some()
            || !self.extra.annotations.is_empty()
        {
            d.checks.push(
                self.check_signatures(
                    rule.authorities.as_ref(),
                    rule.annotations.as_ref(),
                    image,
                    r,
                )
                .await,
            );
        }
        let wants_platforms =
            rule.max_size.is_some() || rule.allowed_base_images.is_some() || rule.wants_config();
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
                    // Each platform manifest is inspected once, however often it is listed.
                    let mut seen = std::collections::HashSet::new();
                    for child in index.manifests {
                        if !seen.insert(child.digest.clone()) {
                            continue;
                        }
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
            if rule.wants_config() {
                match config_of(&r.store, &parsed).await {
                    Ok(config) => {
                        if rule.required_labels.is_some() {
                            d.checks.push(self.check_labels(idx, &label, &config));
                        }
                        if rule.non_root_user == Some(true) {
                            d.checks.push(check_non_root(&label, &config));
                        }
                        if let Some(max) = rule.max_image_age {
                            d.checks.push(check_age(
                                &label,
                                &config,
                                max,
                                rule.allow_missing_created == Some(true),
                                self.extra.now.unwrap_or_else(std::time::SystemTime::now),
                            ));
                        }
                    }
                    Err(why) => {
                        for (name, wanted) in [
                            ("labels", rule.required_labels.is_some()),
                            ("user", rule.non_root_user == Some(true)),
                            ("age", rule.max_image_age.is_some()),
                        ] {
                            if wanted {
                                d.checks
                                    .push(Check::new(name, false, format!("{label}: {why}")));
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_labels(&self, idx: usize, label: &str, v: &serde_json::Value) -> Check {
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

    async fn check_signatures(
        &self,
        authorities: Option<&AuthorityRequirement>,
        annotations: Option<&Annotations>,
        image: &ImageRef,
        r: &Resolved,
    ) -> Check {
        let (names, need): (Vec<String>, usize) = match authorities {
            Some(a) => {
                if let Some(any) = &a.any_of {
                    (any.clone(), 1)
                } else if let Some(all) = &a.all_of {
                    (all.clone(), all.len())
                } else if let Some(t) = &a.threshold {
                    (t.of.clone(), t.count)
                } else {
                    (Vec::new(), 1)
                }
            }
            // Annotations without authorities: any authority of the policy may have signed.
            None => (self.authorities.keys().cloned().collect(), 1),
        };
        if names.is_empty() {
            return Check::new("signature", false, "no authority to verify against");
        }
        let (mut exact, presence) = match annotations {
            None => (BTreeMap::new(), Vec::new()),
            Some(Annotations::Values(m)) => (m.clone(), Vec::new()),
            Some(Annotations::Keys(k)) => (BTreeMap::new(), k.clone()),
        };
        for (k, v) in &self.extra.annotations {
            match exact.get(k) {
                Some(rule_value) if rule_value != v => {
                    return Check::new(
                        "signature",
                        false,
                        format!("annotation {k} must be {rule_value:?} by the rule and {v:?} by the caller; no signature can carry both"),
                    )
                }
                _ => {
                    exact.insert(k.clone(), v.clone());
                }
            }
        }
        // With more than one signer needed, every valid signature is collected so that each
        // authority can be given a signing key of its own (see `distinct_signers`).
        let examine_all = need > 1;
        // The signing keys (fingerprints) each authority has a valid signature from.
        let mut keys_of: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        let mut why: Vec<String> = Vec::new();
        let mut absorb =
            |v: crate::Result<crate::Verification>,
             label: Option<&str>,
             keys_of: &mut BTreeMap<String, std::collections::BTreeSet<String>>| {
                match v {
                    Err(e) => why.push(e.to_string()),
                    Ok(v) => {
                        for s in v.signatures.iter().filter(|s| s.verified) {
                            let Some(who) =
                                label.map(str::to_string).or_else(|| s.signed_by.clone())
                            else {
                                continue;
                            };
                            // With a platform, an authority counts only if it signed the platform
                            // manifest too.
                            let platform_ok = match (&v.platform, label) {
                                (None, _) => true,
                                (Some(p), None) => p.verified_by.contains(&who),
                                (Some(p), Some(_)) => p.verified,
                            };
                            if let (true, Some(key)) = (platform_ok, &s.signer_key) {
                                keys_of.entry(who).or_default().insert(key.clone());
                            }
                        }
                        if !v.verified {
                            for (i, p) in v.parts().enumerate().filter(|(_, p)| !p.own_verified()) {
                                why.push(match i {
                                    0 => p.failure_summary(),
                                    _ => format!("{}: {}", p.image, p.failure_summary()),
                                });
                            }
                        }
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
                .with_identity(self.extra.identity.clone())
                .with_platform(self.extra.platform.clone())
                .with_now(self.extra.now)
                .with_required_annotation_keys(presence.clone())
                .require_all(need > 1)
                .examine_all(examine_all)
                .verify_resolved(&r.store, image, &r.manifest, &r.identity, &exact)
                .await;
            absorb(v, None, &mut keys_of);
        }
        // Certificate and notation authorities: each checked with the verify code on its own.
        for n in &names {
            if distinct_signers(&names, &keys_of).len() >= need {
                break;
            }
            let verifier = match self.authorities.get(n) {
                Some(Authority::Certificate(t)) => Verifier::with_keys(Vec::new())
                    .with_certificate_trust(Some(t.clone()))
                    .with_format(Some(crate::verify::SignatureFormat::Cosign)),
                // The rule's annotations are the signed target's annotations (notation's user
                // metadata): exact values through `exact`, keys through the required keys.
                Some(Authority::Notation(t)) => Verifier::with_keys(Vec::new())
                    .with_notation_trust(Some(t.clone()))
                    .with_format(Some(crate::verify::SignatureFormat::Notation)),
                _ => continue,
            };
            let v = verifier
                .with_required_annotation_keys(presence.clone())
                .examine_all(examine_all)
                .with_options(self.options.clone())
                .with_identity(self.extra.identity.clone())
                .with_platform(self.extra.platform.clone())
                .with_now(self.extra.now)
                .verify_resolved(&r.store, image, &r.manifest, &r.identity, &exact)
                .await;
            absorb(v, Some(n), &mut keys_of);
        }
        let signed = distinct_signers(&names, &keys_of);
        let got = signed.len();
        // Authorities with a valid signature that could not be given a key of their own.
        let shared: Vec<&String> = names
            .iter()
            .filter(|n| keys_of.contains_key(*n) && !signed.contains(n))
            .collect();
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
            let mut reason = format!(
                "{need} of [{}] must sign; valid signatures from {have}",
                names.join(", ")
            );
            if !shared.is_empty() {
                reason.push_str(&format!(
                    "; {} signed only with a key another authority already counted for (one signing key counts for one authority)",
                    shared.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            if !why.is_empty() {
                reason.push_str("; ");
                reason.push_str(&crate::text::bounded_join(
                    &why,
                    "; ",
                    crate::text::MAX_LISTED_REASONS,
                ));
            }
            Check::new("signature", false, reason)
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
                unique.push((i, img.clone()));
                i
            });
        }
        let mut out: Vec<Option<Decision>> = vec![None; total];
        // Owned images: a closure over borrowed ones is not general enough for callers that
        // need a `Send` future (the webhook's handlers).
        let mut stream = futures_util::stream::iter(unique)
            .map(|(i, img)| async move { (i, self.evaluate(&img).await) })
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

impl Rule {
    /// True when a check of this rule reads the image config blob.
    fn wants_config(&self) -> bool {
        self.required_labels.is_some()
            || self.non_root_user == Some(true)
            || self.max_image_age.is_some()
    }
}

/// The image config blob of `m`, parsed (capped at [`MAX_CONFIG_BYTES`]); the error says why
/// the config checks could not be made.
async fn config_of(
    store: &Store,
    m: &ImageManifest,
) -> std::result::Result<serde_json::Value, String> {
    let size = m.config.size;
    if size > MAX_CONFIG_BYTES {
        return Err(format!(
            "config blob is {size} bytes, over the {MAX_CONFIG_BYTES}-byte cap; its labels, user and creation time are not checked"
        ));
    }
    let dg = m.config.digest().map_err(|e| format!("config blob: {e}"))?;
    let bytes = store
        .get_blob(&dg, size, MAX_CONFIG_BYTES)
        .await
        .map_err(|e| format!("config blob: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("config blob is not JSON: {e}"))
}

/// `nonRootUser`: the config's `User` names a user other than root.
fn check_non_root(label: &str, config: &serde_json::Value) -> Check {
    let user = config["config"]["User"].as_str().unwrap_or("");
    let name = user.split(':').next().unwrap_or("");
    let root = name.is_empty() || name == "root" || name.trim_start_matches('0').is_empty();
    if root {
        Check::new(
            "user",
            false,
            if user.is_empty() {
                format!("{label}: the image sets no User, so it runs as root; set USER to a non-root user in the Dockerfile")
            } else {
                format!("{label}: the image runs as {user:?}, which is root")
            },
        )
    } else {
        Check::new("user", true, format!("{label}: runs as {user:?}"))
    }
}

/// `maxImageAge`: the config's `created` is at most `max` old at `now`.
fn check_age(
    label: &str,
    config: &serde_json::Value,
    max: Age,
    allow_missing: bool,
    now: std::time::SystemTime,
) -> Check {
    let created = config["created"].as_str().unwrap_or("");
    let parsed =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .ok()
            .filter(|t| t.unix_timestamp() > 0);
    let Some(t) = parsed else {
        let why = if created.is_empty() {
            "the image config has no created time".to_string()
        } else if created.starts_with("1970-01-01") {
            format!("the image config's created time is the epoch ({created}), as reproducible builds write it")
        } else {
            format!("the image config's created time {created:?} is not an RFC 3339 time")
        };
        return if allow_missing {
            Check::new(
                "age",
                true,
                format!("{label}: {why}; allowed by allowMissingCreated"),
            )
        } else {
            Check::new(
                "age",
                false,
                format!("{label}: {why}, so its age is unknown (allowMissingCreated: true relaxes this)"),
            )
        };
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let age = now.saturating_sub(t.unix_timestamp()).max(0) as u64;
    let days = |s: u64| format!("{:.1} days", s as f64 / 86_400.0);
    if age <= max.0 {
        Check::new(
            "age",
            true,
            format!(
                "{label}: built {created}, {} ago (limit {})",
                days(age),
                days(max.0)
            ),
        )
    } else {
        Check::new(
            "age",
            false,
            format!(
                "{label}: built {created}, {} ago, older than the {} limit; rebuild it on a fresh base image",
                days(age),
                days(max.0)
            ),
        )
    }
}

/// sha256 over `text` and the files the authorities of `file` name (directories walked in
/// name order; unreadable files hash as their error, so a change still shows).
fn content_hash(text: &str, file: &PolicyFile, base: &Path) -> String {
    use sha2::Digest as _;
    fn add(h: &mut sha2::Sha256, p: &Path, depth: usize) {
        h.update(p.to_string_lossy().as_bytes());
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() && depth < 8 => {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                    .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                entries.sort();
                for e in entries.into_iter().take(10_000) {
                    add(h, &e, depth + 1);
                }
            }
            Ok(m) if m.is_file() && m.len() <= MAX_POLICY_BYTES * 16 => {
                h.update(std::fs::read(p).unwrap_or_default());
            }
            other => h.update(format!("{:?}", other.map(|m| m.len())).as_bytes()),
        }
    }
    let mut h = sha2::Sha256::new();
    h.update(text.as_bytes());
    let at = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    for (name, a) in &file.authorities {
        h.update(name.as_bytes());
        for p in [&a.key, &a.certificate_roots].into_iter().flatten() {
            add(&mut h, &at(p), 0);
        }
        if let Some(n) = &a.notation {
            add(&mut h, &at(&n.trust_policy), 0);
            add(&mut h, &at(&n.trust_store), 0);
        }
    }
    hex::encode(h.finalize())
}

/// True when registry-list entry `entry` names `registry` (already canonical): both are
/// compared in canonical form, so `Docker.io`, `index.docker.io` and `docker.io:443` are one.
fn same_registry(entry: &str, registry: &str) -> bool {
    match crate::reference::canonical_registry(entry) {
        Ok(e) => e == registry,
        Err(_) => entry == registry,
    }
}

/// The authorities of `names` (in that order) that can each be given a signing key of its own
/// from `keys_of` (a maximum bipartite matching, authorities to signing-key fingerprints): one
/// signature, or several by one key, satisfies at most one authority, however many authorities
/// would accept it.
fn distinct_signers(
    names: &[String],
    keys_of: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    fn augment<'a>(
        who: &'a str,
        keys_of: &'a BTreeMap<String, std::collections::BTreeSet<String>>,
        owner: &mut BTreeMap<&'a str, &'a str>,
        visited: &mut std::collections::BTreeSet<&'a str>,
    ) -> bool {
        for key in keys_of.get(who).into_iter().flatten() {
            if !visited.insert(key.as_str()) {
                continue;
            }
            let free = match owner.get(key.as_str()).copied() {
                None => true,
                Some(other) => augment(other, keys_of, owner, visited),
            };
            if free {
                owner.insert(key.as_str(), who);
                return true;
            }
        }
        false
    }
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for n in names {
        let mut visited = std::collections::BTreeSet::new();
        augment(n, keys_of, &mut owner, &mut visited);
    }
    let matched: std::collections::BTreeSet<&str> = owner.values().copied().collect();
    names
        .iter()
        .filter(|n| matched.contains(n.as_str()))
        .cloned()
        .collect()
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
