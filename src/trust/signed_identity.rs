//! Identity rules: which `docker-reference` a signature payload may name for a given image.
//!
//! A cosign or simple-signing payload carries `critical.identity.docker-reference`, the image
//! name the signer meant. Checking it stops a signature made for one repository (say
//! `registry.example/staging/app`) from being accepted for the same bytes published under
//! another (`registry.example/prod/app`). The rules are containers/image's `signedIdentity`
//! vocabulary (podman, CRI-O, skopeo; `containers-policy.json(5)`), with its semantics, plus two
//! imgseal additions:
//!
//! | rule | accepts a signature naming … |
//! |------|------------------------------|
//! | [`MatchRepository`](SignedIdentity::MatchRepository) (imgseal's default) | the image's repository, any tag or digest, or none |
//! | [`MatchRepoDigestOrExact`](SignedIdentity::MatchRepoDigestOrExact) (containers/image's default) | exactly the image's `repo:tag` when the image is named by tag; any tag or digest of its repository when named by digest |
//! | [`MatchExact`](SignedIdentity::MatchExact) | exactly the image's reference |
//! | [`ExactReference`](SignedIdentity::ExactReference) | exactly one given reference, whatever the image |
//! | [`ExactRepository`](SignedIdentity::ExactRepository) | one given repository, whatever the image |
//! | [`RemapIdentity`](SignedIdentity::RemapIdentity) | the image's reference with a mirror prefix replaced by the upstream one, then as `matchRepoDigestOrExact` |
//! | [`RemapRepository`](SignedIdentity::RemapRepository) (imgseal) | the same remapping, then as `matchRepository` |
//! | [`Ignore`](SignedIdentity::Ignore) (imgseal; cosign's behaviour) | anything |
//!
//! Details that follow containers/image exactly (its `signature/policy_reference_match.go`):
//!
//! * a payload naming a repository without tag or digest (what `cosign sign` writes, and
//!   imgseal too) is accepted only by the repository rules (`matchRepository`,
//!   `exactRepository`, `remapRepository`) and `ignore`;
//! * an image named by tag and digest at once matches `matchExact`/`matchRepoDigestOrExact`
//!   only when the payload names the same tag *and* digest;
//! * a remap prefix matches the image's `registry/repository` as a whole or up to a `/`:
//!   `mirror.internal/app` maps `mirror.internal/app` and `mirror.internal/app/x`, never
//!   `mirror.internal/app-evil`; a host prefix must equal the host, port included
//!   (`mirror.internal` does not map `mirror.internal:5000/app`). Tags and digests are not part
//!   of the name, so they never take part in prefix matching, and a prefix cannot carry one.
//!   An image outside the prefix is compared unchanged. A remapping whose result is not a
//!   reference in canonical form (`vendor.example:5000` + `:tag`, or a Docker Hub name without
//!   `library/`) matches nothing;
//! * `prefix` and `signedPrefix` may each be a host (`host[:port]`), a namespace or a
//!   repository, independently (containers/image's own example maps
//!   `private-mirror:5000/vendor-mirror` to `vendor.example.com`).
//!
//! Where imgseal differs, always towards one meaning per name: registry hosts are compared in
//! the project's canonical form ([`canonical_registry`]: case, default ports, Docker Hub's
//! aliases), for images, payloads and rule values alike; a `prefix` or `signedPrefix` must start
//! with a registry host (containers/image accepts `busybox`, which can never match), and is
//! stored canonically.
//!
//! Rules are written two ways: containers/image's JSON shape (`{"type": "remapIdentity",
//! "prefix": …, "signedPrefix": …}`, [`SignedIdentity::from_containers_json`],
//! [`SignedIdentity::to_containers_json`], or `#[serde(with = "containers_json")]`) and the
//! YAML-friendly shape of imgseal's policy file, which is this type's own serde form:
//!
//! ```yaml
//! signedIdentity: matchRepository        # or matchRepoDigestOrExact, matchExact, ignore
//! signedIdentity: { exactRepository: registry.example/app }
//! signedIdentity: { exactReference: registry.example/app:1.0 }
//! signedIdentity: { remapIdentity: { prefix: mirror.internal/vendor, signedPrefix: registry.vendor.example } }
//! signedIdentity: { remapRepository: { prefix: mirror.internal/vendor, signedPrefix: registry.vendor.example } }
//! ```

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::reference::{canonical_registry, ImageRef, Reference};

/// A rule for the `docker-reference` a signature payload may name. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignedIdentity {
    /// The payload names the image's repository (tag and digest ignored, or absent).
    /// imgseal's default.
    #[default]
    MatchRepository,
    /// The payload names exactly the image's reference when the image is named by tag; when it
    /// is named by digest only, any tag or digest of the image's repository. The payload must
    /// carry a tag or digest. containers/image's default.
    MatchRepoDigestOrExact,
    /// The payload names exactly the image's reference (tag and/or digest included).
    MatchExact,
    /// The payload names exactly this reference (which has a tag or digest), whatever the image.
    ExactReference(ExactReference),
    /// The payload names this repository (tag and digest ignored), whatever the image.
    ExactRepository(ExactRepository),
    /// The image's reference, with `prefix` replaced by `signed_prefix` when it starts with it,
    /// compared as [`MatchRepoDigestOrExact`](Self::MatchRepoDigestOrExact) (containers/image's
    /// `remapIdentity`). Payloads naming a repository alone (cosign's) never match it.
    RemapIdentity(Remap),
    /// The same remapping compared as [`MatchRepository`](Self::MatchRepository): for mirrors of
    /// images signed by cosign or imgseal, whose payloads name only a repository. An imgseal
    /// addition; containers/image has no equivalent.
    RemapRepository(Remap),
    /// Any `docker-reference` is accepted: cosign's, Kyverno's and Ratify's behaviour.
    ///
    /// **Risk**: the signature still has to cover the image's digest, but nothing binds it to
    /// a name any more, so a signature made for one repository is accepted for every other
    /// repository holding the same bytes: an image signed for `staging/app` passes as
    /// `prod/app`, an image signed by a vendor for one product passes under any name a
    /// mirror gives it. Prefer [`ExactRepository`](Self::ExactRepository) or a remap.
    Ignore,
}

/// The value of an [`SignedIdentity::ExactReference`] rule: a reference with a tag or digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactReference(Reference);

impl ExactReference {
    /// Parse a reference that carries a tag or digest (short names are expanded:
    /// `busybox:1` is `docker.io/library/busybox:1`).
    pub fn new(docker_reference: &str) -> Result<Self, IdentityRuleError> {
        let invalid = |reason: String| IdentityRuleError::Invalid {
            field: "dockerReference",
            value: docker_reference.to_string(),
            reason,
        };
        let (r, name_only) =
            parse_docker_reference(docker_reference).map_err(|e| invalid(e.to_string()))?;
        if name_only {
            return Err(invalid("it has neither a tag nor a digest".into()));
        }
        Ok(ExactReference(r))
    }

    /// The reference.
    pub fn reference(&self) -> &Reference {
        &self.0
    }
}

/// The value of an [`SignedIdentity::ExactRepository`] rule: a repository, stored as its
/// canonical `registry/repository`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactRepository(String);

impl ExactRepository {
    /// Parse a repository (short names are expanded; a tag or digest is accepted and ignored,
    /// as in containers/image).
    pub fn new(docker_repository: &str) -> Result<Self, IdentityRuleError> {
        let (r, _) =
            parse_docker_reference(docker_repository).map_err(|e| IdentityRuleError::Invalid {
                field: "dockerRepository",
                value: docker_repository.to_string(),
                reason: e.to_string(),
            })?;
        Ok(ExactRepository(repository_of(&r)))
    }

