//! The signing pipeline: resolve → payload → sign → attach (cosign's `.sig` tag, an OCI 1.1
//! referrer, or both).
//!
//! The payload's `docker-reference` (the identity the signature names) is the image's
//! repository; for an OCI layout image, its ref name when that is a full reference
//! (`oci:DIR:registry.example/app:v1`, as `copy` writes them), else
//! [`UNNAMED_LAYOUT_IDENTITY`] — never the directory's name. [`Signer::with_identity`] names
//! the repository instead: the one the image will be published under.

use crate::formats::cosign::{self, Descriptor, Payload, SignatureManifest};
use crate::formats::format::SignatureFormat;
use crate::oci::{self, ImageManifest, Index};
use crate::oci::{Manifest, OCI_MANIFEST};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::{ManifestRef, ReferrerScheme, Store, StoreOptions, TagWrite};
use crate::trust::signed_identity::{image_identity, IdentityRuleError, UNNAMED_LAYOUT_IDENTITY};
use crate::{Digest, Error, Result, SigningKey};
use base64::Engine as _;
use std::collections::BTreeMap;

/// Where a signature is attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Attach {
    /// cosign's `sha256-<hex>.sig` tag (what every cosign verifier reads). The default.
    #[default]
    Tag,
    /// An OCI 1.1 artifact with `subject`, found through the referrers API or its tag schema.
    Referrers,
    /// Both.
    Both,
}

/// Why a [`Signer`] cannot sign as configured: combinations of format, attachment and expiry
/// that have no meaning on the wire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Notation signatures are OCI 1.1 referrers; they cannot be attached at a `.sig` tag.
    #[error("notation signatures are attached as OCI 1.1 referrers only")]
    NotationNeedsReferrers,
    /// An expiry was set for a format that has no expiry (cosign).
    #[error("an expiry applies to notation signatures only")]
    ExpiryNeedsNotation,
    /// Notation signing needs the signing certificate chain (the envelope's `x5c`).
    #[error("notation signatures need the signing certificate chain")]
    NoCertificateChain,
    /// A signed identity was given for notation signatures, which name no repository.
    #[error("a signed identity (docker-reference) applies to cosign signatures only; notation signatures name no repository")]
    IdentityNeedsCosign,
    /// The signed identity is not a repository.
    #[error("signed identity: {0}")]
    Identity(#[source] IdentityRuleError),
    /// Sigstore bundles (cosign v3) are cosign signatures; notation has its own envelope.
    #[error("the Sigstore bundle format applies to cosign signatures only")]
    BundleNeedsCosign,
    /// Sigstore bundles are OCI 1.1 referrers; they cannot be attached at a `.sig` tag.
    #[error("Sigstore bundle signatures are attached as OCI 1.1 referrers only")]
    BundleNeedsReferrers,
    /// A signed identity was given for a Sigstore bundle signature, whose statement names no
    /// repository (only the digest).
    #[error("a signed identity (docker-reference) is written in simple-signing payloads only; a Sigstore bundle's statement names the digest and no repository")]
    IdentityNotInBundle,
}

/// One manifest signed by [`Signer::sign`].
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedManifest {
    /// The manifest digest that was signed.
    pub digest: Digest,
    /// Platform, for the children of an index signed with `recursive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The `.sig` tag written (tag attachment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_tag: Option<String>,
    /// The referrer artifact's digest and how it was made discoverable.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::store::referrer_object"
    )]
    pub referrer: Option<(Digest, ReferrerScheme)>,
    /// False when an identical signature was already attached everywhere asked.
    pub added: bool,
}

/// The outcome of [`Signer::sign`].
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    /// The image as given.
    pub image: String,
    /// The manifest digest that was signed.
    pub digest: Digest,
    /// The identity (`docker-reference`) written into the payload.
    pub identity: String,
    /// The `.sig` tag the top manifest's signature was written to; `None` when no tag was
    /// written (referrers-only attachment, notation signatures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_tag: Option<String>,
    /// False when an identical signature was already attached (nothing changed).
    pub added: bool,
    /// Every manifest signed: the one named, then (with `recursive`) an index's children.
    pub manifests: Vec<SignedManifest>,
    /// Registry requests made.
    pub requests: u64,
}

