//! Everything attached to an image: cosign's legacy tags (`.sig`, `.att`, `.sbom`) and OCI 1.1
//! referrers (API or tag schema), with digests, artifact types, annotations and, for
//! signatures, which of the given keys made each one.

use crate::formats::cosign;
use crate::oci::{self, Descriptor, ImageManifest};
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::{ManifestRef, Store, StoreOptions};
use crate::{Digest, PublicKey, Result};
use base64::Engine as _;
use std::collections::BTreeMap;

/// What [`tree`] found.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tree {
    /// The image as given.
    pub image: String,
    /// Its manifest digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// For an index: each platform manifest (`os/arch`, digest); in JSON, objects
    /// `{"platform", "digest"}`.
    #[serde(serialize_with = "platform_objects")]
    pub platforms: Vec<(String, String)>,
    /// Attached artifacts.
    pub attachments: Vec<Attachment>,
    /// Entries skipped, and why.
    pub warnings: Vec<String>,
    /// Registry requests made.
    pub requests: u64,
}

fn platform_objects<S: serde::Serializer>(
    platforms: &[(String, String)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq as _;
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        platform: &'a str,
        digest: &'a str,
    }
    let mut seq = s.serialize_seq(Some(platforms.len()))?;
    for (platform, digest) in platforms {
        seq.serialize_element(&Entry { platform, digest })?;
    }
    seq.end()
}

/// One attached artifact (a manifest).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `tag`, `referrers-api`, `referrers-tag-schema` or `layout-index` (see
    /// [`crate::store::ReferrerScheme::id`]).
    pub scheme: String,
    /// The tag (legacy) or the artifact's digest (referrers).
    pub location: String,
    /// `signature`, `attestation`, `sbom`, `sigstore bundle`, `notation signature`, or the
    /// artifact type itself.
    pub kind: String,
    /// The manifest's `artifactType`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest's digest.
    pub digest: String,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// For attestations in a Sigstore bundle: the predicate type the manifest's
    /// `dev.sigstore.bundle.predicateType` annotation names (unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Its layers.
    pub layers: Vec<AttachedLayer>,
}

/// One layer of an attached artifact.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedLayer {
    /// Media type.
    pub media_type: String,
    /// Digest.
    pub digest: String,
    /// Size.
    pub size: u64,
    /// Annotation keys (values of signatures and certificates are long; see the registry).
    pub annotation_keys: Vec<String>,
    /// For signatures: the name of the given key that verifies it, `certificate` when it
    /// carries one, or `unknown key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// For attestations (`.att` DSSE layers): the `predicateType` annotation (unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// For notation signature envelopes: what `notation inspect` shows (signing time, expiry,
    /// user metadata, certificate chain). Read from the envelope, not verified against any
    /// trust policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notation: Option<crate::formats::notation::inspect::NotationInfo>,
}

fn kind_of(artifact_type: Option<&str>, fallback: &str) -> String {
    match artifact_type {
        Some(cosign::SIGNATURE_ARTIFACT_TYPE) => "signature".into(),
        Some(cosign::BUNDLE_ARTIFACT_TYPE) => "sigstore bundle".into(),
        Some("application/vnd.cncf.notary.signature") => "notation signature".into(),
        Some("application/vnd.dev.cosign.artifact.att.v1+json") => "attestation".into(),
        Some("application/vnd.dev.cosign.artifact.sbom.v1+json") => "sbom".into(),
        Some(t) if t.contains("spdx") || t.contains("cyclonedx") => "sbom".into(),
        Some(t) if t.contains("in-toto") => "attestation".into(),
        Some(t) => t.to_string(),
        None => fallback.to_string(),
    }
}

