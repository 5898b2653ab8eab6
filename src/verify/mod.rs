//! The verification pipeline: resolve → fetch `sha256-<hex>.sig` → check each signature
//! (key, digest, identity, annotations) → [`Verification`] with a reason for every failure.
//!
//! The identity a cosign payload may name (`docker-reference`) is a [`SignedIdentity`] rule
//! ([`Verifier::with_signed_identity`]; default `matchRepository`: the image's own repository),
//! compared with the image's registry name — for an OCI layout image, its ref name when that
//! is a full reference, never the layout directory
//! ([`crate::trust::signed_identity::compared_identity`]).

use crate::formats::cosign::{self as cosign_format, Payload, SignatureManifest};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::{ManifestRef, Store, StoreOptions, MAX_SIGNATURE_CANDIDATES};
use crate::{Digest, PublicKey, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

mod annotations;
mod bundle;
mod certificate;
mod cosign;
mod keyless;
mod notation;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod sigstore;

use annotations::Required;
use std::time::SystemTime;

// used by the attest layer; not a stable API
#[doc(hidden)]
pub use keyless::{bundle_evidence, verify_keyless_envelope, KeylessSigned};
pub use keyless::{
    CertificateEvidence, KeylessError, KeylessTrust, RekorBundle, TimestampEvidence, TlogEvidence,
};
pub use notation::NotationTrust;

use crate::formats::SignatureFormat;
use crate::trust::signed_identity::{compared_identity, IdentityRuleError, SignedIdentity};
use crate::trust::CertificateTrust;
use crate::Reference;

/// Where a candidate signature was found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// `tag` (cosign's `sha256-<hex>.sig` tag), `referrers-api`, `referrers-tag-schema` or
    /// `layout-index` (the schemes `tree` and `copy` name).
    pub scheme: String,
    /// The tag name, or the digest of the referrer manifest.
    pub artifact: String,
    /// The layer of that manifest (none for a notation signature: one per artifact).
    pub layer: Option<usize>,
}

impl Location {
    fn tag(tag: &str, layer: usize) -> Location {
        Location {
            scheme: "tag".into(),
            artifact: tag.to_string(),
            layer: Some(layer),
        }
    }

    fn referrer(
        scheme: crate::store::ReferrerScheme,
        digest: &str,
        layer: Option<usize>,
    ) -> Location {
        Location {
            scheme: scheme.id().to_string(),
            artifact: digest.to_string(),
            layer,
        }
    }
}

/// One signature looked at, and what became of it.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureCheck {
    /// Where it was found, in words, e.g. `tag sha256-….sig, layer 0`.
    pub source: String,
    /// Where it was found, as data (the same place as `source`).
    pub location: Location,
    /// `cosign` or `notation`.
    pub format: &'static str,
    /// The payload layer's digest.
    pub layer_digest: String,
    /// True when every check passed.
    pub verified: bool,
    /// The first check that failed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The payload, once its signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// The name of the key whose signature this is, once it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// `sha256:` of the signing key's SubjectPublicKeyInfo, once it verified (the same key
    /// bare or in a certificate has one fingerprint; policies count distinct signing keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_key: Option<String>,
    /// The canonical repository this signature names when it is valid for this image (key or
    /// certificate, digest) and only the identity rule refused it: the repository to accept
    /// explicitly when the image is a copy or mirror of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_identity: Option<String>,
    /// A keyless signature's certificate, once it verified: the identity found (SAN, issuer,
    /// GitHub workflow) and the Fulcio CA and CT log of the trusted root it was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateEvidence>,
    /// The transparency-log entry verified (log ID and base URL in the trusted root, index,
    /// integrated time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlog: Option<TlogEvidence>,
    /// The RFC 3161 timestamp verified (time, TSA subject and trusted-root URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampEvidence>,
    /// A notation signature that verified, as `notation inspect` shows it: signing scheme and
    /// time, expiry, user metadata, the certificate chain (subject, issuer, expiry, SHA-256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notation: Option<crate::formats::notation::inspect::NotationInfo>,
}

/// The result of [`Verifier::verify`].
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The image as given.
    pub image: String,
    /// The manifest digest that was verified.
    pub digest: Digest,
    /// True when at least one signature passed every check.
    pub verified: bool,
    /// Names of the keys with at least one signature that passed every check.
    pub verified_by: Vec<String>,
    /// Why verification failed when no signature was there to look at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every signature examined (examination stops at the first one that verifies).
    pub signatures: Vec<SignatureCheck>,
    /// Problems with what was attached (entries skipped, pagination stopped…).
    pub warnings: Vec<String>,
    /// With a platform: the verification of the platform manifest the index lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Box<Verification>>,
    /// Registry requests made.
    pub requests: u64,
}

