//! The checks a rule runs on one image: signatures by its authorities, labels, non-root user,
//! image age; and the helpers they share.

use super::*;

impl Policy {
    pub(super) fn check_labels(&self, idx: usize, label: &str, v: &serde_json::Value) -> Check {
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

    /// The identity rule for a verifier: the caller's override, else the rule's
    /// `signedIdentity`, else the default.
    fn with_identity(
        &self,
        v: Verifier,
        rule: Option<&crate::trust::signed_identity::SignedIdentity>,
    ) -> Verifier {
        match (&self.extra.signed_identity, &self.extra.identity, rule) {
            (Some(id), _, _) => v.with_signed_identity(id.clone()),
            (None, Some(repo), _) => v.with_signed_repository(Some(repo.clone())),
            (None, None, Some(id)) => v.with_signed_identity(id.clone()),
            (None, None, None) => v,
        }
    }

    pub(super) async fn check_signatures(
        &self,
        authorities: Option<&AuthorityRequirement>,
        annotations: Option<&Annotations>,
        identity: Option<&crate::trust::signed_identity::SignedIdentity>,
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
            let v = self
                .with_identity(Verifier::with_keys(keys), identity)
                .with_options(self.options.clone())
                .with_platform(self.extra.platform.clone())
                .with_now(self.extra.now)
                .with_required_annotation_keys(presence.clone())
                .require_all(need > 1)
                .examine_all(examine_all)
                .verify_resolved(&r.store, image, &r.manifest, &r.repository, &exact)
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
                    .with_format(Some(crate::formats::SignatureFormat::Cosign)),
                // The rule's annotations are the signed target's annotations (notation's user
                // metadata): exact values through `exact`, keys through the required keys.
                Some(Authority::Notation(t)) => Verifier::with_keys(Vec::new())
                    .with_notation_trust(Some(t.clone()))
                    .with_format(Some(crate::formats::SignatureFormat::Notation)),
                Some(Authority::Keyless(t)) => Verifier::with_keys(Vec::new())
                    .with_keyless(Some(t.clone()))
                    .with_format(Some(crate::formats::SignatureFormat::Cosign)),
                _ => continue,
            };
            let v = self
                .with_identity(verifier, identity)
                .with_required_annotation_keys(presence.clone())
                .examine_all(examine_all)
                .with_options(self.options.clone())
                .with_platform(self.extra.platform.clone())
                .with_now(self.extra.now)
                .verify_resolved(&r.store, image, &r.manifest, &r.repository, &exact)
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
                reason.push_str(&crate::util::text::bounded_join(
                    &why,
                    "; ",
                    crate::util::text::MAX_LISTED_REASONS,
                ));
            }
            Check::new("signature", false, reason)
        }
    }
}

/// `nonRootUser`: the config's `User` names a user other than root.
pub(super) fn check_non_root(label: &str, config: &serde_json::Value) -> Check {
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
pub(super) fn check_age(
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

/// True when registry-list entry `entry` names `registry` (already canonical): both are
/// compared in canonical form, so `Docker.io`, `index.docker.io` and `docker.io:443` are one.
pub(super) fn same_registry(entry: &str, registry: &str) -> bool {
    match crate::reference::canonical_registry(entry) {
        Ok(e) => e == registry,
        Err(_) => entry == registry,
    }
}

/// The authorities of `names` (in that order) that can each be given a signing key of its own
/// from `keys_of` (a maximum bipartite matching, authorities to signing-key fingerprints): one
/// signature, or several by one key, satisfies at most one authority, however many authorities
/// would accept it.
pub(super) fn distinct_signers(
    names: &[String],
    keys_of: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    pub(super) fn augment<'a>(
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

pub(super) fn human(n: u64) -> String {
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
