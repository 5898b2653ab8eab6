//! Evaluating images against containers/image's `policy.json` ([`super::containers`]) the way
//! podman, CRI-O and skopeo do at pull time, with imgseal's verification pipeline: the scope
//! that applies (most specific first), then every one of its requirements, each a
//! [`Check`] named `type[index]` in a [`Decision`] whose `rule` is the scope — the same
//! decision shape as an imgseal policy's.
//!
//! | requirement | passes when |
//! |---|---|
//! | `insecureAcceptAnything` | always |
//! | `reject` | never |
//! | `sigstoreSigned` (`keyPath`, `keyPaths`, `keyData`, `keyDatas`) | a cosign simple-signing signature at the image's `sha256-<hex>.sig` tag verifies with one of the keys, names the image's digest, and its `docker-reference` satisfies `signedIdentity` (default `matchRepoDigestOrExact`) |
//! | `sigstoreSigned` (`pki`: `caRootsPath`/`caRootsData` with `subjectEmail` or `subjectHostname`) | the same, with a signing certificate (and the chain the signature carries) chaining to the roots and carrying the subject as a SAN |
//! | `sigstoreSigned` (`fulcio`: `caPath`/`caData`, `oidcIssuer`, `subjectEmail`; with `rekorPublicKey*`) | a keyless signature at the `.sig` tag: its Fulcio certificate chains to the CA at the Rekor integrated time and carries the issuer and email, its Rekor SET verifies with one of the Rekor keys and the entry matches the signature (no SCT check, as in containers/image) |
//! | any of the above with `rekorPublicKey*` | also: the signature's Rekor SET verifies with one of the keys |
//! | `signedBy`, `signedBaseLayer`, pki intermediates, pki with both subjects | never: reported as not supported, naming the scope ([`super::containers::Unsupported`]) |
//!
//! As in containers/image, only the `.sig` tag counts: a signature found only among OCI 1.1
//! referrers or in a Sigstore bundle is reported and does not satisfy a requirement. Images in
//! an OCI layout (`oci` transport) have no registry name in containers/image, so there only
//! `exactReference` and `exactRepository` can match. Trust material is read once, at
//! [`ContainersEvaluator::new`]; a key or root that cannot be read fails the requirements that
//! name it (as containers/image reads keys when it evaluates), naming the field, not the whole
//! policy. Relative paths are relative to the working directory, as for containers/image.

use super::containers::{
    ContainersPolicy, ContainersPolicyError, KeySource, Requirement, Scope, SigstoreSigned,
    SigstoreTrust,
};
use super::{Check, Decision, Mode};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::StoreOptions;
use crate::trust::keyless::CertificateIdentity;
use crate::trust::signed_identity::SignedIdentity;
use crate::trust::sigstore_root::TrustedRoot;
use crate::trust::CertificateTrust;
use crate::verify::KeylessTrust;
use crate::{PublicKey, Verifier};
use std::collections::BTreeMap;
use std::path::Path;

/// The trust material of one supported `sigstoreSigned` requirement, loaded.
#[derive(Clone, Debug)]
struct Loaded {
    trust: LoadedTrust,
    /// The Rekor keys (`rekorPublicKey*`) as a trusted root, and for `fulcio` the Fulcio CA
    /// and the identity: the signature's Rekor SET (and certificate) are checked against it.
    sigstore: Option<KeylessTrust>,
}

#[derive(Clone, Debug)]
enum LoadedTrust {
    /// Named public keys (`keyPath /k.pub`, `keyDatas[1]`).
    Keys(Vec<(String, PublicKey)>),
    /// Certificate roots and the SAN the signing certificate must carry.
    Pki(CertificateTrust),
    /// A Fulcio certificate with this email and issuer (in `sigstore`).
    Fulcio(String),
}

/// Where a requirement list is in the policy: transport and scope key (`""` for a
/// transport default, `None` for the global default).
type ListKey = (String, Option<String>);

/// A `policy.json` with its trust material loaded, ready to evaluate images.
#[derive(Clone, Debug)]
pub struct ContainersEvaluator {
    policy: ContainersPolicy,
    loaded: BTreeMap<(ListKey, usize), Result<Loaded, ContainersPolicyError>>,
    options: StoreOptions,
    now: Option<std::time::SystemTime>,
}

