//! A rule's `attestations:` requirements: signed in-toto attestations of a type, by the rule's
//! authorities, and conditions on their predicates — vulnerability scans (`maxSeverity`,
//! `maxAge`, `denyCVEs`, `allowCVEs`, `ignoreUnfixed`), SBOMs (`denyPackages`,
//! `denyLicenses`), SLSA provenance (`builderId`, `sourceRepository`, `sourceRef`) and CEL
//! `conditions` over any predicate. Each condition is a check of its own in the decision.
//!
//! The conditions are evaluated on the newest verified attestation of the type (vuln: by
//! `metadata.scanFinishedOn`; SLSA: by the build's finish time; others: the last one found).

use super::*;
use crate::attest::{AttestationVerifier, Authority as AttestAuthority};
use crate::formats::intoto;
use serde_json::Value;

/// One entry of a rule's `attestations:` list.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttestationRule {
    /// The predicate type: a cosign short name (`vuln`, `cyclonedx`, `spdxjson`,
    /// `slsaprovenance1`, …) or a URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whose attestations count (key and certificateRoots authorities).
    pub authorities: AuthorityRequirement,
    /// vuln: deny a finding more severe than this (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`,
    /// `UNKNOWN`).
    #[serde(default)]
    pub max_severity: Option<String>,
    /// vuln: the scan must have finished at most this long ago (`24h`, `7d`).
    #[serde(default)]
    pub max_age: Option<Age>,
    /// vuln: these vulnerability ids deny, whatever their severity.
    #[serde(default, rename = "denyCVEs")]
    pub deny_cves: Option<Vec<String>>,
    /// vuln (with maxSeverity): findings not counted against maxSeverity until they expire.
    #[serde(default, rename = "allowCVEs")]
    pub allow_cves: Option<Vec<CveException>>,
    /// vuln (with maxSeverity): findings without a fixed version are not counted.
    #[serde(default)]
    pub ignore_unfixed: Option<bool>,
    /// SBOM: packages that must not be in it (`name`, or `name@version`).
    #[serde(default)]
    pub deny_packages: Option<Vec<String>>,
    /// SBOM: licences (SPDX ids) no package may have.
    #[serde(default)]
    pub deny_licenses: Option<Vec<String>>,
    /// SLSA: the builder id the provenance must name.
    #[serde(default)]
    pub builder_id: Option<String>,
    /// SLSA: the source repository the build must come from (`github.com/org/repo`; a
    /// `git+` prefix, a scheme and an `@ref` are not compared).
    #[serde(default)]
    pub source_repository: Option<String>,
    /// SLSA: the source ref (`refs/heads/main`, `refs/tags/v1`).
    #[serde(default)]
    pub source_ref: Option<String>,
    /// CEL expressions over the statement (`predicate`, `predicateType`, `subject`) that must
    /// all be true.
    #[serde(default)]
    pub conditions: Option<Vec<String>>,
}

/// An exception in `allowCVEs`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CveException {
    /// The vulnerability id.
    pub id: String,
    /// When the exception ends: `YYYY-MM-DD` (the end of that day, UTC) or RFC 3339.
    pub expires: String,
}

/// Vulnerability severities, in Trivy's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub(super) fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" => Severity::Unknown,
            // Grype and Clair: Negligible sits below Low.
            "LOW" | "NEGLIGIBLE" => Severity::Low,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "HIGH" | "IMPORTANT" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// What kind of predicate a type is, for the conditions that apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Vuln,
    Sbom,
    Slsa,
    Other,
}

fn family(uri: &str) -> Family {
    match uri {
        intoto::COSIGN_VULN => Family::Vuln,
        intoto::SPDX | intoto::CYCLONEDX => Family::Sbom,
        intoto::SLSA_PROVENANCE_V02 | intoto::SLSA_PROVENANCE_V1 => Family::Slsa,
        _ => Family::Other,
    }
}

/// An attestation requirement, validated at load.
#[derive(Clone, Debug)]
pub(super) struct Requirement {
    /// The predicate type URI.
    pub uri: String,
    /// `type` as written (check names use it).
    pub label: String,
    pub family: Family,
    pub max_severity: Option<Severity>,
    /// Exceptions with their end (Unix seconds).
    pub allow: Vec<(String, i64)>,
    /// The CEL conditions, compiled once at load.
    pub conditions: Vec<(String, std::sync::Arc<cel::Program>)>,
}

