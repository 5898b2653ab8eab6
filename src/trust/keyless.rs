//! Keyless (Fulcio) signing certificates: who a certificate names, and whether it is one a
//! Sigstore trusted root vouches for.
//!
//! # Identity
//!
//! [`FulcioIdentity::from_certificate`] reads what Fulcio writes into a signing certificate
//! (sigstore/fulcio `docs/oid-info.md`):
//!
//! - the subject alternative names: `rfc822Name` (email), `uniformResourceIdentifier` (URI, e.g.
//!   a GitHub Actions workflow ref) and `otherName` of type `1.3.6.1.4.1.57264.1.7` (a
//!   UTF8String username);
//! - the OIDC issuer: extension `1.3.6.1.4.1.57264.1.8` (a DER UTF8String), else the legacy
//!   `1.3.6.1.4.1.57264.1.1` (the raw string bytes);
//! - the GitHub workflow fields cosign's `--certificate-github-workflow-*` flags compare: the
//!   legacy raw-string extensions `.1.2` (trigger), `.1.3` (sha), `.1.4` (name), `.1.5`
//!   (repository), `.1.6` (ref), each falling back to its provider-generic successor when the
//!   legacy one is absent: `.1.20` Build Trigger, `.1.13` Source Repository Digest, `.1.12`
//!   Source Repository URI, `.1.14` Source Repository Ref (DER UTF8Strings). The workflow name
//!   has no successor.
//!
//! [`CertificateIdentity`] is one expected identity: a subject (matched against every SAN) and
//! an issuer, each exact or a regular expression, plus optional GitHub workflow fields (exact).
//! Regular expressions are anchored (`^(?:…)$`), so `example.com` never matches
//! `evil-example.com.attacker`. [`match_identities`] accepts a certificate when any identity of
//! a list matches, and says which. There is no "any identity": a matcher always names both a
//! subject and an issuer.
//!
//! # Trust
//!
//! [`FulcioCertificate::verify`] checks a signing certificate at one instant (the Rekor
//! integrated time, or a verified RFC 3161 time: never the wall clock unless the caller passes
//! it):
//!
//! 1. the certificate chains, under the code-signing profile ([`Profile::CodeSigning`]: leaf
//!    `codeSigning` extended key usage and `digitalSignature` key usage), to a Fulcio
//!    certificate authority of the trusted root whose `validFor` contains the instant, and every
//!    certificate of the path is valid at it. The path is built from the authority's own chain,
//!    and from the certificates the signature carried (a bundle's chain, cosign's `chain`
//!    annotation) when they lead to the authority's root;
//! 2. the embedded SCT list (`1.3.6.1.4.1.11129.2.4.2`): at least one SCT verifies, with the key
//!    of a CT log of the trusted root that is valid at the SCT's timestamp, over the RFC 6962
//!    precertificate entry (the TBSCertificate without the SCT extension, and SHA-256 of the
//!    issuing CA's SubjectPublicKeyInfo). SCTs from logs the root does not know are skipped, so
//!    a certificate whose only SCT is from an unknown log fails.
//!
//! [`FulcioVerified`] says what was found and which trusted-root entries were used.

use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::pki::{validate_chain, Certificate, Profile};
use crate::trust::sigstore_root::{rfc3339, AuthoritySubject, CertificateAuthority, TrustedRoot};

/// Fulcio's OID arc.
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";
/// The embedded SCT list extension (RFC 6962 §3.3).
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
/// DER of the SCT list OID, for removing the extension from the TBSCertificate.
const OID_SCT_LIST_DER: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02,
];
/// The otherName type of a Fulcio username SAN.
const OID_OTHERNAME_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";
/// Longest regular expression source accepted.
const MAX_PATTERN: usize = 4096;

/// Why a keyless certificate or an identity matcher was refused. Messages name the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// A regular expression of an identity does not compile.
    #[error("certificate identity: invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The expression as given.
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
    /// The certificate's Fulcio extensions or SANs cannot be read.
    #[error("keyless certificate: {0}")]
    Certificate(String),
    /// No Fulcio authority of the trusted root counts at the instant.
    #[error(
        "keyless certificate: no Fulcio certificate authority of the trusted root is valid at {at}"
    )]
    NoAuthority {
        /// The instant, RFC 3339.
        at: String,
    },
    /// The certificate does not chain to a Fulcio authority valid at the instant.
    #[error("keyless certificate chain (at {at}): {reason}")]
    Chain {
        /// The instant, RFC 3339.
        at: String,
        /// Why each authority refused it.
        reason: String,
    },
    /// The embedded signed certificate timestamps do not verify.
    #[error("keyless certificate SCT: {0}")]
    Sct(String),
    /// The certificate names another identity than the expected ones.
    #[error("certificate identity: {found} does not match {wanted}")]
    Identity {
        /// What the certificate names.
        found: String,
        /// What was expected.
        wanted: String,
    },
}