/// List everything attached to `image`. `keys` are (name, key) pairs used to say which key
/// made each signature.
///
/// ```no_run
/// # async fn demo() -> imgseal::Result<()> {
/// use imgseal::{tree, ImageRef, PublicKey, StoreOptions};
/// let image = ImageRef::parse("registry.example/app:1.0")?;
/// let keys = vec![("release".to_string(), PublicKey::from_file("cosign.pub".as_ref())?)];
/// let listed = tree(&image, &StoreOptions::default(), &keys).await?;
/// println!("{} {}", listed.image, listed.digest);
/// for attachment in &listed.attachments {
///     println!("  {} {} {}", attachment.scheme, attachment.kind, attachment.digest);
/// }
/// # Ok(()) }
/// ```
pub async fn tree(
    image: &ImageRef,
    options: &StoreOptions,
    keys: &[(String, PublicKey)],
) -> Result<Tree> {
    let Resolved {
        store, manifest, ..
    } = resolve(image, options, false).await?;
    let mut out = Tree {
        image: image.to_string(),
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        platforms: Vec::new(),
        attachments: Vec::new(),
        warnings: Vec::new(),
        requests: 0,
    };
    if oci::is_index_media_type(&manifest.media_type) {
        if let Ok(index) = oci::Index::from_bytes(&manifest.bytes) {
            out.platforms = index
                .manifests
                .iter()
                .map(|d| {
                    let p = d
                        .platform
                        .as_ref()
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "unknown".into());
                    (p, d.digest.clone())
                })
                .collect();
        }
    }
    let hex_tag = manifest.digest.signature_tag();
    let base = hex_tag.trim_end_matches(".sig").to_string();
    for (suffix, kind) in [
        (".sig", "signature"),
        (cosign::ATTESTATION_TAG_SUFFIX, "attestation"),
        (cosign::SBOM_TAG_SUFFIX, "sbom"),
    ] {
        let tag = format!("{base}{suffix}");
        let Some(m) = store.get_manifest(&ManifestRef::Tag(tag.clone())).await? else {
            continue;
        };
        match ImageManifest::from_bytes(&m.bytes) {
            Ok(parsed) => {
                let a = attachment(
                    &store,
                    options,
                    keys,
                    "tag".into(),
                    tag,
                    kind_of(parsed.artifact_type.as_deref(), kind),
                    &m.digest,
                    parsed,
                )
                .await;
                out.attachments.push(a);
            }
            Err(e) => out.warnings.push(format!("tag {tag}: {e}")),
        }
    }
    let referrers = store.referrers(&manifest.digest, None).await?;
    out.warnings.extend(referrers.warnings);
    // A tagged attachment that also names the image as its subject is shown once.
    let tagged: Vec<String> = out.attachments.iter().map(|a| a.digest.clone()).collect();
    for entry in referrers.descriptors {
        if tagged.contains(&entry.digest) {
            continue;
        }
        let Ok(d) = entry.digest() else {
            out.warnings.push(format!(
                "referrer with invalid digest {:?} skipped",
                entry.digest
            ));
            continue;
        };
        if entry.size > options.max_manifest_bytes {
            out.warnings.push(format!(
                "referrer {d}: announced size {} is over the manifest cap; skipped",
                entry.size
            ));
            continue;
        }
        let m = match store.get_manifest(&ManifestRef::Digest(d.clone())).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                out.warnings
                    .push(format!("referrer {d}: listed but missing; skipped"));
                continue;
            }
            Err(e) => {
                out.warnings.push(format!("referrer {d}: {e}; skipped"));
                continue;
            }
        };
        let parsed = match ImageManifest::from_bytes(&m.bytes) {
            Ok(p) => p,
            Err(e) => {
                out.warnings.push(format!("referrer {d}: {e}; skipped"));
                continue;
            }
        };
        if parsed.subject.as_ref().map(|s| s.digest.as_str())
            != Some(manifest.digest.to_string().as_str())
        {
            out.warnings.push(format!(
                "referrer {d}: its subject is not this image; skipped"
            ));
            continue;
        }
        let at = parsed
            .artifact_type
            .clone()
            .or(entry.artifact_type.clone())
            .or_else(|| Some(parsed.config.media_type.clone()));
        let kind = kind_of(at.as_deref(), "artifact");
        let a = attachment(
            &store,
            options,
            keys,
            referrers.scheme.id().to_string(),
            d.to_string(),
            kind,
            &d,
            parsed,
        )
        .await;
        out.attachments.push(a);
    }
    out.requests = store.requests();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn attachment(
    store: &Store,
    options: &StoreOptions,
    keys: &[(String, PublicKey)],
    scheme: String,
    location: String,
    kind: String,
    digest: &Digest,
    manifest: ImageManifest,
) -> Attachment {
    let mut layers = Vec::new();
    for l in &manifest.layers {
        let signed_by = if l.media_type == cosign::SIMPLE_SIGNING_MEDIA_TYPE {
            Some(signer_of(store, options, keys, l).await)
        } else {
            None
        };
        let notation = if kind == "notation signature" {
            notation_info(store, options, l).await
        } else {
            None
        };
        layers.push(AttachedLayer {
            notation,
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: l.size,
            annotation_keys: l.annotations.keys().cloned().collect(),
            signed_by,
            predicate_type: l
                .annotations
                .get(crate::formats::intoto::PREDICATE_TYPE_ANNOTATION)
                .cloned(),
        });
    }
    let predicate_type = manifest
        .annotations
        .get(crate::formats::intoto::BUNDLE_PREDICATE_TYPE_ANNOTATION)
        .cloned();
    let kind = match (&predicate_type, kind.as_str()) {
        (Some(t), "sigstore bundle")
            if t != crate::formats::cosign::bundle::COSIGN_SIGN_PREDICATE_TYPE =>
        {
            "attestation (sigstore bundle)".to_string()
        }
        (Some(_), "sigstore bundle") => "signature (sigstore bundle)".to_string(),
        _ => kind,
    };
    Attachment {
        scheme,
        location,
        kind,
        predicate_type,
        artifact_type: manifest.artifact_type,
        digest: digest.to_string(),
        annotations: manifest.annotations,
        layers,
    }
}