impl Verification {
    /// True when this part has a valid signature of its own (an index's `verified` also
    /// includes its platform's; a notation `skip` level verifies with no signature at all).
    pub fn own_verified(&self) -> bool {
        self.signatures.iter().any(|s| s.verified)
            || (self.signatures.is_empty() && !self.verified_by.is_empty())
    }

    /// Why no signature of this part passed: the reason when there was nothing to examine,
    /// else each failed signature's place and first failed check, at most
    /// [`crate::util::text::MAX_LISTED_REASONS`] of them, then "… and N more".
    pub fn failure_summary(&self) -> String {
        self.reason.clone().unwrap_or_else(|| {
            crate::util::text::bounded_join(
                self.signatures.iter().filter(|s| !s.verified).map(|s| {
                    format!(
                        "{}: {}",
                        s.source,
                        s.failure.as_deref().unwrap_or("not valid")
                    )
                }),
                "; ",
                crate::util::text::MAX_LISTED_REASONS,
            )
        })
    }

    /// The manifests verified: this one, then (with a platform) the platform manifest.
    pub fn parts(&self) -> impl Iterator<Item = &Verification> {
        std::iter::once(self).chain(self.platform.as_deref())
    }

    /// The per-manifest verdict: the first manifest of [`Verification::parts`] without a valid
    /// signature of its own (its [`Verification::failure_summary`] says why), or `None` when
    /// every one has one.
    pub fn first_failed(&self) -> Option<&Verification> {
        self.parts().find(|p| !p.own_verified())
    }

    /// The repositories named by signatures that are valid for this image but were refused by
    /// the identity rule (each [`SignatureCheck::refused_identity`], in every part, once):
    /// what a caller may accept explicitly for a copy or mirror.
    pub fn refused_identities(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self
            .parts()
            .flat_map(|p| p.signatures.iter())
            .filter_map(|s| s.refused_identity.clone())
        {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// The payloads of the verified signatures.
    pub fn verified_payloads(&self) -> impl Iterator<Item = &Payload> {
        self.signatures
            .iter()
            .filter(|s| s.verified)
            .filter_map(|s| s.payload.as_ref())
    }
}

/// Verifies images against one public key.
///
/// ```no_run
/// # async fn demo() -> imgseal::Result<()> {
/// use imgseal::{ImageRef, PublicKey, Verifier};
/// use std::collections::BTreeMap;
///
/// let key = PublicKey::from_file("cosign.pub".as_ref())?;
/// let image = ImageRef::parse("registry.example/app:1.0")?;
/// let result = Verifier::new(key).verify(&image, &BTreeMap::new()).await?;
/// if !result.verified {
///     for s in &result.signatures {
///         eprintln!("{}: {}", s.source, s.failure.as_deref().unwrap_or("ok"));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<(String, PublicKey)>,
    certificates: Option<Arc<CertificateTrust>>,
    keyless: Option<Arc<KeylessTrust>>,
    notation: Option<Arc<NotationTrust>>,
    format: Option<SignatureFormat>,
    require_all: bool,
    examine_all: bool,
    required_keys: Vec<String>,
    options: StoreOptions,
    platform: Option<String>,
    signed_identity: SignedIdentity,
    /// An identity given to [`Verifier::with_signed_repository`] that is not a repository:
    /// reported by [`Verifier::verify`].
    identity_error: Option<IdentityRuleError>,
    /// `None`: the system clock, read at each check.
    now: Option<SystemTime>,
    /// Sigstore bundles: the trusted root and keyless identities their checks use.
    sigstore: bundle::SigstoreTrust,
}

impl Verifier {
    /// A verifier for signatures made by `key`'s private half.
    pub fn new(key: PublicKey) -> Verifier {
        Verifier::with_keys(vec![("key".to_string(), key)])
    }

    /// Require signatures to name repository `signed_repository` (e.g. `registry.example/app`) instead
    /// of the one the image is read from: for a copy or mirror (`imgseal copy`), whose
    /// signatures still name the repository they were made in. The same as
    /// [`Verifier::with_signed_identity`] with [`SignedIdentity::ExactRepository`]; `None`
    /// keeps the rule set so far. A value that is not a repository makes
    /// [`Verifier::verify`] fail with [`IdentityRuleError`].
    pub fn with_signed_repository(mut self, signed_repository: Option<String>) -> Verifier {
        if let Some(repo) = signed_repository {
            match SignedIdentity::exact_repository(&repo) {
                Ok(rule) => self.signed_identity = rule,
                Err(e) => self.identity_error = Some(e),
            }
        }
        self
    }

    /// Which `docker-reference` a cosign signature may name (default
    /// [`SignedIdentity::MatchRepository`]: the image's own repository). See
    /// [`crate::trust::signed_identity`].
    pub fn with_signed_identity(mut self, rule: SignedIdentity) -> Verifier {
        self.signed_identity = rule;
        self.identity_error = None;
        self
    }