/// Why an entry of a rule's `attestations:` list cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequirementError {
    /// `type` is not a predicate type.
    #[error("{0}")]
    Type(String),
    /// A condition field that means nothing for this predicate type.
    #[error("{field} applies to {applies} only; remove it or change the type")]
    FieldDoesNotApply {
        /// The field (`maxSeverity`, `denyPackages`, …).
        field: &'static str,
        /// The types it applies to, in words.
        applies: &'static str,
    },
    /// `ignoreUnfixed` or `allowCVEs` without `maxSeverity`.
    #[error("{field} only applies with maxSeverity; add maxSeverity or remove it")]
    NeedsMaxSeverity {
        /// The field.
        field: &'static str,
    },
    /// `maxSeverity` is not a severity.
    #[error("maxSeverity {0:?} is not one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN")]
    Severity(String),
    /// An `allowCVEs` exception whose `expires` is not a date or time.
    #[error("allowCVEs {id}: expires {expires:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")]
    Expiry {
        /// The vulnerability id.
        id: String,
        /// What `expires` says.
        expires: String,
    },
    /// A vulnerability both denied and allowed.
    #[error("{0} is both in denyCVEs and in allowCVEs")]
    DeniedAndAllowed(String),
    /// `authorities` gives none or several of anyOf, allOf, threshold.
    #[error("`authorities` needs exactly one of anyOf, allOf, threshold")]
    AuthorityForms,
    /// `authorities` lists no authority.
    #[error("`authorities` lists no authority")]
    NoAuthority,
    /// An authority listed twice.
    #[error("authority {0:?} is listed twice")]
    ListedTwice(String),
    /// An authority not defined under `authorities:`.
    #[error("unknown authority {0:?} (define it under `authorities:`)")]
    UnknownAuthority(String),
    /// A notation authority, which cannot verify attestations.
    #[error("authority {0:?} is a notation authority; attestations are verified with key, certificateRoots and keyless authorities")]
    NotationAuthority(String),
    /// A threshold that cannot be met (or is met by nothing).
    #[error("threshold count {need} must be between 1 and {max}")]
    Threshold {
        /// The count asked for.
        need: usize,
        /// How many authorities are listed.
        max: usize,
    },
    /// A CEL condition that does not compile.
    #[error("CEL expression {expr:?} does not compile: {reason}")]
    Condition {
        /// The expression.
        expr: String,
        /// The compiler's message (it names the position, `<input>:LINE:COLUMN`).
        reason: String,
    },
}

