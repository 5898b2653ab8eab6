//! Evaluating images against a loaded policy: pick the rule, resolve the image, run its checks
//! and make the [`Decision`].

use super::*;

impl Policy {
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
            // Rules match a layout image as `oci-layout/<its full reference's repository>`, or
            // `oci-layout/unnamed`: never by the directory's name, so moving it changes nothing.
            ImageRef::Layout(l) => (
                "oci-layout".to_string(),
                match crate::trust::signed_identity::image_identity(image) {
                    Some(_) => l.identity(),
                    None => "unnamed".to_string(),
                },
                l.name.clone(),
                l.digest.is_some(),
            ),
        };
        let name = format!("{registry}/{repository}");
        let matched = self.rule_for_logged(&name, "signatures");
        let Some(idx) = matched else {
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
                        d.checks.push(
                            self.check_signatures(None, None, None, image, &resolved)
                                .await,
                        );
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
            || rule.attestations.is_some()
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

    pub(super) async fn check_image(
        &self,
        idx: usize,
        image: &ImageRef,
        r: &Resolved,
        d: &mut Decision,
    ) {
        let rule = &self.file.rules[idx];
        if rule.authorities.is_some()
            || rule.annotations.is_some()
            || !self.extra.annotations.is_empty()
        {
            d.checks.push(
                self.check_signatures(
                    rule.authorities.as_ref(),
                    rule.annotations.as_ref(),
                    rule.signed_identity.as_ref(),
                    image,
                    r,
                )
                .await,
            );
        }
        self.check_attestations(idx, image, r, None, d).await;
        let wants_platforms =
            rule.max_size.is_some() || rule.allowed_base_images.is_some() || rule.wants_config();
        if !wants_platforms {
            return;
        }
        // The platform manifests to inspect: the image itself, or each entry of an index.
        let mut manifests: Vec<(String, std::result::Result<Manifest, PlatformError>)> = Vec::new();
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
                                Ok(None) => Err(PlatformError::Missing),
                                Err(e) => Err(e.into()),
                            },
                            Err(e) => Err(e.into()),
                        };
                        manifests.push((label, got));
                    }
                }
                Err(e) => manifests.push(("index".into(), Err(e.into()))),
            }
        } else {
            manifests.push(("image".into(), Ok(r.manifest.clone())));
        }
        for (label, m) in manifests {
            let parsed =
                m.and_then(|m| ImageManifest::from_bytes(&m.bytes).map_err(PlatformError::from));
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
    pub(super) fn wants_config(&self) -> bool {
        self.required_labels.is_some()
            || self.non_root_user == Some(true)
            || self.max_image_age.is_some()
    }
}

/// Why an image's config blob could not be read for the config checks (labels, user, age).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The manifest announces a config larger than [`MAX_CONFIG_BYTES`].
    #[error("config blob is {size} bytes, over the {MAX_CONFIG_BYTES}-byte cap; its labels, user and creation time are not checked")]
    TooLarge {
        /// The announced size.
        size: u64,
    },
    /// The config could not be fetched (or its digest is malformed).
    #[error("config blob: {0}")]
    Fetch(#[source] crate::Error),
    /// The config is not JSON.
    #[error("config blob is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
}

/// The image config blob of `m`, parsed (capped at [`MAX_CONFIG_BYTES`]); the error says why
/// the config checks could not be made.
pub(super) async fn config_of(
    store: &Store,
    m: &ImageManifest,
) -> std::result::Result<serde_json::Value, ConfigError> {
    let size = m.config.size;
    if size > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge { size });
    }
    let dg = m.config.digest().map_err(ConfigError::Fetch)?;
    let bytes = store
        .get_blob(&dg, size, MAX_CONFIG_BYTES)
        .await
        .map_err(ConfigError::Fetch)?;
    serde_json::from_slice(&bytes).map_err(ConfigError::NotJson)
}

/// Why a platform manifest of an image could not be inspected (its check fails with this).
#[derive(Debug, thiserror::Error)]
enum PlatformError {
    /// The index names a manifest the store does not have.
    #[error("platform manifest missing")]
    Missing,
    /// It could not be read or parsed.
    #[error(transparent)]
    Read(#[from] Error),
}
