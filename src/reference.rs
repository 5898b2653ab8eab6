//! Image references: the docker/OCI grammar `host[:port]/path[:tag][@digest]`, its
//! normalisation (`nginx` → `docker.io/library/nginx:latest`), and OCI image layouts on disk
//! (`oci:PATH[:REF]`).

use crate::{Digest, Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Docker Hub's canonical name.
pub const DOCKER_HUB: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A normalised reference to an image in a registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Registry host, with port if any (`docker.io`, `127.0.0.1:5000`, `[::1]:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path inside the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference has one. A reference with neither tag nor digest gets `latest`.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The host to talk HTTP to: Docker Hub's API lives at `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The repository as cosign writes it in a signature's `docker-reference`: registry and
    /// repository, no tag or digest, with Docker Hub spelled `index.docker.io` as cosign does.
    pub fn cosign_identity(&self) -> String {
        let registry = if self.registry == DOCKER_HUB {
            "index.docker.io"
        } else {
            &self.registry
        };
        format!("{}/{}", registry, self.repository)
    }

    /// True when `docker_reference` (from a signature payload) names this reference's
    /// repository. Docker Hub's aliases are treated as one registry; a tag or digest on
    /// `docker_reference` is ignored.
    pub fn same_repository(&self, docker_reference: &str) -> bool {
        match docker_reference.parse::<Reference>() {
            Ok(other) => other.registry == self.registry && other.repository == self.repository,
            Err(_) => false,
        }
    }

    /// The same repository pinned to `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The same repository at `tag`.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// True for registries on the loopback interface (`localhost`, `127.0.0.0/8`, `[::1]`),
    /// which, as docker does, are reached over plain HTTP.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`, with or without a port.
pub fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    if host == "localhost" {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_path_component(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Why a registry host (as written in a reference or a registry list) is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// `[` without `]`.
    #[error("an IPv6 address needs its closing ']'")]
    UnclosedBracket,
    /// The text between brackets is not an IPv6 address.
    #[error("[{0}] is not an IPv6 address")]
    NotIpv6(String),
    /// Something other than `:PORT` after `]`.
    #[error("after ']' only ':PORT' may follow")]
    AfterBracket,
    /// Not a DNS name (labels of letters, digits and inner `-`).
    #[error("not a host name")]
    NotAHost,
    /// Numeric like an IPv4 address but not in the dotted-decimal form.
    #[error("{0} looks like an IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros)")]
    Ipv4Form(String),
    /// The port is not a decimal number.
    #[error("port {0:?} is not a number")]
    PortNotANumber(String),
    /// The port is 0 or above 65535.
    #[error("port {0} is out of range (1-65535)")]
    PortOutOfRange(String),
}

/// The canonical spelling of a registry host as written in a reference, or why it is not a
/// host: host names lowercased, the port as a plain integer (`:05000` → `:5000`), the scheme's
/// default port dropped (`:443`, or `:80` for loopback registries, which are reached over
/// HTTP), IP literals re-rendered (`[0:0::1]` → `[::1]`), Docker Hub's aliases folded into
/// `docker.io`. Every comparison of registry names (policy rules, registry lists, trust-policy
/// scopes, identities, token caches) sees this one form, so spelling a host differently
/// cannot select a different rule.
pub fn canonical_registry(h: &str) -> std::result::Result<String, HostError> {
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(HostError::UnclosedBracket);
        };
        let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| HostError::NotIpv6(ip.to_string()))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(HostError::AfterBracket)?),
        };
        (format!("[{ip}]"), port)
    } else {
        let (name, port) = match h.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (h, None),
        };
        let ok = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(HostError::NotAHost);
        }
        let name = name.to_ascii_lowercase();
        // A name whose last label is all digits is an IPv4 address (no top-level domain is
        // numeric). Resolvers read `127.0.0.01`, `0177.1` or `2130706433` as IPv4 too, so only
        // the dotted-decimal form is accepted: it is the one every comparison can agree on.
        let last = name.rsplit('.').next().unwrap_or("");
        if last.bytes().all(|b| b.is_ascii_digit()) {
            match name.parse::<std::net::Ipv4Addr>() {
                Ok(ip) if ip.to_string() == name => {}
                _ => return Err(HostError::Ipv4Form(name)),
            }
        }
        (name, port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HostError::PortNotANumber(p.to_string()));
            }
            match p.parse::<u64>() {
                Ok(n) if n > 0 && n < 65536 => Some(n),
                _ => return Err(HostError::PortOutOfRange(p.to_string())),
            }
        }
    };
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => host,
    };
    let default_port = if is_loopback_host(&host) { 80 } else { 443 };
    Ok(match port {
        Some(p) if p != default_port => format!("{host}:{p}"),
        _ => host,
    })
}

/// The canonical `registry/repository` of `name` (a reference, or a repository without tag),
/// as [`Reference`] normalises it; `None` when it does not parse.
pub fn canonical_repository(name: &str) -> Option<String> {
    let r: Reference = name.parse().ok()?;
    Some(format!("{}/{}", r.registry, r.repository))
}

