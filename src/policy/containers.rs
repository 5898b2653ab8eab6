//! containers/image's signature policy, `policy.json` (`containers-policy.json(5)`), as podman,
//! CRI-O, skopeo and buildah enforce it at pull time: parsed with containers/image's strictness
//! and looked up with its scope rules, so a team can check before deploying exactly what its
//! nodes will require of an image.
//!
//! ```json
//! {
//!   "default": [{"type": "reject"}],
//!   "transports": {
//!     "docker": {
//!       "registry.example/prod": [{"type": "sigstoreSigned", "keyPath": "/etc/pki/release.pub",
//!                                  "signedIdentity": {"type": "matchRepository"}}],
//!       "mirror.internal/vendor": [{"type": "sigstoreSigned", "keyPath": "/etc/pki/vendor.pub",
//!                                   "signedIdentity": {"type": "remapIdentity",
//!                                     "prefix": "mirror.internal/vendor",
//!                                     "signedPrefix": "registry.vendor.example"}}],
//!       "*.trusted.example": [{"type": "insecureAcceptAnything"}]
//!     },
//!     "oci": {"": [{"type": "insecureAcceptAnything"}]}
//!   }
//! }
//! ```
//!
//! # Loading ([`ContainersPolicy::from_json`])
//!
//! As containers/image does, imgseal refuses: a file without the global `default`; unknown or
//! duplicated keys anywhere; an empty requirement list; an unknown requirement or
//! `signedIdentity` type; a requirement without exactly one key source (`keyPath`, `keyPaths`,
//! `keyData`, `keyDatas`, `fulcio`, `pki` for `sigstoreSigned`; `keyPath`, `keyPaths`,
//! `keyData` for `signedBy`), with two Rekor key sources, without a Rekor key next to `fulcio`,
//! or with one next to `pki`; a `signedBy` `keyType` it does not know; an invalid
//! `exactReference`, `exactRepository` or `remapIdentity`; and an `oci` scope that is not a
//! clean absolute path other than `/`. Every message names the field by its JSON path
//! (`transports.docker["registry.example/prod"][0].keyPath`).
//!
//! imgseal also refuses `docker` scopes that cannot mean what they say, where containers/image
//! accepts any string: a host that is not in canonical form (`Registry.Example:443/app` —
//! imgseal compares hosts canonically, so the rule would select other images than podman's;
//! write `registry.example/app`), a scope with both a tag and a digest (containers/image
//! refuses such images, so the scope never applies), malformed tags, digests or repository
//! names, and wildcards other than a leading `*.` on a host without port or path. Scopes that
//! parse but can never match an image — not in the fully expanded form (`busybox`,
//! `library/busybox`, `docker.io/busybox:latest`), or an `oci` scope with a `:` — load with a
//! [`ScopeWarning`] ([`ContainersPolicy::warnings`]), as containers/image's own example
//! policy has some.
//!
//! Requirement types imgseal cannot check are parsed and validated like the others, and
//! reported where they apply ([`ScopeMatch::check_supported`]), never skipped: `signedBy` (GPG
//! "simple signing"), `signedBaseLayer`, and `sigstoreSigned.pki` with intermediates or with
//! both subjects (`fulcio` and Rekor keys are evaluated by [`super::containers_eval`]).
//! Requirements of transports other than
//! `docker` and `oci` are validated but never looked up.
//!
//! # Lookup ([`ContainersPolicy::requirements_for`])
//!
//! The most specific scope wins, and only its requirements apply (all of them). For an image
//! in a registry (`docker`): the image itself (`host[:port]/ns/repo:tag` or
//! `host[:port]/ns/repo@sha256:…`), its repository, each parent namespace, the host with its
//! port, then `*.domain` wildcards from the longest down (the port dropped:
//! `a.b.example:5000/x` tries `*.b.example`, `*.example`), then the transport default `""`,
//! then the global `default`. For an image in an OCI layout (`oci`): the layout directory's
//! absolute path with symlinks resolved, then each parent directory except `/`, then `""`,
//! then `default`; the ref name plays no part. containers/image's docker transport refuses an
//! image named by tag and digest together, and so does the lookup.
//!
//! Matching uses the canonical names imgseal gives images (`nginx` is
//! `docker.io/library/nginx:latest`; hosts lowercased, default ports dropped, Docker Hub's
//! aliases folded), which is what containers/image compares when images are named canonically.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::reference::{canonical_registry, ImageRef, Reference};
use crate::trust::signed_identity::{looks_like_host, IdentityRuleError, SignedIdentity};

/// The largest `policy.json` read (real ones are a few kilobytes).
pub(crate) const MAX_POLICY_FILE: u64 = 4 * 1024 * 1024;

/// A parsed and validated containers/image `policy.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainersPolicy {
    default: Vec<Requirement>,
    transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
    warnings: Vec<ScopeWarning>,
}

/// One policy requirement. An image is accepted only when every requirement of its scope is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// `insecureAcceptAnything`: accepts any image (no signature needed).
    InsecureAcceptAnything,
    /// `reject`: rejects every image.
    Reject,
    /// `sigstoreSigned`: a cosign (sigstore) signature by a given key, certificate or CA.
    SigstoreSigned(SigstoreSigned),
    /// `signedBy`: a GPG "simple signing" signature. Parsed, not supported by imgseal.
    SignedBy(SignedBy),
    /// `signedBaseLayer`: parsed, not supported (containers/image does not implement it either).
    SignedBaseLayer(SignedBaseLayer),
}

/// A `sigstoreSigned` requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigstoreSigned {
    /// What the signature must verify with.
    pub trust: SigstoreTrust,
    /// `rekorPublicKeyPath`/`Paths`/`Data`/`Datas`: the Rekor log keys whose signed entry
    /// timestamp the signature must carry, if any.
    pub rekor_public_keys: Option<KeySource>,
    /// `signedIdentity` (containers/image's default, `matchRepoDigestOrExact`, when absent).
    pub signed_identity: SignedIdentity,
}

/// The key source of a `sigstoreSigned` requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigstoreTrust {
    /// `keyPath`, `keyPaths`, `keyData` or `keyDatas`: public keys.
    Keys(KeySource),
    /// `fulcio`: a Fulcio-issued certificate (keyless).
    Fulcio(Fulcio),
    /// `pki`: a certificate chaining to given CA roots.
    Pki(Pki),
}

/// Keys or certificates, by path or inline, as the field that gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// One path (`keyPath`, `caPath`, …), as written (relative paths are relative to the
    /// working directory, as in containers/image).
    Path(PathBuf),
    /// Several paths (`keyPaths`, …), at least one.
    Paths(Vec<PathBuf>),
    /// One inline value (`keyData`, …), base64-decoded.
    Data(Vec<u8>),
    /// Several inline values (`keyDatas`, …), at least one, base64-decoded.
    Datas(Vec<Vec<u8>>),
}

/// `sigstoreSigned.fulcio`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fulcio {
    /// `caPath` or `caData`.
    pub ca: KeySource,
    /// `oidcIssuer`.
    pub oidc_issuer: String,
    /// `subjectEmail`.
    pub subject_email: String,
}

/// `sigstoreSigned.pki`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pki {
    /// `caRootsPath` or `caRootsData`.
    pub ca_roots: KeySource,
    /// `caIntermediatesPath` or `caIntermediatesData`, if any.
    pub ca_intermediates: Option<KeySource>,
    /// `subjectEmail`, if any (at least one of the two subjects is given).
    pub subject_email: Option<String>,
    /// `subjectHostname`, if any.
    pub subject_hostname: Option<String>,
}