/// Validate `rule`'s attestation entries (`what` names the rule in messages, `rp` is its path
/// `rules[N]`), adding each problem to `problems` at the path of the field it is about.
/// `defined` holds every authority written in the file (`authorities` only those loaded).
pub(super) fn load(
    what: &str,
    rp: &str,
    rule: &[AttestationRule],
    authorities: &BTreeMap<String, Authority>,
    defined: &std::collections::BTreeSet<String>,
    problems: &mut Problems,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    for (i, a) in rule.iter().enumerate() {
        let at = format!("{what} attestations[{i}] (type {})", a.kind);
        let path = |field: &str| format!("{rp}.attestations[{i}].{field}");
        let mut bad =
            |field: &str, e: RequirementError| problems.push(path(field), format!("{at}: {e}"));
        let (uri, fam) = match intoto::predicate_type(&a.kind) {
            Ok(uri) => {
                let fam = family(&uri);
                (uri, Some(fam))
            }
            Err(e) => {
                bad("type", RequirementError::Type(e.to_string()));
                (String::new(), None)
            }
        };
        // Fields that mean nothing for this type are refused, naming the field.
        let fields: [(&'static str, bool, &[Family]); 10] = [
            ("maxSeverity", a.max_severity.is_some(), &[Family::Vuln]),
            ("maxAge", a.max_age.is_some(), &[Family::Vuln]),
            ("denyCVEs", a.deny_cves.is_some(), &[Family::Vuln]),
            ("allowCVEs", a.allow_cves.is_some(), &[Family::Vuln]),
            ("ignoreUnfixed", a.ignore_unfixed.is_some(), &[Family::Vuln]),
            ("denyPackages", a.deny_packages.is_some(), &[Family::Sbom]),
            ("denyLicenses", a.deny_licenses.is_some(), &[Family::Sbom]),
            ("builderId", a.builder_id.is_some(), &[Family::Slsa]),
            (
                "sourceRepository",
                a.source_repository.is_some(),
                &[Family::Slsa],
            ),
            ("sourceRef", a.source_ref.is_some(), &[Family::Slsa]),
        ];
        for (field, set, families) in fields {
            if set && fam.is_some_and(|f| !families.contains(&f)) {
                let applies = match families.first() {
                    Some(Family::Vuln) => "vuln attestations",
                    Some(Family::Sbom) => "SBOM attestations (spdx, spdxjson, cyclonedx)",
                    _ => "SLSA provenance (slsaprovenance, slsaprovenance02, slsaprovenance1)",
                };
                bad(
                    field,
                    RequirementError::FieldDoesNotApply { field, applies },
                );
            }
        }
        for (field, set) in [
            ("ignoreUnfixed", a.ignore_unfixed.is_some()),
            ("allowCVEs", a.allow_cves.is_some()),
        ] {
            if set && a.max_severity.is_none() {
                bad(field, RequirementError::NeedsMaxSeverity { field });
            }
        }
        let max_severity = match &a.max_severity {
            None => None,
            Some(s) => {
                let parsed = Severity::parse(s);
                if parsed.is_none() {
                    bad("maxSeverity", RequirementError::Severity(s.clone()));
                }
                parsed
            }
        };
        let mut allow = Vec::new();
        for (j, e) in a.allow_cves.iter().flatten().enumerate() {
            let field = format!("allowCVEs[{j}]");
            match expiry(&e.expires) {
                Some(end) => allow.push((e.id.clone(), end)),
                None => bad(
                    &format!("{field}.expires"),
                    RequirementError::Expiry {
                        id: e.id.clone(),
                        expires: e.expires.clone(),
                    },
                ),
            }
            if a.deny_cves.iter().flatten().any(|d| d == &e.id) {
                bad(&field, RequirementError::DeniedAndAllowed(e.id.clone()));
            }
        }
        for (field, e) in check_authorities(&a.authorities, authorities, defined) {
            bad(&format!("authorities{field}"), e);
        }
        let mut conditions = Vec::new();
        for (j, expr) in a.conditions.iter().flatten().enumerate() {
            match compile(expr) {
                Ok(program) => conditions.push((expr.clone(), std::sync::Arc::new(program))),
                Err(e) => problems.push(
                    path(&format!("conditions[{j}]")),
                    format!("{at} conditions[{j}]: {e}"),
                ),
            }
        }
        out.push(Requirement {
            uri,
            label: a.kind.clone(),
            family: fam.unwrap_or(Family::Other),
            max_severity,
            allow,
            conditions,
        });
    }
    out
}

/// Unix seconds at which an exception ends: the end of a `YYYY-MM-DD` day (UTC), or an
/// RFC 3339 instant.
fn expiry(s: &str) -> Option<i64> {
    if let Some(t) = crate::util::time::parse_rfc3339(s) {
        return unix(t);
    }
    let mut parts = s.split('-');
    let (y, m, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let d = time::Date::from_calendar_date(y.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp() + 86_400 - 1)
}

fn unix(t: std::time::SystemTime) -> Option<i64> {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
    }
}

/// The requirement's authorities: exactly one form, known names, listed once, no notation.
/// Each problem comes with the path under `authorities` of the entry it is about (`.anyOf[1]`).
fn check_authorities(
    req: &AuthorityRequirement,
    known: &BTreeMap<String, Authority>,
    defined: &std::collections::BTreeSet<String>,
) -> Vec<(String, RequirementError)> {
    let form = match (&req.any_of, &req.all_of, &req.threshold) {
        (Some(_), None, None) => ".anyOf",
        (None, Some(_), None) => ".allOf",
        (None, None, Some(_)) => ".threshold.of",
        _ => return vec![(String::new(), RequirementError::AuthorityForms)],
    };
    let (names, need) = names_and_need(req);
    if names.is_empty() {
        return vec![(form.to_string(), RequirementError::NoAuthority)];
    }
    let mut out = Vec::new();
    let mut once = std::collections::BTreeSet::new();
    for (k, n) in names.iter().enumerate() {
        let at = format!("{form}[{k}]");
        if !once.insert(n.as_str()) {
            out.push((at, RequirementError::ListedTwice(n.clone())));
            continue;
        }
        match known.get(n) {
            // Defined but not loaded: that problem is reported at the authority.
            None if defined.contains(n) => {}
            None => out.push((at, RequirementError::UnknownAuthority(n.clone()))),
            Some(Authority::Notation(_)) => {
                out.push((at, RequirementError::NotationAuthority(n.clone())))
            }
            Some(_) => {}
        }
    }
    if need == 0 || need > names.len() {
        out.push((
            ".threshold.count".to_string(),
            RequirementError::Threshold {
                need,
                max: names.len(),
            },
        ));
    }
    out
}

fn names_and_need(req: &AuthorityRequirement) -> (Vec<String>, usize) {
    if let Some(any) = &req.any_of {
        (any.clone(), 1)
    } else if let Some(all) = &req.all_of {
        (all.clone(), all.len())
    } else if let Some(t) = &req.threshold {
        (t.of.clone(), t.count)
    } else {
        (Vec::new(), 1)
    }
}

/// Compile a CEL condition; the error names the position (`<input>:LINE:COLUMN`).
fn compile(expr: &str) -> std::result::Result<cel::Program, RequirementError> {
    cel::Program::compile(expr).map_err(|e| RequirementError::Condition {
        expr: expr.to_string(),
        reason: e.to_string().replace('\n', "; "),
    })
}

/// The time that orders attestations of one type (newest wins), in Unix seconds.
fn time_of(family: Family, predicate: &Value) -> Option<i64> {
    let pointers: &[&str] = match family {
        Family::Vuln => &["/metadata/scanFinishedOn"],
        Family::Slsa => &[
            "/metadata/buildFinishedOn",
            "/runDetails/metadata/finishedOn",
        ],
        _ => &[],
    };
    pointers
        .iter()
        .filter_map(|p| predicate.pointer(p).and_then(Value::as_str))
        .filter_map(crate::util::time::parse_rfc3339)
        .filter_map(unix)
        // Go's zero time (0001-01-01) means "not recorded".
        .find(|s| *s > 0)
}

impl Policy {
    /// Run rule `idx`'s attestation requirements (only those of predicate type `only`, when
    /// given) on the resolved image, one check per requirement and per condition.
    pub(super) async fn check_attestations(
        &self,
        idx: usize,
        image: &ImageRef,
        r: &Resolved,
        only: Option<&str>,
        d: &mut Decision,
    ) {
        let rule = &self.file.rules[idx];
        let Some(entries) = &rule.attestations else {
            return;
        };
        for (a, req) in entries.iter().zip(&self.attestation_rules[idx]) {
            if only.is_some_and(|u| u != req.uri) {
                continue;
            }
            self.check_requirement(a, req, image, r, d).await;
        }
    }

    async fn check_requirement(
        &self,
        a: &AttestationRule,
        req: &Requirement,
        image: &ImageRef,
        r: &Resolved,
        d: &mut Decision,
    ) {
        let name = format!("attestation:{}", req.label);
        let (names, need) = names_and_need(&a.authorities);
        let authorities: Vec<AttestAuthority> = names
            .iter()
            .filter_map(|n| match self.authorities.get(n) {
                Some(Authority::Key(k)) => Some(AttestAuthority::key(n.clone(), k.clone())),
                Some(Authority::Certificate(t)) => {
                    Some(AttestAuthority::certificate(n.clone(), t.clone()))
                }
                Some(Authority::Keyless(t)) => Some(AttestAuthority::keyless(n.clone(), t.clone())),
                _ => None,
            })
            .collect();
        let verifier =
            match AttestationVerifier::new(authorities).with_predicate_type(Some(&req.uri)) {
                Ok(v) => v
                    .with_options(self.options.clone())
                    .with_now(self.extra.now),
                Err(e) => {
                    d.checks.push(Check::new(&name, false, e.to_string()));
                    return;
                }
            };
        let v = match verifier
            .verify_resolved(&r.store, &image.to_string(), &r.manifest)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                d.checks.push(Check::new(&name, false, e.to_string()));
                return;
            }
        };
        let mut signed: Vec<String> = Vec::new();
        for c in v.verified_attestations() {
            for s in &c.signed_by {
                if !signed.contains(s) {
                    signed.push(s.clone());
                }
            }
        }
        if signed.len() < need {
            let have = if signed.is_empty() {
                "none".to_string()
            } else {
                signed.join(", ")
            };
            d.checks.push(Check::new(
                &name,
                false,
                format!(
                    "{need} of [{}] must attest {}; verified attestations from {have}; {}",
                    names.join(", "),
                    req.uri,
                    v.failure_summary()
                ),
            ));
            return;
        }
        // The newest verified statement decides the conditions.
        let newest = v
            .statements()
            .enumerate()
            .max_by_key(|(i, st)| {
                (
                    st.predicate
                        .as_ref()
                        .and_then(|p| time_of(req.family, p))
                        .unwrap_or(i64::MIN),
                    *i,
                )
            })
            .map(|(_, st)| st.clone());
        let Some(statement) = newest else {
            d.checks
                .push(Check::new(&name, false, "no verified statement"));
            return;
        };
        d.checks.push(Check::new(
            &name,
            true,
            format!(
                "{} verified attestation(s) of {} signed by {} ({} of {need} required)",
                v.verified_attestations().count(),
                req.uri,
                signed.join(", "),
                signed.len()
            ),
        ));
        let predicate = statement.predicate.clone().unwrap_or(Value::Null);
        let now = unix(self.extra.now.unwrap_or_else(std::time::SystemTime::now)).unwrap_or(0);
        match req.family {
            Family::Vuln => vuln_checks(a, req, &name, &predicate, now, d),
            Family::Sbom => sbom_checks(a, &name, &predicate, d),
            Family::Slsa => slsa_checks(a, req, &name, &predicate, d),
            Family::Other => {}
        }
        for (j, (expr, program)) in req.conditions.iter().enumerate() {
            d.checks.push(cel_check(
                &format!("{name}:condition[{j}]"),
                expr,
                program,
                &statement,
            ));
        }
    }
}