    /// The canonical `registry/repository`.
    pub fn repository(&self) -> &str {
        &self.0
    }
}

/// The prefixes of a [`SignedIdentity::RemapIdentity`] or [`SignedIdentity::RemapRepository`]
/// rule, each a registry host, namespace or repository in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remap {
    prefix: String,
    signed_prefix: String,
}

impl Remap {
    /// Validate both prefixes: each starts with a registry host (`host[:port]`), has an
    /// optional path of valid lowercase components, and no tag or digest. The error names the
    /// field (`prefix` or `signedPrefix`).
    pub fn new(prefix: &str, signed_prefix: &str) -> Result<Self, IdentityRuleError> {
        Ok(Remap {
            prefix: canonical_prefix("prefix", prefix)?,
            signed_prefix: canonical_prefix("signedPrefix", signed_prefix)?,
        })
    }

    /// The prefix images are matched against (a mirror's), canonical.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix it is replaced with (the upstream's, as signed), canonical.
    pub fn signed_prefix(&self) -> &str {
        &self.signed_prefix
    }

    /// True when the image's `registry/repository` is `prefix` or continues it after a `/`.
    pub fn matches_prefix(&self, image: &Reference) -> bool {
        let name = repository_of(image);
        match name.strip_prefix(self.prefix.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// The image's reference with the prefix replaced, or unchanged when the prefix does not
    /// match. `Err` carries the rewritten text when it is not a reference in canonical form.
    pub fn remap(&self, image: &Reference) -> Result<Reference, RemapError> {
        if !self.matches_prefix(image) {
            return Ok(image.clone());
        }
        let full = image.to_string();
        let rewritten = format!("{}{}", self.signed_prefix, &full[self.prefix.len()..]);
        match rewritten.parse::<Reference>() {
            Ok(r) if r.to_string() == rewritten => Ok(r),
            _ => Err(RemapError(rewritten)),
        }
    }
}

/// A remapped name that is not a reference in canonical form (it holds the rewritten text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the remapped name {0:?} is not a reference in canonical form")]
pub struct RemapError(pub String);

/// A rule that cannot be built: the field and why. Messages are one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityRuleError {
    /// A field's value is not valid.
    #[error("{field} {value:?} is not valid: {reason}")]
    Invalid {
        /// The field (`dockerReference`, `dockerRepository`, `prefix`, `signedPrefix`).
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why.
        reason: String,
    },
    /// The rule's `type` (or YAML key) is not one of the known rules.
    #[error("unknown signedIdentity type {0:?} (known: matchRepository, matchRepoDigestOrExact, matchExact, exactReference, exactRepository, remapIdentity, remapRepository, ignore)")]
    UnknownType(String),
    /// A required field is missing.
    #[error("{rule} needs the field {field:?}")]
    MissingField {
        /// The rule.
        rule: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A field the rule does not have (refused, as containers/image refuses unknown keys).
    #[error("{rule} has no field {field:?}")]
    UnknownField {
        /// The rule.
        rule: String,
        /// The unknown field.
        field: String,
    },
    /// The rule is not written as an object or string of the expected shape.
    #[error("signedIdentity must be {expected}")]
    Shape {
        /// What was expected.
        expected: &'static str,
    },
    /// The rule exists in imgseal but has no containers/image equivalent.
    #[error("{0} has no containers/image policy.json equivalent")]
    NotInContainersImage(&'static str),
}

/// Why a payload's `docker-reference` is not accepted for an image. `Display` says only what
/// mismatched; the data (the repository the signature names, the rule) is in the fields, so a
/// front end can add the ways forward — accepting that repository explicitly (a CLI identity
/// option, or `signedIdentity` in a policy; see [`IdentityMismatch::signed_repository`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityMismatch {
    /// The payload names another repository.
    #[error("payload names repository {signed:?}, not {expected:?}")]
    Repository {
        /// The rule that refused it.
        rule: &'static str,
        /// The `docker-reference` as the payload writes it.
        signed: String,
        /// The canonical repository the rule required.
        expected: String,
    },
    /// The payload names the right repository at another tag or digest, or another reference.
    #[error("payload names {signed:?}, not {expected:?} ({rule} compares the tag and digest too)")]
    Reference {
        /// The rule that refused it.
        rule: &'static str,
        /// The `docker-reference` as the payload writes it.
        signed: String,
        /// The canonical reference the rule required.
        expected: String,
    },
    /// The payload names a repository alone, and the rule needs a tag or digest.
    #[error("payload names {signed:?} without a tag or digest, which {rule} does not accept (it compares the signed tag)")]
    SignedRepositoryOnly {
        /// The rule that refused it.
        rule: &'static str,
        /// The `docker-reference` as the payload writes it.
        signed: String,
    },
    /// The payload's `docker-reference` is not an image reference.
    #[error("payload names {signed:?}, which is not an image reference: {reason}")]
    InvalidSignedReference {
        /// The `docker-reference` as the payload writes it.
        signed: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The rule compares with the image's own name, and the image has none (an OCI layout
    /// image whose ref name is not a full reference).
    #[error("{rule} compares with the image's registry name, and this image has none")]
    NoImageIdentity {
        /// The rule that refused it.
        rule: &'static str,
    },
    /// The remapped name is not a reference in canonical form, so nothing matches it.
    #[error("remapping {image} from {prefix:?} to {signed_prefix:?} gives {remapped:?}, which is not a canonical image reference")]
    InvalidRemap {
        /// The image's reference.
        image: String,
        /// The rule's prefix.
        prefix: String,
        /// The rule's signed prefix.
        signed_prefix: String,
        /// The rewritten text.
        remapped: String,
    },
}

impl IdentityMismatch {
    /// The canonical `registry/repository` the payload names, when it names a valid reference:
    /// the value a front end offers as the way forward (its identity option, or
    /// `signedIdentity: { exactRepository: … }` in a policy — [`Self::accepting_rule`]).
    pub fn signed_repository(&self) -> Option<String> {
        let signed = match self {
            IdentityMismatch::Repository { signed, .. }
            | IdentityMismatch::Reference { signed, .. }
            | IdentityMismatch::SignedRepositoryOnly { signed, .. } => signed,
            _ => return None,
        };
        parse_docker_reference(signed)
            .ok()
            .map(|(r, _)| repository_of(&r))
    }

    /// The rule that would accept the payload's repository for this image:
    /// `exactRepository: <signed repository>`.
    pub fn accepting_rule(&self) -> Option<SignedIdentity> {
        let repo = self.signed_repository()?;
        Some(SignedIdentity::ExactRepository(ExactRepository(repo)))
    }
}

impl SignedIdentity {
    /// An [`ExactReference`](Self::ExactReference) rule.
    pub fn exact_reference(docker_reference: &str) -> Result<Self, IdentityRuleError> {
        ExactReference::new(docker_reference).map(SignedIdentity::ExactReference)
    }

    /// An [`ExactRepository`](Self::ExactRepository) rule.
    pub fn exact_repository(docker_repository: &str) -> Result<Self, IdentityRuleError> {
        ExactRepository::new(docker_repository).map(SignedIdentity::ExactRepository)
    }

    /// A [`RemapIdentity`](Self::RemapIdentity) rule.
    pub fn remap_identity(prefix: &str, signed_prefix: &str) -> Result<Self, IdentityRuleError> {
        Remap::new(prefix, signed_prefix).map(SignedIdentity::RemapIdentity)
    }

    /// A [`RemapRepository`](Self::RemapRepository) rule.
    pub fn remap_repository(prefix: &str, signed_prefix: &str) -> Result<Self, IdentityRuleError> {
        Remap::new(prefix, signed_prefix).map(SignedIdentity::RemapRepository)
    }

    /// The rule's name as policies write it (`matchRepository`, `remapIdentity`, …).
    pub fn name(&self) -> &'static str {
        match self {
            SignedIdentity::MatchRepository => "matchRepository",
            SignedIdentity::MatchRepoDigestOrExact => "matchRepoDigestOrExact",
            SignedIdentity::MatchExact => "matchExact",
            SignedIdentity::ExactReference(_) => "exactReference",
            SignedIdentity::ExactRepository(_) => "exactRepository",
            SignedIdentity::RemapIdentity(_) => "remapIdentity",
            SignedIdentity::RemapRepository(_) => "remapRepository",
            SignedIdentity::Ignore => "ignore",
        }
    }

    /// True for the rules that compare with the image's own name (all but
    /// `exactReference`, `exactRepository` and `ignore`), which an image without a registry
    /// name can never satisfy.
    pub fn needs_image_identity(&self) -> bool {
        !matches!(
            self,
            SignedIdentity::ExactReference(_)
                | SignedIdentity::ExactRepository(_)
                | SignedIdentity::Ignore
        )
    }

    /// Does a payload naming `signed_docker_reference` satisfy this rule for `image` (the
    /// image's registry name: [`image_identity`] for an [`ImageRef`]; `None` when it has none)?
    pub fn matches(
        &self,
        image: Option<&Reference>,
        signed_docker_reference: &str,
    ) -> Result<(), IdentityMismatch> {
        if *self == SignedIdentity::Ignore {
            return Ok(());
        }
        let rule = self.name();
        if self.needs_image_identity() && image.is_none() {
            return Err(IdentityMismatch::NoImageIdentity { rule });
        }
        let signed_text = signed_docker_reference;
        let (signed, signed_name_only) = parse_docker_reference(signed_text).map_err(|e| {
            IdentityMismatch::InvalidSignedReference {
                signed: signed_text.to_string(),
                reason: e.to_string(),
            }
        })?;
        let same_repository = |expected: String| {
            if repository_of(&signed) == expected {
                Ok(())
            } else {
                Err(IdentityMismatch::Repository {
                    rule,
                    signed: signed_text.to_string(),
                    expected,
                })
            }
        };
        let exact = |expected: &Reference| {
            if signed_name_only {
                Err(IdentityMismatch::SignedRepositoryOnly {
                    rule,
                    signed: signed_text.to_string(),
                })
            } else if signed.to_string() == expected.to_string() {
                Ok(())
            } else {
                Err(IdentityMismatch::Reference {
                    rule,
                    signed: signed_text.to_string(),
                    expected: expected.to_string(),
                })
            }
        };
        let repo_digest_or_exact = |intended: &Reference| {
            if intended.tag().is_some() {
                exact(intended)
            } else if signed_name_only {
                Err(IdentityMismatch::SignedRepositoryOnly {
                    rule,
                    signed: signed_text.to_string(),
                })
            } else {
                same_repository(repository_of(intended))
            }
        };
        let remapped = |remap: &Remap, image: &Reference| {
            remap
                .remap(image)
                .map_err(|remapped| IdentityMismatch::InvalidRemap {
                    image: image.to_string(),
                    prefix: remap.prefix.clone(),
                    signed_prefix: remap.signed_prefix.clone(),
                    remapped: remapped.0,
                })
        };
        match (self, image) {
            (SignedIdentity::ExactReference(r), _) => exact(&r.0),
            (SignedIdentity::ExactRepository(r), _) => same_repository(r.0.clone()),
            (SignedIdentity::MatchRepository, Some(image)) => same_repository(repository_of(image)),
            (SignedIdentity::MatchExact, Some(image)) => exact(image),
            (SignedIdentity::MatchRepoDigestOrExact, Some(image)) => repo_digest_or_exact(image),
            (SignedIdentity::RemapIdentity(remap), Some(image)) => {
                repo_digest_or_exact(&remapped(remap, image)?)
            }
            (SignedIdentity::RemapRepository(remap), Some(image)) => {
                same_repository(repository_of(&remapped(remap, image)?))
            }
            // Ignore returned above; the image-less cases returned NoImageIdentity.
            _ => Err(IdentityMismatch::NoImageIdentity { rule }),
        }
    }

    /// Read containers/image's JSON shape (`{"type": "matchRepository"}`, `{"type":
    /// "remapIdentity", "prefix": …, "signedPrefix": …}`, …). Unknown fields are refused, as
    /// containers/image refuses them; `ignore` and `remapRepository` do not exist there and
    /// are refused too.
    pub fn from_containers_json(value: &Value) -> Result<Self, IdentityRuleError> {
        let Value::Object(object) = value else {
            return Err(IdentityRuleError::Shape {
                expected: "a JSON object with a \"type\"",
            });
        };
        let kind = match object.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                return Err(IdentityRuleError::Shape {
                    expected: "an object whose \"type\" is a string",
                })
            }
            None => {
                return Err(IdentityRuleError::MissingField {
                    rule: "signedIdentity",
                    field: "type",
                })
            }
        };
        let (rule, fields): (&'static str, &[&'static str]) = match kind {
            "matchRepository" => ("matchRepository", &[]),
            "matchRepoDigestOrExact" => ("matchRepoDigestOrExact", &[]),
            "matchExact" => ("matchExact", &[]),
            "exactReference" => ("exactReference", &["dockerReference"]),
            "exactRepository" => ("exactRepository", &["dockerRepository"]),
            "remapIdentity" => ("remapIdentity", &["prefix", "signedPrefix"]),
            other => return Err(IdentityRuleError::UnknownType(other.to_string())),
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| k.as_str() != "type" && !fields.contains(&k.as_str()))
        {
            return Err(IdentityRuleError::UnknownField {
                rule: rule.to_string(),
                field: unknown.clone(),
            });
        }
        let text = |field: &'static str| match object.get(field) {
            Some(Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(IdentityRuleError::Invalid {
                field,
                value: object.get(field).map(|v| v.to_string()).unwrap_or_default(),
                reason: "it must be a string".into(),
            }),
            None => Err(IdentityRuleError::MissingField { rule, field }),
        };
        Ok(match rule {
            "matchRepository" => SignedIdentity::MatchRepository,
            "matchRepoDigestOrExact" => SignedIdentity::MatchRepoDigestOrExact,
            "matchExact" => SignedIdentity::MatchExact,
            "exactReference" => SignedIdentity::exact_reference(text("dockerReference")?)?,
            "exactRepository" => SignedIdentity::exact_repository(text("dockerRepository")?)?,
            _ => SignedIdentity::remap_identity(text("prefix")?, text("signedPrefix")?)?,
        })
    }

    /// Write containers/image's JSON shape. `ignore` and `remapRepository` have no
    /// equivalent there.
    pub fn to_containers_json(&self) -> Result<Value, IdentityRuleError> {
        let mut object = Map::new();
        object.insert("type".into(), Value::String(self.name().into()));
        match self {
            SignedIdentity::ExactReference(r) => {
                object.insert("dockerReference".into(), Value::String(r.0.to_string()));
            }
            SignedIdentity::ExactRepository(r) => {
                object.insert("dockerRepository".into(), Value::String(r.0.clone()));
            }
            SignedIdentity::RemapIdentity(r) => {
                object.insert("prefix".into(), Value::String(r.prefix.clone()));
                object.insert(
                    "signedPrefix".into(),
                    Value::String(r.signed_prefix.clone()),
                );
            }
            SignedIdentity::Ignore | SignedIdentity::RemapRepository(_) => {
                return Err(IdentityRuleError::NotInContainersImage(self.name()))
            }
            _ => {}
        }
        Ok(Value::Object(object))
    }
}