/// A `signedBy` requirement (GPG simple signing; not supported by imgseal).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedBy {
    /// `keyType`: `GPGKeys`, `signedByGPGKeys`, `X509Certificates` or `signedByX509CAs`.
    pub key_type: String,
    /// `keyPath`, `keyPaths` or `keyData`.
    pub keys: KeySource,
    /// `signedIdentity` (`matchRepoDigestOrExact` when absent).
    pub signed_identity: SignedIdentity,
}

/// A `signedBaseLayer` requirement (not supported).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedBaseLayer {
    /// `baseLayerIdentity`.
    pub base_layer_identity: SignedIdentity,
}

/// Why imgseal cannot evaluate a requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// `signedBy`: GPG simple signing.
    SignedBy,
    /// `signedBaseLayer`.
    SignedBaseLayer,
    /// `sigstoreSigned.pki` with this field or combination imgseal's certificate trust does
    /// not express yet (`caIntermediatesPath`, `caIntermediatesData`, `subjectEmail and
    /// subjectHostname`).
    Pki(&'static str),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::SignedBy => f.write_str("signedBy (GPG simple signing) is not supported"),
            Unsupported::SignedBaseLayer => f.write_str("signedBaseLayer is not supported"),
            Unsupported::Pki(field) => {
                write!(f, "sigstoreSigned pki with {field} is not supported yet")
            }
        }
    }
}

impl Requirement {
    /// The requirement's `type` as policy.json writes it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SigstoreSigned(_) => "sigstoreSigned",
            Requirement::SignedBy(_) => "signedBy",
            Requirement::SignedBaseLayer(_) => "signedBaseLayer",
        }
    }

    /// Why imgseal cannot evaluate this requirement, if it cannot.
    pub fn unsupported(&self) -> Option<Unsupported> {
        match self {
            Requirement::SignedBy(_) => Some(Unsupported::SignedBy),
            Requirement::SignedBaseLayer(_) => Some(Unsupported::SignedBaseLayer),
            Requirement::SigstoreSigned(s) => {
                if let SigstoreTrust::Pki(p) = &s.trust {
                    match &p.ca_intermediates {
                        Some(KeySource::Path(_) | KeySource::Paths(_)) => {
                            return Some(Unsupported::Pki("caIntermediatesPath"))
                        }
                        Some(_) => return Some(Unsupported::Pki("caIntermediatesData")),
                        None => {}
                    }
                    if p.subject_email.is_some() && p.subject_hostname.is_some() {
                        return Some(Unsupported::Pki(
                            "subjectEmail and subjectHostname together",
                        ));
                    }
                }
                None
            }
            _ => None,
        }
    }
}

/// A `docker` or `oci` scope that loads but can never match an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeWarning {
    /// The transport (`docker`, `oci`).
    pub transport: String,
    /// The scope as written.
    pub scope: String,
    /// Why it never matches.
    pub reason: String,
}

impl fmt::Display for ScopeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transports.{}[{:?}] never matches an image: {}",
            self.transport, self.scope, self.reason
        )
    }
}

/// Which scope of a policy applied to an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A named scope of the transport (`registry.example/app`, `*.example`, `/srv/layouts`).
    Named(String),
    /// The transport's default, `""`.
    TransportDefault,
    /// The global `default`.
    GlobalDefault,
}

/// The scope that applies to an image and its requirements, all of which must be satisfied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMatch<'a> {
    /// `docker` or `oci`.
    pub transport: &'static str,
    /// The scope.
    pub scope: Scope,
    /// Its requirements (never empty).
    pub requirements: &'a [Requirement],
}

impl fmt::Display for ScopeMatch<'_> {
    /// `docker scope "registry.example/app"`, `docker scope ""`, `default`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Named(s) => write!(f, "{} scope {s:?}", self.transport),
            Scope::TransportDefault => write!(f, "{} scope \"\"", self.transport),
            Scope::GlobalDefault => f.write_str("default"),
        }
    }
}

impl ScopeMatch<'_> {
    /// `Err` naming the scope and the first requirement imgseal cannot evaluate, if any.
    pub fn check_supported(&self) -> Result<(), ContainersPolicyError> {
        for (index, r) in self.requirements.iter().enumerate() {
            if let Some(what) = r.unsupported() {
                return Err(ContainersPolicyError::Unsupported {
                    scope: self.to_string(),
                    index,
                    what,
                });
            }
        }
        Ok(())
    }
}

/// Errors from reading or applying a `policy.json`. Messages are one line and name the field
/// (by JSON path) or scope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContainersPolicyError {
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not JSON.
    #[error("policy.json is not valid JSON: {0}")]
    Json(String),
    /// A key given twice in one object (containers/image refuses these).
    #[error("policy.json has the key {0:?} twice in one object")]
    DuplicateKey(String),
    /// No global `default`.
    #[error(
        "policy.json has no \"default\": containers/image requires the global default requirements"
    )]
    MissingDefault,
    /// An unknown field (containers/image refuses unknown fields).
    #[error("{path}: unknown field {field:?}")]
    UnknownField {
        /// Where.
        path: String,
        /// The field.
        field: String,
    },
    /// A required field is missing.
    #[error("{path}: missing field {field:?}")]
    MissingField {
        /// Where.
        path: String,
        /// The field.
        field: &'static str,
    },
    /// An unknown requirement `type`.
    #[error("{path}: unknown requirement type {kind:?} (known: insecureAcceptAnything, reject, signedBy, signedBaseLayer, sigstoreSigned)")]
    UnknownRequirement {
        /// Where.
        path: String,
        /// The type as written.
        kind: String,
    },
    /// An invalid `signedIdentity` or `baseLayerIdentity`.
    #[error("{path}: {source}")]
    Identity {
        /// Where.
        path: String,
        /// What is wrong with the rule.
        source: IdentityRuleError,
    },
    /// Any other invalid value.
    #[error("{path}: {reason}")]
    Invalid {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
    /// A scope that is not valid for its transport.
    #[error("transports.{transport}[{scope:?}]: {reason}")]
    InvalidScope {
        /// The transport.
        transport: String,
        /// The scope as written.
        scope: String,
        /// Why.
        reason: String,
    },
    /// The scope that applies to an image has a requirement imgseal cannot evaluate.
    #[error("{scope}, requirement {index}: {what}")]
    Unsupported {
        /// The scope (`docker scope "registry.redhat.io"`).
        scope: String,
        /// The requirement's position in the scope's list.
        index: usize,
        /// What is not supported.
        what: Unsupported,
    },
    /// A part of the policy an imgseal policy file cannot say the same way
    /// ([`super::containers_import`]).
    #[error("{path}: cannot be imported: {reason}")]
    NotImportable {
        /// Where (JSON path).
        path: String,
        /// Why.
        reason: String,
    },
    /// The image cannot be looked up.
    #[error("{image}: {reason}")]
    Image {
        /// The image.
        image: String,
        /// Why.
        reason: String,
    },
}

type Result<T, E = ContainersPolicyError> = std::result::Result<T, E>;

impl ContainersPolicy {
    /// Read and validate a `policy.json` file (at most [`MAX_POLICY_FILE`] bytes).
    pub fn load(path: &Path) -> Result<ContainersPolicy> {
        use std::io::Read;
        let read_err = |reason: String| ContainersPolicyError::Read {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| read_err(e.to_string()))?;
        if bytes.len() as u64 > MAX_POLICY_FILE {
            return Err(read_err(format!(
                "it is larger than {MAX_POLICY_FILE} bytes"
            )));
        }
        ContainersPolicy::from_json(&bytes)
    }