/// The envelope of a notation signature layer, as `notation inspect` reads it; `None` when
/// it cannot be fetched or read (tree lists what is there; verify says what is wrong).
async fn notation_info(
    store: &Store,
    options: &StoreOptions,
    layer: &Descriptor,
) -> Option<crate::formats::notation::inspect::NotationInfo> {
    if layer.media_type != crate::formats::notation::inspect::JWS_ENVELOPE_MEDIA_TYPE {
        return None;
    }
    let d = layer.digest().ok()?;
    let cap = options
        .max_blob_bytes
        .min(crate::formats::notation::MAX_ENVELOPE_SIZE as u64);
    let bytes = store.get_blob(&d, layer.size, cap).await.ok()?;
    crate::formats::notation::inspect::NotationInfo::from_envelope(&bytes).ok()
}

async fn signer_of(
    store: &Store,
    options: &StoreOptions,
    keys: &[(String, PublicKey)],
    layer: &Descriptor,
) -> String {
    let sig = layer
        .annotations
        .get(cosign::SIGNATURE_ANNOTATION)
        .and_then(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(crate::formats::format::strip_whitespace(s))
                .ok()
        });
    if let (Some(sig), false) = (sig, keys.is_empty()) {
        if let Ok(d) = layer.digest() {
            if let Ok(payload) = store.get_blob(&d, layer.size, options.max_blob_bytes).await {
                if let Some((name, _)) = keys.iter().find(|(_, k)| k.verify(&payload, &sig)) {
                    return format!("key {name}");
                }
            }
        }
    }
    if layer
        .annotations
        .contains_key(cosign::CERTIFICATE_ANNOTATION)
    {
        "certificate".into()
    } else {
        "unknown key".into()
    }
}