type Result<T> = std::result::Result<T, KeylessError>;

// ---------------------------------------------------------------- identity in the certificate

/// A subject alternative name of a Fulcio certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
#[non_exhaustive]
pub enum San {
    /// `rfc822Name`.
    Email(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `otherName` of type `1.3.6.1.4.1.57264.1.7` (a username).
    OtherName(String),
}

impl San {
    /// The name's text.
    pub fn value(&self) -> &str {
        match self {
            San::Email(s) | San::Uri(s) | San::OtherName(s) => s,
        }
    }
}

/// The GitHub workflow fields of a certificate (or, in a matcher, the expected values).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GithubWorkflow {
    /// `.1.5` (legacy, `owner/repo`) or `.1.12` Source Repository URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `.1.6` (legacy) or `.1.14` Source Repository Ref.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// `.1.3` (legacy) or `.1.13` Source Repository Digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// `.1.2` (legacy) or `.1.20` Build Trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// `.1.4` (legacy) workflow name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl GithubWorkflow {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.repository.is_none()
            && self.git_ref.is_none()
            && self.sha.is_none()
            && self.trigger.is_none()
            && self.name.is_none()
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("repository", self.repository.as_deref()),
            ("ref", self.git_ref.as_deref()),
            ("sha", self.sha.as_deref()),
            ("trigger", self.trigger.as_deref()),
            ("name", self.name.as_deref()),
        ]
    }
}

/// What a Fulcio certificate says about its holder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FulcioIdentity {
    /// Every email, URI and username SAN, in certificate order.
    pub sans: Vec<San>,
    /// The OIDC issuer (`.1.8`, else `.1.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The GitHub workflow fields present.
    #[serde(skip_serializing_if = "GithubWorkflow::is_empty")]
    pub github_workflow: GithubWorkflow,
}

impl FulcioIdentity {
    /// Reads the SANs, the issuer and the workflow fields of `cert`.
    pub fn from_certificate(cert: &Certificate) -> Result<FulcioIdentity> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der())
            .map_err(|e| KeylessError::Certificate(format!("cannot be parsed ({e})")))?;
        let mut out = FulcioIdentity::default();
        let san = parsed.subject_alternative_name().map_err(|e| {
            KeylessError::Certificate(format!("invalid subjectAltName extension ({e})"))
        })?;
        if let Some(san) = san {
            use x509_parser::extensions::GeneralName;
            for name in &san.value.general_names {
                match name {
                    GeneralName::RFC822Name(s) => out.sans.push(San::Email((*s).to_string())),
                    GeneralName::URI(s) => out.sans.push(San::Uri((*s).to_string())),
                    GeneralName::OtherName(oid, value)
                        if oid.to_id_string() == OID_OTHERNAME_USERNAME =>
                    {
                        let name = other_name_utf8(value).ok_or_else(|| {
                            KeylessError::Certificate(
                                "otherName SAN 1.3.6.1.4.1.57264.1.7 is not a UTF8String".into(),
                            )
                        })?;
                        out.sans.push(San::OtherName(name));
                    }
                    _ => {}
                }
            }
        }
        let mut raw: Vec<(u32, &[u8])> = Vec::new();
        for ext in parsed.tbs_certificate.extensions() {
            let id = ext.oid.to_id_string();
            if let Some(n) = id
                .strip_prefix(FULCIO_ARC)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|n| n.parse::<u32>().ok())
            {
                if raw.iter().any(|(m, _)| *m == n) {
                    return Err(KeylessError::Certificate(format!(
                        "extension {id} appears twice"
                    )));
                }
                raw.push((n, ext.value));
            }
        }
        let get = |n: u32| raw.iter().find(|(m, _)| *m == n).map(|(_, v)| *v);
        // .1.1 – .1.6: raw strings; .1.8 onwards: DER UTF8String.
        let legacy = |n: u32| -> Result<Option<String>> {
            get(n)
                .map(|v| {
                    String::from_utf8(v.to_vec()).map_err(|_| {
                        KeylessError::Certificate(format!(
                            "extension {FULCIO_ARC}.{n} is not UTF-8"
                        ))
                    })
                })
                .transpose()
        };
        let v2 = |n: u32| -> Result<Option<String>> {
            get(n)
                .map(|v| {
                    der_utf8(v).ok_or_else(|| {
                        KeylessError::Certificate(format!(
                            "extension {FULCIO_ARC}.{n} is not a DER UTF8String"
                        ))
                    })
                })
                .transpose()
        };
        out.issuer = match v2(8)? {
            Some(s) => Some(s),
            None => legacy(1)?,
        };
        out.github_workflow = GithubWorkflow {
            trigger: or_else(legacy(2)?, || v2(20))?,
            sha: or_else(legacy(3)?, || v2(13))?,
            name: legacy(4)?,
            repository: or_else(legacy(5)?, || v2(12))?,
            git_ref: or_else(legacy(6)?, || v2(14))?,
        };
        Ok(out)
    }

    /// `SAN(s) …, issuer …` for messages.
    pub fn describe(&self) -> String {
        let sans: Vec<&str> = self.sans.iter().map(San::value).collect();
        format!(
            "certificate identity {} with issuer {}",
            if sans.is_empty() {
                "(no email, URI or username SAN)".to_string()
            } else {
                format!("{:?}", sans.join(", "))
            },
            self.issuer
                .as_deref()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "(none)".into())
        )
    }
}