/// Signs images with one key, writing cosign's format.
///
/// ```no_run
/// # async fn demo() -> imgseal::Result<()> {
/// use imgseal::{ImageRef, Signer, SigningKey};
/// use std::collections::BTreeMap;
///
/// let key = SigningKey::from_file("cosign.key".as_ref(), Some(b"password"))?;
/// let signer = Signer::new(key);
/// let image = ImageRef::parse("registry.example/app:1.0")?;
/// let mut annotations = BTreeMap::new();
/// annotations.insert("build-version".to_string(), "42".to_string());
/// let signed = signer.sign(&image, &annotations).await?;
/// println!("signed {}", signed.digest);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    format: SignatureFormat,
    chain: Vec<crate::pki::Certificate>,
    expiry: Option<std::time::Duration>,
    options: StoreOptions,
    /// `None`: the format's default ([`Attach::Tag`] for cosign, referrers for notation).
    attach: Option<Attach>,
    recursive: bool,
    /// `None`: the system clock, read at each signature.
    now: Option<std::time::SystemTime>,
    /// The repository the payload names instead of the image's (cosign's `docker-reference`).
    identity: Option<String>,
    /// cosign v3's format: a Sigstore bundle referrer.
    bundle: bool,
}

/// The simple-signing layer for `payload` signed with `key`.
fn signature_layer(key: &SigningKey, payload: &[u8]) -> Descriptor {
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(payload));
    Descriptor {
        media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        size: payload.len() as u64,
        digest: Digest::sha256(payload).to_string(),
        annotations: BTreeMap::from([(cosign::SIGNATURE_ANNOTATION.to_string(), signature)]),
        ..Descriptor::default()
    }
}

/// Append `layer` to the `.sig` manifest of `digest` (keeping every existing layer); returns
/// false when an identical layer was already there.
pub(crate) async fn attach_to_tag(
    store: &Store,
    digest: &Digest,
    layer: Descriptor,
    payload: &[u8],
) -> Result<bool> {
    attach_to_named_tag(store, &digest.signature_tag(), "signature", layer, payload).await
}

/// Append `layer` to the cosign manifest at `tag` (`.sig`, or `.att` for attestations; `what`
/// names it in errors), keeping every existing layer; false when an identical layer was there.
pub(crate) async fn attach_to_named_tag(
    store: &Store,
    tag: &str,
    what: &str,
    layer: Descriptor,
    payload: &[u8],
) -> Result<bool> {
    store
        .update_tag(tag, what, |current| {
            let mut layers = match current {
                Some(existing) => {
                    SignatureManifest::from_bytes(&existing.bytes)
                        .map_err(|e| {
                            Error::invalid(
                                format!("existing {what} manifest at tag {tag}"),
                                format!("{e}; refusing to replace it"),
                            )
                        })?
                        .layers
                }
                None => Vec::new(),
            };
            if layers.contains(&layer) {
                return Ok(None);
            }
            layers.push(layer.clone());
            let (sig_manifest, config) = cosign::signature_manifest(layers);
            Ok(Some(TagWrite {
                manifest: sig_manifest.to_bytes()?,
                media_type: OCI_MANIFEST.to_string(),
                blobs: vec![payload.to_vec(), config],
            }))
        })
        .await
        .map(|u| u.wrote)
}