impl fmt::Display for SignedIdentity {
    /// The rule in the YAML shape's words: `matchRepository`, `exactRepository: REPO`,
    /// `remapIdentity: PREFIX -> SIGNED_PREFIX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedIdentity::ExactReference(r) => write!(f, "exactReference: {}", r.0),
            SignedIdentity::ExactRepository(r) => write!(f, "exactRepository: {}", r.0),
            SignedIdentity::RemapIdentity(r) | SignedIdentity::RemapRepository(r) => {
                write!(f, "{}: {} -> {}", self.name(), r.prefix, r.signed_prefix)
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The `docker-reference` imgseal writes for, and compares with, an OCI layout image that has
/// no registry name (its ref name is a plain tag such as `v1`, or absent) when no identity is
/// given: a repository under the reserved `.invalid` top-level domain (RFC 2606), so it can
/// never name an image in a real registry, and independent of the layout directory's name, so
/// moving or renaming the directory changes nothing.
pub const UNNAMED_LAYOUT_IDENTITY: &str = "oci-layout.invalid/unnamed";

/// The name identity rules compare a payload with for `image`: its [`image_identity`], or for
/// a layout image without a registry name, [`UNNAMED_LAYOUT_IDENTITY`] (which only a signature
/// made for an unnamed layout image names). `None` never happens in practice: the constant is
/// a valid reference (tested).
pub fn compared_identity(image: &ImageRef) -> Option<Reference> {
    image_identity(image).or_else(|| UNNAMED_LAYOUT_IDENTITY.parse().ok())
}

impl IdentityMismatch {
    /// The message with the way forward, in the library's words (no command-line flags): for
    /// a valid signature naming another repository, how to accept that repository explicitly.
    pub fn explain(&self) -> String {
        match (self, self.signed_repository()) {
            (
                IdentityMismatch::Repository { .. }
                | IdentityMismatch::Reference { .. }
                | IdentityMismatch::SignedRepositoryOnly { .. },
                Some(repo),
            ) => format!(
                "{self}; if this image is a copy of {repo}, accept that repository explicitly (signedIdentity {{exactRepository: {repo}}}, or a remapIdentity for a whole mirror)"
            ),
            _ => self.to_string(),
        }
    }
}

/// The registry name of an image, as identity rules compare it: a registry image's own
/// reference; for an OCI layout image, its ref name when that is a full reference with a
/// registry host (`oci:dir:registry.example/app:v1`), otherwise none — a layout directory's
/// name is not an identity, so moving or renaming the directory changes nothing.
pub fn image_identity(image: &ImageRef) -> Option<Reference> {
    match image {
        ImageRef::Registry(r) => Some(r.clone()),
        ImageRef::Layout(l) => {
            let name = l.name.as_deref()?;
            let (first, _) = name.split_once('/')?;
            if !looks_like_host(first) {
                return None;
            }
            name.parse().ok()
        }
    }
}

/// Parse a `docker-reference` (short names expanded as docker does), and say whether it names
/// a repository alone (no tag, no digest) — which [`Reference`]'s parser hides by adding
/// `latest`.
pub(crate) fn parse_docker_reference(
    text: &str,
) -> Result<(Reference, bool), InvalidDockerReference> {
    let r: Reference = text.parse().map_err(|e: crate::Error| {
        InvalidDockerReference(match e {
            crate::Error::InvalidReference { reason, .. } => reason,
            other => other.to_string(),
        })
    })?;
    let name_only = r.digest().is_none() && {
        let last = text.rsplit('/').next().unwrap_or(text);
        !last.contains(':')
    };
    Ok((r, name_only))
}

/// Why a `docker-reference` does not parse: the grammar rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidDockerReference(String);

/// The canonical `registry/repository` of a reference.
pub(crate) fn repository_of(r: &Reference) -> String {
    format!("{}/{}", r.registry(), r.repository())
}

/// The first component of a name is a registry host when it has a `.` or `:`, is an IPv6
/// literal, or is `localhost` (docker's rule).
pub(crate) fn looks_like_host(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first.starts_with('[')
        || first.eq_ignore_ascii_case("localhost")
}

/// Validate a remap prefix and return its canonical form.
fn canonical_prefix(field: &'static str, value: &str) -> Result<String, IdentityRuleError> {
    let invalid = |reason: &str| IdentityRuleError::Invalid {
        field,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    if value.is_empty() {
        return Err(invalid("it is empty"));
    }
    if value.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace"));
    }
    if value.contains('@') {
        return Err(invalid(
            "a prefix is a host, namespace or repository; it cannot carry a digest",
        ));
    }
    let (host, path) = match value.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (value, None),
    };
    if !looks_like_host(host) {
        return Err(invalid(
            "it must start with a registry host, in the fully expanded form (docker.io/library/busybox, not busybox)",
        ));
    }
    let host = canonical_registry(host).map_err(|why| invalid(&format!("registry host: {why}")))?;
    let Some(path) = path else {
        return Ok(host);
    };
    if path.contains(':') {
        return Err(invalid(
            "a prefix is a host, namespace or repository; it cannot carry a tag",
        ));
    }
    // Check the path components with the reference grammar, on a host that adds nothing.
    match format!("example.invalid/{path}").parse::<Reference>() {
        Ok(r) if r.repository() == path => Ok(format!("{host}/{path}")),
        Ok(_) => Err(invalid("the path is not a repository name")),
        Err(crate::Error::InvalidReference { reason, .. }) => Err(invalid(&reason)),
        Err(e) => Err(invalid(&e.to_string())),
    }
}

impl Serialize for SignedIdentity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SignedIdentity::ExactReference(r) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("exactReference", &r.0.to_string())?;
                m.end()
            }
            SignedIdentity::ExactRepository(r) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("exactRepository", &r.0)?;
                m.end()
            }
            SignedIdentity::RemapIdentity(r) | SignedIdentity::RemapRepository(r) => {
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Prefixes<'a> {
                    prefix: &'a str,
                    signed_prefix: &'a str,
                }
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    self.name(),
                    &Prefixes {
                        prefix: &r.prefix,
                        signed_prefix: &r.signed_prefix,
                    },
                )?;
                m.end()
            }
            other => s.serialize_str(other.name()),
        }
    }
}