impl Policy {
    /// Only the attestation checks of the rule that applies to `image` (those of predicate
    /// type `kind` — a cosign short name or a URI — when given), as `verify-attestation
    /// --policy` runs them. An image no rule matches, or whose rule requires no such
    /// attestation, gets one failed check saying so (nothing would gate it).
    pub async fn evaluate_attestations(
        &self,
        image: &ImageRef,
        kind: Option<&str>,
    ) -> Result<Decision> {
        let only = match kind {
            Some(k) => Some(intoto::predicate_type(k)?),
            None => None,
        };
        let mut d = Decision {
            image: image.to_string(),
            digest: None,
            rule: None,
            mode: Mode::Enforce,
            allowed: false,
            checks: Vec::new(),
            requests: 0,
        };
        let name = match image {
            ImageRef::Registry(r) => format!("{}/{}", r.registry(), r.repository()),
            ImageRef::Layout(l) => format!("oci-layout/{}", l.identity()),
        };
        let what = only.as_deref().unwrap_or("any type");
        let matched = self.rule_for_logged(&name, "attestations");
        let Some(idx) = matched else {
            d.checks.push(Check::new(
                "rule",
                false,
                format!("no rule matches {name}, so no attestation ({what}) is required of it"),
            ));
            return Ok(d);
        };
        let rule = &self.file.rules[idx];
        d.rule = Some(rule.name.clone());
        d.mode = rule.mode;
        let wanted = self.attestation_rules[idx]
            .iter()
            .any(|r| only.as_deref().is_none_or(|u| u == r.uri));
        if !wanted {
            d.checks.push(Check::new(
                "rule",
                false,
                format!("rule {:?} requires no attestation of {what}", rule.name),
            ));
            return Ok(d);
        }
        let resolved = resolve(image, &self.options, false).await?;
        d.digest = Some(resolved.manifest.digest.to_string());
        self.check_attestations(idx, image, &resolved, only.as_deref(), &mut d)
            .await;
        d.requests = resolved.store.requests();
        d.allowed = rule.mode != Mode::Enforce || d.checks.iter().all(|c| c.passed);
        Ok(d)
    }
}