    /// Parse and validate `policy.json` text. See the module docs for what is refused.
    pub fn from_json(json: &[u8]) -> Result<ContainersPolicy> {
        let value = parse_strict_json(json)?;
        let Value::Object(top) = &value else {
            return Err(ContainersPolicyError::Invalid {
                path: "policy.json".into(),
                reason: "the top level must be a JSON object".into(),
            });
        };
        check_fields(top, "policy.json", &["default", "transports"])?;
        let default = match top.get("default") {
            Some(v) => parse_requirements(v, "default")?,
            None => return Err(ContainersPolicyError::MissingDefault),
        };
        let mut transports = BTreeMap::new();
        let mut warnings = Vec::new();
        match top.get("transports") {
            None | Some(Value::Null) => {}
            Some(Value::Object(ts)) => {
                for (transport, scopes) in ts {
                    let tpath = format!("transports.{transport}");
                    let Value::Object(scopes) = scopes else {
                        return Err(invalid(&tpath, "must be an object of scopes"));
                    };
                    let mut parsed = BTreeMap::new();
                    for (scope, reqs) in scopes {
                        let spath = format!("{tpath}[{scope:?}]");
                        let key = if scope.is_empty() {
                            scope.clone()
                        } else {
                            match check_scope(transport, scope) {
                                Ok(w) => {
                                    warnings.extend(w.map(|reason| ScopeWarning {
                                        transport: transport.clone(),
                                        scope: scope.clone(),
                                        reason,
                                    }));
                                    scope.clone()
                                }
                                Err(refused) => {
                                    return Err(ContainersPolicyError::InvalidScope {
                                        transport: transport.clone(),
                                        scope: scope.clone(),
                                        reason: refused.0,
                                    })
                                }
                            }
                        };
                        parsed.insert(key, parse_requirements(reqs, &spath)?);
                    }
                    transports.insert(transport.clone(), parsed);
                }
            }
            Some(_) => return Err(invalid("transports", "must be an object of transports")),
        }
        Ok(ContainersPolicy {
            default,
            transports,
            warnings,
        })
    }

    /// The global `default` requirements.
    pub(crate) fn default_requirements(&self) -> &[Requirement] {
        &self.default
    }

    /// The scopes of a transport (`""` is its default), if the policy has the transport.
    pub fn scopes(&self, transport: &str) -> Option<&BTreeMap<String, Vec<Requirement>>> {
        self.transports.get(transport)
    }

    /// The transports the policy names (`docker`, `oci`, `dir`, …).
    pub fn transports(&self) -> impl Iterator<Item = &str> {
        self.transports.keys().map(String::as_str)
    }

    /// Scopes that loaded but can never match an image.
    pub fn warnings(&self) -> &[ScopeWarning] {
        &self.warnings
    }

    /// The scope and requirements that apply to `image`: a registry image through the `docker`
    /// transport, a layout image through `oci` (its directory resolved with
    /// [`std::fs::canonicalize`], so it must exist).
    pub fn requirements_for(&self, image: &ImageRef) -> Result<ScopeMatch<'_>> {
        match image {
            ImageRef::Registry(r) => self.requirements_for_docker(r),
            ImageRef::Layout(l) => {
                let resolved =
                    std::fs::canonicalize(&l.path).map_err(|e| ContainersPolicyError::Image {
                        image: image.to_string(),
                        reason: format!("cannot resolve the layout directory: {e}"),
                    })?;
                Ok(self.requirements_for_layout(&resolved))
            }
        }
    }

    /// The scope and requirements for an image in a registry (`docker` transport).
    pub(crate) fn requirements_for_docker(&self, image: &Reference) -> Result<ScopeMatch<'_>> {
        let candidates = docker_scopes(image).map_err(|reason| ContainersPolicyError::Image {
            image: image.to_string(),
            reason: reason.to_string(),
        })?;
        Ok(self.lookup("docker", candidates))
    }

    /// The scope and requirements for an image in the OCI layout at `resolved_dir`, an
    /// absolute path without symlinks (`oci` transport).
    pub(crate) fn requirements_for_layout(&self, resolved_dir: &Path) -> ScopeMatch<'_> {
        self.lookup("oci", layout_scopes(&resolved_dir.to_string_lossy()))
    }

    fn lookup(&self, transport: &'static str, candidates: Vec<String>) -> ScopeMatch<'_> {
        if let Some(scopes) = self.transports.get(transport) {
            for c in candidates {
                if let Some(reqs) = scopes.get(&c) {
                    return ScopeMatch {
                        transport,
                        scope: Scope::Named(c),
                        requirements: reqs,
                    };
                }
            }
            if let Some(reqs) = scopes.get("") {
                return ScopeMatch {
                    transport,
                    scope: Scope::TransportDefault,
                    requirements: reqs,
                };
            }
        }
        ScopeMatch {
            transport,
            scope: Scope::GlobalDefault,
            requirements: &self.default,
        }
    }
}

/// An image that containers/image's `docker` transport cannot look up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeLookupError {
    /// `name:tag@digest`.
    #[error("it has both a tag and a digest, which containers/image's docker transport refuses; name it by one of them")]
    TagAndDigest,
}

/// The `docker` scopes tried for an image, most specific first (the transport default and
/// the global default follow): `name:tag` or `name@digest`, the repository, each parent
/// namespace, the host, then `*.` wildcards of the host without its port.
pub(crate) fn docker_scopes(image: &Reference) -> Result<Vec<String>, ScopeLookupError> {
    let name = format!("{}/{}", image.registry(), image.repository());
    let identity = match (image.tag(), image.digest()) {
        (Some(_), Some(_)) => return Err(ScopeLookupError::TagAndDigest),
        (Some(t), None) => format!("{name}:{t}"),
        (None, Some(d)) => format!("{name}@{d}"),
        (None, None) => format!("{name}:latest"),
    };
    let mut out = vec![identity];
    let mut n = name.as_str();
    loop {
        out.push(n.to_string());
        match n.rfind('/') {
            Some(i) => n = &n[..i],
            None => break,
        }
    }
    // As containers/image: the port is cut at the first ':' (an IPv6 literal keeps only '[').
    let mut host = n.split(':').next().unwrap_or(n);
    while let Some(i) = host.find('.') {
        host = &host[i + 1..];
        out.push(format!("*.{host}"));
    }
    Ok(out)
}

/// The `oci` scopes tried for a layout directory: the directory, then its parents except `/`.
fn layout_scopes(resolved_dir: &str) -> Vec<String> {
    let mut out = vec![resolved_dir.to_string()];
    let mut path = resolved_dir;
    while let Some(i) = path.rfind('/') {
        if path == "/" {
            break;
        }
        out.push(path.to_string());
        path = &path[..i];
    }
    out
}

/// Why a scope of containers-policy.json is refused (the rule it breaks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
struct ScopeRefused(String);

impl From<String> for ScopeRefused {
    fn from(s: String) -> Self {
        ScopeRefused(s)
    }
}

impl From<&str> for ScopeRefused {
    fn from(s: &str) -> Self {
        ScopeRefused(s.to_string())
    }
}

/// Validate a non-empty scope of a transport: `Ok(Some(reason))` when it loads but never
/// matches, `Err` when it is refused.
fn check_scope(transport: &str, scope: &str) -> Result<Option<String>, ScopeRefused> {
    match transport {
        "docker" => check_docker_scope(scope),
        "oci" => check_oci_scope(scope),
        _ => Ok(None),
    }
}

