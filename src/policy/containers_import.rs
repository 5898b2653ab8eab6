//! Translating containers/image's `policy.json` ([`super::containers`]) into an imgseal policy
//! file (YAML) that decides the same for images in registries, or refusing — naming the scope
//! and field — what an imgseal policy cannot say the same way.
//!
//! | policy.json | imgseal policy |
//! |---|---|
//! | `default: [insecureAcceptAnything]` / `[reject]` | `defaultAction: allow` / `reject` |
//! | `default` with signature requirements | a last rule `default` over `**` |
//! | `docker` scope `host`, `*.domain` | a rule over `host/**`, `*.domain/**` |
//! | `docker` scope `host/ns/repo` | a rule over `host/ns/repo` and `host/ns/repo/**` |
//! | `docker` scope `""` | a rule over `**` |
//! | `insecureAcceptAnything` | nothing to check (dropped next to other requirements) |
//! | `reject` | `allowedRegistries: []`: no registry is allowed, so the rule always refuses |
//! | `sigstoreSigned` `keyPath` / `keyPaths` | a `key` authority per file; `anyOf` them |
//! | `sigstoreSigned` `pki` (`caRootsPath`, one of `subjectEmail`/`subjectHostname`) | a `certificateRoots` authority with that `identity` |
//! | several `sigstoreSigned` | `allOf` their authorities (one key or pki each) |
//! | `signedIdentity` (absent: `matchRepoDigestOrExact`) | the rule's `signedIdentity` |
//!
//! containers/image picks the most specific scope and imgseal the most specific rule, which
//! choose alike for these patterns. Refused: scopes with a tag or digest (rules match
//! repositories), inline `keyData`/`keyDatas`/`caRootsData` (authorities are files: write the
//! key to a file and use `keyPath`), one scope's requirements with different `signedIdentity`s
//! or with `keyPaths` next to other signature requirements, and everything
//! [`super::containers::Unsupported`] lists. Transports other than `docker` are not
//! imported (an imgseal policy names registry images; check layouts with
//! `verify --containers-policy`): each is named in a note, never dropped silently. Relative
//! paths, which containers/image reads from the working directory, are written absolute
//! (against the `base` given).