/// One finding of a scan.
#[derive(Clone, Debug)]
pub(super) struct Finding {
    pub id: String,
    pub package: String,
    pub severity: Severity,
    pub fixed: Option<String>,
}

impl Finding {
    fn describe(&self) -> String {
        format!(
            "{} ({}, {}, {})",
            self.id,
            self.severity.name(),
            if self.package.is_empty() {
                "unknown package"
            } else {
                &self.package
            },
            match &self.fixed {
                Some(f) => format!("fixed in {f}"),
                None => "no fix".to_string(),
            }
        )
    }
}

/// Why a predicate's findings or packages cannot be read (the check that needs them fails
/// with this reason).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PredicateReadError {
    /// A vuln predicate's `scanner.result` is in no format read.
    #[error("scanner.result is neither a Trivy JSON report nor a SARIF document; its findings cannot be read")]
    ScanResult,
    /// A SARIF document whose `runs` is not a list.
    #[error("SARIF: runs is not a list")]
    SarifRuns,
    /// An SBOM given as text that is not JSON.
    #[error("the SBOM is not JSON (SPDX tag-value is not read); use spdxjson")]
    SbomNotJson,
    /// A predicate that is no SBOM read.
    #[error("the predicate is neither a CycloneDX nor an SPDX JSON document")]
    NotSbom,
}

/// The findings of a cosign vuln predicate: its `scanner.result` is a Trivy JSON report
/// (`Results[].Vulnerabilities[]`), a SARIF document, or null (no findings).
pub(super) fn findings(predicate: &Value) -> std::result::Result<Vec<Finding>, PredicateReadError> {
    let result = predicate.pointer("/scanner/result").unwrap_or(&Value::Null);
    if result.is_null() {
        return Ok(Vec::new());
    }
    if result.get("runs").is_some() {
        return sarif_findings(result);
    }
    if result.get("SchemaVersion").is_none() && result.get("Results").is_none() {
        return Err(PredicateReadError::ScanResult);
    }
    let mut out = Vec::new();
    for r in result
        .get("Results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for v in r
            .get("Vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let sev = s("Severity");
            out.push(Finding {
                id: s("VulnerabilityID"),
                package: s("PkgName"),
                severity: Severity::parse(&sev).unwrap_or(Severity::Unknown),
                fixed: Some(s("FixedVersion")).filter(|f| !f.is_empty()),
            });
        }
    }
    Ok(out)
}

/// Findings of a SARIF 2.1.0 document (as Trivy writes it): severity from the rule's tags,
/// else the `Severity:` line of the message, else the result level (error HIGH, warning
/// MEDIUM, note LOW); package and fixed version from the message's `Package:` and
/// `Fixed Version:` lines.
fn sarif_findings(doc: &Value) -> std::result::Result<Vec<Finding>, PredicateReadError> {
    let mut out = Vec::new();
    let runs = doc
        .get("runs")
        .and_then(Value::as_array)
        .ok_or(PredicateReadError::SarifRuns)?;
    for run in runs {
        let rules: Vec<&Value> = run
            .pointer("/tool/driver/rules")
            .and_then(Value::as_array)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        for res in run
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = res
                .get("ruleId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let rule = res
                .get("ruleIndex")
                .and_then(Value::as_u64)
                .and_then(|i| rules.get(i as usize).copied())
                .or_else(|| {
                    rules
                        .iter()
                        .find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()))
                        .copied()
                });
            let text = res
                .pointer("/message/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            let line = |prefix: &str| {
                text.lines()
                    .find_map(|l| l.trim().strip_prefix(prefix))
                    .map(|v| v.trim().to_string())
            };
            let tag_severity = rule
                .and_then(|r| r.pointer("/properties/tags"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find_map(Severity::parse);
            let level = res.get("level").and_then(Value::as_str).unwrap_or("");
            let severity = tag_severity
                .or_else(|| line("Severity:").and_then(|s| Severity::parse(&s)))
                .unwrap_or(match level {
                    "error" => Severity::High,
                    "warning" => Severity::Medium,
                    "note" => Severity::Low,
                    _ => Severity::Unknown,
                });
            out.push(Finding {
                id,
                package: line("Package:").unwrap_or_default(),
                severity,
                fixed: line("Fixed Version:").filter(|f| !f.is_empty()),
            });
        }
    }
    Ok(out)
}