/// Attach `layer` as an OCI 1.1 artifact (cosign's `--registry-referrers-mode=oci-1-1`
/// shape: `artifactType` sig, empty config, `subject`). Deterministic, so re-signing the same
/// payload with the same key attaches nothing new.
pub(crate) async fn attach_as_referrer(
    store: &Store,
    subject: &Manifest,
    layer: Descriptor,
    payload: &[u8],
) -> Result<(Digest, ReferrerScheme, bool)> {
    let artifact = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(cosign::SIGNATURE_ARTIFACT_TYPE.to_string()),
        config: Descriptor::of(oci::EMPTY_MEDIA_TYPE, oci::EMPTY_BLOB),
        layers: vec![layer],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            size: subject.bytes.len() as u64,
            digest: subject.digest.to_string(),
            ..Descriptor::default()
        }),
        annotations: BTreeMap::new(),
    };
    let bytes = artifact.to_bytes()?;
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = artifact.artifact_type.clone();
    let existing = store
        .referrers(&subject.digest, Some(cosign::SIGNATURE_ARTIFACT_TYPE))
        .await?;
    if existing
        .descriptors
        .iter()
        .any(|d| d.digest == entry.digest)
    {
        return Ok((Digest::sha256(&bytes), existing.scheme, false));
    }
    store.put_blob(oci::EMPTY_BLOB).await?;
    store.put_blob(payload).await?;
    let scheme = store
        .attach_referrer(&subject.digest, &bytes, OCI_MANIFEST, entry)
        .await?;
    Ok((Digest::sha256(&bytes), scheme, true))
}

/// A v0.3 bundle of `envelope`: with the signing certificate when `chain` has one (v0.3 holds
/// the leaf only), else with `key`'s public-key hint.
pub(crate) fn key_or_certificate_bundle(
    envelope: &crate::formats::cosign::bundle::DsseEnvelope,
    key: &SigningKey,
    chain: &[crate::pki::Certificate],
) -> crate::formats::cosign::bundle::Bundle {
    use crate::formats::cosign::bundle::{Bundle, Content, VerificationMaterial, MEDIA_TYPE_V03};
    match chain.first() {
        Some(leaf) => Bundle {
            media_type: MEDIA_TYPE_V03.to_string(),
            verification_material: VerificationMaterial {
                certificates: vec![leaf.clone()],
                ..VerificationMaterial::default()
            },
            content: Content::Dsse(envelope.clone()),
        },
        None => Bundle::with_public_key(envelope, &key.public_key()),
    }
}

/// Attach the Sigstore bundle `bundle` (JSON) as an OCI 1.1 referrer of `subject` the way
/// cosign v3 does (`WriteAttestationNewBundleFormat`): `artifactType` and layer media type
/// the bundle v0.3 media type, the empty config, the layer titled `sha256-<hex>.sigstore.json`,
/// and the manifest annotations `org.opencontainers.image.created`,
/// `dev.sigstore.bundle.content: dsse-envelope` and `dev.sigstore.bundle.predicateType`. A
/// bundle already attached with this predicate type (same bytes) is not attached again.
pub(crate) async fn attach_bundle_referrer(
    store: &Store,
    subject: &Manifest,
    bundle: &[u8],
    predicate_type: &str,
    created: std::time::SystemTime,
) -> Result<(Digest, ReferrerScheme, bool)> {
    use crate::formats::cosign::bundle::MEDIA_TYPE_V03;
    use crate::formats::intoto::{BUNDLE_CONTENT_ANNOTATION, BUNDLE_PREDICATE_TYPE_ANNOTATION};
    let bundle_digest = Digest::sha256(bundle);
    let existing = store
        .referrers(&subject.digest, Some(cosign::BUNDLE_ARTIFACT_TYPE))
        .await?;
    let same_type = existing.descriptors.iter().filter(|d| {
        d.annotations
            .get(BUNDLE_PREDICATE_TYPE_ANNOTATION)
            .is_none_or(|t| t == predicate_type)
    });
    for entry in same_type.take(crate::store::MAX_SIGNATURE_CANDIDATES) {
        let Ok(d) = entry.digest() else { continue };
        let Ok(Some(m)) = store.get_manifest(&ManifestRef::Digest(d.clone())).await else {
            continue;
        };
        let Ok(parsed) = ImageManifest::from_bytes(&m.bytes) else {
            continue;
        };
        if parsed.subject.as_ref().map(|s| s.digest.as_str())
            == Some(subject.digest.to_string().as_str())
            && parsed
                .layers
                .iter()
                .any(|l| l.digest == bundle_digest.to_string())
        {
            return Ok((d, existing.scheme, false));
        }
    }
    let mut layer = Descriptor::of(MEDIA_TYPE_V03, bundle);
    layer.annotations.insert(
        "org.opencontainers.image.title".to_string(),
        format!(
            "{}.sigstore.json",
            crate::store::referrers_tag(&bundle_digest)
        ),
    );
    let mut config = Descriptor::of(oci::EMPTY_MEDIA_TYPE, oci::EMPTY_BLOB);
    config.artifact_type = Some(cosign::BUNDLE_ARTIFACT_TYPE.to_string());
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_string(),
            crate::util::time::format_rfc3339(created),
        ),
        (
            BUNDLE_CONTENT_ANNOTATION.to_string(),
            "dsse-envelope".to_string(),
        ),
        (
            BUNDLE_PREDICATE_TYPE_ANNOTATION.to_string(),
            predicate_type.to_string(),
        ),
    ]);
    let artifact = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(cosign::BUNDLE_ARTIFACT_TYPE.to_string()),
        config,
        layers: vec![layer],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            size: subject.bytes.len() as u64,
            digest: subject.digest.to_string(),
            ..Descriptor::default()
        }),
        annotations,
    };
    let bytes = artifact.to_bytes()?;
    let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
    entry.artifact_type = artifact.artifact_type.clone();
    entry.annotations = artifact.annotations.clone();
    store.put_blob(oci::EMPTY_BLOB).await?;
    store.put_blob(bundle).await?;
    let scheme = store
        .attach_referrer(&subject.digest, &bytes, OCI_MANIFEST, entry)
        .await?;
    Ok((Digest::sha256(&bytes), scheme, true))
}