    /// The identity rule signatures are checked with.
    pub fn signed_identity(&self) -> &SignedIdentity {
        &self.signed_identity
    }

    /// A verifier accepting signatures by any of these named keys (see
    /// [`Verifier::require_all`]); [`Verification::verified_by`] names the keys that signed.
    pub fn with_keys(keys: Vec<(String, PublicKey)>) -> Verifier {
        Verifier {
            keys,
            certificates: None,
            keyless: None,
            notation: None,
            format: None,
            require_all: false,
            examine_all: false,
            required_keys: Vec::new(),
            options: StoreOptions::default(),
            platform: None,
            signed_identity: SignedIdentity::default(),
            identity_error: None,
            now: None,
            sigstore: bundle::SigstoreTrust::default(),
        }
    }

    /// Check certificate validity, signature expiry and revocation at this instant instead of
    /// the system clock (`None`: the system clock).
    pub fn with_now(mut self, now: Option<SystemTime>) -> Verifier {
        self.now = now;
        self
    }

    /// Require every accepted signature to carry these annotation keys (any value).
    pub fn with_required_annotation_keys(mut self, keys: Vec<String>) -> Verifier {
        self.required_keys = keys;
        self
    }

    /// Also accept cosign signatures made with a certificate that chains to these roots and
    /// matches the identity constraint (cosign's `--certificate-chain`, `--certificate-identity`).
    pub fn with_certificate_trust(mut self, trust: Option<CertificateTrust>) -> Verifier {
        self.certificates = trust.map(Arc::new);
        self
    }

    /// Verify Sigstore bundles (cosign v3 referrers) in full against this trusted root:
    /// transparency-log entries, timestamps, and for keyless bundles the Fulcio certificate
    /// (see [`sigstore`]). `None`: bundles are checked with the given keys or certificate
    /// roots only, and their log entries and timestamps are reported as not verified.
    pub fn with_sigstore_root(
        mut self,
        root: Option<Arc<crate::trust::sigstore_root::TrustedRoot>>,
    ) -> Verifier {
        self.sigstore.root = root;
        self
    }

    /// The identities a keyless Sigstore bundle's certificate may name (any one counts; with
    /// [`Verifier::with_sigstore_root`]).
    pub fn with_sigstore_identities(
        mut self,
        identities: Vec<crate::trust::keyless::CertificateIdentity>,
    ) -> Verifier {
        self.sigstore.identities = identities;
        self
    }

    /// Verify cosign signatures' Rekor bundles and RFC 3161 timestamps against this Sigstore
    /// trusted root (cosign's `--trusted-root`): a key signature then also needs its
    /// transparency-log entry when the trust requires one.
    /// The same root and identities apply to Sigstore bundle referrers
    /// ([`Verifier::with_sigstore_root`], [`Verifier::with_sigstore_identities`]).
    pub fn with_keyless(mut self, trust: Option<KeylessTrust>) -> Verifier {
        if let Some(t) = &trust {
            self.sigstore.root = Some(t.root.clone());
            self.sigstore.identities = t.identities.clone();
            // The same requirements for cosign v3 bundle referrers as for `.sig` layers.
            self.sigstore.options.require_tlog = t.require_tlog;
            self.sigstore.options.require_sct = t.require_sct;
            self.sigstore.options.require_timestamp = t.require_timestamp;
        }
        self.keyless = trust.map(Arc::new);
        self
    }

    /// Also verify Notary Project signatures against this trust policy and trust store.
    pub fn with_notation_trust(mut self, trust: Option<NotationTrust>) -> Verifier {
        self.notation = trust.map(Arc::new);
        self
    }

    /// Only look at signatures of this format (default: every format imgseal was given trust
    /// material for).
    pub fn with_format(mut self, format: Option<SignatureFormat>) -> Verifier {
        self.format = format;
        self
    }

    fn wants(&self, f: SignatureFormat) -> bool {
        self.format.is_none_or(|x| x == f)
            && match f {
                SignatureFormat::Cosign => {
                    !self.keys.is_empty()
                        || self.certificates.is_some()
                        || (self.sigstore.root.is_some() && !self.sigstore.identities.is_empty())
                        || self
                            .keyless
                            .as_ref()
                            .is_some_and(|k| !k.identities.is_empty())
                }
                SignatureFormat::Notation => self.notation.is_some(),
            }
    }

    /// Keep examining signatures until every key has one that verifies (for all-of and
    /// threshold policies), instead of stopping at the first.
    pub fn require_all(mut self, all: bool) -> Verifier {
        self.require_all = all;
        self
    }

    /// Examine every signature instead of stopping once the requirement is met, so that
    /// [`Verification::signatures`] lists every valid one (policies counting distinct signers).
    pub fn examine_all(mut self, all: bool) -> Verifier {
        self.examine_all = all;
        self
    }