impl<'de> Deserialize<'de> for SignedIdentity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(YamlShape)
    }
}

struct YamlShape;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PrefixFields {
    prefix: String,
    signed_prefix: String,
}

impl<'de> Visitor<'de> for YamlShape {
    type Value = SignedIdentity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a signedIdentity: matchRepository, matchRepoDigestOrExact, matchExact, ignore, or a map with one of exactReference, exactRepository, remapIdentity, remapRepository",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SignedIdentity, E> {
        match v {
            "matchRepository" => Ok(SignedIdentity::MatchRepository),
            "matchRepoDigestOrExact" => Ok(SignedIdentity::MatchRepoDigestOrExact),
            "matchExact" => Ok(SignedIdentity::MatchExact),
            "ignore" => Ok(SignedIdentity::Ignore),
            "exactReference" | "exactRepository" | "remapIdentity" | "remapRepository" => {
                Err(E::custom(format!(
                    "signedIdentity {v} needs a value: write {{{v}: …}}"
                )))
            }
            other => Err(E::custom(IdentityRuleError::UnknownType(other.to_string()))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SignedIdentity, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "signedIdentity is an empty map; name one rule",
            ));
        };
        let rule = match key.as_str() {
            "exactReference" => SignedIdentity::exact_reference(&map.next_value::<String>()?),
            "exactRepository" => SignedIdentity::exact_repository(&map.next_value::<String>()?),
            "remapIdentity" | "remapRepository" => {
                let p: PrefixFields = map.next_value()?;
                if key == "remapIdentity" {
                    SignedIdentity::remap_identity(&p.prefix, &p.signed_prefix)
                } else {
                    SignedIdentity::remap_repository(&p.prefix, &p.signed_prefix)
                }
            }
            "matchRepository" | "matchRepoDigestOrExact" | "matchExact" | "ignore" => {
                return Err(de::Error::custom(format!(
                    "signedIdentity {key} takes no value: write signedIdentity: {key}"
                )))
            }
            other => Err(IdentityRuleError::UnknownType(other.to_string())),
        }
        .map_err(de::Error::custom)?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "signedIdentity names one rule, not {key:?} and {extra:?}"
            )));
        }
        Ok(rule)
    }
}