fn or_else(
    first: Option<String>,
    second: impl FnOnce() -> Result<Option<String>>,
) -> Result<Option<String>> {
    match first {
        Some(s) => Ok(Some(s)),
        None => second(),
    }
}

// ---------------------------------------------------------------- expected identities

/// An exact string or an anchored regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal, byte for byte.
    Exact(String),
    /// Matches the whole string (compiled as `^(?:source)$`).
    Regex {
        /// The expression as given.
        source: String,
        /// The anchored expression.
        regex: regex::Regex,
    },
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Exact(a), Matcher::Exact(b)) => a == b,
            (Matcher::Regex { source: a, .. }, Matcher::Regex { source: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Matcher {
    /// An exact matcher.
    pub fn exact(s: impl Into<String>) -> Matcher {
        Matcher::Exact(s.into())
    }

    /// A regular expression matcher, anchored at both ends.
    pub fn regex(source: &str) -> Result<Matcher> {
        let bad = |reason: String| KeylessError::Regex {
            pattern: source.to_string(),
            reason,
        };
        if source.len() > MAX_PATTERN {
            return Err(bad(format!("longer than {MAX_PATTERN} bytes")));
        }
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| bad(e.to_string().lines().last().unwrap_or_default().to_string()))?;
        Ok(Matcher::Regex {
            source: source.to_string(),
            regex,
        })
    }

    /// True when `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == s,
            Matcher::Regex { regex, .. } => regex.is_match(s),
        }
    }

    /// `"x"` or `/x/` for messages.
    pub fn describe(&self) -> String {
        match self {
            Matcher::Exact(e) => format!("{e:?}"),
            Matcher::Regex { source, .. } => format!("regexp {source:?}"),
        }
    }
}

/// One expected keyless identity: subject and issuer, and optional GitHub workflow fields.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateIdentity {
    /// Compared with every email, URI and username SAN; one must match.
    pub subject: Matcher,
    /// Compared with the OIDC issuer.
    pub issuer: Matcher,
    /// Each field set must equal the certificate's (a repository `owner/repo` also matches a
    /// Source Repository URI `https://host/owner/repo`).
    pub github_workflow: GithubWorkflow,
}

impl CertificateIdentity {
    /// An identity with exact subject and issuer.
    pub fn exact(subject: impl Into<String>, issuer: impl Into<String>) -> CertificateIdentity {
        CertificateIdentity::new(Matcher::exact(subject), Matcher::exact(issuer))
    }

    /// An identity from two matchers.
    pub fn new(subject: Matcher, issuer: Matcher) -> CertificateIdentity {
        CertificateIdentity {
            subject,
            issuer,
            github_workflow: GithubWorkflow::default(),
        }
    }

    /// Also requires these GitHub workflow fields.
    pub fn with_github_workflow(mut self, workflow: GithubWorkflow) -> CertificateIdentity {
        self.github_workflow = workflow;
        self
    }