fn bounded(items: &[String]) -> String {
    crate::util::text::bounded_join(items, "; ", crate::util::text::MAX_LISTED_REASONS)
}

fn vuln_checks(
    a: &AttestationRule,
    req: &Requirement,
    name: &str,
    predicate: &Value,
    now: i64,
    d: &mut Decision,
) {
    if let Some(max) = a.max_age {
        let check = match time_of(Family::Vuln, predicate) {
            None => Check::new(
                &format!("{name}:maxAge"),
                false,
                "the scan has no finish time (metadata.scanFinishedOn)",
            ),
            Some(t) => {
                let age = now.saturating_sub(t);
                let ok = age <= max.0 as i64;
                Check::new(
                    &format!("{name}:maxAge"),
                    ok,
                    format!(
                        "the scan finished {} ago ({}), limit {}",
                        crate::util::text::go_duration(std::time::Duration::from_secs(
                            age.max(0) as u64
                        )),
                        crate::util::time::format_rfc3339_seconds(t).unwrap_or_default(),
                        crate::util::text::go_duration(std::time::Duration::from_secs(max.0))
                    ),
                )
            }
        };
        d.checks.push(check);
    }
    if req.max_severity.is_none() && a.deny_cves.is_none() {
        return;
    }
    let all = match findings(predicate) {
        Ok(f) => f,
        Err(why) => {
            for (field, set) in [
                ("maxSeverity", req.max_severity.is_some()),
                ("denyCVEs", a.deny_cves.is_some()),
            ] {
                if set {
                    d.checks.push(Check::new(
                        &format!("{name}:{field}"),
                        false,
                        why.to_string(),
                    ));
                }
            }
            return;
        }
    };
    if let Some(max) = req.max_severity {
        let ignore_unfixed = a.ignore_unfixed == Some(true);
        let mut over = Vec::new();
        let mut excepted = Vec::new();
        let mut expired = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for f in all.iter().filter(|f| f.severity > max) {
            if ignore_unfixed && f.fixed.is_none() {
                continue;
            }
            if !seen.insert((f.id.clone(), f.package.clone())) {
                continue;
            }
            match req.allow.iter().find(|(id, _)| id == &f.id) {
                Some((_, end)) if *end >= now => excepted.push(f.id.clone()),
                Some((_, end)) => {
                    expired.push(format!(
                        "{} (exception expired {})",
                        f.describe(),
                        crate::util::time::format_rfc3339_seconds(*end).unwrap_or_default()
                    ));
                }
                None => over.push(f.describe()),
            }
        }
        over.extend(expired);
        let mut reason = if over.is_empty() {
            format!(
                "no finding above {} in {} finding(s){}",
                max.name(),
                all.len(),
                if ignore_unfixed {
                    " (findings without a fix ignored)"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "{} finding(s) above {}: {}",
                over.len(),
                max.name(),
                bounded(&over)
            )
        };
        if !excepted.is_empty() {
            excepted.dedup();
            reason.push_str(&format!("; allowed by allowCVEs: {}", excepted.join(", ")));
        }
        d.checks.push(Check::new(
            &format!("{name}:maxSeverity"),
            over.is_empty(),
            reason,
        ));
    }
    if let Some(deny) = &a.deny_cves {
        let hits: Vec<String> = all
            .iter()
            .filter(|f| deny.contains(&f.id))
            .map(Finding::describe)
            .collect();
        d.checks.push(Check::new(
            &format!("{name}:denyCVEs"),
            hits.is_empty(),
            if hits.is_empty() {
                format!("none of the denied vulnerabilities {deny:?} was found")
            } else {
                format!("denied vulnerabilities found: {}", bounded(&hits))
            },
        ));
    }
}

/// An SBOM's packages: `(name, version, licences)`. CycloneDX `components` (also inside the
/// old cosign `{"Data": BOM}` wrapping) or SPDX `packages`.
pub(super) fn packages(
    predicate: &Value,
) -> std::result::Result<Vec<(String, String, Vec<String>)>, PredicateReadError> {
    let owned;
    let mut doc = predicate;
    if let Some(data) = doc.get("Data") {
        doc = data;
    }
    if let Value::String(s) = doc {
        owned = crate::util::json::parse_strict(s.as_bytes())
            .map_err(|_| PredicateReadError::SbomNotJson)?;
        doc = &owned;
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = Vec::new();
    if let Some(components) = doc.get("components").and_then(Value::as_array) {
        for c in components {
            let mut lic = Vec::new();
            for l in c
                .get("licenses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for p in ["/license/id", "/license/name", "/expression"] {
                    if let Some(x) = l.pointer(p).and_then(Value::as_str) {
                        lic.push(x.to_string());
                    }
                }
            }
            out.push((s(c, "name"), s(c, "version"), lic));
        }
        return Ok(out);
    }
    if let Some(pkgs) = doc.get("packages").and_then(Value::as_array) {
        for p in pkgs {
            let lic = ["licenseConcluded", "licenseDeclared"]
                .iter()
                .map(|k| s(p, k))
                .filter(|l| !l.is_empty() && l != "NOASSERTION" && l != "NONE")
                .collect();
            out.push((s(p, "name"), s(p, "versionInfo"), lic));
        }
        return Ok(out);
    }
    if doc.get("bomFormat").is_some() || doc.get("spdxVersion").is_some() {
        return Ok(out); // a BOM without packages
    }
    Err(PredicateReadError::NotSbom)
}

/// True when the licence expression `expr` names `id` (case-insensitively, as a token).
fn names_licence(expr: &str, id: &str) -> bool {
    expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .any(|t| t.eq_ignore_ascii_case(id))
}

fn sbom_checks(a: &AttestationRule, name: &str, predicate: &Value, d: &mut Decision) {
    if a.deny_packages.is_none() && a.deny_licenses.is_none() {
        return;
    }
    let pkgs = match packages(predicate) {
        Ok(p) => p,
        Err(why) => {
            for (field, set) in [
                ("denyPackages", a.deny_packages.is_some()),
                ("denyLicenses", a.deny_licenses.is_some()),
            ] {
                if set {
                    d.checks.push(Check::new(
                        &format!("{name}:{field}"),
                        false,
                        why.to_string(),
                    ));
                }
            }
            return;
        }
    };
    if let Some(deny) = &a.deny_packages {
        let hits: Vec<String> = pkgs
            .iter()
            .filter(|(n, v, _)| {
                deny.iter().any(|want| match want.split_once('@') {
                    Some((wn, wv)) => wn == n && wv == v,
                    None => want == n,
                })
            })
            .map(|(n, v, _)| format!("{n}@{v}"))
            .collect();
        d.checks.push(Check::new(
            &format!("{name}:denyPackages"),
            hits.is_empty(),
            if hits.is_empty() {
                format!("none of {deny:?} among {} package(s)", pkgs.len())
            } else {
                format!("denied packages in the SBOM: {}", bounded(&hits))
            },
        ));
    }
    if let Some(deny) = &a.deny_licenses {
        let hits: Vec<String> = pkgs
            .iter()
            .flat_map(|(n, v, lics)| {
                lics.iter()
                    .filter(|l| deny.iter().any(|id| names_licence(l, id)))
                    .map(move |l| format!("{n}@{v} ({l})"))
            })
            .collect();
        d.checks.push(Check::new(
            &format!("{name}:denyLicenses"),
            hits.is_empty(),
            if hits.is_empty() {
                format!("no package of {} has a denied licence {deny:?}", pkgs.len())
            } else {
                format!("packages with denied licences: {}", bounded(&hits))
            },
        ));
    }
}

/// `git+https://github.com/org/repo@refs/heads/main` → `github.com/org/repo`.
fn normalize_repository(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("git+").unwrap_or(s);
    let s = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let s = s.split('@').next().unwrap_or(s);
    s.trim_end_matches('/')
        .trim_end_matches(".git")
        .to_ascii_lowercase()
}

/// Builder id, source repository and source ref of SLSA provenance v0.2 or v1.
pub(super) fn slsa_facts(uri: &str, p: &Value) -> (Option<String>, Option<String>, Option<String>) {
    let at = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_string);
    let split_ref = |u: &str| u.split_once('@').map(|(_, r)| r.to_string());
    if uri == intoto::SLSA_PROVENANCE_V02 {
        let source = at("/invocation/configSource/uri").or_else(|| at("/materials/0/uri"));
        let reference = source
            .as_deref()
            .and_then(split_ref)
            .or_else(|| at("/invocation/environment/github_ref"));
        (at("/builder/id"), source, reference)
    } else {
        let ext = "/buildDefinition/externalParameters";
        let source = at(&format!("{ext}/workflow/repository"))
            .or_else(|| at(&format!("{ext}/buildConfigSource/repository")))
            .or_else(|| at(&format!("{ext}/source/uri")))
            .or_else(|| at("/buildDefinition/resolvedDependencies/0/uri"));
        let reference = at(&format!("{ext}/workflow/ref"))
            .or_else(|| at(&format!("{ext}/buildConfigSource/ref")))
            .or_else(|| source.as_deref().and_then(split_ref));
        (at("/runDetails/builder/id"), source, reference)
    }
}