fn check_docker_scope(scope: &str) -> Result<Option<String>, ScopeRefused> {
    if scope.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err("a scope contains no whitespace".into());
    }
    if let Some(domain) = scope.strip_prefix("*.") {
        if domain.contains(['*', '/', ':', '@', '[']) {
            return Err("a wildcard scope is `*.` and a domain, with no port, path, tag or further `*` (*.example.com)".into());
        }
        return match canonical_registry(domain) {
            Ok(c) if c == domain => Ok(None),
            Ok(c) => Err(
                format!("write *.{c}: imgseal compares registry hosts in canonical form").into(),
            ),
            Err(why) => Err(format!("*.{domain}: {why}").into()),
        };
    }
    if scope.contains('*') {
        return Err(
            "a wildcard is only `*.` at the start of a host (*.example.com), nothing else".into(),
        );
    }
    let (host, path) = match scope.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (scope, None),
    };
    if !looks_like_host(host) {
        return Ok(Some(format!(
            "scopes name images in the fully expanded form, starting with the registry host ({host:?} is not one: write docker.io/library/busybox, not busybox)"
        )));
    }
    let canonical = canonical_registry(host).map_err(|why| format!("registry host: {why}"))?;
    if canonical != host {
        let rest = path.map(|p| format!("/{p}")).unwrap_or_default();
        return Err(format!(
            "write {canonical}{rest}: imgseal compares registry hosts in canonical form, so this spelling would select other images than containers/image does"
        ).into());
    }
    let Some(path) = path else {
        return Ok(None);
    };
    if path.is_empty() {
        return Err("the repository path after the host is empty".into());
    }
    let r: Reference = scope.parse().map_err(|e: crate::Error| match e {
        crate::Error::InvalidReference { reason, .. } => reason,
        other => other.to_string(),
    })?;
    let explicit_tag = {
        let before_digest = scope.split('@').next().unwrap_or(scope);
        before_digest
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    };
    if explicit_tag && r.digest().is_some() {
        return Err("a scope names an image by tag or by digest, not both (containers/image refuses such images, so the scope would never apply)".into());
    }
    let written_as_parsed = if explicit_tag || r.digest().is_some() {
        r.to_string() == scope
    } else {
        format!("{}/{}", r.registry(), r.repository()) == scope
    };
    if written_as_parsed {
        return Ok(None);
    }
    if r.registry() == crate::reference::DOCKER_HUB && r.repository().starts_with("library/") {
        let expanded = scope.replacen("docker.io/", "docker.io/library/", 1);
        if explicit_tag || r.digest().is_some() {
            return Ok(Some(format!(
                "Docker Hub images are named in full ({expanded}); this scope could only name a namespace, and namespaces have no tag or digest"
            )));
        }
        // `docker.io/busybox` is a namespace (docker.io/busybox/…), which is fine.
        return Ok(None);
    }
    Err(format!("not a reference in canonical form (it reads as {r})").into())
}

fn check_oci_scope(scope: &str) -> Result<Option<String>, ScopeRefused> {
    if !scope.starts_with('/') {
        return Err("an oci scope is an absolute path".into());
    }
    if scope == "/" {
        return Err(
            "\"/\" is refused as a scope, as in containers/image: use the transport default \"\""
                .into(),
        );
    }
    let clean = scope
        .split('/')
        .skip(1)
        .all(|c| !c.is_empty() && c != "." && c != "..");
    if !clean {
        return Err(
            "the path is not in clean form (no empty, `.` or `..` components, no trailing `/`)"
                .into(),
        );
    }
    if scope.contains(':') {
        return Ok(Some(
            "oci scopes are layout directories; the ref name after ':' is not part of an image's scope".into(),
        ));
    }
    Ok(None)
}

fn invalid(path: &str, reason: &str) -> ContainersPolicyError {
    ContainersPolicyError::Invalid {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

fn check_fields(object: &Map<String, Value>, path: &str, known: &[&str]) -> Result<()> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(ContainersPolicyError::UnknownField {
            path: path.to_string(),
            field: field.clone(),
        }),
        None => Ok(()),
    }
}