impl ContainersEvaluator {
    /// Load the keys and certificate roots of every `sigstoreSigned` requirement imgseal can
    /// evaluate (the `docker` and `oci` transports and the global default). A file that
    /// cannot be read or a key that does not parse fails the requirement where it applies,
    /// with an error naming the field by its JSON path.
    pub fn new(policy: ContainersPolicy) -> ContainersEvaluator {
        let mut loaded = BTreeMap::new();
        let mut lists: Vec<(ListKey, String, &[Requirement])> = vec![(
            (String::new(), None),
            "default".to_string(),
            policy.default_requirements(),
        )];
        for transport in ["docker", "oci"] {
            for (scope, reqs) in policy.scopes(transport).into_iter().flatten() {
                lists.push((
                    (transport.to_string(), Some(scope.clone())),
                    format!("transports.{transport}[{scope:?}]"),
                    reqs.as_slice(),
                ));
            }
        }
        for (key, path, reqs) in lists {
            for (i, r) in reqs.iter().enumerate() {
                let Requirement::SigstoreSigned(s) = r else {
                    continue;
                };
                if r.unsupported().is_some() {
                    continue;
                }
                let at = format!("{path}[{i}]");
                loaded.insert((key.clone(), i), load_trust(s, &at));
            }
        }
        ContainersEvaluator {
            policy,
            loaded,
            options: StoreOptions::default(),
            now: None,
        }
    }

    /// Use these store options (plain HTTP, caps, deadline).
    pub fn with_options(mut self, options: StoreOptions) -> ContainersEvaluator {
        self.options = options;
        self
    }