impl Signer {
    /// A signer using `key`, default store options, attaching at the `.sig` tag.
    pub fn new(key: SigningKey) -> Signer {
        Signer {
            key,
            format: SignatureFormat::Cosign,
            chain: Vec::new(),
            expiry: None,
            options: StoreOptions::default(),
            attach: None,
            recursive: false,
            now: None,
            identity: None,
            bundle: false,
        }
    }

    /// Name `repository` (e.g. `registry.example/app`, no tag or digest) in the payload instead
    /// of the image's own repository: the repository the image will be published under, so
    /// that the signature verifies there after a copy with the default identity rule. Needed
    /// for an OCI layout image whose ref name is not a full reference, which otherwise names
    /// [`UNNAMED_LAYOUT_IDENTITY`]. cosign signatures only ([`SignError::IdentityNeedsCosign`]).
    pub fn with_identity(mut self, repository: Option<&str>) -> Result<Signer> {
        self.identity = match repository {
            None => None,
            Some(text) => {
                let invalid = |reason: String| {
                    SignError::Identity(IdentityRuleError::Invalid {
                        field: "identity",
                        value: text.to_string(),
                        reason,
                    })
                };
                let (r, name_only) = crate::trust::signed_identity::parse_docker_reference(text)
                    .map_err(|e| invalid(e.to_string()))?;
                if !name_only {
                    return Err(invalid(
                        "it names a repository, without a tag or digest (the payload names the image's digest already)".into(),
                    )
                    .into());
                }
                Some(r.cosign_identity())
            }
        };
        Ok(self)
    }

    /// The `docker-reference` a signature of `image` names: the identity given to
    /// [`Signer::with_identity`]; else the image's repository (`resolved`, from its store);
    /// for a layout image without a registry name, [`UNNAMED_LAYOUT_IDENTITY`].
    pub fn identity_for(&self, image: &ImageRef, resolved: &str) -> String {
        match (&self.identity, image) {
            (Some(repo), _) => repo.clone(),
            (None, ImageRef::Layout(_)) if image_identity(image).is_none() => {
                UNNAMED_LAYOUT_IDENTITY.to_string()
            }
            (None, _) => resolved.to_string(),
        }
    }

    /// Use these store options (plain HTTP, caps).
    pub fn with_options(mut self, options: StoreOptions) -> Signer {
        self.options = options;
        self
    }