    /// For an index, also resolve and verify the platform manifest for `os/arch[/variant]`.
    pub fn with_platform(mut self, platform: Option<String>) -> Verifier {
        self.platform = platform;
        self
    }

    /// Use these store options (plain HTTP, caps).
    pub fn with_options(mut self, options: StoreOptions) -> Verifier {
        self.options = options;
        self
    }

    /// Verify `image`: succeed (`verified == true`) only if a signature is valid over its exact
    /// payload bytes with this key, names the image's digest and repository, and carries every
    /// `required` annotation. Signatures are looked for at cosign's `.sig` tag, then among the
    /// image's OCI 1.1 referrers. Errors are for images that cannot be examined at all.
    pub async fn verify(
        &self,
        image: &ImageRef,
        required: &BTreeMap<String, String>,
    ) -> Result<Verification> {
        let Resolved {
            store,
            manifest,
            repository: signed_repository,
        } = resolve(image, &self.options, false).await?;
        self.verify_resolved(&store, image, &manifest, &signed_repository, required)
            .await
    }

    /// [`Verifier::verify`] for an image already resolved in `store`.
    pub(crate) async fn verify_resolved(
        &self,
        store: &Store,
        image: &ImageRef,
        manifest: &crate::oci::Manifest,
        signed_repository: &str,
        required: &BTreeMap<String, String>,
    ) -> Result<Verification> {
        if let Some(e) = &self.identity_error {
            return Err(e.clone().into());
        }
        let named = compared_identity(image);
        // notation's trust policy scopes by repository: an explicitly accepted one, else the
        // image's own.
        let notation_scope = match &self.signed_identity {
            SignedIdentity::ExactRepository(r) => r.repository().to_string(),
            _ => signed_repository.to_string(),
        };
        let signed_repository = notation_scope.as_str();
        let named = named.as_ref();
        let mut result = self
            .verify_manifest(
                store,
                image.to_string(),
                manifest,
                (signed_repository, named),
                required,
            )
            .await?;
        if let Some(platform) = &self.platform {
            if !crate::oci::is_index_media_type(&manifest.media_type) {
                return Err(crate::Error::Usage(format!(
                    "platform {platform} was asked for, but {image} is a single-platform image, not an index"
                )));
            }
            let index = crate::oci::Index::from_bytes(&manifest.bytes)?;
            let child = index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
                .ok_or_else(|| crate::Error::NotFound {
                    what: format!("platform {platform} in index {}", manifest.digest),
                })?;
            let d = child.digest()?;
            let child_manifest = store
                .get_manifest(&ManifestRef::Digest(d.clone()))
                .await?
                .ok_or_else(|| crate::Error::NotFound {
                    what: format!("platform manifest {d}"),
                })?;
            let sub = self
                .verify_manifest(
                    store,
                    format!("{image} ({platform})"),
                    &child_manifest,
                    (signed_repository, named),
                    required,
                )
                .await?;
            result.verified &= sub.verified;
            result.platform = Some(Box::new(sub));
        }
        result.requests = store.requests();
        trace_checks(&result);
        Ok(result)
    }

