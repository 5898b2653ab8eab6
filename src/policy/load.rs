//! Loading a policy: parse the file (after the YAML guards), validate every rule, load every
//! authority's trust material, and hash what was read.

use super::*;

pub(super) fn compile_regex(what: &str, re: &str) -> Result<regex::Regex> {
    regex::Regex::new(re).map_err(|e| {
        // A syntax error renders over several lines (the pattern, a caret, the reason): the
        // reason is what one line can say.
        let shown = e.to_string();
        let reason = shown
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().trim_start_matches("error: ").to_string())
            .unwrap_or(shown);
        Error::invalid(what, format!("invalid regex {re:?}: {reason}"))
    })
}

impl Policy {
    /// Load and validate a policy file. Returns the policy and warnings (rules that can never
    /// match, catch-all rules listed before specific ones). A file with problems is refused
    /// with [`Error::Policy`]: a [`PolicyError`] listing every problem found, each with its
    /// field path and, where the text shows it, its line and column.
    pub fn load(path: &Path) -> Result<(Policy, Vec<String>)> {
        let shown = path.display().to_string();
        let text = crate::util::fs::read_capped_string(path, MAX_POLICY_BYTES, "a policy file")?;
        let base = path.parent().unwrap_or(Path::new("."));
        Policy::from_yaml(&text, base, &shown)
    }