use super::containers::{
    ContainersPolicy, ContainersPolicyError, KeySource, Requirement, SigstoreTrust,
};
use crate::trust::signed_identity::SignedIdentity;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The imgseal policy equivalent to a `policy.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The policy file, YAML.
    pub yaml: String,
    /// What was not imported and why (transports other than `docker`).
    pub notes: Vec<String>,
}

/// One rule being built.
struct RuleOut {
    name: String,
    images: Vec<String>,
    source: String,
    body: Body,
}

enum Body {
    /// Nothing to check.
    Accept,
    /// Always refused.
    Reject,
    /// Signatures by authorities.
    Signed {
        any_of: bool,
        authorities: Vec<String>,
        identity: SignedIdentity,
    },
}

/// Authorities by the file they load, with unique names.
#[derive(Default)]
struct Authorities {
    /// (kind, path, identity) → name
    by_source: BTreeMap<(String, PathBuf, Option<String>), String>,
    lines: Vec<String>,
}

impl Authorities {
    fn add(&mut self, kind: &str, path: PathBuf, identity: Option<String>) -> String {
        let key = (kind.to_string(), path.clone(), identity.clone());
        if let Some(name) = self.by_source.get(&key) {
            return name.clone();
        }
        let stem: String = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let stem = stem.trim_matches('-');
        let stem = if stem.is_empty() { "key" } else { stem };
        let mut name = stem.to_string();
        let mut n = 2;
        while self.by_source.values().any(|v| *v == name) {
            name = format!("{stem}-{n}");
            n += 1;
        }
        let mut line = format!("  {name}: {{{kind}: {}", quote(&path.to_string_lossy()));
        if let Some(id) = &identity {
            let _ = write!(line, ", identity: {}", quote(id));
        }
        line.push('}');
        self.lines.push(line);
        self.by_source.insert(key, name.clone());
        name
    }
}

/// A YAML scalar, double-quoted (JSON string syntax is YAML).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn refuse(path: &str, reason: impl Into<String>) -> ContainersPolicyError {
    ContainersPolicyError::NotImportable {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The imgseal policy equivalent to `policy` (shown as `source` in the header comment);
/// relative paths are made absolute against `base` (containers/image reads them from the
/// working directory).
pub fn import(
    policy: &ContainersPolicy,
    source: &str,
    base: &Path,
) -> Result<Imported, ContainersPolicyError> {
    let mut auth = Authorities::default();
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    if let Some(scopes) = policy.scopes("docker") {
        for (scope, reqs) in scopes {
            let path = format!("transports.docker[{scope:?}]");
            let (name, images) = if scope.is_empty() {
                ("docker default".to_string(), vec!["**".to_string()])
            } else {
                (scope.clone(), scope_globs(scope, &path)?)
            };
            let body = body_of(reqs, &path, base, &mut auth)?;
            rules.push(RuleOut {
                name,
                images,
                source: path,
                body,
            });
        }
    }
    let default = policy.default_requirements();
    let default_action = match default {
        [Requirement::InsecureAcceptAnything] => "allow",
        [Requirement::Reject] => "reject",
        reqs => {
            let body = body_of(reqs, "default", base, &mut auth)?;
            match body {
                Body::Accept => "allow",
                Body::Reject => "reject",
                Body::Signed { .. } => {
                    rules.push(RuleOut {
                        name: "default".into(),
                        images: vec!["**".into()],
                        source: "default".into(),
                        body,
                    });
                    "reject"
                }
            }
        }
    };
    for transport in policy.transports().filter(|t| *t != "docker") {
        notes.push(format!(
            "transports.{transport} is not imported: an imgseal policy names images in registries; {}",
            if transport == "oci" {
                "check OCI layouts with verify --containers-policy"
            } else {
                "imgseal does not read images of that transport"
            }
        ));
    }
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# imgseal policy imported from containers/image policy {source}"
    );
    let _ = writeln!(
        y,
        "# (containers/image picks the most specific scope, imgseal the most specific rule)."
    );
    for n in &notes {
        let _ = writeln!(y, "# note: {n}");
    }
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "defaultAction: {default_action}");
    if !auth.lines.is_empty() {
        let _ = writeln!(y, "authorities:");
        for l in &auth.lines {
            let _ = writeln!(y, "{l}");
        }
    }
    if rules.is_empty() {
        let _ = writeln!(y, "rules: []");
    } else {
        let _ = writeln!(y, "rules:");
    }
    for r in &rules {
        let _ = writeln!(y, "  # from {}", r.source);
        let _ = writeln!(y, "  - name: {}", quote(&r.name));
        let images: Vec<String> = r.images.iter().map(|i| quote(i)).collect();
        let _ = writeln!(y, "    images: [{}]", images.join(", "));
        match &r.body {
            Body::Accept => {}
            Body::Reject => {
                let _ = writeln!(
                    y,
                    "    allowedRegistries: []   # reject: no registry is allowed"
                );
            }
            Body::Signed {
                any_of,
                authorities,
                identity,
            } => {
                let _ = writeln!(
                    y,
                    "    authorities: {{{}: [{}]}}",
                    if *any_of { "anyOf" } else { "allOf" },
                    authorities.join(", ")
                );
                let id = serde_json::to_string(identity)
                    .map_err(|e| refuse(&r.source, e.to_string()))?;
                let _ = writeln!(y, "    signedIdentity: {id}");
            }
        }
    }
    Ok(Imported { yaml: y, notes })
}

/// The globs of a named `docker` scope.
fn scope_globs(scope: &str, path: &str) -> Result<Vec<String>, ContainersPolicyError> {
    if scope.starts_with("*.") || !scope.contains('/') {
        return Ok(vec![format!("{scope}/**")]);
    }
    let last = scope.rsplit('/').next().unwrap_or(scope);
    if scope.contains('@') || last.contains(':') {
        return Err(refuse(
            path,
            "the scope names a tag or digest, and imgseal policy rules match repositories (registry/repository), not tags or digests; scope the repository instead",
        ));
    }
    Ok(vec![scope.to_string(), format!("{scope}/**")])
}

/// The rule body for one scope's requirements.
fn body_of(
    reqs: &[Requirement],
    path: &str,
    base: &Path,
    auth: &mut Authorities,
) -> Result<Body, ContainersPolicyError> {
    for (i, r) in reqs.iter().enumerate() {
        if let Some(what) = r.unsupported() {
            return Err(refuse(&format!("{path}[{i}]"), what.to_string()));
        }
    }
    if reqs.iter().any(|r| matches!(r, Requirement::Reject)) {
        return Ok(Body::Reject);
    }
    let signed: Vec<(usize, &super::containers::SigstoreSigned)> = reqs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Requirement::SigstoreSigned(s) => Some((i, s)),
            _ => None,
        })
        .collect();
    // An imgseal keyless authority reads a trusted_root.json; policy.json names a Fulcio CA and
    // Rekor keys instead, which `imgseal trusted-root create` turns into one.
    for (i, s) in &signed {
        if s.rekor_public_keys.is_some() || matches!(s.trust, SigstoreTrust::Fulcio(_)) {
            return Err(refuse(
                &format!("{path}[{i}]"),
                "fulcio and rekorPublicKey* become an imgseal keyless authority, which reads a trusted_root.json: build one with `imgseal trusted-root create --fulcio … --rekor …` and write the authority by hand (imgseal verify --containers-policy evaluates this policy as it is)",
            ));
        }
    }
    let Some((_, first)) = signed.first() else {
        return Ok(Body::Accept);
    };
    let identity = first.signed_identity.clone();
    let mut authorities = Vec::new();
    for (i, s) in &signed {
        let at = format!("{path}[{i}]");
        if s.signed_identity != identity {
            return Err(refuse(
                &format!("{at}.signedIdentity"),
                "the requirements of one scope have different signedIdentity rules, and an imgseal rule has one",
            ));
        }
        match &s.trust {
            SigstoreTrust::Keys(KeySource::Path(p)) => {
                authorities.push(auth.add("key", absolute(base, p), None))
            }
            SigstoreTrust::Keys(KeySource::Paths(ps)) => {
                if signed.len() > 1 {
                    return Err(refuse(
                        &format!("{at}.keyPaths"),
                        "any of several keys, next to other signature requirements, has no imgseal equivalent (a rule has one anyOf or allOf)",
                    ));
                }
                for p in ps {
                    let name = auth.add("key", absolute(base, p), None);
                    if !authorities.contains(&name) {
                        authorities.push(name);
                    }
                }
                return Ok(Body::Signed {
                    any_of: true,
                    authorities,
                    identity,
                });
            }
            SigstoreTrust::Keys(KeySource::Data(_)) => {
                return Err(refuse(&format!("{at}.keyData"), "an imgseal authority reads its key from a file: write the key to a file and use keyPath"))
            }
            SigstoreTrust::Keys(KeySource::Datas(_)) => {
                return Err(refuse(&format!("{at}.keyDatas"), "an imgseal authority reads its key from a file: write the keys to files and use keyPaths"))
            }
            SigstoreTrust::Pki(p) => {
                let roots = match &p.ca_roots {
                    KeySource::Path(r) => absolute(base, r),
                    _ => {
                        return Err(refuse(
                            &format!("{at}.pki.caRootsData"),
                            "an imgseal authority reads its roots from a file: write them to a file and use caRootsPath",
                        ))
                    }
                };
                let identity = p.subject_email.clone().or(p.subject_hostname.clone());
                authorities.push(auth.add("certificateRoots", roots, identity));
            }
            // Refused above, before any authority is written.
            SigstoreTrust::Fulcio(_) => {
                return Err(refuse(&format!("{at}.fulcio"), "keyless: see above"))
            }
        }
    }
    let mut unique = Vec::new();
    for a in authorities {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    Ok(Body::Signed {
        any_of: unique.len() == 1,
        authorities: unique,
        identity,
    })
}