    /// Look for signatures of `digest` in every place: cosign's `.sig` tag first (one request),
    /// then OCI 1.1 referrers (API, or the tag schema's index). Stops at the first signature
    /// that passes every check.
    async fn verify_manifest(
        &self,
        store: &Store,
        image: String,
        manifest: &crate::oci::Manifest,
        (signed_repository, named): (&str, Option<&Reference>),
        required: &BTreeMap<String, String>,
    ) -> Result<Verification> {
        let digest = &manifest.digest;
        let tag = digest.signature_tag();
        let mut result = Verification {
            image,
            digest: digest.clone(),
            verified: false,
            verified_by: Vec::new(),
            reason: None,
            signatures: Vec::new(),
            warnings: Vec::new(),
            platform: None,
            requests: 0,
        };
        let mut unreadable_tag = None;
        let cosign_wanted = self.wants(SignatureFormat::Cosign);
        // notation's level `skip`: this repository is not verified at all.
        let notation_statement = match (&self.notation, self.wants(SignatureFormat::Notation)) {
            (Some(trust), true) => match notation::statement_for(trust, signed_repository) {
                Ok(st) if notation::is_skip(st) => {
                    result.verified = true;
                    result
                        .verified_by
                        .push(format!("trust policy {:?} (level skip)", st.name()));
                    result.warnings.push(format!(
                        "notation trust policy statement {:?} has level skip: signatures of {signed_repository} are not verified",
                        st.name()
                    ));
                    return Ok(result);
                }
                Ok(st) => Some(Ok(st)),
                Err(e) => Some(Err(e)),
            },
            _ => None,
        };
        let sig_manifest = if cosign_wanted {
            store.get_manifest(&ManifestRef::Tag(tag.clone())).await?
        } else {
            None
        };
        // A manifest at the `.sig` tag that also names the image as its subject is listed as a
        // referrer too (a layout's index.json lists it): examined once.
        let tagged = sig_manifest.as_ref().map(|m| m.digest.to_string());
        // Anyone who can push can attach thousands of candidates: at most
        // MAX_SIGNATURE_CANDIDATES are examined per image.
        let mut budget = Candidates::default();
        if let Some(sig) = sig_manifest {
            match SignatureManifest::from_bytes(&sig.bytes) {
                Ok(parsed) => {
                    for (i, layer) in parsed.layers.iter().enumerate() {
                        if !budget.take_signature() {
                            break;
                        }
                        let source = format!("tag {tag}, layer {i}");
                        let mut check = self
                            .check_layer(store, layer, digest, named, required, &source)
                            .await;
                        check.location = Location::tag(&tag, i);
                        if self.record(&mut result, check) {
                            return Ok(result);
                        }
                    }
                }
                Err(e) => unreadable_tag = Some(e.to_string()),
            }
        }
        // One referrers listing serves every format.
        // cosign signatures come in two artifact types (simple signing, Sigstore bundles): one
        // unfiltered listing serves them both.
        let filter = match (cosign_wanted, notation_statement.is_some()) {
            (false, true) => Some(crate::formats::notation::ARTIFACT_TYPE),
            _ => None,
        };
        let referrers = if cosign_wanted || notation_statement.is_some() {
            store.referrers(digest, filter).await?
        } else {
            crate::store::Referrers {
                scheme: crate::store::ReferrerScheme::TagSchema,
                descriptors: Vec::new(),
                warnings: Vec::new(),
            }
        };
        result.warnings.extend(referrers.warnings);
        for entry in referrers.descriptors {
            if tagged.as_deref() == Some(entry.digest.as_str()) {
                continue;
            }
            let at = entry.artifact_type.as_deref();
            let examined = match at {
                Some(crate::formats::notation::ARTIFACT_TYPE) => notation_statement.is_some(),
                Some(
                    cosign_format::BUNDLE_ARTIFACT_TYPE | cosign_format::SIGNATURE_ARTIFACT_TYPE,
                ) => cosign_wanted,
                _ => false,
            };
            if examined && !budget.take_artifact() {
                break;
            }
            if entry.artifact_type.as_deref() == Some(crate::formats::notation::ARTIFACT_TYPE) {
                let where_ = format!("{}, notation artifact {}", referrers.scheme, entry.digest);
                match (&notation_statement, &self.notation) {
                    (Some(Ok(st)), Some(trust)) => {
                        let mut o = self
                            .check_notation(store, &entry, manifest, st, trust, where_, required)
                            .await;
                        o.check.location =
                            Location::referrer(referrers.scheme, &entry.digest, None);
                        result.warnings.extend(
                            o.logged
                                .into_iter()
                                .map(|l| format!("{}: {l}", o.check.source)),
                        );
                        if self.record(&mut result, o.check) {
                            return Ok(result);
                        }
                    }
                    (Some(Err(e)), _) => {
                        let check = SignatureCheck {
                            source: where_,
                            location: Location::referrer(referrers.scheme, &entry.digest, None),
                            format: "notation",
                            layer_digest: String::new(),
                            verified: false,
                            failure: Some(e.to_string()),
                            payload: None,
                            signed_by: None,
                            signer_key: None,
                            ..Default::default()
                        };
                        self.record(&mut result, check);
                    }
                    _ => {}
                }
                continue;
            }
            if cosign_wanted
                && entry.artifact_type.as_deref() == Some(cosign_format::BUNDLE_ARTIFACT_TYPE)
            {
                let where_ = format!("{}, sigstore bundle {}", referrers.scheme, entry.digest);
                let artifact = match self.fetch_referrer(store, &entry, digest).await {
                    Ok(m) => m,
                    Err(why) => {
                        result.warnings.push(format!("{where_}: {why}; skipped"));
                        continue;
                    }
                };
                for (i, layer) in artifact.layers.iter().enumerate() {
                    if !budget.take_signature() {
                        break;
                    }
                    let source = format!("{where_}, layer {i}");
                    match self
                        .check_bundle(store, layer, manifest, required, &source)
                        .await
                    {
                        BundleOutcome::Skipped(why) => {
                            result.warnings.push(format!("{source}: {why}; skipped"))
                        }
                        BundleOutcome::Checked(mut check, notes) => {
                            check.location =
                                Location::referrer(referrers.scheme, &entry.digest, Some(i));
                            result
                                .warnings
                                .extend(notes.into_iter().map(|n| format!("{source}: {n}")));
                            if self.record(&mut result, *check) {
                                return Ok(result);
                            }
                        }
                    }
                }
                continue;
            }
            if !cosign_wanted
                || entry.artifact_type.as_deref() != Some(cosign_format::SIGNATURE_ARTIFACT_TYPE)
            {
                continue;
            }
            let where_ = format!("{}, artifact {}", referrers.scheme, entry.digest);
            let artifact = match self.fetch_referrer(store, &entry, digest).await {
                Ok(m) => m,
                Err(why) => {
                    result.warnings.push(format!("{where_}: {why}; skipped"));
                    continue;
                }
            };
            for (i, layer) in artifact.layers.iter().enumerate() {
                if !budget.take_signature() {
                    break;
                }
                let source = format!("{where_}, layer {i}");
                let mut check = self
                    .check_layer(store, layer, digest, named, required, &source)
                    .await;
                check.location = Location::referrer(referrers.scheme, &entry.digest, Some(i));
                if self.record(&mut result, check) {
                    return Ok(result);
                }
            }
        }
        // A candidate that could not be fetched in time says nothing about the image: the
        // run failed, it was not refused.
        if !result.verified {
            store.check_deadline()?;
        }
        if budget.capped {
            result.warnings.push(format!(
                "{digest} has more than {MAX_SIGNATURE_CANDIDATES} candidate signatures or signature artifacts; only the first {MAX_SIGNATURE_CANDIDATES} of each were examined"
            ));
        }
        if result.signatures.is_empty() {
            result.reason = Some(match unreadable_tag {
                Some(e) => format!("the {tag} tag holds no usable signature manifest ({e}) and there are no signature referrers"),
                None => {
                let mut looked = Vec::new();
                if cosign_wanted {
                    looked.push(format!("no {tag} tag"));
                }
                looked.push(if notation_statement.is_some() && cosign_wanted {
                    "no cosign or notation signature referrers".to_string()
                } else if notation_statement.is_some() {
                    "no notation signature referrers".to_string()
                } else {
                    "no signature referrers".to_string()
                });
                format!("no signatures found ({})", looked.join(" and "))
            }
            });
        }
        Ok(result)
    }