    /// Choose where signatures are attached (default: [`Attach::Tag`] for cosign, referrers
    /// for notation). Notation signatures are referrers only: [`Signer::sign`] refuses
    /// [`Attach::Tag`] and [`Attach::Both`] with [`SignError::NotationNeedsReferrers`].
    pub fn with_attach(mut self, attach: Attach) -> Signer {
        self.attach = Some(attach);
        self
    }

    /// Where signatures of this signer's format are attached.
    fn attach(&self) -> Attach {
        match (self.attach, self.format) {
            (Some(a), _) => a,
            (None, SignatureFormat::Cosign) if self.bundle => Attach::Referrers,
            (None, SignatureFormat::Cosign) => Attach::Tag,
            (None, SignatureFormat::Notation) => Attach::Referrers,
        }
    }

    /// Refuse a configuration that cannot be signed as asked: notation with a `.sig` tag
    /// attachment, or an expiry for cosign. [`Signer::sign`] calls this first; callers can
    /// call it early to fail before doing other work.
    pub fn check(&self) -> Result<()> {
        if self.format == SignatureFormat::Notation
            && matches!(self.attach, Some(Attach::Tag | Attach::Both))
        {
            return Err(SignError::NotationNeedsReferrers.into());
        }
        if self.expiry.is_some() && self.format != SignatureFormat::Notation {
            return Err(SignError::ExpiryNeedsNotation.into());
        }
        if self.identity.is_some() && self.format == SignatureFormat::Notation {
            return Err(SignError::IdentityNeedsCosign.into());
        }
        if self.bundle && self.format != SignatureFormat::Cosign {
            return Err(SignError::BundleNeedsCosign.into());
        }
        if self.bundle && matches!(self.attach, Some(Attach::Tag | Attach::Both)) {
            return Err(SignError::BundleNeedsReferrers.into());
        }
        if self.bundle && self.identity.is_some() {
            return Err(SignError::IdentityNotInBundle.into());
        }
        Ok(())
    }

    /// Sign in cosign v3's format (`cosign sign --new-bundle-format`): a DSSE envelope over
    /// the in-toto statement with predicate type
    /// [`COSIGN_SIGN_PREDICATE_TYPE`](crate::formats::cosign::bundle::COSIGN_SIGN_PREDICATE_TYPE)
    /// whose subject is the manifest digest (annotations on the subject), in a Sigstore bundle
    /// v0.3 (a public-key hint, or the signing certificate; no transparency-log entry),
    /// attached as an OCI 1.1 referrer with cosign's annotations. Referrers only:
    /// [`Signer::sign`] refuses [`Attach::Tag`] and [`Attach::Both`] with
    /// [`SignError::BundleNeedsReferrers`].
    pub fn with_bundle(mut self, bundle: bool) -> Signer {
        self.bundle = bundle;
        self
    }

    /// Sign in this format: cosign (default) or notation (a Notary Project JWS envelope,
    /// attached as an OCI 1.1 referrer; needs [`Signer::with_certificate_chain`]).
    pub fn with_format(mut self, format: SignatureFormat) -> Signer {
        self.format = format;
        self
    }

    /// The signing certificate and its chain, leaf first. cosign format: the leaf goes into
    /// `dev.sigstore.cosign/certificate` and the rest into `dev.sigstore.cosign/chain`;
    /// notation: the whole chain is the envelope's `x5c`. The leaf must hold this signer's
    /// public key.
    pub fn with_certificate_chain(mut self, chain: Vec<crate::pki::Certificate>) -> Result<Signer> {
        if let Some(leaf) = chain.first() {
            if leaf.public_key_spki() != self.key.public_key_der()?.as_slice() {
                return Err(Error::Usage(format!(
                    "the certificate {} is not for this key (its public key differs)",
                    leaf.subject()
                )));
            }
        }
        self.chain = chain;
        Ok(self)
    }

    /// notation format: the signature expires this long after signing (cosign signatures have
    /// no expiry: [`Signer::sign`] refuses one with [`SignError::ExpiryNeedsNotation`]).
    pub fn with_expiry(mut self, expiry: Option<std::time::Duration>) -> Signer {
        self.expiry = expiry;
        self
    }