    /// Parse a policy from YAML text; relative key paths resolve against `base`. A policy
    /// with problems is refused with a [`PolicyError`] naming every problem found (each
    /// with its field path and, where the text shows it, its line and column).
    pub fn from_yaml(text: &str, base: &Path, shown: &str) -> Result<(Policy, Vec<String>)> {
        // Anchors, aliases and deep nesting are refused before the parser can spend memory
        // or time on them (see yaml_guard).
        yaml_guard::scan(text).map_err(|reason| Error::invalid(shown, reason.to_string()))?;
        yaml_guard::check_expansion(text)
            .map_err(|reason| Error::invalid(shown, reason.to_string()))?;
        let mut problems = Problems::default();
        let (file, origin) = match serde_yaml_ng::from_str::<PolicyFile>(text) {
            Ok(file) => {
                let origin = Origin::of(&file);
                (file, origin)
            }
            // Not the shape of a policy: the rest of the file is read rule by rule and
            // authority by authority, so that one run names every problem.
            Err(e) => match recover(text, &mut problems) {
                Some(partial) if !problems.is_empty() => partial,
                _ => {
                    return Err(PolicyError::Invalid {
                        file: shown.to_string(),
                        problems: vec![Problem::syntax(&e)],
                    }
                    .into())
                }
            },
        };
        let (mut policy, warnings) = Policy::from_file(file, base, &origin, &mut problems);
        if !problems.is_empty() {
            return Err(problems.into_error(shown, text, Vec::new()).into());
        }
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

    /// Validate `file` and load its authorities' trust material, adding every problem found
    /// to `problems` (the policy returned is only for use when there are none).
    pub(super) fn from_file(
        file: PolicyFile,
        base: &Path,
        origin: &Origin,
        problems: &mut Problems,
    ) -> (Policy, Vec<String>) {
        if file.version != 1 {
            problems.push(
                "version",
                format!("version {} is not supported (use 1)", file.version),
            );
        }
        let mut keys = BTreeMap::new();
        let at = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        // Names defined under `authorities:`, loaded or not (one that failed to load is
        // reported once, not again by every rule naming it).
        let mut defined: std::collections::BTreeSet<String> =
            file.authorities.keys().cloned().collect();
        defined.extend(origin.broken_authorities.iter().cloned());
        for (name, a) in &file.authorities {
            let ap = format!("authorities.{name}");
            let what = |field: &str, e: Error| {
                (format!("{ap}.{field}"), format!("authority {name:?}: {e}"))
            };
            let loaded = match (&a.key, &a.certificate_roots, &a.notation, &a.keyless) {
                (Some(k), None, None, None) if a.identity.is_none() && a.subject.is_none() => {
                    PublicKey::from_file(&at(k)).map(Authority::Key).map_err(|e| what("key", e))
                }
                (None, Some(roots), None, None) => {
                    crate::trust::CertificateTrust::load(&at(roots), a.identity.clone())
                        .map(|t| Authority::Certificate(t.with_subject(a.subject.clone())))
                        .map_err(|e| what("certificateRoots", e))
                }
                (None, None, Some(n), None) if a.identity.is_none() && a.subject.is_none() => {
                    crate::verify::NotationTrust::load(&at(&n.trust_policy), &at(&n.trust_store))
                        .map(Authority::Notation)
                        .map_err(|e| what("notation", e))
                }
                (None, None, None, Some(k)) if a.identity.is_none() && a.subject.is_none() => {
                    load_keyless(k, &at(&k.trusted_root))
                        .map(Authority::Keyless)
                        .map_err(|e| what("keyless", e))
                }
                _ => Err((ap.clone(), format!(
                    "authority {name:?}: give exactly one of key, certificateRoots (optionally with identity and subject), notation, keyless (keyless names its signers in keyless.identities, not identity or subject)"
                ))),
            };
            match loaded {
                Ok(authority) => {
                    keys.insert(name.clone(), authority);
                }
                Err((path, message)) => problems.push(path, message),
            }
        }
        // Two key authorities with one key would let one signature count twice.
        let mut seen_keys: BTreeMap<String, &String> = BTreeMap::new();
        for (name, a) in &keys {
            if let Authority::Key(k) = a {
                if let Some(other) = seen_keys.insert(k.fingerprint(), name) {
                    problems.push(
                        format!("authorities.{name}"),
                        format!("authorities {other:?} and {name:?} are the same public key; define it once"),
                    );
                }
            }
        }
        let mut warnings = Vec::new();
        let mut patterns = Vec::new();
        let mut tag_patterns = Vec::new();
        let mut label_patterns = Vec::new();
        let mut attestation_rules = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, rule) in file.rules.iter().enumerate() {
            let what = format!("rule {:?}", rule.name);
            let rp = format!("rules[{}]", origin.rules.get(i).copied().unwrap_or(i));
            if !names.insert(rule.name.clone()) {
                problems.push(
                    format!("{rp}.name"),
                    format!("{what}: the name is used twice"),
                );
            }
            if rule.images.is_empty() {
                problems.push(format!("{rp}.images"), format!("{what}: `images` is empty"));
            }
            let mut globs = Vec::new();
            for (j, g) in rule.images.iter().enumerate() {
                match Glob::new(g) {
                    Ok(g) => globs.push(g),
                    Err(e) => problems.push(format!("{rp}.images[{j}]"), e),
                }
            }
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
                check_rule_authorities(
                    &what,
                    &format!("{rp}.authorities"),
                    req,
                    &defined,
                    problems,
                );
            }
            if let Some(id) = &rule.signed_identity {
                if rule.authorities.is_none() && rule.annotations.is_none() {
                    problems.push(format!("{rp}.signedIdentity"), format!(
                        "{what}: signedIdentity applies to signature checks, and this rule has none; add authorities or remove signedIdentity"
                    ));
                }
                if *id == crate::trust::signed_identity::SignedIdentity::Ignore {
                    warnings.push(format!(
                        "{what}: signedIdentity ignore accepts a signature made for any repository holding the same image (staging for prod, one vendor product for another); prefer exactRepository or remapIdentity"
                    ));
                }
            }
            if rule.allow_missing_created.is_some() && rule.max_image_age.is_none() {
                problems.push(format!("{rp}.allowMissingCreated"), format!(
                    "{what}: allowMissingCreated only applies with maxImageAge; add maxImageAge or remove it"
                ));
            }
            for (field, list) in [
                ("allowedRegistries", &rule.allowed_registries),
                ("deniedRegistries", &rule.denied_registries),
            ] {
                for (j, entry) in list.iter().flatten().enumerate() {
                    if let Err(why) = crate::reference::canonical_registry(entry) {
                        problems.push(
                            format!("{rp}.{field}[{j}]"),
                            format!(
                                "{what}: {field} entry {entry:?} is not a registry host ({why})"
                            ),
                        );
                    }
                }
            }
            tag_patterns.push(match rule.tags.as_ref().and_then(|t| t.pattern.as_ref()) {
                Some(p) => match compile_regex(&format!("{what} tags.pattern"), p) {
                    Ok(re) => Some(re),
                    Err(e) => {
                        problems.push(format!("{rp}.tags.pattern"), e);
                        None
                    }
                },
                None => None,
            });
            let mut labels = BTreeMap::new();
            for (k, v) in rule.required_labels.iter().flatten() {
                let re = match v {
                    Some(p) => match compile_regex(&format!("{what} requiredLabels.{k}"), p) {
                        Ok(re) => Some(re),
                        Err(e) => {
                            problems.push(format!("{rp}.requiredLabels.{k}"), e);
                            None
                        }
                    },
                    None => None,
                };
                labels.insert(k.clone(), re);
            }
            label_patterns.push(labels);
            attestation_rules.push(match &rule.attestations {
                Some(list) => attestations::load(&what, &rp, list, &keys, &defined, problems),
                None => Vec::new(),
            });
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
        (
            Policy {
                file,
                authorities: keys,
                patterns,
                tag_patterns,
                label_patterns,
                attestation_rules,
                options: StoreOptions::default(),
                extra: Extra::default(),
                content_hash: String::new(),
            },
            warnings,
        )
    }
}