fn slsa_checks(
    a: &AttestationRule,
    req: &Requirement,
    name: &str,
    predicate: &Value,
    d: &mut Decision,
) {
    let (builder, source, reference) = slsa_facts(&req.uri, predicate);
    let mut check = |field: &str,
                     want: &Option<String>,
                     got: &Option<String>,
                     same: &dyn Fn(&str, &str) -> bool| {
        if let Some(w) = want {
            let check = match got {
                None => Check::new(
                    &format!("{name}:{field}"),
                    false,
                    format!("the provenance names no {field} (wanted {w:?})"),
                ),
                Some(g) => {
                    let ok = same(w, g);
                    Check::new(
                        &format!("{name}:{field}"),
                        ok,
                        if ok {
                            format!("{field} is {g:?}")
                        } else {
                            format!("{field} is {g:?}, not {w:?}")
                        },
                    )
                }
            };
            d.checks.push(check);
        }
    };
    check("builderId", &a.builder_id, &builder, &|w, g| w == g);
    check(
        "sourceRepository",
        &a.source_repository,
        &source,
        &|w, g| normalize_repository(w) == normalize_repository(g),
    );
    check("sourceRef", &a.source_ref, &reference, &|w, g| {
        w == g || format!("refs/heads/{w}") == g || format!("refs/tags/{w}") == g
    });
}