    /// `subject … issuer …` for messages.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "subject {} with issuer {}",
            self.subject.describe(),
            self.issuer.describe()
        );
        for (name, want) in self.github_workflow.fields() {
            if let Some(w) = want {
                s.push_str(&format!(", github workflow {name} {w:?}"));
            }
        }
        s
    }

    /// Why `found` does not match, or `Ok` with the SAN that matched.
    pub fn check<'a>(&self, found: &'a FulcioIdentity) -> Result<&'a San> {
        let mismatch = |what: String| KeylessError::Identity {
            found: what,
            wanted: self.describe(),
        };
        let san = found
            .sans
            .iter()
            .find(|s| self.subject.is_match(s.value()))
            .ok_or_else(|| mismatch(found.describe()))?;
        match found.issuer.as_deref() {
            Some(i) if self.issuer.is_match(i) => {}
            _ => return Err(mismatch(found.describe())),
        }
        let have = found.github_workflow.fields();
        for ((name, want), (_, got)) in self.github_workflow.fields().iter().zip(have) {
            let Some(want) = want else { continue };
            let ok = match got {
                Some(got) if got == *want => true,
                // `.1.12` is a URI; cosign's flag takes `owner/repo`.
                Some(got) if *name == "repository" => got
                    .split_once("://")
                    .and_then(|(_, rest)| rest.split_once('/'))
                    .is_some_and(|(_, path)| path == *want),
                _ => false,
            };
            if !ok {
                return Err(mismatch(format!(
                    "github workflow {name} {}",
                    got.map(|g| format!("{g:?}"))
                        .unwrap_or_else(|| "(absent)".into())
                )));
            }
        }
        Ok(san)
    }
}