/// Where the rules and authorities of a (possibly partly read) file come from: each rule's
/// index in the file, and the authorities that are defined but could not be read.
#[derive(Debug, Default)]
pub(super) struct Origin {
    /// `rules[i]` of the file for each rule read.
    pub rules: Vec<usize>,
    /// Authorities written in the file that could not be read.
    pub broken_authorities: std::collections::BTreeSet<String>,
}

impl Origin {
    fn of(file: &PolicyFile) -> Origin {
        Origin {
            rules: (0..file.rules.len()).collect(),
            broken_authorities: Default::default(),
        }
    }
}

/// A file serde refused as a whole, read part by part (version, defaultAction, each
/// authority, each rule) so that every part's problem is reported, with its path; `None` when
/// the text is not a YAML mapping of those parts (then the parser's one error is reported).
fn recover(text: &str, problems: &mut Problems) -> Option<(PolicyFile, Origin)> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    let map = doc.as_mapping()?;
    let mut origin = Origin::default();
    let (mut version, mut default_action) = (None, None);
    let mut authorities = BTreeMap::new();
    let mut rules = Vec::new();
    for (k, v) in map {
        let key = k.as_str()?;
        match key {
            "version" => version = part::<u32>(v, "version", problems),
            "defaultAction" => default_action = part::<DefaultAction>(v, "defaultAction", problems),
            "authorities" if v.is_null() => {}
            "authorities" => {
                for (name, a) in v.as_mapping()? {
                    let name = name.as_str()?.to_string();
                    match part::<AuthorityFile>(a, &format!("authorities.{name}"), problems) {
                        Some(a) => {
                            authorities.insert(name, a);
                        }
                        None => {
                            origin.broken_authorities.insert(name);
                        }
                    }
                }
            }
            "rules" if v.is_null() => {}
            "rules" => {
                for (i, r) in v.as_sequence()?.iter().enumerate() {
                    if let Some(r) = part::<Rule>(r, &format!("rules[{i}]"), problems) {
                        rules.push(r);
                        origin.rules.push(i);
                    }
                }
            }
            other => problems.push(
                other,
                format!("unknown field `{other}`, expected one of `version`, `defaultAction`, `authorities`, `rules`"),
            ),
        }
    }
    for field in ["version", "defaultAction"] {
        if map.get(field).is_none() {
            problems.push("", format!("missing field `{field}`"));
        }
    }
    let file = PolicyFile {
        version: version.unwrap_or(1),
        default_action: default_action.unwrap_or(DefaultAction::Reject),
        authorities,
        rules,
    };
    Some((file, origin))
}

/// One part of a policy file read on its own; its problem, if any, is added at `at` plus the
/// path inside the part that serde reached.
fn part<T: serde::de::DeserializeOwned>(
    v: &serde_yaml_ng::Value,
    at: &str,
    problems: &mut Problems,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            let inner = e.path().to_string();
            let path = match inner.as_str() {
                "" | "." => at.to_string(),
                p if p.starts_with('[') => format!("{at}{p}"),
                p => format!("{at}.{p}"),
            };
            problems.push(path, e.into_inner().to_string().replace('\n', " "));
            None
        }
    }
}