/// Evaluate one CEL condition over `statement`; a compile or run-time error fails the check
/// (the evaluation of the other checks goes on). The reason names the expression and the
/// values of the `predicate…` paths it reads.
fn cel_check(
    name: &str,
    expr: &str,
    program: &cel::Program,
    statement: &crate::formats::cosign::bundle::Statement,
) -> Check {
    let shown = crate::util::text::escape_control(expr).into_owned();
    let predicate = statement.predicate.clone().unwrap_or(Value::Null);
    let subject = serde_json::to_value(&statement.subject).unwrap_or(Value::Null);
    let mut ctx = cel::Context::default();
    let vars = [
        ("predicate", predicate.clone()),
        (
            "predicateType",
            Value::String(statement.predicate_type.clone()),
        ),
        ("subject", subject),
    ];
    for (k, v) in vars {
        if let Err(e) = ctx.add_variable(k, v) {
            return Check::new(name, false, format!("CEL condition `{shown}`: {e}"));
        }
    }
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(true)) => Check::new(name, true, format!("`{shown}` is true")),
        Ok(cel::Value::Bool(false)) => Check::new(
            name,
            false,
            format!("`{shown}` is false{}", read_values(expr, &predicate)),
        ),
        Ok(other) => Check::new(
            name,
            false,
            format!("`{shown}` evaluated to {other:?}, not a boolean"),
        ),
        Err(e) => Check::new(
            name,
            false,
            format!(
                "`{shown}` failed to evaluate: {e}{}",
                read_values(expr, &predicate)
            ),
        ),
    }
}

/// `; predicate.a.b = VALUE, …` for each `predicate.…` path (dotted names) in `expr`.
fn read_values(expr: &str, predicate: &Value) -> String {
    let re = regex::Regex::new(r"\bpredicate((?:\.[A-Za-z_][A-Za-z0-9_]*)+)").ok();
    let mut out: Vec<String> = Vec::new();
    for m in re.iter().flat_map(|re| re.captures_iter(expr)) {
        let path = &m[1];
        let mut v = Some(predicate);
        for seg in path.trim_start_matches('.').split('.') {
            v = v.and_then(|x| x.get(seg));
        }
        let shown = match v {
            None => "(absent)".to_string(),
            Some(x) => {
                let mut s = x.to_string();
                if s.len() > 120 {
                    let mut cut = 117;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    s.truncate(cut);
                    s.push('…');
                }
                s
            }
        };
        let item = format!(
            "predicate{path} = {}",
            crate::util::text::escape_control(&shown)
        );
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        format!(" ({})", out.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_parsed() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
        assert_eq!(Severity::parse("high"), Some(Severity::High));
        assert_eq!(Severity::parse("Negligible"), Some(Severity::Low));
        assert_eq!(Severity::parse("SEVERE"), None);
    }

    #[test]
    fn repositories_compare_without_scheme_prefix_or_ref() {
        assert_eq!(
            normalize_repository(
                "git+https://github.com/slsa-framework/example-package@refs/heads/main"
            ),
            "github.com/slsa-framework/example-package"
        );
        assert_ne!(
            normalize_repository("github.com/slsa-framework/example-packageA"),
            normalize_repository("git+https://github.com/slsa-framework/example-package")
        );
    }

    #[test]
    fn exceptions_end_at_the_end_of_their_day() {
        assert_eq!(expiry("2024-01-01"), Some(1_704_153_599));
        assert_eq!(expiry("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(expiry("soon"), None);
    }

    #[test]
    fn cel_conditions_report_the_values_read() {
        let st = crate::formats::intoto::statement(
            "r/app",
            &crate::Digest::sha256(b"x"),
            intoto::COSIGN_VULN,
            serde_json::json!({"scanner": {"uri": "pkg:trivy"}}),
        );
        let check = |e: &str| cel_check("c", e, &compile(e).unwrap(), &st);
        let ok = check("predicate.scanner.uri.startsWith('pkg:')");
        assert!(ok.passed, "{}", ok.reason);
        let no = check("predicate.scanner.uri == 'grype'");
        assert!(!no.passed);
        assert!(
            no.reason.contains(r#"predicate.scanner.uri = "pkg:trivy""#),
            "{}",
            no.reason
        );
        let err = check("predicate.missing.field == 1");
        assert!(
            !err.passed && err.reason.contains("failed to evaluate"),
            "{}",
            err.reason
        );
        let e = compile("predicate.x ==").unwrap_err().to_string();
        assert!(e.contains("<input>:1:"), "{e}");
    }
}