fn valid_tag(t: &str) -> bool {
    // [\w][\w.-]{0,127}
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(bad("it is empty"));
        }
        if input.contains(char::is_whitespace) {
            return Err(bad("it contains whitespace"));
        }
        if input.contains("://") {
            return Err(bad(
                "drop the scheme: write host/repository[:tag][@digest], not a URL",
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>()?)),
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(&rest[i + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(&format!(
                    "tag {t:?} is not valid (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')"
                )));
            }
        }
        if name.is_empty() {
            return Err(bad("the repository name is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(bad("the name is longer than 255 characters"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first.starts_with('[')
                    || first.eq_ignore_ascii_case("localhost") =>
            {
                let host = canonical_registry(first)
                    .map_err(|why| bad(&format!("registry host {first:?} is not valid: {why}")))?;
                (host, path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository names must be lowercase"));
        }
        for component in path.split('/') {
            if !is_path_component(component) {
                return Err(bad(&format!(
                    "path component {component:?} is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-')"
                )));
            }
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        // The limit applies to the full name, as docker checks it after normalizing (and as
        // Display writes it back): `foo` becomes `docker.io/library/foo`.
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(bad(&format!(
                "the name is longer than 255 characters once written in full ({registry}/{}…)",
                repository.split('/').next().unwrap_or("")
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// A reference to an image in an OCI image layout directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory (holds `oci-layout`, `index.json`, `blobs/`).
    pub path: PathBuf,
    /// The `org.opencontainers.image.ref.name` to look up, if any.
    pub name: Option<String>,
    /// A pinned digest, if any.
    pub digest: Option<Digest>,
}

impl LayoutRef {
    /// The identity written into (and required of) signatures of this image: the repository
    /// of the ref name when it is a full reference (`oci:dir:registry.example/app:v1` →
    /// `registry.example/app`), otherwise the layout directory's name.
    pub fn identity(&self) -> String {
        if let Some(name) = &self.name {
            if name.contains('/') {
                if let Ok(r) = name.parse::<Reference>() {
                    return r.cosign_identity();
                }
            }
        }
        let abs = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        abs.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "oci-layout".to_string())
    }
}

/// Where an image lives: a registry or an OCI layout on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// An image in a registry.
    Registry(Reference),
    /// An image in an OCI image layout directory.
    Layout(LayoutRef),
}

impl ImageRef {
    /// Parse `oci:PATH[:REF][@DIGEST]` as a layout, anything else as a registry reference.
    pub fn parse(input: &str) -> Result<ImageRef> {
        match input.strip_prefix("oci:") {
            Some(rest) => Self::parse_layout(rest, None),
            None => Ok(ImageRef::Registry(input.parse()?)),
        }
    }

    /// An image in the layout at `path`, named by `name` (a ref name, `@digest`, or
    /// `REF@digest`); used for `--oci-layout PATH IMAGE`.
    pub fn in_layout(path: &str, name: &str) -> Result<ImageRef> {
        Self::parse_layout(path, Some(name))
    }

    fn parse_layout(rest: &str, explicit_name: Option<&str>) -> Result<ImageRef> {
        let bad = |reason: &str| Error::InvalidReference {
            input: format!("oci:{rest}"),
            reason: reason.to_string(),
        };
        let (path, spec) = match explicit_name {
            Some(n) => (rest.to_string(), n.to_string()),
            None => {
                // PATH[:REF][@DIGEST], split at the first ':' as containers/image does (so a
                // layout path cannot contain ':'); `oci:PATH@sha256:…` pins a digest.
                let at = rest.find('@');
                let colon = rest.find(':');
                match (at, colon) {
                    (Some(a), Some(c)) if a < c => (rest[..a].to_string(), rest[a..].to_string()),
                    (Some(a), None) => (rest[..a].to_string(), rest[a..].to_string()),
                    (_, Some(c)) => (rest[..c].to_string(), rest[c + 1..].to_string()),
                    (None, None) => (rest.to_string(), String::new()),
                }
            }
        };
        if path.is_empty() {
            return Err(bad("the layout path is empty; write oci:PATH[:REF]"));
        }
        let (name, digest) = match spec.split_once('@') {
            Some((n, d)) => (n.to_string(), Some(d.parse::<Digest>()?)),
            None => (spec.clone(), None),
        };
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("the ref name contains whitespace"));
        }
        let name = if name.is_empty() {
            if digest.is_none() {
                Some("latest".to_string())
            } else {
                None
            }
        } else {
            Some(name)
        };
        Ok(ImageRef::Layout(LayoutRef {
            path: PathBuf::from(path),
            name,
            digest,
        }))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => write!(f, "{r}"),
            ImageRef::Layout(l) => {
                write!(f, "oci:{}", l.path.display())?;
                if let Some(n) = &l.name {
                    write!(f, ":{n}")?;
                }
                if let Some(d) = &l.digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        s.parse().unwrap()
    }

    #[test]
    fn the_length_limit_applies_to_the_full_name() {
        // Found by fuzzing: `foo` of 250 characters passed, but its Display form
        // `docker.io/library/foo…:latest` did not parse back.
        let short = "a".repeat(250);
        let e = short.parse::<Reference>().unwrap_err().to_string();
        assert!(
            e.contains("once written in full (docker.io/library…)"),
            "{e}"
        );
        let fits = "a".repeat(255 - "docker.io/library/".len());
        let r = p(&fits);
        assert_eq!(p(&r.to_string()), r);
    }

    #[test]
    fn normalises_docker_hub() {
        assert_eq!(p("nginx").to_string(), "docker.io/library/nginx:latest");
        assert_eq!(p("nginx:1.25").to_string(), "docker.io/library/nginx:1.25");
        assert_eq!(p("user/app").to_string(), "docker.io/user/app:latest");
        assert_eq!(p("index.docker.io/library/nginx").registry(), "docker.io");
        assert_eq!(
            p("nginx").cosign_identity(),
            "index.docker.io/library/nginx"
        );
        assert_eq!(p("nginx").api_host(), "registry-1.docker.io");
    }

    #[test]
    fn hosts_ports_and_digests() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = p(&format!("127.0.0.1:5000/a/b:v1@{d}"));
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "a/b");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().unwrap().to_string(), d);
        let r = p(&format!("localhost/app@{d}"));
        assert_eq!(r.tag(), None);
        assert!(r.is_loopback());
        assert!(p("[::1]:5000/app").is_loopback());
        assert!(p("127.8.0.1:80/app").is_loopback());
        assert!(!p("registry.example:5000/app").is_loopback());
        assert_eq!(
            p("localhost:5000/app").to_string(),
            "localhost:5000/app:latest"
        );
    }

    #[test]
    fn registry_hosts_are_canonical() {
        // Security: every spelling of one registry names the same registry.
        for (given, want) in [
            (
                "REGISTRY.corp.example/prod/app:1",
                "registry.corp.example/prod/app:1",
            ),
            (
                "registry.corp.example:443/prod/app:1",
                "registry.corp.example/prod/app:1",
            ),
            ("Docker.io/library/nginx", "docker.io/library/nginx:latest"),
            (
                "INDEX.DOCKER.IO/library/nginx",
                "docker.io/library/nginx:latest",
            ),
            (
                "docker.io:443/library/nginx",
                "docker.io/library/nginx:latest",
            ),
            ("Registry-1.Docker.IO/x/y", "docker.io/x/y:latest"),
            ("127.0.0.1:05123/prod/app", "127.0.0.1:5123/prod/app:latest"),
            ("LOCALHOST:5000/nota/x", "localhost:5000/nota/x:latest"),
            ("LOCALHOST/nota/x", "localhost/nota/x:latest"),
            ("localhost:80/a", "localhost/a:latest"),
            ("localhost:443/a", "localhost:443/a:latest"),
            ("registry.example:80/a", "registry.example:80/a:latest"),
            ("[0:0:0:0:0:0:0:1]:5000/a", "[::1]:5000/a:latest"),
            ("[::1]:80/a", "[::1]/a:latest"),
            ("[2001:DB8::1]/a", "[2001:db8::1]/a:latest"),
        ] {
            assert_eq!(p(given).to_string(), want, "{given}");
        }
        for bad in [
            "127.0.0.01:5000/a",
            "0177.0.0.1:5000/a",
            "2130706433:5000/a",
            "0x7f.1:5000/a",
            "localhost:0/a",
            "localhost:+80/a",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad} parsed");
        }
        assert_eq!(
            canonical_repository("Registry.Example:443/app").as_deref(),
            Some("registry.example/app")
        );
    }

    #[test]
    fn same_repository_ignores_tags_and_hub_aliases() {
        let r = p("nginx:1");
        assert!(r.same_repository("index.docker.io/library/nginx"));
        assert!(r.same_repository("docker.io/library/nginx:2"));
        assert!(!r.same_repository("docker.io/library/redis"));
        assert!(!r.same_repository("NOT A REF"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "UPPER/case",
            "a b",
            "https://registry.example/app",
            "app:",
            "app:-bad",
            "app@sha256:123",
            "registry.example:99999/app",
            "a//b",
            "a/-b",
            "[::zz]:5000/app",
        ] {
            let e = bad.parse::<Reference>();
            assert!(e.is_err(), "{bad:?} parsed as {e:?}");
        }
    }

    #[test]
    fn layout_refs() {
        let ImageRef::Layout(l) = ImageRef::parse("oci:./build/img:v1").unwrap() else {
            panic!()
        };
        assert_eq!(l.path, PathBuf::from("./build/img"));
        assert_eq!(l.name.as_deref(), Some("v1"));
        let ImageRef::Layout(l) = ImageRef::parse("oci:img").unwrap() else {
            panic!()
        };
        assert_eq!(l.name.as_deref(), Some("latest"));
        let ImageRef::Layout(l) = ImageRef::parse("oci:/x/img:registry.example/app:v1").unwrap()
        else {
            panic!()
        };
        assert_eq!(l.path, PathBuf::from("/x/img"));
        assert_eq!(l.identity(), "registry.example/app");
        assert!(ImageRef::parse("oci:").is_err());
    }
}