/// The first identity of `identities` that `found` matches: its index and the SAN. An empty
/// list matches nothing.
pub fn match_identities<'a>(
    identities: &[CertificateIdentity],
    found: &'a FulcioIdentity,
) -> Result<(usize, &'a San)> {
    let mut first_err = None;
    for (i, id) in identities.iter().enumerate() {
        match id.check(found) {
            Ok(san) => return Ok((i, san)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(match first_err {
        Some(e) if identities.len() == 1 => e,
        _ => KeylessError::Identity {
            found: found.describe(),
            wanted: if identities.is_empty() {
                "any expected identity (none was given)".into()
            } else {
                format!(
                    "any of {}",
                    identities
                        .iter()
                        .map(CertificateIdentity::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
        },
    })
}

// ---------------------------------------------------------------- trust

/// The CT log whose SCT verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtLogUsed {
    /// The log's `baseUrl` in the trusted root.
    pub base_url: String,
    /// The log ID, lowercase hex.
    pub log_id: String,
    /// The SCT's timestamp.
    pub timestamp: SystemTime,
}

/// What [`FulcioCertificate::verify`] established.
#[derive(Debug, Clone)]
pub struct FulcioVerified {
    /// Who the certificate names.
    pub identity: FulcioIdentity,
    /// The instant the chain was checked at.
    pub at: SystemTime,
    /// The trusted-root Fulcio authority's `uri`.
    pub authority_uri: String,
    /// Its `subject`.
    pub authority_subject: AuthoritySubject,
    /// Its position in `certificateAuthorities`.
    pub authority_index: usize,
    /// The validated path, leaf first, the authority's root last.
    pub path: Vec<Certificate>,
    /// The CT log whose SCT verified (`None` when SCTs were not required).
    pub ct_log: Option<CtLogUsed>,
}

/// Which checks [`FulcioCertificate::verify_with`] applies beyond the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FulcioChecks {
    /// Require an embedded SCT from a CT log of the trusted root (default: true).
    pub require_sct: bool,
}

impl Default for FulcioChecks {
    fn default() -> Self {
        FulcioChecks { require_sct: true }
    }
}

/// Verification of Fulcio signing certificates against a trusted root (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct FulcioCertificate;

impl FulcioCertificate {
    /// Checks `leaf` at `at` against `root`'s Fulcio authorities and CT logs; `chain` holds the
    /// other certificates the signature carried (may be empty). SCTs are required.
    pub fn verify(
        leaf: &Certificate,
        chain: &[Certificate],
        root: &TrustedRoot,
        at: SystemTime,
    ) -> Result<FulcioVerified> {
        FulcioCertificate::verify_with(leaf, chain, root, at, FulcioChecks::default())
    }

    /// [`FulcioCertificate::verify`] with the SCT requirement chosen by `checks`.
    pub fn verify_with(
        leaf: &Certificate,
        chain: &[Certificate],
        root: &TrustedRoot,
        at: SystemTime,
        checks: FulcioChecks,
    ) -> Result<FulcioVerified> {
        let identity = FulcioIdentity::from_certificate(leaf)?;
        let cas: Vec<(usize, &CertificateAuthority)> = root
            .certificate_authorities()
            .iter()
            .enumerate()
            .filter(|(_, a)| a.valid_for().contains(at))
            .collect();
        if cas.is_empty() {
            return Err(KeylessError::NoAuthority { at: rfc3339(at) });
        }
        let mut reasons = Vec::new();
        for (index, ca) in cas {
            let path = match build_path(leaf, chain, ca) {
                Some(p) => p,
                None => {
                    reasons.push(format!(
                        "{}: the certificate is not issued under this authority",
                        authority_name(ca)
                    ));
                    continue;
                }
            };
            let Some(anchor) = path.last() else { continue };
            if let Err(e) = validate_chain(
                &path,
                std::slice::from_ref(anchor),
                at,
                Profile::CodeSigning,
            ) {
                reasons.push(format!("{}: {e}", authority_name(ca)));
                continue;
            }
            let ct_log = if checks.require_sct {
                let issuer = path.get(1).ok_or_else(|| {
                    KeylessError::Sct("the certificate has no issuing CA in its path".into())
                })?;
                Some(verify_embedded_sct(leaf, issuer, root)?)
            } else {
                None
            };
            return Ok(FulcioVerified {
                identity,
                at,
                authority_uri: ca.uri().to_string(),
                authority_subject: ca.subject().clone(),
                authority_index: index,
                path,
                ct_log,
            });
        }
        Err(KeylessError::Chain {
            at: rfc3339(at),
            reason: reasons.join("; "),
        })
    }
}

/// `uri` (or the subject) of an authority, for messages.
fn authority_name(ca: &CertificateAuthority) -> String {
    if !ca.uri().is_empty() {
        return format!("Fulcio {}", ca.uri());
    }
    let s = ca.subject();
    format!(
        "Fulcio {}",
        s.common_name
            .as_deref()
            .or(s.organization.as_deref())
            .unwrap_or("(unnamed)")
    )
}

/// Leaf first, up to the authority's root (its chain's last certificate): each next
/// certificate is one that issued the previous, taken from the authority's chain or, when not
/// there, from the signature's own certificates.
fn build_path(
    leaf: &Certificate,
    extra: &[Certificate],
    ca: &CertificateAuthority,
) -> Option<Vec<Certificate>> {
    let anchor = ca.chain().last()?;
    let mut path = vec![leaf.clone()];
    for _ in 0..8 {
        let current = path.last()?;
        if current.is_issued_by(anchor) {
            if current != anchor {
                path.push(anchor.clone());
            }
            return Some(path);
        }
        if current == anchor {
            return Some(path);
        }
        let next = ca
            .chain()
            .iter()
            .chain(extra.iter())
            .find(|c| !path.contains(c) && !c.is_self_signed() && current.is_issued_by(c))?;
        path.push(next.clone());
    }
    None
}

// ---------------------------------------------------------------- SCTs

/// One SCT of the embedded list.
struct Sct<'a> {
    version: u8,
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    signature: &'a [u8],
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn take_u(input: &mut &[u8], n: usize) -> Option<u64> {
    Some(
        take(input, n)?
            .iter()
            .fold(0u64, |a, b| (a << 8) | u64::from(*b)),
    )
}

fn take_vec<'a>(input: &mut &'a [u8], len_bytes: usize) -> Option<&'a [u8]> {
    let n = usize::try_from(take_u(input, len_bytes)?).ok()?;
    take(input, n)
}

/// The TLS-encoded `SignedCertificateTimestampList` inside the extension's OCTET STRING.
fn parse_sct_list(ext_value: &[u8]) -> Result<Vec<Sct<'_>>> {
    let malformed = |why: &str| KeylessError::Sct(why.to_string());
    let (tag, list, rest) =
        der_tlv(ext_value).ok_or_else(|| malformed("the SCT extension is not DER"))?;
    if tag != 0x04 || !rest.is_empty() {
        return Err(malformed("the SCT extension is not an OCTET STRING"));
    }
    let mut input = list;
    let mut body = take_vec(&mut input, 2).ok_or_else(|| malformed("the SCT list is truncated"))?;
    if !input.is_empty() {
        return Err(malformed("bytes after the SCT list"));
    }
    let mut out = Vec::new();
    while !body.is_empty() {
        let mut sct = take_vec(&mut body, 2).ok_or_else(|| malformed("an SCT is truncated"))?;
        let bad = || malformed("an SCT is truncated");
        let version = take_u(&mut sct, 1).ok_or_else(bad)? as u8;
        let log_id = take(&mut sct, 32).ok_or_else(bad)?;
        let timestamp_ms = take_u(&mut sct, 8).ok_or_else(bad)?;
        let extensions = take_vec(&mut sct, 2).ok_or_else(bad)?;
        let _hash = take_u(&mut sct, 1).ok_or_else(bad)?;
        let _sig = take_u(&mut sct, 1).ok_or_else(bad)?;
        let signature = take_vec(&mut sct, 2).ok_or_else(bad)?;
        if !sct.is_empty() {
            return Err(malformed("bytes after an SCT"));
        }
        out.push(Sct {
            version,
            log_id,
            timestamp_ms,
            extensions,
            signature,
        });
        if out.len() > 64 {
            return Err(malformed("more than 64 SCTs"));
        }
    }
    Ok(out)
}

/// The bytes an SCT signs for a precertificate entry (RFC 6962 §3.2).
fn sct_signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(precert_tbs.len() + 64);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    let n = precert_tbs.len() as u32;
    out.extend_from_slice(&n.to_be_bytes()[1..]);
    out.extend_from_slice(precert_tbs);
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(sct.extensions);
    out
}