    /// notation format: record this instant as the signing time (and count the expiry from
    /// it) instead of the system clock (`None`: the system clock).
    pub fn with_now(mut self, now: Option<std::time::SystemTime>) -> Signer {
        self.now = now;
        self
    }

    /// When the image is an index, also sign each platform manifest it lists.
    pub fn recursive(mut self, recursive: bool) -> Signer {
        self.recursive = recursive;
        self
    }

    async fn sign_one(
        &self,
        store: &Store,
        manifest: &Manifest,
        identity: &str,
        annotations: &BTreeMap<String, String>,
        platform: Option<String>,
    ) -> Result<SignedManifest> {
        let digest = manifest.digest.clone();
        if self.format == SignatureFormat::Notation {
            return self
                .sign_notation(store, manifest, annotations, platform)
                .await;
        }
        if self.bundle {
            return self
                .sign_bundle(store, manifest, annotations, platform)
                .await;
        }
        let payload = Payload::new(identity, &digest, annotations).to_bytes()?;
        let mut layer = signature_layer(&self.key, &payload);
        if let Some((leaf, rest)) = self.chain.split_first() {
            layer
                .annotations
                .insert(cosign::CERTIFICATE_ANNOTATION.to_string(), leaf.to_pem());
            if !rest.is_empty() {
                let chain: String = rest.iter().map(|c| c.to_pem()).collect();
                layer
                    .annotations
                    .insert(cosign::CHAIN_ANNOTATION.to_string(), chain);
            }
        }
        let mut out = SignedManifest {
            digest: digest.clone(),
            platform,
            signature_tag: None,
            referrer: None,
            added: false,
        };
        if matches!(self.attach(), Attach::Tag | Attach::Both) {
            out.added |= attach_to_tag(store, &digest, layer.clone(), &payload).await?;
            out.signature_tag = Some(digest.signature_tag());
        }
        if matches!(self.attach(), Attach::Referrers | Attach::Both) {
            let (d, scheme, added) = attach_as_referrer(store, manifest, layer, &payload).await?;
            out.added |= added;
            out.referrer = Some((d, scheme));
        }
        Ok(out)
    }

    /// Sign `manifest` as a cosign v3 bundle and attach it as a referrer (see
    /// [`Signer::with_bundle`]).
    async fn sign_bundle(
        &self,
        store: &Store,
        manifest: &Manifest,
        annotations: &BTreeMap<String, String>,
        platform: Option<String>,
    ) -> Result<SignedManifest> {
        use crate::formats::cosign::bundle::{self, DsseEnvelope, Statement};
        let mut statement = Statement::cosign_signature(&manifest.digest, annotations);
        // cosign v3 writes an empty predicate object.
        statement.predicate = Some(serde_json::Value::Object(serde_json::Map::new()));
        let envelope = DsseEnvelope::sign(
            &self.key,
            bundle::IN_TOTO_PAYLOAD_TYPE,
            &statement.to_bytes(),
        );
        let bundle = key_or_certificate_bundle(&envelope, &self.key, &self.chain);
        let now = self.now.unwrap_or_else(std::time::SystemTime::now);
        let (d, scheme, added) = attach_bundle_referrer(
            store,
            manifest,
            &bundle.to_bytes(),
            bundle::COSIGN_SIGN_PREDICATE_TYPE,
            now,
        )
        .await?;
        Ok(SignedManifest {
            digest: manifest.digest.clone(),
            platform,
            signature_tag: None,
            referrer: Some((d, scheme)),
            added,
        })
    }