/// `#[serde(with = "containers_json")]` for a [`SignedIdentity`] field in containers/image's
/// JSON shape (see [`SignedIdentity::from_containers_json`]).
pub mod containers_json {
    use super::SignedIdentity;
    use serde::{de, ser, Deserialize, Deserializer, Serializer};

    /// Serialize in containers/image's shape (fails for `ignore` and `remapRepository`).
    pub fn serialize<S: Serializer>(rule: &SignedIdentity, s: S) -> Result<S::Ok, S::Error> {
        let value = rule.to_containers_json().map_err(ser::Error::custom)?;
        serde::Serialize::serialize(&value, s)
    }

    /// Deserialize from containers/image's shape.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedIdentity, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        SignedIdentity::from_containers_json(&value).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const D2: &str = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const RHEL: &str = "registry.access.redhat.com/rhel7/rhel:7.2.3";
    const RHEL_UNTAGGED: &str = "registry.access.redhat.com/rhel7/rhel";

    /// An image reference as containers/image's docker transport has it: the user's text with
    /// `latest` added when there is neither tag nor digest (Reference's parser does that).
    fn image(s: &str) -> Reference {
        s.parse().unwrap()
    }

    fn ok(rule: &SignedIdentity, img: &str, sig: &str) -> bool {
        rule.matches(Some(&image(img)), sig).is_ok()
    }