/// Verifies the leaf's embedded SCTs against the root's CT logs; the first that verifies.
pub(crate) fn verify_embedded_sct(
    leaf: &Certificate,
    issuer: &Certificate,
    root: &TrustedRoot,
) -> Result<CtLogUsed> {
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.der())
        .map_err(|e| KeylessError::Certificate(format!("cannot be parsed ({e})")))?;
    let ext = parsed
        .tbs_certificate
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_SCT_LIST)
        .ok_or_else(|| KeylessError::Sct("the certificate has no embedded SCT".into()))?;
    let scts = parse_sct_list(ext.value)?;
    let tbs = precert_tbs(parsed.tbs_certificate.as_ref())
        .ok_or_else(|| KeylessError::Sct("the TBSCertificate cannot be re-encoded".into()))?;
    let key_hash: [u8; 32] = Sha256::digest(issuer.public_key_spki()).into();
    let mut reasons = Vec::new();
    for sct in &scts {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(sct.timestamp_ms);
        if sct.version != 0 {
            reasons.push(format!("SCT version {} is not v1", sct.version));
            continue;
        }
        let log = match root.ctlog_by_log_id(sct.log_id, at) {
            Ok(l) => l,
            Err(e) => {
                reasons.push(e.to_string());
                continue;
            }
        };
        if log
            .key()
            .verify(&sct_signed_data(sct, &key_hash, &tbs), sct.signature)
        {
            return Ok(CtLogUsed {
                base_url: log.base_url().to_string(),
                log_id: hex::encode(sct.log_id),
                timestamp: at,
            });
        }
        reasons.push(format!(
            "the SCT does not verify with the key of CT log {}",
            log.base_url()
        ));
    }
    Err(KeylessError::Sct(if reasons.is_empty() {
        "the SCT list is empty".into()
    } else {
        reasons.join("; ")
    }))
}

// ---------------------------------------------------------------- DER helpers

/// One DER element with a low tag number: `(tag byte, content, rest)`.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let v = take_u(&mut rest, n)?;
        usize::try_from(v).ok()?
    };
    if rest.len() < len {
        return None;
    }
    let (content, after) = rest.split_at(len);
    Some((tag, content, after))
}