    /// Record a checked signature; true when examination can stop.
    fn record(&self, result: &mut Verification, check: SignatureCheck) -> bool {
        if let Some(name) = check.signed_by.as_ref().filter(|_| check.verified) {
            result.verified = true;
            if !result.verified_by.contains(name) {
                result.verified_by.push(name.clone());
            }
        }
        result.signatures.push(check);
        if self.examine_all {
            false
        } else if self.require_all {
            result.verified_by.len() == self.keys.len()
        } else if self.wants(SignatureFormat::Cosign) && self.wants(SignatureFormat::Notation) {
            // Both formats asked for: report one verified signature of each when there is one.
            let has = |f: &str| {
                result.signatures.iter().any(|s| {
                    s.verified && (s.format == f || (f == "cosign" && s.format == "cosign-bundle"))
                })
            };
            has("cosign") && has("notation")
        } else {
            result.verified
        }
    }

    /// Fetch a referrer's manifest by its descriptor, refusing it unless it hashes to the
    /// descriptor's digest and its `subject` is this image.
    async fn fetch_referrer(
        &self,
        store: &Store,
        entry: &crate::oci::Descriptor,
        subject: &Digest,
    ) -> std::result::Result<SignatureManifest, ArtifactError> {
        let d = entry.digest()?;
        if entry.size > self.options.max_manifest_bytes {
            return Err(ArtifactError::TooLarge {
                size: entry.size,
                cap: self.options.max_manifest_bytes,
            });
        }
        let m = store
            .get_manifest(&ManifestRef::Digest(d))
            .await?
            .ok_or(ArtifactError::Missing)?;
        let parsed = SignatureManifest::from_bytes(&m.bytes)?;
        match &parsed.subject {
            Some(s) if s.digest == subject.to_string() => Ok(parsed),
            Some(s) => Err(ArtifactError::OtherSubject(s.digest.clone())),
            None => Err(ArtifactError::NoSubject),
        }
    }