    // containers/image's prmExactMatchTestTable (symmetric), for matchExact and exactReference.
    // Image-side entries that are name-only get `:latest` in a docker-transport image, so for
    // the image side those rows are checked through exactReference only.
    const EXACT: &[(&str, &str, bool)] = &[
        ("busybox:latest", "busybox:latest", true),
        (RHEL, RHEL, true),
        (
            concat!(
                "busybox",
                "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
            concat!(
                "busybox",
                "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
            true,
        ),
        ("library/busybox:latest", "busybox:latest", true),
        ("docker.io/library/busybox:latest", "busybox:latest", true),
        ("busybox:latest", "busybox:notlatest", false),
        ("busybox:latest", "notbusybox:latest", false),
        (
            "busybox:latest",
            "hostname/library/busybox:notlatest",
            false,
        ),
        (
            "hostname/library/busybox:latest",
            "busybox:notlatest",
            false,
        ),
        ("busybox:latest", RHEL, false),
        (
            "busybox:latest",
            concat!(
                "busybox",
                "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
            false,
        ),
        (
            "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES",
            "busybox:latest",
            false,
        ),
        ("INVALID", "INVALID", false),
    ];

    #[test]
    fn match_exact_and_exact_reference_follow_containers_image() {
        for &(a, b, want) in EXACT {
            for (x, y) in [(a, b), (b, a)] {
                if let Ok(img) = x.parse::<Reference>() {
                    let got = SignedIdentity::MatchExact.matches(Some(&img), y).is_ok();
                    assert_eq!(got, want, "matchExact {x} vs {y}");
                }
                let got = SignedIdentity::exact_reference(x)
                    .map(|r| r.matches(None, y).is_ok())
                    .unwrap_or(false);
                assert_eq!(got, want, "exactReference {x} vs {y}");
            }
        }
        let digest = |s: &str| format!("{s}{D1}");
        // Tags and digests together: both must match.
        let both = format!("busybox:latest{D1}");
        assert!(ok(&SignedIdentity::MatchExact, &both, &both));
        for sig in [
            format!("busybox:latest{D2}"),
            format!("busybox:notlatest{D1}"),
            digest("busybox"),
            "busybox:latest".to_string(),
        ] {
            assert!(!ok(&SignedIdentity::MatchExact, &both, &sig), "{sig}");
        }
        // Name-only signatures never match exactly, nor does a name-only exactReference.
        assert!(!ok(
            &SignedIdentity::MatchExact,
            "busybox:latest",
            "busybox"
        ));
        let e = SignedIdentity::exact_reference("busybox").unwrap_err();
        assert!(e.to_string().contains("dockerReference"), "{e}");
        assert!(!ok(
            &SignedIdentity::MatchExact,
            &digest("busybox"),
            &format!("busybox{D2}")
        ));
    }

    // containers/image's prmRepositoryMatchTestTable (symmetric).
    #[test]
    fn match_repository_and_exact_repository_follow_containers_image() {
        let d = |s: &str| format!("{s}{D1}");
        let rows: Vec<(String, String, bool)> = vec![
            ("busybox:latest".into(), "busybox:latest".into(), true),
            (RHEL.into(), RHEL.into(), true),
            (d("busybox"), d("busybox"), true),
            (
                "library/busybox:latest".into(),
                "busybox:latest".into(),
                true,
            ),
            ("busybox:latest".into(), "busybox:notlatest".into(), true),
            (format!("{RHEL}tagsuffix"), RHEL.into(), true),
            ("busybox:latest".into(), d("busybox"), true),
            (d("busybox"), format!("busybox{D2}"), true),
            ("busybox".into(), "busybox:notlatest".into(), true),
            (RHEL.into(), RHEL_UNTAGGED.into(), true),
            ("docker.io/library/busybox".into(), "busybox".into(), true),
            (format!("busybox:latest{D1}"), "busybox:latest".into(), true),
            (
                format!("busybox:latest{D1}"),
                format!("busybox:notlatest{D2}"),
                true,
            ),
            ("busybox:latest".into(), "notbusybox:latest".into(), false),
            (
                "hostname/library/busybox:latest".into(),
                "busybox:notlatest".into(),
                false,
            ),
            ("busybox:latest".into(), RHEL.into(), false),
            (d("busybox"), d("notbusybox"), false),
            (
                "UPPERCASE_IS_INVALID".into(),
                "busybox:latest".into(),
                false,
            ),
            ("INVALID".into(), "INVALID".into(), false),
        ];
        for (a, b, want) in rows {
            for (x, y) in [(&a, &b), (&b, &a)] {
                if let Ok(img) = x.parse::<Reference>() {
                    let got = SignedIdentity::MatchRepository
                        .matches(Some(&img), y)
                        .is_ok();
                    assert_eq!(got, want, "matchRepository {x} vs {y}");
                }
                let got = SignedIdentity::exact_repository(x)
                    .map(|r| r.matches(None, y).is_ok())
                    .unwrap_or(false);
                assert_eq!(got, want, "exactRepository {x} vs {y}");
            }
        }
    }

    // containers/image's matchRepoDigestOrExactTestTable (asymmetric: image, signature).
    #[test]
    fn match_repo_digest_or_exact_follows_containers_image() {
        let rule = SignedIdentity::MatchRepoDigestOrExact;
        let d = |s: &str| format!("{s}{D1}");
        let rows: Vec<(String, String, bool)> = vec![
            ("busybox:latest".into(), "busybox:notlatest".into(), false),
            (format!("{RHEL}tagsuffix"), RHEL.into(), false),
            (
                "library/busybox:latest".into(),
                "busybox:notlatest".into(),
                false,
            ),
            (
                "docker.io/library/busybox:notlatest".into(),
                "busybox:latest".into(),
                false,
            ),
            ("busybox:latest".into(), "busybox".into(), false),
            (d("busybox"), "busybox".into(), false),
            (RHEL.into(), RHEL_UNTAGGED.into(), false),
            ("busybox:latest".into(), d("busybox"), false),
            (d("busybox"), "busybox:latest".into(), true),
            (d("busybox"), format!("busybox{D2}"), true),
            (
                format!("busybox:latest{D1}"),
                "busybox:latest".into(),
                false,
            ),
            (
                format!("busybox:latest{D1}"),
                "busybox:notlatest".into(),
                false,
            ),
            (
                "busybox:latest".into(),
                format!("busybox:latest{D1}"),
                false,
            ),
            (
                format!("busybox:latest{D1}"),
                format!("busybox:latest{D2}"),
                false,
            ),
            (
                format!("busybox:latest{D1}"),
                format!("busybox:latest{D1}"),
                true,
            ),
            ("busybox:latest".into(), "busybox:latest".into(), true),
            (d("busybox"), d("notbusybox"), false),
        ];
        for (img, sig, want) in rows {
            assert_eq!(ok(&rule, &img, &sig), want, "{img} vs {sig}");
        }
    }

    #[test]
    fn unidentified_images_are_refused_by_image_rules() {
        for rule in [
            SignedIdentity::MatchRepository,
            SignedIdentity::MatchExact,
            SignedIdentity::MatchRepoDigestOrExact,
            SignedIdentity::remap_identity("docker.io", "docker.io").unwrap(),
            SignedIdentity::remap_repository("docker.io", "docker.io").unwrap(),
        ] {
            let e = rule.matches(None, "").unwrap_err();
            assert!(matches!(e, IdentityMismatch::NoImageIdentity { .. }), "{e}");
        }
        assert!(SignedIdentity::Ignore.matches(None, "").is_ok());
        assert!(SignedIdentity::exact_repository("busybox")
            .unwrap()
            .matches(None, "busybox:1")
            .is_ok());
    }

    // containers/image's TestPRMRemapIdentityRefMatchesPrefix.
    #[test]
    fn remap_prefixes_match_whole_names_or_at_a_slash() {
        let d = D1;
        for (img, prefix, want) in [
            ("docker.io/image", "docker.io", true),
            ("docker.io/image", "example.com", false),
            ("example.com:5000/image", "example.com:5000", true),
            ("example.com:50000/image", "example.com:5000", false),
            ("example.com:5000/image", "example.com", false),
            ("example.com/foo", "example.com", true),
            ("example.com/foo/bar", "example.com", true),
            ("example.com/foo/bar:baz", "example.com", true),
            (&format!("example.com/foo/bar{d}"), "example.com", true),
            ("docker.io/ns/image", "docker.io/library", false),
            ("example.com/library", "docker.io/library", false),
            ("docker.io/libraryy/image", "docker.io/library", false),
            ("docker.io/library/busybox", "docker.io/library", true),
            ("example.com/ns/image", "example.com/ns", true),
            ("example.com/ns2/image", "example.com/ns", false),
            ("example.com/n2/image", "example.com/ns", false),
            ("example.com", "example.com/library/busybox", false),
            ("example.com:5000/ns/image", "example.com/ns", false),
            ("example.com/ns/image", "example.com:5000/ns", false),
            (
                "docker.io/library/busybox",
                "docker.io/library/busybox",
                true,
            ),
            (
                "example.com/library/busybox",
                "docker.io/library/busybox",
                false,
            ),
            (
                "docker.io/library/busybox2",
                "docker.io/library/busybox",
                false,
            ),
            ("example.com/ns/image", "example.com/ns/image", true),
            ("example.com/ns/imag2", "example.com/ns/image", false),
            ("example.com/ns/imagee", "example.com/ns/image", false),
            ("example.com:5000/ns/image", "example.com/ns/image", false),
            ("example.com/ns/image", "example.com:5000/ns/image", false),
            ("example.com/ns/image:tag", "example.com/ns/image", true),
            (
                &format!("example.com/ns/image{d}"),
                "example.com/ns/image",
                true,
            ),
            (
                &format!("example.com/ns/image:tag{d}"),
                "example.com/ns/image",
                true,
            ),
            // The issue's case: a repository prefix never reaches a longer sibling name.
            ("mirror.internal/app-evil", "mirror.internal/app", false),
            ("mirror.internal/app/sub", "mirror.internal/app", true),
        ] {
            let remap = Remap::new(prefix, "docker.io/library/signed-prefix").unwrap();
            assert_eq!(remap.matches_prefix(&image(img)), want, "{img} vs {prefix}");
        }
    }

    // containers/image's TestPRMRemapIdentityRemapReferencePrefix.
    #[test]
    fn remapping_rewrites_the_prefix_and_keeps_tag_and_digest() {
        let d = D1;
        for (prefix, signed_prefix, img, want) in [
            (
                "mirror.example",
                "vendor.example",
                "mirror.example/ns/image:tag",
                Some("vendor.example/ns/image:tag".to_string()),
            ),
            (
                "mirror.example",
                "vendor.example",
                "different.com/ns/image:tag",
                Some("different.com/ns/image:tag".into()),
            ),
            (
                "mirror.example/ns",
                "vendor.example/vendor-ns",
                "mirror.example/different-ns/image:tag",
                Some("mirror.example/different-ns/image:tag".into()),
            ),
            (
                "docker.io",
                "not-docker-signed.example/ns",
                "busybox",
                Some("not-docker-signed.example/ns/library/busybox:latest".into()),
            ),
            (
                "example.com/mirror",
                "example.com/vendor",
                "example.com/mirror/image:tag",
                Some("example.com/vendor/image:tag".into()),
            ),
            (
                "example.com/ns/mirror",
                "example.com/ns/vendor",
                "example.com/ns/mirror:tag",
                Some("example.com/ns/vendor:tag".into()),
            ),
            (
                "mirror.example",
                "vendor.example",
                "prefixmirror.example/ns/image:tag",
                Some("prefixmirror.example/ns/image:tag".into()),
            ),
            (
                "docker.io",
                "not-docker-signed.example",
                "busybox",
                Some("not-docker-signed.example/library/busybox:latest".into()),
            ),
            (
                "docker.io/library",
                "not-docker-signed.example/ns",
                "busybox",
                Some("not-docker-signed.example/ns/busybox:latest".into()),
            ),
            (
                "docker.io/library/busybox",
                "not-docker-signed.example/ns/notbusybox",
                "busybox",
                Some("not-docker-signed.example/ns/notbusybox:latest".into()),
            ),
            (
                "mirror.example",
                "vendor.example",
                &format!("mirror.example/image{d}"),
                Some(format!("vendor.example/image{d}")),
            ),
            (
                "mirror.example",
                "vendor.example",
                &format!("mirror.example/image:tag{d}"),
                Some(format!("vendor.example/image:tag{d}")),
            ),
            // Rewrites that do not give a canonical reference.
            (
                "mirror.example/ns/image",
                "vendor.example:5000",
                "mirror.example/ns/image:tag",
                None,
            ),
            (
                "mirror.example/ns/image",
                "vendor.example:5000",
                &format!("mirror.example/ns/image{d}"),
                None,
            ),
            (
                "mirror.example",
                "docker.io",
                "mirror.example/busybox:1",
                None,
            ),
        ] {
            let remap = Remap::new(prefix, signed_prefix).unwrap();
            let got = remap.remap(&image(img)).ok().map(|r| r.to_string());
            assert_eq!(got, want, "{prefix} -> {signed_prefix} on {img}");
        }
    }

    // containers/image's TestPRMRemapIdentityMatchesDockerReference.
    #[test]
    fn remap_identity_matches_as_repo_digest_or_exact() {
        for (prefix, signed_prefix, img, sig, want) in [
            (
                "does-not-match.com",
                "does-not-match.rewritten",
                "busybox:latest",
                "busybox:latest",
                true,
            ),
            (
                "does-not-match.com",
                "does-not-match.rewritten",
                "busybox:latest",
                "notbusybox:latest",
                false,
            ),
            (
                "mirror.example",
                "public.com",
                "mirror.example/busybox:1",
                "public.com/busybox:1",
                true,
            ),
            (
                "mirror.example",
                "public.com",
                "mirror.example/busybox:1",
                "public.com/busybox:not1",
                false,
            ),
            (
                "mirror.example",
                "docker.io/library",
                "mirror.example/busybox:latest",
                "busybox:latest",
                true,
            ),
            (
                "mirror.example",
                "docker.io/library",
                "mirror.example/alpine:latest",
                "busybox:latest",
                false,
            ),
            (
                "docker.io/library",
                "original.com",
                "copied:latest",
                "original.com/copied:latest",
                true,
            ),
            (
                "docker.io/library",
                "original.com",
                "copied:latest",
                "original.com/ns/copied:latest",
                false,
            ),
            // cosign-style payloads (a repository alone) never satisfy remapIdentity …
            (
                "mirror.example",
                "public.com",
                "mirror.example/busybox:1",
                "public.com/busybox",
                false,
            ),
        ] {
            let rule = SignedIdentity::remap_identity(prefix, signed_prefix).unwrap();
            assert_eq!(
                ok(&rule, img, sig),
                want,
                "{prefix}->{signed_prefix}: {img} vs {sig}"
            );
        }
        // … and remapRepository is for them.
        let rule = SignedIdentity::remap_repository("mirror.example", "public.com").unwrap();
        assert!(ok(&rule, "mirror.example/busybox:1", "public.com/busybox"));
        assert!(ok(
            &rule,
            "mirror.example/busybox:1",
            "public.com/busybox:other"
        ));
        assert!(!ok(
            &rule,
            "mirror.example/busybox:1",
            "public.com/busybox2"
        ));
        let e = SignedIdentity::remap_identity("mirror.example", "public.com")
            .unwrap()
            .matches(
                Some(&image("mirror.example/busybox:1")),
                "public.com/busybox",
            )
            .unwrap_err();
        assert!(
            matches!(e, IdentityMismatch::SignedRepositoryOnly { .. }),
            "{e}"
        );
    }

    #[test]
    fn prefixes_are_validated_naming_the_field() {
        for (prefix, signed, field) in [
            ("busybox", "example.com/busybox", "prefix"),
            ("docker.io/library/busybox", "busybox", "signedPrefix"),
            ("UPPERCASE", "example.com", "prefix"),
            ("example.com", "UPPERCASE", "signedPrefix"),
            ("example.com/app:v1", "example.com", "prefix"),
            (
                "example.com",
                &format!("example.com/app{D1}"),
                "signedPrefix",
            ),
            ("example.com/App", "example.com", "prefix"),
            ("example.com//a", "example.com", "prefix"),
            ("", "example.com", "prefix"),
            ("example.com:99999", "example.com", "prefix"),
        ] {
            let e = Remap::new(prefix, signed).unwrap_err();
            assert!(
                matches!(&e, IdentityRuleError::Invalid { field: f, .. } if *f == field),
                "{prefix} {signed}: {e}"
            );
            assert!(e.to_string().starts_with(field), "{e}");
        }
        // Host and repository prefixes mix freely, as in containers/image's own example.
        let r = Remap::new("private-mirror:5000/vendor-mirror", "vendor.example.com").unwrap();
        assert!(ok(
            &SignedIdentity::RemapIdentity(r),
            "private-mirror:5000/vendor-mirror/product-a/image1:latest",
            "vendor.example.com/product-a/image1:latest"
        ));
    }

    #[test]
    fn registry_hosts_compare_canonically() {
        let r = Remap::new("Mirror.Internal:443/vendor", "INDEX.docker.io/library").unwrap();
        assert_eq!(r.prefix(), "mirror.internal/vendor");
        assert_eq!(r.signed_prefix(), "docker.io/library");
        let rule = SignedIdentity::RemapRepository(r);
        assert!(ok(
            &rule,
            "MIRROR.internal/vendor/nginx:1",
            "index.docker.io/library/nginx"
        ));
        assert!(ok(
            &SignedIdentity::MatchRepository,
            "registry.example/app:1",
            "REGISTRY.example:443/app"
        ));
        assert!(ok(
            &SignedIdentity::MatchRepository,
            "nginx",
            "registry-1.docker.io/library/nginx"
        ));
        assert!(!ok(
            &SignedIdentity::MatchRepository,
            "registry.example/app:1",
            "registry.example:5000/app"
        ));
    }

    #[test]
    fn real_cosign_payload_references() {
        // docker-references from containers/image's cosign fixtures (signed by cosign and by
        // skopeo): ../shared/interop/cosign/containers-image/*/signature-1.extracted/payload.
        let plain = "192.168.64.2:5000/cosign-signed-single-sample";
        let tagged = "192.168.64.2:5000/skopeo-signed:tag";
        let mirror = "mirror.internal/cosign-signed-single-sample:v1";
        let e = SignedIdentity::MatchRepository
            .matches(Some(&image(mirror)), plain)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("payload names repository {plain:?}, not \"mirror.internal/cosign-signed-single-sample\"")
        );
        assert_eq!(e.signed_repository().as_deref(), Some(plain));
        let fix = e.accepting_rule().unwrap();
        assert_eq!(fix.to_string(), format!("exactRepository: {plain}"));
        assert!(fix.matches(Some(&image(mirror)), plain).is_ok());
        let remap =
            SignedIdentity::remap_repository("mirror.internal", "192.168.64.2:5000").unwrap();
        assert!(remap.matches(Some(&image(mirror)), plain).is_ok());
        // The skopeo-signed payload carries a tag: remapIdentity works with it.
        let remap = SignedIdentity::remap_identity("mirror.internal", "192.168.64.2:5000").unwrap();
        assert!(ok(&remap, "mirror.internal/skopeo-signed:tag", tagged));
        assert!(!ok(&remap, "mirror.internal/skopeo-signed:other", tagged));
        assert!(!ok(
            &remap,
            "mirror.internal/cosign-signed-single-sample:v1",
            plain
        ));
        let d = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
        assert!(ok(
            &remap,
            &format!("mirror.internal/skopeo-signed@{d}"),
            tagged
        ));
    }

    #[test]
    fn mismatch_messages_name_what_differs() {
        let e = SignedIdentity::MatchExact
            .matches(
                Some(&image("registry.example/app:1")),
                "registry.example/app:2",
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "payload names \"registry.example/app:2\", not \"registry.example/app:1\" (matchExact compares the tag and digest too)"
        );
        let e = SignedIdentity::MatchRepository
            .matches(Some(&image("registry.example/app:1")), "not a ref")
            .unwrap_err();
        assert!(
            matches!(e, IdentityMismatch::InvalidSignedReference { .. }),
            "{e}"
        );
        assert_eq!(e.signed_repository(), None);
        let e = SignedIdentity::remap_identity("mirror.example", "docker.io")
            .unwrap()
            .matches(Some(&image("mirror.example/busybox:1")), "busybox:1")
            .unwrap_err();
        assert!(e.to_string().contains("docker.io/busybox:1"), "{e}");
        for e in [
            e,
            SignedIdentity::MatchRepository
                .matches(None, "x")
                .unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(
                !text.contains("--"),
                "library messages name no flags: {text}"
            );
        }
    }

    #[test]
    fn layout_images_have_an_identity_only_from_a_full_ref_name() {
        let id = |s: &str| image_identity(&ImageRef::parse(s).unwrap()).map(|r| r.to_string());
        assert_eq!(id("oci:./build:v1"), None);
        assert_eq!(id("oci:./build"), None);
        assert_eq!(id("oci:./build:library/app:v1"), None);
        assert_eq!(
            id("oci:./dist:registry.example/app:v1").as_deref(),
            Some("registry.example/app:v1")
        );
        assert_eq!(
            id("registry.example/app").as_deref(),
            Some("registry.example/app:latest")
        );
    }

    #[test]
    fn unnamed_layouts_compare_with_the_reserved_name() {
        let id = |s: &str| compared_identity(&ImageRef::parse(s).unwrap()).map(|r| r.to_string());
        assert_eq!(
            id("oci:./build:v1").as_deref(),
            Some("oci-layout.invalid/unnamed:latest")
        );
        assert_eq!(
            id("oci:./elsewhere").as_deref(),
            id("oci:./build:v2").as_deref()
        );
        assert_eq!(
            id("oci:./dist:registry.example/app:v1").as_deref(),
            Some("registry.example/app:v1")
        );
        let unnamed = compared_identity(&ImageRef::parse("oci:./x:v1").unwrap());
        assert!(SignedIdentity::MatchRepository
            .matches(unnamed.as_ref(), UNNAMED_LAYOUT_IDENTITY)
            .is_ok());
        let e = SignedIdentity::MatchRepository
            .matches(unnamed.as_ref(), "registry.example/app")
            .unwrap_err();
        let text = e.explain();
        assert!(
            text.contains("signedIdentity {exactRepository: registry.example/app}"),
            "{text}"
        );
        assert!(
            !text.contains("--"),
            "library messages name no flags: {text}"
        );
    }

    #[test]
    fn yaml_shape_round_trips() {
        let cases = [
            ("matchRepository", SignedIdentity::MatchRepository),
            ("matchRepoDigestOrExact", SignedIdentity::MatchRepoDigestOrExact),
            ("matchExact", SignedIdentity::MatchExact),
            ("ignore", SignedIdentity::Ignore),
            (
                "exactRepository: registry.example/app",
                SignedIdentity::exact_repository("registry.example/app").unwrap(),
            ),
            (
                "exactReference: registry.example/app:1",
                SignedIdentity::exact_reference("registry.example/app:1").unwrap(),
            ),
            (
                "remapIdentity: {prefix: mirror.internal/vendor, signedPrefix: registry.vendor.example}",
                SignedIdentity::remap_identity("mirror.internal/vendor", "registry.vendor.example").unwrap(),
            ),
            (
                "remapRepository:\n  prefix: mirror.internal\n  signedPrefix: registry.example\n",
                SignedIdentity::remap_repository("mirror.internal", "registry.example").unwrap(),
            ),
        ];
        for (yaml, want) in cases {
            let got: SignedIdentity = serde_yaml_ng::from_str(yaml).unwrap();
            assert_eq!(got, want, "{yaml}");
            let back = serde_yaml_ng::to_string(&got).unwrap();
            let again: SignedIdentity = serde_yaml_ng::from_str(&back).unwrap();
            assert_eq!(again, want, "{back}");
            let json = serde_json::to_string(&got).unwrap();
            assert_eq!(serde_json::from_str::<SignedIdentity>(&json).unwrap(), want);
        }
        for (bad, says) in [
            (
                "matchNothing",
                "unknown signedIdentity type \"matchNothing\"",
            ),
            ("remapIdentity", "needs a value"),
            (
                "{remapIdentity: {prefix: busybox, signedPrefix: registry.example}}",
                "prefix \"busybox\" is not valid",
            ),
            (
                "{remapIdentity: {prefix: a.example, signedPrefix: b.example, extra: 1}}",
                "unknown field `extra`",
            ),
            (
                "{remapIdentity: {prefix: a.example}}",
                "missing field `signedPrefix`",
            ),
            (
                "{exactRepository: a.example/x, exactReference: a.example/x:1}",
                "names one rule",
            ),
            (
                "{exactReference: a.example/x}",
                "dockerReference \"a.example/x\" is not valid",
            ),
            ("{matchExact: x}", "takes no value"),
            ("{}", "empty map"),
        ] {
            let e = serde_yaml_ng::from_str::<SignedIdentity>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn containers_json_shape_round_trips_and_is_strict() {
        for json in [
            r#"{"type":"matchRepository"}"#,
            r#"{"type":"matchRepoDigestOrExact"}"#,
            r#"{"type":"matchExact"}"#,
            r#"{"type":"exactReference","dockerReference":"registry.example/app:1"}"#,
            r#"{"type":"exactRepository","dockerRepository":"registry.example/app"}"#,
            r#"{"type":"remapIdentity","prefix":"private-mirror:5000/vendor-mirror","signedPrefix":"vendor.example.com"}"#,
        ] {
            let v: Value = serde_json::from_str(json).unwrap();
            let rule = SignedIdentity::from_containers_json(&v).unwrap();
            assert_eq!(rule.to_containers_json().unwrap(), v, "{json}");
        }
        for (json, says) in [
            (
                r#"{"type":"matchRepository","extra":1}"#,
                "matchRepository has no field \"extra\"",
            ),
            (
                r#"{"type":"remapIdentity","prefix":"a.example"}"#,
                "remapIdentity needs the field \"signedPrefix\"",
            ),
            (
                r#"{"type":"remapIdentity","prefix":"a.example","signedPrefix":"busybox"}"#,
                "signedPrefix \"busybox\"",
            ),
            (
                r#"{"type":"exactReference","dockerReference":"busybox"}"#,
                "neither a tag nor a digest",
            ),
            (
                r#"{"type":"ignore"}"#,
                "unknown signedIdentity type \"ignore\"",
            ),
            (
                r#"{"type":"remapRepository","prefix":"a.example","signedPrefix":"b.example"}"#,
                "unknown signedIdentity type",
            ),
            (
                r#"{"dockerReference":"a.example/x:1"}"#,
                "needs the field \"type\"",
            ),
            (
                r#"{"type":"exactRepository","dockerRepository":5}"#,
                "must be a string",
            ),
            (r#""matchRepository""#, "JSON object"),
        ] {
            let v: Value = serde_json::from_str(json).unwrap();
            let e = SignedIdentity::from_containers_json(&v)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{json}: {e}");
        }
        assert!(SignedIdentity::Ignore.to_containers_json().is_err());
        #[derive(Serialize, Deserialize)]
        struct Req {
            #[serde(rename = "signedIdentity", with = "containers_json")]
            signed_identity: SignedIdentity,
        }
        let r: Req = serde_json::from_str(r#"{"signedIdentity":{"type":"matchExact"}}"#).unwrap();
        assert_eq!(r.signed_identity, SignedIdentity::MatchExact);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"signedIdentity":{"type":"matchExact"}}"#
        );
    }
}