/// A rule's `authorities`: exactly one form, known names, listed once, a threshold that can
/// be met. Each problem is added at the path of the entry it is about.
fn check_rule_authorities(
    what: &str,
    ap: &str,
    req: &AuthorityRequirement,
    defined: &std::collections::BTreeSet<String>,
    problems: &mut Problems,
) {
    let (form, listed) = match (&req.any_of, &req.all_of, &req.threshold) {
        (Some(l), None, None) => ("anyOf", l),
        (None, Some(l), None) => ("allOf", l),
        (None, None, Some(t)) => ("threshold.of", &t.of),
        _ => {
            problems.push(
                ap,
                format!("{what}: `authorities` needs exactly one of anyOf, allOf, threshold"),
            );
            return;
        }
    };
    if listed.is_empty() {
        problems.push(
            format!("{ap}.{form}"),
            format!("{what}: `authorities` lists no authority"),
        );
        return;
    }
    let mut once = std::collections::BTreeSet::new();
    for (k, n) in listed.iter().enumerate() {
        if !once.insert(n.as_str()) {
            problems.push(format!("{ap}.{form}[{k}]"), format!(
                "{what}: authority {n:?} is listed twice; each authority counts once, so list it once (and raise the threshold's authorities, not its repetitions)"
            ));
        } else if !defined.contains(n) {
            problems.push(
                format!("{ap}.{form}[{k}]"),
                format!("{what}: unknown authority {n:?} (define it under `authorities:`)"),
            );
        }
    }
    if let Some(t) = &req.threshold {
        if t.count == 0 || t.count > t.of.len() {
            problems.push(
                format!("{ap}.threshold.count"),
                format!(
                    "{what}: threshold count {} must be between 1 and {}",
                    t.count,
                    t.of.len()
                ),
            );
        }
    }
}

/// A `keyless` authority: its trusted root (at `root_path`), its identities (each exactly one
/// of issuer/issuerRegExp and of subject/subjectRegExp; regexes anchored) and requirements.
fn load_keyless(k: &KeylessAuthorityFile, root_path: &Path) -> Result<crate::verify::KeylessTrust> {
    use crate::trust::keyless::{CertificateIdentity, GithubWorkflow, Matcher};
    if k.identities.is_empty() {
        return Err(Error::Usage(
            "keyless.identities is empty: list who may sign (issuer and subject); there is no any-identity default".into(),
        ));
    }
    let matcher = |field: &str, exact: &Option<String>, re: &Option<String>| -> Result<Matcher> {
        match (exact, re) {
            (Some(e), None) => Ok(Matcher::exact(e.clone())),
            (None, Some(r)) => {
                Matcher::regex(r).map_err(|e| Error::Usage(format!("{field}RegExp: {e}")))
            }
            (Some(_), Some(_)) => Err(Error::Usage(format!(
                "give one of {field} and {field}RegExp, not both"
            ))),
            (None, None) => Err(Error::Usage(format!(
                "{field} or {field}RegExp is required"
            ))),
        }
    };
    let mut identities = Vec::new();
    for (i, id) in k.identities.iter().enumerate() {
        let at = |e: Error| Error::Usage(format!("keyless.identities[{i}].{e}"));
        let issuer = matcher("issuer", &id.issuer, &id.issuer_regexp).map_err(at)?;
        let subject = matcher("subject", &id.subject, &id.subject_regexp).map_err(at)?;
        identities.push(
            CertificateIdentity::new(subject, issuer).with_github_workflow(GithubWorkflow {
                repository: id.github_workflow_repository.clone(),
                git_ref: id.github_workflow_ref.clone(),
                sha: id.github_workflow_sha.clone(),
                trigger: id.github_workflow_trigger.clone(),
                name: id.github_workflow_name.clone(),
            }),
        );
    }
    let mut trust = crate::verify::KeylessTrust::load(root_path)?.with_identities(identities);
    trust.require_tlog = k.require_tlog;
    trust.require_sct = k.require_sct;
    trust.require_timestamp = k.require_timestamp;
    Ok(trust)
}

/// sha256 over `text` and the files the authorities of `file` name (directories walked in
/// name order; unreadable files hash as their error, so a change still shows).
pub(super) fn content_hash(text: &str, file: &PolicyFile, base: &Path) -> String {
    use sha2::Digest as _;
    pub(super) fn add(h: &mut sha2::Sha256, p: &Path, depth: usize) {
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
        let keyless_root = a.keyless.as_ref().map(|k| &k.trusted_root);
        for p in [&a.key, &a.certificate_roots, &keyless_root.cloned()]
            .into_iter()
            .flatten()
        {
            add(&mut h, &at(p), 0);
        }
        if let Some(n) = &a.notation {
            add(&mut h, &at(&n.trust_policy), 0);
            add(&mut h, &at(&n.trust_store), 0);
        }
    }
    hex::encode(h.finalize())
}