    /// Check one simple-signing layer: the descriptor, then (fetched) its payload.
    async fn check_layer(
        &self,
        store: &Store,
        layer: &cosign_format::Descriptor,
        digest: &Digest,
        named: Option<&Reference>,
        required: &BTreeMap<String, String>,
        source: &str,
    ) -> SignatureCheck {
        let mut check = SignatureCheck {
            source: source.to_string(),
            layer_digest: layer.digest.clone(),
            verified: false,
            failure: None,
            payload: None,
            signed_by: None,
            signer_key: None,
            refused_identity: None,
            format: "cosign",
            ..Default::default()
        };
        let checked = match cosign::read_layer(layer) {
            Err(why) => Err((None, why.to_string())),
            Ok(signed) => match store
                .get_blob(
                    &signed.payload_digest,
                    layer.size,
                    self.options.max_blob_bytes,
                )
                .await
            {
                Err(e) => Err((None, format!("payload could not be fetched: {e}"))),
                Ok(bytes) => cosign::check(
                    layer,
                    &signed.signature,
                    &bytes,
                    &self.cosign_trust(),
                    &cosign::Expected {
                        digest,
                        image: named,
                        identity: &self.signed_identity,
                        required: self.required(required),
                    },
                ),
            },
        };
        match checked {
            Ok(v) => {
                check.verified = true;
                check.payload = Some(v.payload);
                check.signed_by = Some(v.signed_by);
                check.signer_key = Some(v.signer_key);
                check.certificate = v.certificate;
                check.tlog = v.tlog;
                check.timestamp = v.timestamp;
            }
            Err((payload, why)) => {
                // A payload comes back only once the signature verified; one naming this
                // digest and refused by the identity rule is a copy's signature.
                check.refused_identity = payload.as_ref().and_then(|p| {
                    let signed = &p.critical.identity.docker_reference;
                    (p.critical.image.docker_manifest_digest == digest.to_string())
                        .then(|| self.signed_identity.matches(named, signed).err())
                        .flatten()
                        .and_then(|e| e.signed_repository())
                });
                check.payload = payload.map(|p| *p);
                check.failure = Some(why);
            }
        }
        check
    }

    /// The keys and certificate roots cosign signatures are checked against.
    fn cosign_trust(&self) -> cosign::Trust<'_> {
        cosign::Trust {
            keys: &self.keys,
            certificates: self.certificates.as_deref(),
            keyless: self.keyless.as_deref(),
            now: self.now(),
        }
    }

    /// The annotations every accepted signature must carry.
    fn required<'a>(&'a self, values: &'a BTreeMap<String, String>) -> Required<'a> {
        Required {
            values,
            keys: &self.required_keys,
        }
    }

    /// The instant certificate validity, expiry and revocation are checked at.
    fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }
}