fn der_encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The TBSCertificate with the SCT list extension removed (RFC 6962 §3.2's precertificate
/// TBS as the log saw it).
fn precert_tbs(tbs: &[u8]) -> Option<Vec<u8>> {
    let (tag, mut body, rest) = der_tlv(tbs)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(tbs.len());
    while !body.is_empty() {
        let before = body;
        let (t, content, after) = der_tlv(body)?;
        let whole = &before[..before.len() - after.len()];
        body = after;
        if t != 0xa3 {
            out.extend_from_slice(whole);
            continue;
        }
        let (seq, mut exts, tail) = der_tlv(content)?;
        if seq != 0x30 || !tail.is_empty() {
            return None;
        }
        let mut kept = Vec::new();
        while !exts.is_empty() {
            let before = exts;
            let (_, ext, after) = der_tlv(exts)?;
            let whole = &before[..before.len() - after.len()];
            exts = after;
            if !ext.starts_with(OID_SCT_LIST_DER) {
                kept.extend_from_slice(whole);
            }
        }
        out.extend(der_encode(0xa3, &der_encode(0x30, &kept)));
    }
    Some(der_encode(0x30, &out))
}

/// A DER UTF8String (the `.1.8`+ extension values).
fn der_utf8(v: &[u8]) -> Option<String> {
    let (tag, content, rest) = der_tlv(v)?;
    if tag != 0x0c || !rest.is_empty() {
        return None;
    }
    String::from_utf8(content.to_vec()).ok()
}

/// The value of an otherName: `[0] EXPLICIT UTF8String`.
fn other_name_utf8(v: &[u8]) -> Option<String> {
    let (tag, content, rest) = der_tlv(v)?;
    if tag != 0xa0 || !rest.is_empty() {
        return None;
    }
    der_utf8(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    fn fixture(rel: &str) -> Option<Vec<u8>> {
        crate::trust::sigstore_root::tests::keyless_fixture(rel)
    }

    const CASES: &str = "sigstore-conformance/bundle-verify";
    const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const GHA: &str = "https://token.actions.githubusercontent.com";

    fn leaf_of(case: &str) -> Option<(Certificate, Vec<Certificate>, Option<SystemTime>)> {
        let b: serde_json::Value =
            serde_json::from_slice(&fixture(&format!("{CASES}/{case}/bundle.sigstore.json"))?)
                .ok()?;
        let vm = &b["verificationMaterial"];
        let raws: Vec<&str> = match vm["certificate"]["rawBytes"].as_str() {
            Some(r) => vec![r],
            None => vm["x509CertificateChain"]["certificates"]
                .as_array()?
                .iter()
                .filter_map(|c| c["rawBytes"].as_str())
                .collect(),
        };
        let certs: Vec<Certificate> = raws
            .iter()
            .map(|r| Certificate::from_der(&B64.decode(r).unwrap()).unwrap())
            .collect();
        let it = vm["tlogEntries"][0]["integratedTime"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let (leaf, rest) = certs.split_first()?;
        Some((leaf.clone(), rest.to_vec(), it))
    }

    fn production() -> Option<TrustedRoot> {
        TrustedRoot::from_json(&fixture(
            "trust-roots/public-good-production.trusted_root.json",
        )?)
        .ok()
    }

    #[test]
    fn reads_fulcio_identity_and_workflow_fields() {
        let Some((leaf, _, _)) = leaf_of("happy-path-v0.3-new-mediaType") else {
            return;
        };
        let id = FulcioIdentity::from_certificate(&leaf).unwrap();
        assert_eq!(id.sans, vec![San::Uri(BEACON.into())]);
        assert_eq!(id.issuer.as_deref(), Some(GHA));
        let w = &id.github_workflow;
        assert_eq!(
            w.repository.as_deref(),
            Some("sigstore-conformance/extremely-dangerous-public-oidc-beacon")
        );
        assert_eq!(w.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            w.sha.as_deref(),
            Some("c7b3dfb335f051e1c86bda4c716fac97df62ad81")
        );
        assert_eq!(w.trigger.as_deref(), Some("workflow_dispatch"));
        assert_eq!(w.name.as_deref(), Some("Extremely dangerous OIDC beacon"));
    }

    #[test]
    fn identities_match_exactly_or_by_anchored_regex() {
        let Some((leaf, _, _)) = leaf_of("happy-path-v0.3-new-mediaType") else {
            return;
        };
        let id = FulcioIdentity::from_certificate(&leaf).unwrap();
        assert!(CertificateIdentity::exact(BEACON, GHA).check(&id).is_ok());
        let re = |s: &str, i: &str| {
            CertificateIdentity::new(Matcher::regex(s).unwrap(), Matcher::regex(i).unwrap())
        };
        assert!(re(
            r"https://github\.com/sigstore-conformance/.*",
            r"https://token\.actions\.githubusercontent\.com"
        )
        .check(&id)
        .is_ok());
        // Would match by substring if unanchored.
        let e = re("sigstore-conformance", ".*").check(&id).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        assert!(re(".*", "token.actions").check(&id).is_err());
        // Alternation stays inside the anchors.
        assert!(re("nomatch|https://github.com/.*", ".*").check(&id).is_ok());
        assert!(re("x|github", ".*").check(&id).is_err());
        assert!(
            CertificateIdentity::exact(BEACON, "https://accounts.google.com")
                .check(&id)
                .is_err()
        );
        // Workflow fields: legacy values, and owner/repo against a Source Repository URI.
        let w = GithubWorkflow {
            repository: Some("sigstore-conformance/extremely-dangerous-public-oidc-beacon".into()),
            git_ref: Some("refs/heads/main".into()),
            trigger: Some("workflow_dispatch".into()),
            ..GithubWorkflow::default()
        };
        let good = CertificateIdentity::exact(BEACON, GHA).with_github_workflow(w.clone());
        assert!(good.check(&id).is_ok());
        let bad = CertificateIdentity::exact(BEACON, GHA).with_github_workflow(GithubWorkflow {
            git_ref: Some("refs/heads/release".into()),
            ..w
        });
        let e = bad.check(&id).unwrap_err().to_string();
        assert!(e.contains("github workflow ref \"refs/heads/main\""), "{e}");
        let mut successor = id.clone();
        successor.github_workflow.repository = Some(
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon".into(),
        );
        assert!(good.check(&successor).is_ok());
        // Any-of.
        let list = vec![
            CertificateIdentity::exact("someone@example.com", GHA),
            CertificateIdentity::exact(BEACON, GHA),
        ];
        assert_eq!(match_identities(&list, &id).unwrap().0, 1);
        assert!(match_identities(&[], &id).is_err());
        assert!(Matcher::regex("(").is_err());
    }

    #[test]
    fn fulcio_certificate_verifies_at_the_integrated_time() {
        let (Some((leaf, chain, Some(it))), Some(root)) =
            (leaf_of("happy-path-v0.3-new-mediaType"), production())
        else {
            return;
        };
        let v = FulcioCertificate::verify(&leaf, &chain, &root, it).unwrap();
        assert_eq!(v.authority_uri, "https://fulcio.sigstore.dev");
        let ct = v.ct_log.unwrap();
        assert_eq!(ct.base_url, "https://ctfe.sigstore.dev/2022");
        assert_eq!(v.path.len(), 3);
        // Not at the wall clock: the certificate lived ten minutes.
        let e = FulcioCertificate::verify(&leaf, &chain, &root, SystemTime::now()).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        // Before every Fulcio authority's window.
        let e =
            FulcioCertificate::verify(&leaf, &chain, &root, SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(e, KeylessError::NoAuthority { .. }), "{e}");
    }

    #[test]
    fn an_sct_from_an_unknown_log_fails() {
        let (Some((leaf, chain, Some(it))), Some(root)) =
            (leaf_of("happy-path-v0.3-new-mediaType"), production())
        else {
            return;
        };
        let json: serde_json::Value = serde_json::from_str(&root.to_json()).unwrap();
        let mut no_ct = json.clone();
        no_ct["ctlogs"] = serde_json::json!([]);
        let no_ct = TrustedRoot::from_json(no_ct.to_string().as_bytes()).unwrap();
        let e = FulcioCertificate::verify(&leaf, &chain, &no_ct, it).unwrap_err();
        assert!(e.to_string().contains("no CT log with log ID"), "{e}");
        // Without the SCT requirement the chain alone passes.
        let checks = FulcioChecks { require_sct: false };
        assert!(FulcioCertificate::verify_with(&leaf, &chain, &no_ct, it, checks).is_ok());
    }

    #[test]
    fn invalid_ct_key_case_fails_on_the_sct() {
        let Some((leaf, chain, Some(it))) = leaf_of("invalid-ct-key_fail") else {
            return;
        };
        let Some(root) = fixture(&format!("{CASES}/invalid-ct-key_fail/trusted_root.json"))
            .and_then(|j| TrustedRoot::from_json(&j).ok())
        else {
            panic!("invalid-ct-key_fail trusted root");
        };
        let e = FulcioCertificate::verify(&leaf, &chain, &root, it).unwrap_err();
        assert!(matches!(e, KeylessError::Sct(_)), "{e}");
    }

    #[test]
    fn precert_tbs_drops_only_the_sct_extension() {
        let Some((leaf, _, _)) = leaf_of("happy-path-v0.1") else {
            return;
        };
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.der()).unwrap();
        let tbs = parsed.tbs_certificate.as_ref();
        let pre = precert_tbs(tbs).unwrap();
        assert!(pre.len() < tbs.len());
        use x509_parser::prelude::FromDer;
        let (_, again) =
            x509_parser::certificate::TbsCertificate::from_der(&pre).expect("re-encoded TBS");
        let oids: Vec<String> = again
            .extensions()
            .iter()
            .map(|e| e.oid.to_id_string())
            .collect();
        assert!(!oids.iter().any(|o| o == OID_SCT_LIST));
        assert_eq!(oids.len() + 1, parsed.tbs_certificate.extensions().len());
    }
}
