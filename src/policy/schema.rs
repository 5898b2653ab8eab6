//! The policy file as written: its serde types (the YAML/JSON schema in
//! `docs/policy.schema.json`), with the duplicate-key refusal and the size and age units.

use super::*;

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
pub(super) fn unique_keys<'de, D, V>(d: D) -> std::result::Result<BTreeMap<String, V>, D::Error>
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

pub(super) fn unique_keys_opt<'de, D, V>(
    d: D,
) -> std::result::Result<Option<BTreeMap<String, V>>, D::Error>
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
    /// Keyless (Fulcio + Rekor) cosign signatures, checked offline against a Sigstore trusted
    /// root, by one of these identities.
    #[serde(default)]
    pub keyless: Option<KeylessAuthorityFile>,
}

/// A keyless authority: a Sigstore trusted root, who may sign, and which evidence is required.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessAuthorityFile {
    /// The `trusted_root.json` (Fulcio CAs, Rekor and CT log keys, timestamp authorities).
    pub trusted_root: PathBuf,
    /// Who may have signed: a certificate matching any one of these identities counts.
    pub identities: Vec<KeylessIdentityFile>,
    /// A Rekor transparency-log entry must be present and verify (default true).
    #[serde(default = "yes")]
    pub require_tlog: bool,
    /// The certificate must carry an SCT that verifies with a CT log key (default true).
    #[serde(default = "yes", rename = "requireSCT")]
    pub require_sct: bool,
    /// An RFC 3161 timestamp from a timestamp authority of the root must be present and
    /// verify (default false; one that is present is always verified).
    #[serde(default)]
    pub require_timestamp: bool,
}

fn yes() -> bool {
    true
}

/// One keyless identity: the OIDC issuer and the subject (SAN), each exact or an anchored
/// regular expression, and optional GitHub Actions workflow fields.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessIdentityFile {
    /// The OIDC issuer, exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The OIDC issuer, as a regular expression matching all of it.
    #[serde(default, rename = "issuerRegExp")]
    pub issuer_regexp: Option<String>,
    /// The subject (an email, URI or username SAN), exactly.
    #[serde(default)]
    pub subject: Option<String>,
    /// The subject, as a regular expression matching all of it.
    #[serde(default, rename = "subjectRegExp")]
    pub subject_regexp: Option<String>,
    /// GitHub workflow repository (`owner/repo`).
    #[serde(default)]
    pub github_workflow_repository: Option<String>,
    /// GitHub workflow ref (`refs/heads/main`, `refs/tags/v1`).
    #[serde(default)]
    pub github_workflow_ref: Option<String>,
    /// GitHub workflow commit SHA.
    #[serde(default)]
    pub github_workflow_sha: Option<String>,
    /// GitHub workflow trigger (`push`, `release`, …).
    #[serde(default)]
    pub github_workflow_trigger: Option<String>,
    /// GitHub workflow name.
    #[serde(default)]
    pub github_workflow_name: Option<String>,
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
    /// Which `docker-reference` an accepted cosign signature may name (default
    /// `matchRepository`: the image's own repository); for mirrors and copies, e.g.
    /// `{exactRepository: registry.example/app}` or `{remapIdentity: {prefix: …, signedPrefix: …}}`
    /// (see [`crate::trust::signed_identity`]).
    #[serde(default)]
    pub signed_identity: Option<crate::trust::signed_identity::SignedIdentity>,
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
    /// Signed attestations the image must have (vulnerability scans, SBOMs, provenance),
    /// each with its authorities and conditions.
    #[serde(default)]
    pub attestations: Option<Vec<super::attestations::AttestationRule>>,
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
pub(super) fn parse_age(s: &str) -> Option<u64> {
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

pub(super) fn parse_size(s: &str) -> Option<u64> {
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