fn parse_requirements(value: &Value, path: &str) -> Result<Vec<Requirement>> {
    let Value::Array(items) = value else {
        return Err(invalid(path, "must be a list of requirements"));
    };
    if items.is_empty() {
        return Err(invalid(
            path,
            "the list of requirements must not be empty (use [{\"type\": \"insecureAcceptAnything\"}] to require nothing)",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_requirement(v, &format!("{path}[{i}]")))
        .collect()
}

/// Field access on one JSON object, with errors naming `path.field`.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Fields<'a> {
    fn at(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    fn has(&self, field: &str) -> bool {
        self.object.contains_key(field)
    }

    fn string(&self, field: &'static str) -> Result<Option<&'a str>> {
        match self.object.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => {
                Err(invalid(&self.at(field), "must not be empty"))
            }
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(invalid(&self.at(field), "must be a string")),
        }
    }

    fn required_string(&self, field: &'static str) -> Result<&'a str> {
        self.string(field)?
            .ok_or_else(|| ContainersPolicyError::MissingField {
                path: self.path.to_string(),
                field,
            })
    }

    fn strings(&self, field: &'static str) -> Result<Option<Vec<&'a str>>> {
        let Some(v) = self.object.get(field) else {
            return Ok(None);
        };
        let Value::Array(items) = v else {
            return Err(invalid(&self.at(field), "must be a list of strings"));
        };
        if items.is_empty() {
            return Err(invalid(&self.at(field), "contains no entries"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() => Ok(s.as_str()),
                _ => Err(invalid(
                    &format!("{}[{i}]", self.at(field)),
                    "must be a non-empty string",
                )),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn base64(&self, field: &'static str, text: &str) -> Result<Vec<u8>> {
        // Go's base64 decoder, which containers/image uses, skips line breaks.
        let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        B64.decode(compact)
            .map_err(|e| invalid(&self.at(field), &format!("is not base64: {e}")))
    }

    /// One of the `(path, paths, data, datas)` fields, or none; `Err` when more than one.
    fn key_source(&self, names: [&'static str; 4], what: &str) -> Result<Option<KeySource>> {
        let given: Vec<&str> = names.iter().copied().filter(|n| self.has(n)).collect();
        if given.len() > 1 {
            return Err(invalid(
                self.path,
                &format!(
                    "give at most one {what} source, not {}",
                    given.join(" and ")
                ),
            ));
        }
        let [path, paths, data, datas] = names;
        Ok(if let Some(p) = self.string(path)? {
            Some(KeySource::Path(PathBuf::from(p)))
        } else if let Some(ps) = self.strings(paths)? {
            Some(KeySource::Paths(
                ps.into_iter().map(PathBuf::from).collect(),
            ))
        } else if let Some(d) = self.string(data)? {
            Some(KeySource::Data(self.base64(data, d)?))
        } else if let Some(ds) = self.strings(datas)? {
            Some(KeySource::Datas(
                ds.into_iter()
                    .map(|d| self.base64(datas, d))
                    .collect::<Result<_>>()?,
            ))
        } else {
            None
        })
    }

    fn identity(&self, field: &'static str) -> Result<Option<SignedIdentity>> {
        match self.object.get(field) {
            None => Ok(None),
            Some(v) => SignedIdentity::from_containers_json(v)
                .map(Some)
                .map_err(|source| ContainersPolicyError::Identity {
                    path: self.at(field),
                    source,
                }),
        }
    }

    fn object(&self, field: &'static str) -> Result<Option<&'a Map<String, Value>>> {
        match self.object.get(field) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(invalid(&self.at(field), "must be an object")),
        }
    }
}

fn parse_requirement(value: &Value, path: &str) -> Result<Requirement> {
    let Value::Object(object) = value else {
        return Err(invalid(
            path,
            "a requirement must be an object with a \"type\"",
        ));
    };
    let f = Fields { object, path };
    let kind = f.required_string("type")?;
    let known: &[&str] = match kind {
        "insecureAcceptAnything" | "reject" => &["type"],
        "signedBy" => &[
            "type",
            "keyType",
            "keyPath",
            "keyPaths",
            "keyData",
            "signedIdentity",
        ],
        "signedBaseLayer" => &["type", "baseLayerIdentity"],
        "sigstoreSigned" => &[
            "type",
            "keyPath",
            "keyPaths",
            "keyData",
            "keyDatas",
            "fulcio",
            "pki",
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
            "signedIdentity",
        ],
        other => {
            return Err(ContainersPolicyError::UnknownRequirement {
                path: path.to_string(),
                kind: other.to_string(),
            })
        }
    };
    check_fields(object, path, known)?;
    Ok(match kind {
        "insecureAcceptAnything" => Requirement::InsecureAcceptAnything,
        "reject" => Requirement::Reject,
        "signedBy" => {
            let key_type = f.required_string("keyType")?;
            if !matches!(
                key_type,
                "GPGKeys" | "signedByGPGKeys" | "X509Certificates" | "signedByX509CAs"
            ) {
                return Err(invalid(
                    &f.at("keyType"),
                    &format!("unknown keyType {key_type:?} (known: GPGKeys, signedByGPGKeys, X509Certificates, signedByX509CAs)"),
                ));
            }
            let keys = f
                .key_source(["keyPath", "keyPaths", "keyData", "keyDatas"], "key")?
                .ok_or_else(|| {
                    invalid(path, "give exactly one of keyPath, keyPaths and keyData")
                })?;
            Requirement::SignedBy(SignedBy {
                key_type: key_type.to_string(),
                keys,
                signed_identity: f
                    .identity("signedIdentity")?
                    .unwrap_or(SignedIdentity::MatchRepoDigestOrExact),
            })
        }
        "signedBaseLayer" => Requirement::SignedBaseLayer(SignedBaseLayer {
            base_layer_identity: f.identity("baseLayerIdentity")?.ok_or_else(|| {
                ContainersPolicyError::MissingField {
                    path: path.to_string(),
                    field: "baseLayerIdentity",
                }
            })?,
        }),
        _ => parse_sigstore_signed(&f)?,
    })
}

fn parse_sigstore_signed(f: &Fields<'_>) -> Result<Requirement> {
    let sources: Vec<&str> = [
        "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki",
    ]
    .into_iter()
    .filter(|n| f.has(n))
    .collect();
    if sources.len() != 1 {
        return Err(invalid(
            f.path,
            &format!(
                "give exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki ({})",
                if sources.is_empty() {
                    "none given".to_string()
                } else {
                    format!("{} given", sources.join(", "))
                }
            ),
        ));
    }
    let rekor = f.key_source(
        [
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
        ],
        "Rekor public key",
    )?;
    let trust = if let Some(keys) =
        f.key_source(["keyPath", "keyPaths", "keyData", "keyDatas"], "key")?
    {
        SigstoreTrust::Keys(keys)
    } else if let Some(o) = f.object("fulcio")? {
        let path = f.at("fulcio");
        let o = Fields {
            object: o,
            path: &path,
        };
        check_fields(
            o.object,
            &path,
            &["caPath", "caData", "oidcIssuer", "subjectEmail"],
        )?;
        if rekor.is_none() {
            return Err(invalid(
                f.path,
                "fulcio needs a Rekor public key (rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData or rekorPublicKeyDatas)",
            ));
        }
        SigstoreTrust::Fulcio(Fulcio {
            ca: one_of(&o, "caPath", "caData")?,
            oidc_issuer: o.required_string("oidcIssuer")?.to_string(),
            subject_email: o.required_string("subjectEmail")?.to_string(),
        })
    } else if let Some(o) = f.object("pki")? {
        let path = f.at("pki");
        let o = Fields {
            object: o,
            path: &path,
        };
        check_fields(
            o.object,
            &path,
            &[
                "caRootsPath",
                "caRootsData",
                "caIntermediatesPath",
                "caIntermediatesData",
                "subjectEmail",
                "subjectHostname",
            ],
        )?;
        if rekor.is_some() {
            return Err(invalid(
                f.path,
                "Rekor public keys are not supported with pki (as in containers/image)",
            ));
        }
        let ca_intermediates = if o.has("caIntermediatesPath") || o.has("caIntermediatesData") {
            Some(one_of(&o, "caIntermediatesPath", "caIntermediatesData")?)
        } else {
            None
        };
        let subject_email = o.string("subjectEmail")?.map(str::to_string);
        let subject_hostname = o.string("subjectHostname")?.map(str::to_string);
        if subject_email.is_none() && subject_hostname.is_none() {
            return Err(invalid(
                &path,
                "give at least one of subjectEmail and subjectHostname",
            ));
        }
        SigstoreTrust::Pki(Pki {
            ca_roots: one_of(&o, "caRootsPath", "caRootsData")?,
            ca_intermediates,
            subject_email,
            subject_hostname,
        })
    } else {
        return Err(invalid(f.path, "no key source"));
    };
    Ok(Requirement::SigstoreSigned(SigstoreSigned {
        trust,
        rekor_public_keys: rekor,
        signed_identity: f
            .identity("signedIdentity")?
            .unwrap_or(SignedIdentity::MatchRepoDigestOrExact),
    }))
}

/// Exactly one of a path field and a data field.
fn one_of(f: &Fields<'_>, path: &'static str, data: &'static str) -> Result<KeySource> {
    match (f.string(path)?, f.string(data)?) {
        (Some(_), Some(_)) => Err(invalid(
            f.path,
            &format!("{path} and {data} cannot be used together"),
        )),
        (Some(p), None) => Ok(KeySource::Path(PathBuf::from(p))),
        (None, Some(d)) => Ok(KeySource::Data(f.base64(data, d)?)),
        (None, None) => Err(invalid(f.path, &format!("give one of {path} and {data}"))),
    }
}

// ---- duplicate-refusing JSON (crate::util::json) ----

fn parse_strict_json(bytes: &[u8]) -> Result<Value> {
    use crate::util::json::{parse_strict, StrictJsonError};
    parse_strict(bytes).map_err(|e| match e {
        StrictJsonError::Duplicate(key) => ContainersPolicyError::DuplicateKey(key),
        StrictJsonError::Invalid(reason) => ContainersPolicyError::Json(reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn policy(json: &str) -> ContainersPolicy {
        ContainersPolicy::from_json(json.as_bytes()).unwrap()
    }

    fn refused(json: &str) -> String {
        ContainersPolicy::from_json(json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn scope_of(p: &ContainersPolicy, image: &str) -> String {
        p.requirements_for_docker(&image.parse().unwrap())
            .unwrap()
            .to_string()
    }

    /// A policy with the shape of containers/image's `signature/fixtures/policy.json`
    /// (written for these tests, not copied): an unknown transport, signedBy of every key
    /// type, signedBaseLayer, a mirror remap, wildcards at several depths, and scopes that are
    /// not fully expanded.
    const FIXTURE_LIKE: &str = r#"{
        "default": [{"type": "reject"}],
        "transports": {
            "dir": {"": [{"type": "insecureAcceptAnything"}]},
            "registry": {
                "example.com/playground": [{"type": "insecureAcceptAnything"}],
                "example.com/production": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/a"}]
            },
            "docker": {
                "example.com/hardened": [
                    {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/keys/a",
                     "signedIdentity": {"type": "matchRepository"}},
                    {"type": "signedBy", "keyType": "signedByGPGKeys", "keyPaths": ["/keys/b", "/keys/c"],
                     "signedIdentity": {"type": "matchExact"}},
                    {"type": "signedBaseLayer",
                     "baseLayerIdentity": {"type": "exactRepository", "dockerRepository": "registry.example/base/os"}}
                ],
                "example.com/hardened-x509": [
                    {"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/keys/d"},
                    {"type": "signedBy", "keyType": "signedByX509CAs", "keyData": "bm9uc2Vuc2U="}
                ],
                "registry.access.example.com": [
                    {"type": "sigstoreSigned", "keyPath": "/keys/cosign.pub",
                     "signedIdentity": {"type": "matchRepoDigestOrExact"}}
                ],
                "private-mirror:5000/vendor-mirror": [
                    {"type": "sigstoreSigned", "keyPath": "/keys/vendor.pub",
                     "signedIdentity": {"type": "remapIdentity",
                        "prefix": "private-mirror:5000/vendor-mirror", "signedPrefix": "vendor.example.com"}}
                ],
                "*.access.example.com": [{"type": "insecureAcceptAnything"}],
                "*.example.com": [{"type": "reject"}],
                "*.com": [{"type": "sigstoreSigned", "keyDatas": ["bm9uc2Vuc2U=", "b3RoZXI="]}],
                "bogus/key-data-example": [{"type": "reject"}],
                "bogus/signed-identity-example": [
                    {"type": "signedBaseLayer",
                     "baseLayerIdentity": {"type": "exactReference", "dockerReference": "registry.example/base/os:latest"}}
                ]
            }
        }
    }"#;

    #[test]
    fn a_policy_shaped_like_containers_images_fixture_loads() {
        let p = policy(FIXTURE_LIKE);
        assert_eq!(p.default_requirements(), &[Requirement::Reject]);
        assert_eq!(p.scopes("registry").map(|s| s.len()), Some(2));
        let hardened = &p.scopes("docker").unwrap()["example.com/hardened"];
        assert_eq!(
            hardened.iter().map(|r| r.type_name()).collect::<Vec<_>>(),
            ["signedBy", "signedBy", "signedBaseLayer"]
        );
        let Requirement::SignedBy(s) = &hardened[1] else {
            panic!()
        };
        assert_eq!(s.key_type, "signedByGPGKeys");
        assert_eq!(
            s.keys,
            KeySource::Paths(vec!["/keys/b".into(), "/keys/c".into()])
        );
        assert_eq!(s.signed_identity, SignedIdentity::MatchExact);
        let x509 = &p.scopes("docker").unwrap()["example.com/hardened-x509"];
        let Requirement::SignedBy(s) = &x509[0] else {
            panic!()
        };
        assert_eq!(s.signed_identity, SignedIdentity::MatchRepoDigestOrExact);
        let Requirement::SignedBy(s) = &x509[1] else {
            panic!()
        };
        assert_eq!(s.keys, KeySource::Data(b"nonsense".to_vec()));
        let warned: Vec<&str> = p.warnings().iter().map(|w| w.scope.as_str()).collect();
        assert_eq!(
            warned,
            ["bogus/key-data-example", "bogus/signed-identity-example"]
        );
        assert!(p.warnings()[0].to_string().contains("fully expanded"));
    }

    #[test]
    fn lookup_goes_from_the_image_to_the_default() {
        let p = policy(FIXTURE_LIKE);
        for (image, scope) in [
            (
                "example.com/hardened:1",
                "docker scope \"example.com/hardened\"",
            ),
            (
                "example.com/hardened/sub:1",
                "docker scope \"example.com/hardened\"",
            ),
            ("example.com/hardenedx:1", "docker scope \"*.com\""),
            (
                "registry.access.example.com/rhel:7",
                "docker scope \"registry.access.example.com\"",
            ),
            (
                "cdn.registry.access.example.com/rhel:7",
                "docker scope \"*.access.example.com\"",
            ),
            (
                "a.b.access.example.com/x",
                "docker scope \"*.access.example.com\"",
            ),
            ("registry.example.com/x", "docker scope \"*.example.com\""),
            ("example.com/x", "docker scope \"*.com\""),
            (
                "private-mirror:5000/vendor-mirror/product/image:1",
                "docker scope \"private-mirror:5000/vendor-mirror\"",
            ),
            (
                "private-mirror:5001/vendor-mirror/product/image:1",
                "default",
            ),
            ("registry.example.org/x", "default"),
            ("nginx", "default"),
        ] {
            assert_eq!(scope_of(&p, image), scope, "{image}");
        }
        let m = p
            .requirements_for_docker(
                &"private-mirror:5000/vendor-mirror/product/image:1"
                    .parse()
                    .unwrap(),
            )
            .unwrap();
        let Requirement::SigstoreSigned(s) = &m.requirements[0] else {
            panic!()
        };
        assert_eq!(s.signed_identity.name(), "remapIdentity");
        assert!(s
            .signed_identity
            .matches(
                Some(
                    &"private-mirror:5000/vendor-mirror/product/image:1"
                        .parse()
                        .unwrap()
                ),
                "vendor.example.com/product/image:1"
            )
            .is_ok());
    }

    #[test]
    fn the_most_specific_scope_wins() {
        let p = policy(&format!(
            r#"{{"default": [{{"type": "reject"}}],
                "transports": {{"docker": {{
                    "": [{{"type": "insecureAcceptAnything"}}],
                    "registry.example": [{{"type": "reject"}}],
                    "registry.example/ns": [{{"type": "reject"}}],
                    "registry.example/ns/app": [{{"type": "reject"}}],
                    "registry.example/ns/app:v1": [{{"type": "reject"}}],
                    "registry.example/ns/app@{D}": [{{"type": "reject"}}],
                    "docker.io/library/busybox": [{{"type": "reject"}}],
                    "docker.io/library": [{{"type": "reject"}}],
                    "localhost:5000": [{{"type": "reject"}}],
                    "*.example": [{{"type": "reject"}}]
                }}}}}}"#
        ));
        for (image, scope) in [
            ("registry.example/ns/app:v1", "registry.example/ns/app:v1"),
            (
                &format!("registry.example/ns/app@{D}"),
                &format!("registry.example/ns/app@{D}"),
            ),
            ("registry.example/ns/app:v2", "registry.example/ns/app"),
            ("registry.example/ns/app", "registry.example/ns/app"),
            ("registry.example/ns/other:v1", "registry.example/ns"),
            ("registry.example/ns2/app:v1", "registry.example"),
            (
                "Registry.Example:443/ns/app:v1",
                "registry.example/ns/app:v1",
            ),
            ("busybox", "docker.io/library/busybox"),
            (
                "index.docker.io/library/busybox:1",
                "docker.io/library/busybox",
            ),
            ("alpine", "docker.io/library"),
            ("localhost:5000/app", "localhost:5000"),
            ("mirror.registry.example/x", "*.example"),
        ] {
            assert_eq!(
                scope_of(&p, image),
                format!("docker scope {scope:?}"),
                "{image}"
            );
        }
        assert_eq!(scope_of(&p, "someuser/app"), "docker scope \"\"");
        // Another port is another host; wildcards drop the port, as in containers/image.
        assert_eq!(
            scope_of(&p, "registry.example:5000/ns/app"),
            "docker scope \"*.example\""
        );
        let both = format!("registry.example/ns/app:v1@{D}");
        let e = p
            .requirements_for_docker(&both.parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("both a tag and a digest"), "{e}");
    }

    #[test]
    fn docker_scope_candidates_follow_containers_image() {
        let s = docker_scopes(&"a.b.example.com:8443/ns/repo:tag".parse().unwrap()).unwrap();
        assert_eq!(
            s,
            [
                "a.b.example.com:8443/ns/repo:tag",
                "a.b.example.com:8443/ns/repo",
                "a.b.example.com:8443/ns",
                "a.b.example.com:8443",
                "*.b.example.com",
                "*.example.com",
                "*.com",
            ]
        );
        let s = docker_scopes(&"[::1]:5000/app".parse().unwrap()).unwrap();
        assert_eq!(s, ["[::1]:5000/app:latest", "[::1]:5000/app", "[::1]:5000"]);
    }

    #[test]
    fn oci_layouts_are_looked_up_by_directory() {
        let p = policy(
            r#"{"default": [{"type": "reject"}],
                "transports": {"oci": {
                    "/srv/layouts": [{"type": "insecureAcceptAnything"}],
                    "/srv/layouts/app": [{"type": "sigstoreSigned", "keyPath": "/k.pub",
                        "signedIdentity": {"type": "exactRepository", "dockerRepository": "registry.example/app"}}],
                    "/srv/layouts/app:v1": [{"type": "reject"}]
                }}}"#,
        );
        let at = |d: &str| p.requirements_for_layout(Path::new(d)).to_string();
        assert_eq!(at("/srv/layouts/app"), "oci scope \"/srv/layouts/app\"");
        assert_eq!(at("/srv/layouts/other"), "oci scope \"/srv/layouts\"");
        assert_eq!(
            at("/srv/layouts/app/nested"),
            "oci scope \"/srv/layouts/app\""
        );
        assert_eq!(at("/srv/layoutsx"), "default");
        assert_eq!(at("/elsewhere"), "default");
        assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
        // Through an ImageRef, the directory is resolved; the ref name plays no part.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("layout");
        std::fs::create_dir(&real).unwrap();
        let resolved = std::fs::canonicalize(&real).unwrap();
        let p = policy(&format!(
            r#"{{"default": [{{"type": "reject"}}],
                "transports": {{"oci": {{"{}": [{{"type": "insecureAcceptAnything"}}]}}}}}}"#,
            resolved.display()
        ));
        let image = ImageRef::parse(&format!("oci:{}:v1", real.display())).unwrap();
        let m = p.requirements_for(&image).unwrap();
        assert_eq!(m.requirements, &[Requirement::InsecureAcceptAnything]);
        let missing = ImageRef::parse(&format!("oci:{}/nope", dir.path().display())).unwrap();
        assert!(p.requirements_for(&missing).is_err());
    }

    #[test]
    fn sigstore_signed_in_all_its_forms() {
        let p = policy(
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {
                "a.example/key": [{"type": "sigstoreSigned", "keyPath": "/k.pub"}],
                "a.example/keys": [{"type": "sigstoreSigned", "keyPaths": ["/k1.pub", "/k2.pub"],
                    "signedIdentity": {"type": "matchRepository"}}],
                "a.example/data": [{"type": "sigstoreSigned", "keyData": "a2V5\nZGF0YQ=="}],
                "a.example/pki": [{"type": "sigstoreSigned", "pki": {
                    "caRootsPath": "/roots.pem", "caIntermediatesData": "aW50", "subjectEmail": "a@example.com"}}],
                "a.example/fulcio": [{"type": "sigstoreSigned",
                    "fulcio": {"caPath": "/fulcio.pem", "oidcIssuer": "https://issuer.example", "subjectEmail": "a@example.com"},
                    "rekorPublicKeyPath": "/rekor.pub"}],
                "a.example/key-rekor": [{"type": "sigstoreSigned", "keyPath": "/k.pub",
                    "rekorPublicKeyDatas": ["cmVrb3I="]}]
            }}}"#,
        );
        let req = |s: &str| {
            let m = p.requirements_for_docker(&s.parse().unwrap()).unwrap();
            (m.to_string(), m.requirements.to_vec(), m.check_supported())
        };
        let (_, r, ok) = req("a.example/key:1");
        assert!(ok.is_ok());
        let Requirement::SigstoreSigned(s) = &r[0] else {
            panic!()
        };
        assert_eq!(
            s.trust,
            SigstoreTrust::Keys(KeySource::Path("/k.pub".into()))
        );
        assert_eq!(s.signed_identity, SignedIdentity::MatchRepoDigestOrExact);
        let (_, r, _) = req("a.example/data:1");
        let Requirement::SigstoreSigned(s) = &r[0] else {
            panic!()
        };
        assert_eq!(
            s.trust,
            SigstoreTrust::Keys(KeySource::Data(b"keydata".to_vec()))
        );
        let (scope, r, ok) = req("a.example/pki:1");
        // Policy-supplied intermediates are parsed, and reported where they apply.
        assert_eq!(
            ok.unwrap_err().to_string(),
            format!("{scope}, requirement 0: sigstoreSigned pki with caIntermediatesData is not supported yet")
        );
        let Requirement::SigstoreSigned(SigstoreSigned {
            trust: SigstoreTrust::Pki(pki),
            ..
        }) = &r[0]
        else {
            panic!()
        };
        assert_eq!(pki.ca_intermediates, Some(KeySource::Data(b"int".to_vec())));
        assert_eq!(pki.subject_hostname, None);
        // Keyless (fulcio) and Rekor keys are evaluated (policy::containers_eval).
        for image in ["a.example/fulcio:1", "a.example/key-rekor:1"] {
            let (_, r, ok) = req(image);
            assert!(ok.is_ok(), "{image}");
            let Requirement::SigstoreSigned(s) = &r[0] else {
                panic!()
            };
            assert!(
                s.rekor_public_keys.is_some(),
                "{image}: the Rekor keys are kept"
            );
        }
    }

    #[test]
    fn signed_by_is_reported_naming_the_scope() {
        let p = policy(FIXTURE_LIKE);
        let m = p
            .requirements_for_docker(&"example.com/hardened:1".parse().unwrap())
            .unwrap();
        assert_eq!(
            m.check_supported().unwrap_err().to_string(),
            "docker scope \"example.com/hardened\", requirement 0: signedBy (GPG simple signing) is not supported"
        );
        let m = p
            .requirements_for_docker(&"nginx".parse().unwrap())
            .unwrap();
        assert!(m.check_supported().is_ok());
    }

    #[test]
    fn bad_policies_are_refused_naming_the_field() {
        let wrap = |reqs: &str| {
            format!(
                r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"a.example/app": {reqs}}}}}}}"#
            )
        };
        let at = "transports.docker[\"a.example/app\"]";
        for (json, says) in [
            ("{}".to_string(), "policy.json has no \"default\"".to_string()),
            (r#"{"transports": {}}"#.into(), "no \"default\"".into()),
            (r#"{"default": []}"#.into(), "default: the list of requirements must not be empty".into()),
            (r#"{"default": [{"type": "reject"}], "extra": 1}"#.into(), "policy.json: unknown field \"extra\"".into()),
            (r#"{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}"#.into(), "the key \"default\" twice".into()),
            (r#"{"default": [{"type": "reject"}, ]}"#.into(), "not valid JSON".into()),
            (r#"{"default": [{"type": "reject", "keyPath": "/k"}]}"#.into(), "default[0]: unknown field \"keyPath\"".into()),
            (r#"{"default": [{"type": "acceptEverything"}]}"#.into(), "default[0]: unknown requirement type \"acceptEverything\"".into()),
            (r#"{"default": [{}]}"#.into(), "default[0]: missing field \"type\"".into()),
            (wrap(r#"[{"type": "sigstoreSigned"}]"#), format!("{at}[0]: give exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki (none given)")),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": "/a", "keyData": "YQ=="}]"#), "(keyPath, keyData given)".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPaths": []}]"#), format!("{at}[0].keyPaths: contains no entries")),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": ""}]"#), format!("{at}[0].keyPath: must not be empty")),
            (wrap(r#"[{"type": "sigstoreSigned", "keyData": "!!"}]"#), format!("{at}[0].keyData: is not base64")),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": "/a", "rekorPublicKeyPath": "/r", "rekorPublicKeyData": "YQ=="}]"#), "at most one Rekor public key source".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "oidcIssuer": "i", "subjectEmail": "e"}}]"#), "fulcio needs a Rekor public key".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "caData": "YQ==", "oidcIssuer": "i", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}]"#), "caPath and caData cannot be used together".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}]"#), format!("{at}[0].fulcio: missing field \"oidcIssuer\"")),
            (wrap(r#"[{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "oidcIssuer": "i", "subjectEmail": "e", "x": 1}, "rekorPublicKeyPath": "/r"}]"#), format!("{at}[0].fulcio: unknown field \"x\"")),
            (wrap(r#"[{"type": "sigstoreSigned", "pki": {"caRootsPath": "/c"}}]"#), "give at least one of subjectEmail and subjectHostname".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "pki": {"caRootsPath": "/c", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}]"#), "not supported with pki".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "remapIdentity", "prefix": "busybox", "signedPrefix": "b.example"}}]"#), format!("{at}[0].signedIdentity: prefix \"busybox\" is not valid")),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "remapIdentity", "prefix": "a.example"}}]"#), "signedIdentity: remapIdentity needs the field \"signedPrefix\"".into()),
            (wrap(r#"[{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "matchAnything"}}]"#), "unknown signedIdentity type \"matchAnything\"".into()),
            (wrap(r#"[{"type": "signedBy", "keyPath": "/a"}]"#), format!("{at}[0]: missing field \"keyType\"")),
            (wrap(r#"[{"type": "signedBy", "keyType": "PGP", "keyPath": "/a"}]"#), "unknown keyType \"PGP\"".into()),
            (wrap(r#"[{"type": "signedBy", "keyType": "GPGKeys", "keyDatas": ["YQ=="]}]"#), "unknown field \"keyDatas\"".into()),
            (wrap(r#"[{"type": "signedBy", "keyType": "GPGKeys"}]"#), "give exactly one of keyPath, keyPaths and keyData".into()),
            (wrap(r#"[{"type": "signedBaseLayer"}]"#), "missing field \"baseLayerIdentity\"".into()),
            (wrap("[]"), format!("{at}: the list of requirements must not be empty")),
            (wrap("{}"), format!("{at}: must be a list of requirements")),
        ] {
            let e = refused(&json);
            assert!(e.contains(&says), "{json}\n  gave: {e}\n  want: {says}");
        }
    }

    #[test]
    fn bad_scopes_are_refused_and_dead_ones_warned() {
        let with = |transport: &str, scope: &str| {
            format!(
                r#"{{"default": [{{"type": "reject"}}], "transports": {{"{transport}": {{"{scope}": [{{"type": "reject"}}]}}}}}}"#
            )
        };
        for (transport, scope, says) in [
            (
                "docker",
                "Registry.Example/app",
                "write registry.example/app",
            ),
            (
                "docker",
                "registry.example:443/app",
                "write registry.example/app",
            ),
            (
                "docker",
                "index.docker.io/library/busybox",
                "write docker.io/library/busybox",
            ),
            (
                "docker",
                &format!("registry.example/app:v1@{D}"),
                "not both",
            ),
            ("docker", "registry.example/app:-bad", "tag"),
            ("docker", "registry.example/app@sha256:123", "sha256"),
            ("docker", "registry.example/App", "lowercase"),
            ("docker", "registry.example/", "empty"),
            ("docker", "*.example.com:5000", "wildcard scope"),
            ("docker", "*.example.com/ns", "wildcard scope"),
            ("docker", "example*.*.com", "only `*.`"),
            ("docker", "*.Example.com", "write *.example.com"),
            ("oci", "relative/dir", "absolute path"),
            ("oci", "/", "use the transport default"),
            ("oci", "/srv/layouts/", "clean form"),
            ("oci", "/srv/../etc", "clean form"),
            ("oci", "/srv//x", "clean form"),
        ] {
            let e = refused(&with(transport, scope));
            assert!(
                e.starts_with(&format!("transports.{transport}[")),
                "{scope}: {e}"
            );
            assert!(e.contains(says), "{scope}: {e}");
        }
        for (transport, scope) in [
            ("docker", "busybox"),
            ("docker", "library/busybox:latest"),
            ("docker", "docker.io/busybox:latest"),
            ("oci", "/srv/layouts:v1"),
        ] {
            let p = policy(&with(transport, scope));
            assert_eq!(p.warnings().len(), 1, "{scope}");
        }
        for (transport, scope) in [
            ("docker", "docker.io/bitnami"),
            ("docker", "docker.io"),
            ("docker", "[::1]:5000/app"),
            ("docker", "*.example.com"),
            ("docker", &format!("docker.io/library/busybox@{D}")),
            (
                "containers-storage",
                "[overlay@/var/lib/containers/storage]docker.io/library/busybox",
            ),
        ] {
            let p = policy(&with(transport, scope));
            assert!(p.warnings().is_empty(), "{scope}: {:?}", p.warnings());
        }
    }

    #[test]
    fn real_fixture_references_find_their_scopes() {
        // docker-references signed in containers/image's cosign fixtures
        // (../shared/interop/cosign/containers-image/), served from a mirror.
        let p = policy(
            r#"{"default": [{"type": "reject"}], "transports": {"docker": {
                "mirror.internal/cosign-signed": [{"type": "sigstoreSigned", "keyPath": "/cosign.pub",
                    "signedIdentity": {"type": "exactRepository", "dockerRepository": "192.168.64.2:5000/cosign-signed/key-1"}}],
                "192.168.64.2:5000": [{"type": "sigstoreSigned", "keyPath": "/cosign.pub",
                    "signedIdentity": {"type": "matchRepository"}}]
            }}}"#,
        );
        let m = p
            .requirements_for_docker(
                &"192.168.64.2:5000/cosign-signed-single-sample:latest"
                    .parse()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(m.to_string(), "docker scope \"192.168.64.2:5000\"");
        let m = p
            .requirements_for_docker(&"mirror.internal/cosign-signed/key-1:v1".parse().unwrap())
            .unwrap();
        let Requirement::SigstoreSigned(s) = &m.requirements[0] else {
            panic!()
        };
        assert!(s
            .signed_identity
            .matches(None, "192.168.64.2:5000/cosign-signed/key-1")
            .is_ok());
    }

    #[test]
    fn load_reads_files_and_caps_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(
            &path,
            r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        let p = ContainersPolicy::load(&path).unwrap();
        assert_eq!(
            p.default_requirements(),
            &[Requirement::InsecureAcceptAnything]
        );
        std::fs::write(&path, vec![b' '; MAX_POLICY_FILE as usize + 1]).unwrap();
        assert!(ContainersPolicy::load(&path)
            .unwrap_err()
            .to_string()
            .contains("larger"));
        assert!(ContainersPolicy::load(&dir.path().join("missing")).is_err());
    }
}