    /// Sign `manifest` as a Notary Project signature and attach it as a referrer.
    async fn sign_notation(
        &self,
        store: &Store,
        manifest: &Manifest,
        annotations: &BTreeMap<String, String>,
        platform: Option<String>,
    ) -> Result<SignedManifest> {
        use crate::formats::notation;
        if self.chain.is_empty() {
            return Err(SignError::NoCertificateChain.into());
        }
        let target = Descriptor {
            media_type: manifest.media_type.clone(),
            size: manifest.bytes.len() as u64,
            digest: manifest.digest.to_string(),
            annotations: annotations.clone(),
            ..Descriptor::default()
        };
        let now = self.now.unwrap_or_else(std::time::SystemTime::now);
        let chain: Vec<Vec<u8>> = self.chain.iter().map(|c| c.der().to_vec()).collect();
        let envelope = notation::sign_envelope(
            &target,
            &self.key,
            &chain,
            now,
            self.expiry.map(|e| now + e),
            concat!("imgseal/", env!("CARGO_PKG_VERSION")),
        )?;
        let subject = Descriptor {
            annotations: BTreeMap::new(),
            ..target
        };
        let sig = notation::signature_manifest(&envelope, &subject, now)?;
        store.put_blob(sig.config_blob).await?;
        store.put_blob(&envelope).await?;
        let mut entry = Descriptor::of(OCI_MANIFEST, &sig.bytes);
        entry.artifact_type = Some(notation::ARTIFACT_TYPE.to_string());
        entry.annotations = sig.manifest.annotations.clone();
        let scheme = store
            .attach_referrer(&manifest.digest, &sig.bytes, OCI_MANIFEST, entry)
            .await?;
        Ok(SignedManifest {
            digest: manifest.digest.clone(),
            platform,
            signature_tag: None,
            referrer: Some((Digest::sha256(&sig.bytes), scheme)),
            added: true,
        })
    }

    /// Sign `image` (its manifest digest, repository and `annotations`) and attach the
    /// signature, keeping every signature already there. An index is signed as an index (its
    /// own digest); with [`Signer::recursive`] each platform manifest is signed too.
    pub async fn sign(
        &self,
        image: &ImageRef,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Signed> {
        self.check()?;
        let Resolved {
            store,
            manifest,
            repository,
        } = resolve(image, &self.options, true).await?;
        let identity = self.identity_for(image, &repository);
        let mut manifests = vec![
            self.sign_one(&store, &manifest, &identity, annotations, None)
                .await?,
        ];
        if self.recursive && oci::is_index_media_type(&manifest.media_type) {
            let index = Index::from_bytes(&manifest.bytes)?;
            // Each platform manifest is signed once, however often the index lists it.
            let mut seen = std::collections::HashSet::new();
            seen.insert(manifest.digest.clone());
            for child in index.manifests {
                let d = child.digest()?;
                if !seen.insert(d.clone()) {
                    continue;
                }
                let m = store
                    .get_manifest(&ManifestRef::Digest(d.clone()))
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        what: format!("platform manifest {d} listed by {image}"),
                    })?;
                let platform = child.platform.as_ref().map(|p| p.to_string());
                manifests.push(
                    self.sign_one(&store, &m, &identity, annotations, platform)
                        .await?,
                );
            }
        }
        let top = &manifests[0];
        Ok(Signed {
            image: image.to_string(),
            digest: manifest.digest.clone(),
            identity,
            signature_tag: top.signature_tag.clone(),
            added: top.added,
            manifests,
            requests: store.requests(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_attach_and_expiry_that_do_not_go_together_are_refused() {
        let key = SigningKey::generate().unwrap();
        let notation = Signer::new(key.clone()).with_format(SignatureFormat::Notation);
        assert!(notation.check().is_ok());
        assert_eq!(notation.attach(), Attach::Referrers);
        for attach in [Attach::Tag, Attach::Both] {
            let e = notation.clone().with_attach(attach).check().unwrap_err();
            assert!(
                matches!(e, Error::Sign(SignError::NotationNeedsReferrers)),
                "{e}"
            );
        }
        assert!(notation
            .clone()
            .with_attach(Attach::Referrers)
            .with_expiry(Some(std::time::Duration::from_secs(60)))
            .check()
            .is_ok());
        let cosign = Signer::new(key).with_expiry(Some(std::time::Duration::from_secs(60)));
        let e = cosign.check().unwrap_err();
        assert!(
            matches!(e, Error::Sign(SignError::ExpiryNeedsNotation)),
            "{e}"
        );
        assert_eq!(cosign.attach(), Attach::Tag);
    }
}