/// Why a signature artifact listed among an image's referrers was skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ArtifactError {
    /// Its digest is malformed, it could not be fetched, or it is not a manifest.
    #[error(transparent)]
    Unusable(#[from] crate::Error),
    /// Its descriptor announces more than the manifest cap.
    #[error("its descriptor announces {size} bytes, over the {cap}-byte manifest cap")]
    TooLarge {
        /// The announced size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// Listed, but the store does not have it.
    #[error("listed but missing")]
    Missing,
    /// Its subject is another image (this digest).
    #[error("its subject is {0}, another image")]
    OtherSubject(String),
    /// It has no subject.
    #[error("it has no subject")]
    NoSubject,
}

/// How many candidates one image has had examined: signatures (each `.sig` layer, each
/// referrer artifact's layer) and signature artifacts fetched from the referrers list, each
/// up to [`MAX_SIGNATURE_CANDIDATES`].
#[derive(Default)]
struct Candidates {
    signatures: usize,
    artifacts: usize,
    capped: bool,
}

impl Candidates {
    /// Count one more signature; false (and remembered) once the cap is reached.
    fn take_signature(&mut self) -> bool {
        Self::take(&mut self.signatures, &mut self.capped)
    }

    /// Count one more signature artifact; false (and remembered) once the cap is reached.
    fn take_artifact(&mut self) -> bool {
        Self::take(&mut self.artifacts, &mut self.capped)
    }

    fn take(used: &mut usize, capped: &mut bool) -> bool {
        if *used >= MAX_SIGNATURE_CANDIDATES {
            *capped = true;
            return false;
        }
        *used += 1;
        true
    }
}

/// What became of one bundle layer.
enum BundleOutcome {
    /// Not an image signature (an attestation): not counted, with a warning.
    Skipped(String),
    /// Checked, with notes about what was not verified.
    Checked(Box<SignatureCheck>, Vec<String>),
}

impl Verifier {
    /// Check one layer of a Sigstore bundle referrer (see [`bundle`]).
    async fn check_bundle(
        &self,
        store: &Store,
        layer: &cosign_format::Descriptor,
        manifest: &crate::oci::Manifest,
        required: &BTreeMap<String, String>,
        source: &str,
    ) -> BundleOutcome {
        let mut check = SignatureCheck {
            source: source.to_string(),
            format: "cosign-bundle",
            layer_digest: layer.digest.clone(),
            verified: false,
            failure: None,
            payload: None,
            signed_by: None,
            signer_key: None,
            ..Default::default()
        };
        let mut notes = Vec::new();
        let verdict = match bundle::read_layer(layer) {
            Err(why) => Err(why.to_string()),
            Ok(layer_digest) => {
                let cap = crate::formats::cosign::bundle::MAX_BUNDLE_BYTES
                    .min(self.options.max_blob_bytes);
                match store.get_blob(&layer_digest, layer.size, cap).await {
                    Err(e) => Err(format!("bundle could not be fetched: {e}")),
                    Ok(bytes) => bundle::check(
                        &bytes,
                        &manifest.digest,
                        &manifest.bytes,
                        &self.cosign_trust(),
                        &self.sigstore,
                        &self.required(required),
                        &mut notes,
                    )
                    .map_err(|e| e.to_string()),
                }
            }
        };
        match verdict {
            Ok(bundle::Verdict::Verified {
                signed_by,
                signer_key,
            }) => {
                check.verified = true;
                check.signed_by = Some(signed_by);
                check.signer_key = Some(signer_key);
            }
            Ok(bundle::Verdict::NotASignature(why)) => return BundleOutcome::Skipped(why),
            Err(why) => check.failure = Some(why),
        }
        BundleOutcome::Checked(Box::new(check), notes)
    }

    /// Check one referrer that claims to be a notation signature of `subject`: fetch its
    /// manifest and envelope (both capped and re-hashed), then verify the envelope (see
    /// [`notation`]).
    #[allow(clippy::too_many_arguments)]
    async fn check_notation(
        &self,
        store: &Store,
        entry: &crate::oci::Descriptor,
        subject: &crate::oci::Manifest,
        statement: &crate::trust::PolicyStatement,
        trust: &NotationTrust,
        source: String,
        required: &BTreeMap<String, String>,
    ) -> notation::Outcome {
        let mut out = notation::outcome(source);
        let result = match self
            .fetch_envelope(store, entry, subject, &mut out)
            .await
            .map_err(|e| e.to_string())
        {
            Ok(bytes) => {
                let checked = notation::verify_envelope(
                    &bytes,
                    subject,
                    statement,
                    trust,
                    &self.required(required),
                    self.now(),
                    &mut out,
                )
                .await
                .map_err(|e| e.to_string());
                if checked.is_ok() {
                    out.check.notation =
                        crate::formats::notation::inspect::NotationInfo::from_envelope(&bytes).ok();
                }
                checked
            }
            Err(why) => Err(why),
        };
        match result {
            Ok((signer, key)) => {
                out.check.verified = true;
                out.check.signed_by = Some(signer);
                out.check.signer_key = Some(key);
            }
            Err(why) => out.check.failure = Some(why),
        }
        out
    }

    /// Fetch a notation signature manifest and its envelope (recording the envelope layer's
    /// digest in `out`).
    async fn fetch_envelope(
        &self,
        store: &Store,
        entry: &crate::oci::Descriptor,
        subject: &crate::oci::Manifest,
        out: &mut notation::Outcome,
    ) -> std::result::Result<Vec<u8>, notation::FetchError> {
        use notation::FetchError;
        let max_manifest = self.options.max_manifest_bytes;
        let d = entry.digest()?;
        if entry.size > max_manifest {
            return Err(FetchError::TooLarge { size: entry.size });
        }
        let m = store
            .get_manifest(&ManifestRef::Digest(d))
            .await?
            .ok_or(FetchError::Missing)?;
        let layer = notation::envelope_layer(&m.bytes, &subject.digest)?;
        out.check.layer_digest = layer.digest.clone();
        let layer_digest = layer.digest().map_err(FetchError::LayerDigest)?;
        store
            .get_blob(
                &layer_digest,
                layer.size,
                crate::formats::notation::MAX_ENVELOPE_SIZE as u64,
            )
            .await
            .map_err(FetchError::Envelope)
    }
}

pub use certificate::CertificateRejected;

/// `-d`/`RUST_LOG`: each candidate signature of `v` (and its platform part), with what
/// counted or why it was skipped.
fn trace_checks(v: &Verification) {
    for s in &v.signatures {
        if s.verified {
            tracing::debug!(image = %v.image, digest = %v.digest, source = %s.source, format = s.format, signed_by = s.signed_by.as_deref().unwrap_or(""), "signature verified");
        } else {
            tracing::debug!(image = %v.image, digest = %v.digest, source = %s.source, format = s.format, reason = s.failure.as_deref().unwrap_or("not checked"), "signature skipped");
        }
    }
    for w in &v.warnings {
        tracing::debug!(image = %v.image, warning = %w, "candidate skipped");
    }
    if let Some(p) = &v.platform {
        trace_checks(p);
    }
}

/// Verify `signature` over `message` with the key of `chain[0]` (the signing certificate; the
/// rest are its issuers), then the chain to `trust`'s roots at `now` (code-signing profile)
/// and its identity or subject constraint — the check cosign certificate-mode signatures get,
/// for other callers (attestations). Returns a label for the signer and the `sha256:`
/// fingerprint of its key.
pub(crate) fn check_certificate_signature(
    trust: &CertificateTrust,
    chain: &[crate::pki::Certificate],
    message: &[u8],
    signature: &[u8],
    now: SystemTime,
) -> std::result::Result<(String, String), CertificateRejected> {
    certificate::verify_chain(trust, chain, message, signature, now)
}