    /// Check certificate validity at this instant instead of the system clock.
    pub fn with_now(mut self, now: Option<std::time::SystemTime>) -> ContainersEvaluator {
        self.now = now;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ContainersPolicy {
        &self.policy
    }

    /// Decide for `image`: the scope that applies (the decision's `rule`), then one check
    /// per requirement (`sigstoreSigned[0]`, …); allowed only when every one passes.
    /// Problems with the image (cannot be resolved, named by tag and digest) are failed
    /// checks, not errors.
    pub async fn evaluate(&self, image: &ImageRef) -> Decision {
        let mut d = Decision {
            image: image.to_string(),
            digest: None,
            rule: None,
            mode: Mode::Enforce,
            allowed: false,
            checks: Vec::new(),
            requests: 0,
        };
        let scope = match self.policy.requirements_for(image) {
            Ok(s) => s,
            Err(e) => {
                d.checks.push(Check::new("scope", false, e.to_string()));
                return d;
            }
        };
        d.rule = Some(scope.to_string());
        let key: ListKey = match &scope.scope {
            Scope::Named(s) => (scope.transport.to_string(), Some(s.clone())),
            Scope::TransportDefault => (scope.transport.to_string(), Some(String::new())),
            Scope::GlobalDefault => (String::new(), None),
        };
        let mut resolved: Option<crate::Result<Resolved>> = None;
        for (i, r) in scope.requirements.iter().enumerate() {
            let name = format!("{}[{i}]", r.type_name());
            let check = match (r, r.unsupported()) {
                (_, Some(what)) => Check::new(
                    &name,
                    false,
                    format!("{scope}, requirement {i}: {what}; imgseal cannot decide what containers/image would"),
                ),
                (Requirement::InsecureAcceptAnything, _) => {
                    Check::new(&name, true, "insecureAcceptAnything accepts any image")
                }
                (Requirement::Reject, _) => Check::new(&name, false, "reject refuses every image"),
                (Requirement::SigstoreSigned(s), None) => match self.loaded.get(&(key.clone(), i))
                {
                    Some(Err(e)) => Check::new(&name, false, e.to_string()),
                    Some(Ok(material)) => {
                        if resolved.is_none() {
                            resolved = Some(resolve(image, &self.options, false).await);
                        }
                        match resolved.as_ref() {
                            Some(Ok(res)) => {
                                d.digest = Some(res.manifest.digest.to_string());
                                self.check_sigstore(&name, image, res, material, &s.signed_identity)
                                    .await
                            }
                            Some(Err(e)) => Check::new(&name, false, e.to_string()),
                            None => Check::new(&name, false, "the image was not resolved"),
                        }
                    }
                    None => Check::new(&name, false, "its trust material was not loaded"),
                },
                // Every other type is unsupported (above).
                (other, None) => Check::new(
                    &name,
                    false,
                    format!("{} is not supported", other.type_name()),
                ),
            };
            d.checks.push(check);
        }
        if let Some(Ok(res)) = &resolved {
            d.requests = res.store.requests();
        }
        d.allowed = !d.checks.is_empty() && d.checks.iter().all(|c| c.passed);
        d
    }

    /// One `sigstoreSigned` requirement for a resolved image.
    async fn check_sigstore(
        &self,
        name: &str,
        image: &ImageRef,
        r: &Resolved,
        material: &Loaded,
        identity: &SignedIdentity,
    ) -> Check {
        if matches!(image, ImageRef::Layout(_)) && identity.needs_image_identity() {
            return Check::new(
                name,
                false,
                format!(
                    "signedIdentity {identity} compares with the image's registry name, and containers/image gives images in an OCI layout none; use exactRepository or exactReference for the oci transport"
                ),
            );
        }
        let (verifier, trusted) = match &material.trust {
            LoadedTrust::Keys(keys) => (
                Verifier::with_keys(keys.clone()),
                keys.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            LoadedTrust::Pki(t) => (
                Verifier::with_keys(Vec::new()).with_certificate_trust(Some(t.clone())),
                format!(
                    "a certificate chaining to the pki roots with SAN {}",
                    t.identity.as_deref().unwrap_or("?")
                ),
            ),
            LoadedTrust::Fulcio(who) => (Verifier::with_keys(Vec::new()), who.clone()),
        };
        let trusted = if material.sigstore.is_some() {
            format!("{trusted} (with a Rekor entry)")
        } else {
            trusted
        };
        let v = verifier
            .with_keyless(material.sigstore.clone())
            .with_format(Some(crate::formats::SignatureFormat::Cosign))
            .with_signed_identity(identity.clone())
            .with_options(self.options.clone())
            .with_now(self.now)
            .verify_resolved(
                &r.store,
                image,
                &r.manifest,
                &r.repository,
                &BTreeMap::new(),
            )
            .await;
        let v = match v {
            Ok(v) => v,
            Err(e) => return Check::new(name, false, e.to_string()),
        };
        let at_tag = v
            .signatures
            .iter()
            .find(|s| s.verified && s.format == "cosign" && s.source.starts_with("tag "));
        match at_tag {
            Some(s) => Check::new(
                name,
                true,
                format!(
                    "signed by {} (signedIdentity {identity}), found at {}",
                    s.signed_by.as_deref().unwrap_or(&trusted),
                    s.source
                ),
            ),
            None if v.verified => Check::new(
                name,
                false,
                format!(
                    "a signature by {trusted} verified, but only among the OCI 1.1 referrers or in a Sigstore bundle, which containers/image does not read; it reads the sha256-<hex>.sig tag only"
                ),
            ),
            None => Check::new(
                name,
                false,
                format!(
                    "no signature at the .sig tag verifies with {trusted} (signedIdentity {identity}): {}",
                    v.failure_summary()
                ),
            ),
        }
    }

    /// [`ContainersEvaluator::evaluate`] for many images, at most `concurrency` at a time, in
    /// input order; the same image given twice is evaluated once.
    pub async fn evaluate_many(&self, images: &[ImageRef], concurrency: usize) -> Vec<Decision> {
        use futures_util::StreamExt as _;
        let mut first_of: BTreeMap<String, usize> = BTreeMap::new();
        let mut unique = Vec::new();
        for (i, img) in images.iter().enumerate() {
            first_of.entry(img.to_string()).or_insert_with(|| {
                unique.push((i, img.clone()));
                i
            });
        }
        let mut out: Vec<Option<Decision>> = vec![None; images.len()];
        let mut stream = futures_util::stream::iter(unique)
            .map(|(i, img)| async move { (i, self.evaluate(&img).await) })
            .buffer_unordered(concurrency.max(1));
        while let Some((i, d)) = stream.next().await {
            out[i] = Some(d);
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

/// The keys or certificate roots of a supported `sigstoreSigned` trust source at `at`.
fn load_trust(s: &SigstoreSigned, at: &str) -> Result<Loaded, ContainersPolicyError> {
    let mut root = TrustedRoot::builder();
    let mut sigstore = false;
    if let Some(rekor) = &s.rekor_public_keys {
        for (field, pem) in read_sources(rekor, &format!("{at}.rekorPublicKey"))? {
            root = root.rekor_key_pem(&field, &pem, std::time::UNIX_EPOCH, None);
        }
        sigstore = true;
    }
    let trust = match &s.trust {
        SigstoreTrust::Keys(k) => LoadedTrust::Keys(load_keys(k, at)?),
        SigstoreTrust::Pki(p) => {
            let roots = match &p.ca_roots {
                KeySource::Path(file) => {
                    CertificateTrust::load(file, None)
                        .map_err(|e| invalid(&format!("{at}.pki.caRootsPath"), e))?
                        .roots
                }
                KeySource::Data(pem) => crate::pki::load_pem_certificates(pem)
                    .map_err(|e| invalid(&format!("{at}.pki.caRootsData"), e))?,
                _ => {
                    return Err(invalid(
                        &format!("{at}.pki"),
                        "caRoots takes one path or one value",
                    ))
                }
            };
            LoadedTrust::Pki(CertificateTrust {
                roots,
                identity: p.subject_email.clone().or(p.subject_hostname.clone()),
                subject: None,
            })
        }
        SigstoreTrust::Fulcio(f) => {
            for (field, pem) in read_sources(&f.ca, &format!("{at}.fulcio.ca"))? {
                root = root.fulcio_pem(&field, &pem);
            }
            if s.rekor_public_keys.is_none() {
                // containers/image refuses fulcio without a Rekor key at load; kept for safety.
                return Err(invalid(
                    &format!("{at}.fulcio"),
                    "fulcio needs rekorPublicKeyPath or rekorPublicKeyData",
                ));
            }
            LoadedTrust::Fulcio(format!(
                "a Fulcio certificate for {} issued by {}",
                f.subject_email, f.oidc_issuer
            ))
        }
    };
    let sigstore = if sigstore {
        let built = root.build().map_err(|e| invalid(at, e))?;
        let mut k = KeylessTrust::new(std::sync::Arc::new(built));
        // containers/image checks the SET and the certificate chain, not an SCT.
        k.require_sct = false;
        if let SigstoreTrust::Fulcio(f) = &s.trust {
            k = k.with_identities(vec![CertificateIdentity::exact(
                f.subject_email.clone(),
                f.oidc_issuer.clone(),
            )]);
        }
        Some(k)
    } else {
        None
    };
    Ok(Loaded { trust, sigstore })
}

/// The PEM bytes of a path, paths, value or values source, each with the field it came from.
fn read_sources(
    source: &KeySource,
    field: &str,
) -> Result<Vec<(String, Vec<u8>)>, ContainersPolicyError> {
    const MAX_PEM: u64 = 4 * 1024 * 1024;
    let read = |f: String, p: &Path| {
        crate::util::fs::read_capped(p, MAX_PEM, "a PEM file")
            .map(|b| (format!("{f} {}", p.display()), b))
            .map_err(|e| invalid(&f, e))
    };
    match source {
        KeySource::Path(p) => Ok(vec![read(format!("{field}Path"), p)?]),
        KeySource::Paths(ps) => ps
            .iter()
            .enumerate()
            .map(|(i, p)| read(format!("{field}Paths[{i}]"), p))
            .collect(),
        KeySource::Data(d) => Ok(vec![(format!("{field}Data"), d.clone())]),
        KeySource::Datas(ds) => Ok(ds
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("{field}Datas[{i}]"), d.clone()))
            .collect()),
    }
}

fn invalid(path: &str, why: impl std::fmt::Display) -> ContainersPolicyError {
    ContainersPolicyError::Invalid {
        path: path.to_string(),
        reason: why.to_string(),
    }
}

/// The public keys of a `keyPath`/`keyPaths`/`keyData`/`keyDatas` source, each named by its
/// field.
fn load_keys(
    source: &KeySource,
    at: &str,
) -> Result<Vec<(String, PublicKey)>, ContainersPolicyError> {
    let file = |field: String, p: &Path| {
        PublicKey::from_file(p)
            .map(|k| (format!("keyPath {}", p.display()), k))
            .map_err(|e| invalid(&field, e))
    };
    let data = |field: String, bytes: &[u8]| {
        PublicKey::from_pem(bytes, &field)
            .map(|k| (field.clone(), k))
            .map_err(|e| invalid(&format!("{at}.{field}"), e))
    };
    match source {
        KeySource::Path(p) => Ok(vec![file(format!("{at}.keyPath"), p)?]),
        KeySource::Paths(ps) => ps
            .iter()
            .enumerate()
            .map(|(i, p)| file(format!("{at}.keyPaths[{i}]"), p))
            .collect(),
        KeySource::Data(d) => Ok(vec![data("keyData".into(), d)?]),
        KeySource::Datas(ds) => ds
            .iter()
            .enumerate()
            .map(|(i, d)| data(format!("keyDatas[{i}]"), d))
            .collect(),
    }
}
