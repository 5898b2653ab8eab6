//! Copying an image *with* its signatures and other attachments between registries and OCI
//! layouts: mirror a public image into a private registry, or carry it into an air-gapped one
//! through a layout on disk.
//!
//! Manifests are copied as their exact bytes, so digests (and the signatures that bind them)
//! are preserved. The order makes an interrupted copy harmless and re-runnable:
//!
//! ```text
//! blobs (config, layers) ─▶ child manifests of an index (by digest) ─▶ top manifest (DST tag)
//!   ─▶ attachments of the top manifest and of each child:
//!        cosign tags sha256-<hex>.sig / .att / .sbom   (their blobs, then the manifest)
//!        every referrer (API or tag schema)            (its blobs, then Store::attach_referrer)
//! ```
//!
//! So no manifest is ever written before what it points to. Everything already at the
//! destination is skipped: blobs are checked first (`HEAD`), mounted across repositories of
//! one registry, and otherwise streamed through a verified temporary file
//! ([`Store::copy_blob_to`]); manifests and tags already there are left alone, and referrers
//! already listed are not listed again. [`CopyOptions::with_progress`] is told each blob's
//! bytes as they stream (fetched and checked, then uploaded), against its descriptor's size.

use crate::formats::cosign;
use crate::oci::{self, Descriptor, ImageManifest, Index};
use crate::oci::{Manifest, OCI_INDEX, OCI_MANIFEST};
use crate::reference::{ImageRef, LayoutRef};
use crate::store::{referrers_tag, BlobCopy, ManifestRef, Store, StoreOptions, TagWrite};
pub use crate::store::{BlobProgress, BlobStage};
use crate::{Digest, Error, Result};
use std::collections::HashSet;

/// How deep image indexes may nest (an index of indexes of manifests is depth 2).
const MAX_INDEX_DEPTH: usize = 4;

/// What [`copy`] did.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    /// The source as given.
    pub source: String,
    /// The destination the top manifest was written to.
    pub destination: String,
    /// The destination pinned to the copied digest (`host/repo@sha256:…`, `oci:DIR@sha256:…`).
    pub pinned: String,
    /// The top manifest's digest (the same at both ends).
    pub digest: Digest,
    /// The top manifest's media type.
    pub media_type: String,
    /// Manifests written to the destination (image, index children, attachments).
    pub manifests_copied: Vec<Digest>,
    /// Manifests (and tags) already at the destination, left alone.
    pub manifests_skipped: Vec<Digest>,
    /// Blobs streamed from the source and written to the destination.
    pub blobs_copied: Vec<Digest>,
    /// Blobs mounted from the source repository (same registry): nothing transferred.
    pub blobs_mounted: Vec<Digest>,
    /// Blobs already at the destination: nothing transferred.
    pub blobs_skipped: Vec<Digest>,
    /// Bytes of the blobs copied.
    pub bytes_copied: u64,
    /// Signatures, attestations, SBOMs and other referrers found, and what became of each.
    pub attachments: Vec<CopiedAttachment>,
    /// Entries that could not be copied and were skipped (referrers listed but missing…).
    pub warnings: Vec<String>,
    /// HTTP requests made (source and destination).
    pub requests: u64,
}

/// One attachment of a copied manifest.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopiedAttachment {
    /// The manifest it is attached to.
    pub subject: Digest,
    /// `tag` (cosign's `sha256-<hex>.sig`/`.att`/`.sbom`) or `referrer` (OCI 1.1 `subject`).
    pub via: String,
    /// The tag, or the referrer's digest.
    pub location: String,
    /// The attachment manifest's digest at the destination.
    pub digest: Digest,
    /// Its artifact type, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// What was done.
    pub outcome: Outcome,
    /// How it is attached: `tag` for cosign's tags; for referrers, how the destination
    /// lists it (`referrers-api`, `referrers-tag-schema`, `layout-index`; when it was
    /// already there, how the source listed it).
    pub scheme: String,
}

/// Told to [`CopyOptions::progress`] as a blob's bytes flow: at the start of each stage of
/// the blob's copy, and after each chunk.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CopyProgress<'a> {
    /// The blob being copied.
    pub blob: &'a Digest,
    /// Its media type, as its descriptor says.
    pub media_type: &'a str,
    /// How far this blob is: bytes `done` of its descriptor's `size`, in which stage
    /// (fetched and checked from the source, then uploaded to a destination registry).
    pub bytes: BlobProgress,
    /// Blobs copied before this one.
    pub blobs_copied: usize,
    /// Bytes of the blobs copied before this one.
    pub bytes_copied: u64,
}

/// Called with each [`CopyProgress`] (see [`CopyOptions::with_progress`]); from the task
/// doing the copy, so keep it quick.
pub type Progress = std::sync::Arc<dyn Fn(&CopyProgress<'_>) + Send + Sync>;

/// How [`copy_with`] copies (the default is what [`copy`] does).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Told the bytes of each blob copied as they stream (not for blobs already there or
    /// mounted).
    pub progress: Option<Progress>,
    /// Move a destination tag that names another manifest to the copied one. Without it
    /// such a copy is refused ([`CopyError::TagMoved`]) before anything is written.
    pub force: bool,
    /// Copy only these kinds of attachments (`None`: every attachment, referrers of other
    /// artifact types included). With a set, referrers of no known kind are not copied.
    pub only: Option<std::collections::BTreeSet<AttachmentKind>>,
    /// From an image index, copy only the manifest of this platform (`os/arch[/variant]`),
    /// with its own attachments, in place of the index (as `crane copy --platform`). A source
    /// that is not an index is refused.
    pub platform: Option<String>,
}

/// A kind of attachment [`CopyOptions::only`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttachmentKind {
    /// Signatures: `.sig` tags, cosign and notation signature referrers, Sigstore bundles of
    /// cosign's sign predicate.
    Signature,
    /// Attestations: `.att` tags, in-toto referrers, Sigstore bundles of other predicates.
    Attestation,
    /// SBOMs: `.sbom` tags, SPDX / CycloneDX / cosign SBOM referrers.
    Sbom,
}

impl AttachmentKind {
    /// The kind of a referrer with this artifact type and these manifest annotations, if any.
    pub fn of_referrer(
        artifact_type: Option<&str>,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Option<AttachmentKind> {
        let t = artifact_type?;
        if t == cosign::BUNDLE_ARTIFACT_TYPE {
            let predicate = annotations
                .get(crate::formats::intoto::BUNDLE_PREDICATE_TYPE_ANNOTATION)
                .map(String::as_str);
            return Some(match predicate {
                None | Some(cosign::bundle::COSIGN_SIGN_PREDICATE_TYPE) => {
                    AttachmentKind::Signature
                }
                Some(_) => AttachmentKind::Attestation,
            });
        }
        if t == cosign::SIGNATURE_ARTIFACT_TYPE || t == crate::formats::notation::ARTIFACT_TYPE {
            Some(AttachmentKind::Signature)
        } else if t.contains("spdx") || t.contains("cyclonedx") || t.contains(".sbom") {
            Some(AttachmentKind::Sbom)
        } else if t.contains("in-toto") || t.contains(".att") {
            Some(AttachmentKind::Attestation)
        } else {
            None
        }
    }
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("force", &self.force)
            .field("only", &self.only)
            .field("platform", &self.platform)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl CopyOptions {
    /// Report progress to `progress` (see [`CopyOptions::progress`]).
    pub fn with_progress(mut self, progress: Option<Progress>) -> CopyOptions {
        self.progress = progress;
        self
    }

    /// Move destination tags that name another manifest (see [`CopyOptions::force`]).
    pub fn with_force(mut self, force: bool) -> CopyOptions {
        self.force = force;
        self
    }

    /// Copy only this platform's manifest of an index (see [`CopyOptions::platform`]).
    pub fn with_platform(mut self, platform: Option<String>) -> CopyOptions {
        self.platform = platform;
        self
    }

    /// Copy only these kinds of attachments (see [`CopyOptions::only`]).
    pub fn with_only(mut self, only: Option<std::collections::BTreeSet<AttachmentKind>>) -> Self {
        self.only = only;
        self
    }

    fn wants(&self, kind: Option<AttachmentKind>) -> bool {
        match (&self.only, kind) {
            (None, _) => true,
            (Some(set), Some(k)) => set.contains(&k),
            (Some(_), None) => false,
        }
    }
}

/// Why [`copy_with`] refused to copy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// The destination tag already names another manifest.
    #[error(
        "destination {destination} already names {current}, not {copied}; refusing to move the tag"
    )]
    TagMoved {
        /// The destination, with its tag.
        destination: String,
        /// The manifest the tag names now.
        current: Digest,
        /// The manifest the copy would make it name.
        copied: Digest,
    },
}

/// What [`copy`] did with one attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Written to the destination.
    Copied,
    /// The destination's tag held other signatures (or attestations); the source's layers
    /// were added to them, keeping every one already there.
    Merged,
    /// Already at the destination.
    Skipped,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Copied => "copied",
            Outcome::Merged => "merged",
            Outcome::Skipped => "already there",
        })
    }
}

/// Parse `dst` (`host/repo[:tag][@digest]` or `oci:PATH[:REF][@digest]`); when it names no tag
/// and no digest, take `src`'s: its tag for a registry, and for a layout the source's full
/// reference (`oci:DIR` ← `registry.example/app:1` becomes `oci:DIR:registry.example/app:1`,
/// so signatures verify in the layout, whose identity is then `registry.example/app`).
/// A source pinned only by digest is written by digest.
pub fn destination(src: &ImageRef, dst: &str) -> Result<ImageRef> {
    let parsed = ImageRef::parse(dst)?;
    let explicit = match dst.strip_prefix("oci:") {
        Some(rest) => rest.contains(':') || rest.contains('@'),
        None => {
            let last = dst.rfind('/').map(|i| i + 1).unwrap_or(0);
            dst.contains('@') || dst[last..].contains(':')
        }
    };
    if explicit {
        return Ok(parsed);
    }
    let name = default_name(src, matches!(parsed, ImageRef::Layout(_)));
    match (parsed, name) {
        (ImageRef::Layout(l), name) => {
            let digest = if name.is_none() {
                pinned_digest(src)
            } else {
                None
            };
            Ok(ImageRef::Layout(LayoutRef {
                path: l.path,
                name,
                digest,
            }))
        }
        (ImageRef::Registry(r), Some(tag)) => {
            let with_tag = format!("{}/{}:{tag}", r.registry(), r.repository());
            ImageRef::parse(&with_tag).map_err(|e| {
                Error::Usage(format!(
                    "name a tag for {dst} ({dst}:TAG): the source's {e}"
                ))
            })
        }
        (ImageRef::Registry(r), None) => match pinned_digest(src) {
            Some(d) => Ok(ImageRef::Registry(r.with_digest(d))),
            None => Ok(ImageRef::Registry(r)),
        },
    }
}

/// The digest `image` pins, if any.
fn pinned_digest(image: &ImageRef) -> Option<Digest> {
    match image {
        ImageRef::Registry(r) => r.digest().cloned(),
        ImageRef::Layout(l) => l.digest.clone(),
    }
}

/// The name a destination gets from `src` when it names none: `None` for a source pinned
/// only by digest.
fn default_name(src: &ImageRef, for_layout: bool) -> Option<String> {
    match src {
        ImageRef::Registry(r) => {
            let tag = r.tag()?;
            Some(if for_layout {
                r.with_tag(tag).to_string()
            } else {
                tag.to_string()
            })
        }
        ImageRef::Layout(l) => {
            let name = l.name.clone()?;
            if for_layout || !name.contains('/') {
                return Some(name);
            }
            // A full reference as ref name (`registry.example/app:1`): its tag.
            match name.parse::<crate::Reference>() {
                Ok(r) => r.tag().map(str::to_string),
                Err(_) => Some(name),
            }
        }
    }
}

/// Where the top manifest goes: DST's tag, else its digest, else SRC's tag, else by digest.
fn target(src: &ImageRef, dst: &ImageRef, digest: &Digest) -> Result<ManifestRef> {
    let (tag, pinned) = match dst {
        ImageRef::Registry(r) => (r.tag().map(str::to_string), r.digest().cloned()),
        ImageRef::Layout(l) => (l.name.clone(), l.digest.clone()),
    };
    if let Some(p) = &pinned {
        if p != digest {
            return Err(Error::Usage(format!(
                "the destination {dst} pins {p}, but the source {src} is {digest}"
            )));
        }
    }
    let tag = match (tag, pinned) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => default_name(src, matches!(dst, ImageRef::Layout(_))),
    };
    Ok(match tag {
        Some(t) => ManifestRef::Tag(t),
        None => ManifestRef::Digest(digest.clone()),
    })
}

/// Create the destination layout when its directory does not exist yet (or is empty).
fn prepare_layout(dst: &ImageRef) -> Result<()> {
    let ImageRef::Layout(l) = dst else {
        return Ok(());
    };
    if l.path.join("oci-layout").exists() {
        return Ok(());
    }
    let empty = match std::fs::read_dir(&l.path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::io(format!("reading {}", l.path.display()), e)),
    };
    if empty {
        crate::store::layout::Layout::init(&l.path)?;
    }
    // Otherwise Store::open explains that the directory is not a layout.
    Ok(())
}

/// Copy `src` (its manifest, an index's platform manifests, every blob) and everything
/// attached to it (cosign's `.sig`/`.att`/`.sbom` tags and every OCI 1.1 referrer, for the
/// manifest and for each platform manifest of an index) to `dst`, preserving digests.
///
/// `dst` is used as given (see [`destination`] for the CLI's defaulting of its tag). A
/// destination layout directory that does not exist is created. Blobs and manifests that do
/// not match their digest, or blobs larger than their descriptor says, are refused
/// ([`Error::DigestMismatch`], [`Error::TooLarge`]) before anything refers to them at the
/// destination; an interrupted copy is completed by running it again.
///
/// ```no_run
/// # async fn demo() -> imgseal::Result<()> {
/// use imgseal::{ImageRef, StoreOptions};
///
/// let src = ImageRef::parse("registry.example/app:1.0")?;
/// let dst = ImageRef::parse("mirror.internal/app:1.0")?;
/// let report = imgseal::copy::copy(&src, &dst, &StoreOptions::default()).await?;
/// println!("{} blobs copied, {} already there", report.blobs_copied.len(), report.blobs_skipped.len());
/// # Ok(()) }
/// ```
pub async fn copy(src: &ImageRef, dst: &ImageRef, options: &StoreOptions) -> Result<CopyReport> {
    copy_with(src, dst, options, &CopyOptions::default()).await
}

/// [`copy`], as `how` says: a destination tag that names another manifest is refused
/// ([`CopyError::TagMoved`], before anything is written) unless [`CopyOptions::force`].
pub async fn copy_with(
    src: &ImageRef,
    dst: &ImageRef,
    options: &StoreOptions,
    how: &CopyOptions,
) -> Result<CopyReport> {
    let from = Store::open(src, options, false)?;
    let wanted = match src {
        ImageRef::Registry(r) => match (r.digest(), r.tag()) {
            (Some(d), _) => ManifestRef::Digest(d.clone()),
            (None, Some(t)) => ManifestRef::Tag(t.to_string()),
            (None, None) => ManifestRef::Tag("latest".into()),
        },
        ImageRef::Layout(l) => match (&l.digest, &l.name) {
            (Some(d), _) => ManifestRef::Digest(d.clone()),
            (None, Some(n)) => ManifestRef::Tag(n.clone()),
            (None, None) => ManifestRef::Tag("latest".into()),
        },
    };
    let top = from
        .get_manifest(&wanted)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: format!("image {src}"),
        })?;
    let top = match &how.platform {
        None => top,
        Some(platform) => {
            if !crate::oci::is_index_media_type(&top.media_type) {
                return Err(Error::Usage(format!(
                    "platform {platform} was asked for, but {src} is a single-platform image, not an index"
                )));
            }
            let index = crate::oci::Index::from_bytes(&top.bytes)?;
            let child = index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
                .ok_or_else(|| Error::NotFound {
                    what: format!("platform {platform} in index {src} ({})", top.digest),
                })?;
            let d = child.digest()?;
            from.get_manifest(&ManifestRef::Digest(d.clone()))
                .await?
                .ok_or_else(|| Error::NotFound {
                    what: format!("platform manifest {d} of {src}"),
                })?
        }
    };
    let top_type = media_type_of(&top, None)?;
    let target = target(src, dst, &top.digest)?;
    prepare_layout(dst)?;
    let to = Store::open(dst, options, true)?;
    let destination = match (dst, &target) {
        (ImageRef::Registry(r), ManifestRef::Tag(t)) => r.with_tag(t).to_string(),
        (ImageRef::Registry(r), ManifestRef::Digest(d)) => r.with_digest(d.clone()).to_string(),
        (ImageRef::Layout(l), t) => format!("oci:{}{}", l.path.display(), layout_suffix(t)),
    };
    let pinned = match dst {
        ImageRef::Registry(r) => r.with_digest(top.digest.clone()).to_string(),
        ImageRef::Layout(l) => format!("oci:{}@{}", l.path.display(), top.digest),
    };
    if let (ManifestRef::Tag(_), false) = (&target, how.force) {
        if let Some(current) = to.get_manifest(&target).await? {
            if current.digest != top.digest {
                return Err(CopyError::TagMoved {
                    destination,
                    current: current.digest,
                    copied: top.digest.clone(),
                }
                .into());
            }
        }
    }
    let mut run = Run {
        from: &from,
        to: &to,
        options,
        how,
        blobs_seen: HashSet::new(),
        manifests_seen: HashSet::new(),
        report: CopyReport {
            source: src.to_string(),
            destination,
            pinned,
            digest: top.digest.clone(),
            media_type: top_type.clone(),
            manifests_copied: Vec::new(),
            manifests_skipped: Vec::new(),
            blobs_copied: Vec::new(),
            blobs_mounted: Vec::new(),
            blobs_skipped: Vec::new(),
            bytes_copied: 0,
            attachments: Vec::new(),
            warnings: Vec::new(),
            requests: 0,
        },
    };

    // 1-2. Blobs, then (for an index) child manifests by digest.
    let children = run.copy_contents(&top, &top_type, 0).await?;
    // 3. The top manifest, at its tag (or digest).
    run.put_top(&top, &top_type, &target).await?;
    // 4. Attachments of the top manifest and of each child.
    let mut subjects = vec![top.digest.clone()];
    subjects.extend(children);
    let mut once = HashSet::new();
    subjects.retain(|d| once.insert(d.clone()));
    for subject in &subjects {
        run.copy_tags(subject).await?;
        run.copy_referrers(subject).await?;
    }
    let mut report = run.report;
    report.requests = from.requests() + to.requests();
    Ok(report)
}

fn layout_suffix(t: &ManifestRef) -> String {
    match t {
        ManifestRef::Tag(t) => format!(":{t}"),
        ManifestRef::Digest(d) => format!("@{d}"),
    }
}

/// A manifest's media type: from the store, else the descriptor that pointed at it, else
/// its shape.
fn media_type_of(m: &Manifest, fallback: Option<&str>) -> Result<String> {
    if !m.media_type.is_empty() {
        return Ok(m.media_type.clone());
    }
    if let Some(f) = fallback.filter(|f| !f.is_empty()) {
        return Ok(f.to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).map_err(|e| {
        Error::invalid(
            format!("manifest {}", m.digest),
            format!("not valid JSON: {e}"),
        )
    })?;
    if v.get("manifests").is_some_and(|x| x.is_array()) {
        Ok(OCI_INDEX.to_string())
    } else if v.get("config").is_some_and(|x| x.is_object()) {
        Ok(OCI_MANIFEST.to_string())
    } else {
        Err(Error::invalid(
            format!("manifest {}", m.digest),
            "has no media type and is neither an image manifest nor an index",
        ))
    }
}

/// The `subject` digest a manifest (image manifest or index) names, if any.
fn subject_of(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct S {
        subject: Option<Descriptor>,
    }
    serde_json::from_slice::<S>(bytes)
        .ok()?
        .subject
        .map(|d| d.digest)
}

/// Layers that are not in any registry (Windows foreign layers): copied by reference only.
fn is_non_distributable(media_type: &str) -> bool {
    media_type.contains("foreign") || media_type.contains("nondistributable")
}

struct Run<'a> {
    from: &'a Store,
    to: &'a Store,
    options: &'a StoreOptions,
    how: &'a CopyOptions,
    blobs_seen: HashSet<Digest>,
    manifests_seen: HashSet<Digest>,
    report: CopyReport,
}

impl Run<'_> {
    async fn copy_blob(&mut self, d: &Descriptor) -> Result<()> {
        if is_non_distributable(&d.media_type) {
            self.report.warnings.push(format!(
                "layer {} ({}) is non-distributable; not copied",
                d.digest, d.media_type
            ));
            return Ok(());
        }
        let digest = d.digest()?;
        if !self.blobs_seen.insert(digest.clone()) {
            return Ok(());
        }
        let observer = self.how.progress.clone().map(|p| {
            let blob = digest.clone();
            let media_type = d.media_type.clone();
            let (blobs_copied, bytes_copied) =
                (self.report.blobs_copied.len(), self.report.bytes_copied);
            std::sync::Arc::new(move |bytes: BlobProgress| {
                p(&CopyProgress {
                    blob: &blob,
                    media_type: &media_type,
                    bytes,
                    blobs_copied,
                    bytes_copied,
                })
            }) as crate::store::BlobObserver
        });
        match self
            .from
            .copy_blob_observed(&digest, d.size, self.to, observer)
            .await?
        {
            BlobCopy::Present => self.report.blobs_skipped.push(digest),
            BlobCopy::Mounted => self.report.blobs_mounted.push(digest),
            BlobCopy::Copied => {
                self.report.bytes_copied += d.size;
                self.report.blobs_copied.push(digest);
            }
        }
        Ok(())
    }

    /// Fetch manifest `d` from the source, refusing it when over the cap or not the size
    /// its descriptor says.
    async fn fetch(&self, d: &Descriptor, what: &str) -> Result<Option<Manifest>> {
        let digest = d.digest()?;
        if d.size > self.options.max_manifest_bytes {
            return Err(Error::TooLarge {
                what: format!("{what} {digest} (its descriptor says {} bytes)", d.size),
                limit: self.options.max_manifest_bytes,
            });
        }
        let Some(m) = self
            .from
            .get_manifest(&ManifestRef::Digest(digest.clone()))
            .await?
        else {
            return Ok(None);
        };
        if m.bytes.len() as u64 != d.size {
            return Err(Error::invalid(
                format!("{what} {digest}"),
                format!(
                    "is {} bytes but its descriptor says {}; refusing it",
                    m.bytes.len(),
                    d.size
                ),
            ));
        }
        Ok(Some(m))
    }

    /// Copy what `m` points to (blobs; for an index, each child manifest with its own
    /// contents, by digest). Returns the digests of an index's children.
    async fn copy_contents(
        &mut self,
        m: &Manifest,
        media_type: &str,
        depth: usize,
    ) -> Result<Vec<Digest>> {
        if !oci::is_index_media_type(media_type) {
            let parsed = ImageManifest::from_bytes(&m.bytes)
                .map_err(|e| Error::invalid(format!("manifest {}", m.digest), e.to_string()))?;
            self.copy_blob(&parsed.config).await?;
            for layer in &parsed.layers {
                self.copy_blob(layer).await?;
            }
            return Ok(Vec::new());
        }
        if depth >= MAX_INDEX_DEPTH {
            return Err(Error::invalid(
                format!("index {}", m.digest),
                format!("indexes nest more than {MAX_INDEX_DEPTH} deep; refusing it"),
            ));
        }
        let index = Index::from_bytes(&m.bytes)
            .map_err(|e| Error::invalid(format!("index {}", m.digest), e.to_string()))?;
        let mut children = Vec::new();
        let mut listed = HashSet::new();
        for entry in &index.manifests {
            // An index may list one child thousands of times: each is fetched and copied once.
            if !listed.insert(entry.digest.clone()) {
                continue;
            }
            if let Ok(d) = entry.digest() {
                if self.manifests_seen.contains(&d) {
                    children.push(d);
                    continue;
                }
            }
            let what = format!("manifest listed by index {}:", m.digest);
            let child = self
                .fetch(entry, &what)
                .await?
                .ok_or_else(|| Error::NotFound {
                    what: format!("{what} {}", entry.digest),
                })?;
            let child_type = media_type_of(&child, Some(&entry.media_type))?;
            Box::pin(self.copy_manifest(&child, &child_type, depth + 1)).await?;
            children.push(child.digest);
        }
        Ok(children)
    }

    /// Copy `m`'s contents, then `m` itself by digest (unless already there).
    async fn copy_manifest(&mut self, m: &Manifest, media_type: &str, depth: usize) -> Result<()> {
        if !self.manifests_seen.insert(m.digest.clone()) {
            return Ok(());
        }
        self.copy_contents(m, media_type, depth).await?;
        let there = self
            .to
            .get_manifest(&ManifestRef::Digest(m.digest.clone()))
            .await?
            .is_some();
        if there {
            self.report.manifests_skipped.push(m.digest.clone());
        } else {
            self.to.put_manifest(&m.bytes, media_type, None).await?;
            self.report.manifests_copied.push(m.digest.clone());
        }
        Ok(())
    }

    async fn put_top(
        &mut self,
        top: &Manifest,
        media_type: &str,
        target: &ManifestRef,
    ) -> Result<()> {
        let existing = self.to.get_manifest(target).await?;
        if existing.is_some_and(|e| e.digest == top.digest) {
            self.report.manifests_skipped.push(top.digest.clone());
            return Ok(());
        }
        let tag = match target {
            ManifestRef::Tag(t) => Some(t.as_str()),
            ManifestRef::Digest(_) => None,
        };
        self.to.put_manifest(&top.bytes, media_type, tag).await?;
        self.report.manifests_copied.push(top.digest.clone());
        Ok(())
    }

    /// cosign's legacy tags for `subject`: `.sig`, `.att`, `.sbom`.
    async fn copy_tags(&mut self, subject: &Digest) -> Result<()> {
        for (suffix, kind) in [
            (".sig", AttachmentKind::Signature),
            (cosign::ATTESTATION_TAG_SUFFIX, AttachmentKind::Attestation),
            (cosign::SBOM_TAG_SUFFIX, AttachmentKind::Sbom),
        ] {
            if !self.how.wants(Some(kind)) {
                continue;
            }
            let tag = format!("{}{suffix}", referrers_tag(subject));
            let Some(m) = self
                .from
                .get_manifest(&ManifestRef::Tag(tag.clone()))
                .await?
            else {
                continue;
            };
            let media_type = media_type_of(&m, None)?;
            self.copy_contents(&m, &media_type, 0).await?;
            let artifact_type = ImageManifest::from_bytes(&m.bytes)
                .ok()
                .and_then(|p| p.artifact_type);
            let (digest, outcome) = if suffix == cosign::SBOM_TAG_SUFFIX {
                self.put_sbom(&tag, &m, &media_type).await?
            } else {
                self.merge_layers(&tag, &m, &media_type).await?
            };
            self.report.attachments.push(CopiedAttachment {
                subject: subject.clone(),
                via: "tag".into(),
                location: tag,
                digest,
                artifact_type,
                outcome,
                scheme: "tag".into(),
            });
        }
        Ok(())
    }

    /// The source's SBOM tag: copied unless the destination holds another SBOM there.
    async fn put_sbom(
        &mut self,
        tag: &str,
        m: &Manifest,
        media_type: &str,
    ) -> Result<(Digest, Outcome)> {
        match self
            .to
            .get_manifest(&ManifestRef::Tag(tag.to_string()))
            .await?
        {
            None => {
                self.to
                    .put_manifest(&m.bytes, media_type, Some(tag))
                    .await?;
                self.report.manifests_copied.push(m.digest.clone());
                Ok((m.digest.clone(), Outcome::Copied))
            }
            Some(e) if e.digest == m.digest => {
                self.report.manifests_skipped.push(m.digest.clone());
                Ok((m.digest.clone(), Outcome::Skipped))
            }
            Some(e) => {
                let why = format!(
                    "holds another SBOM ({}) than the source's ({}); not overwritten",
                    e.digest, m.digest
                );
                Err(Error::invalid(format!("destination tag {tag}"), why))
            }
        }
    }

    /// The source's `.sig`/`.att` tag `src` (its blobs already copied): written as is where
    /// the destination has none, else its missing layers are added to the destination's,
    /// keeping every layer already there. Through the same read → write → confirm loop as
    /// signing ([`Store::update_tag`]), since signers may write the destination tag meanwhile.
    async fn merge_layers(
        &mut self,
        tag: &str,
        src: &Manifest,
        media_type: &str,
    ) -> Result<(Digest, Outcome)> {
        let ours = ImageManifest::from_bytes(&src.bytes)?;
        let mut outcome = Outcome::Skipped;
        let what = if tag.ends_with(cosign::ATTESTATION_TAG_SUFFIX) {
            "attestation"
        } else {
            "signature"
        };
        let done = self
            .to
            .update_tag(tag, what, |current| {
                let Some(dst) = current else {
                    outcome = Outcome::Copied;
                    return Ok(Some(TagWrite {
                        manifest: src.bytes.clone(),
                        media_type: media_type.to_string(),
                        blobs: Vec::new(),
                    }));
                };
                if dst.digest == src.digest {
                    return Ok(None);
                }
                let theirs = ImageManifest::from_bytes(&dst.bytes).map_err(|e| {
                    Error::invalid(
                        format!("destination tag {tag}"),
                        format!("{e}; refusing to replace it"),
                    )
                })?;
                let missing: Vec<Descriptor> = ours
                    .layers
                    .iter()
                    .filter(|l| !theirs.layers.contains(l))
                    .cloned()
                    .collect();
                if missing.is_empty() {
                    return Ok(None);
                }
                let mut layers = theirs.layers;
                layers.extend(missing);
                let (merged, config) = cosign::signature_manifest(layers);
                outcome = Outcome::Merged;
                Ok(Some(TagWrite {
                    manifest: merged.to_bytes()?,
                    media_type: OCI_MANIFEST.to_string(),
                    blobs: vec![config],
                }))
            })
            .await?;
        let digest = done.digest.unwrap_or_else(|| src.digest.clone());
        if done.wrote {
            self.report.manifests_copied.push(digest.clone());
        } else {
            outcome = Outcome::Skipped;
            self.report.manifests_skipped.push(digest.clone());
        }
        Ok((digest, outcome))
    }

    /// Every referrer of `subject`: its contents, then the manifest, re-attached at the
    /// destination (referrers API when it indexes subjects, else the tag schema's index).
    async fn copy_referrers(&mut self, subject: &Digest) -> Result<()> {
        let found = self.from.referrers(subject, None).await?;
        self.report.warnings.extend(found.warnings);
        if found.descriptors.is_empty() {
            return Ok(());
        }
        let listed = self.to.referrers(subject, None).await?;
        let listed: HashSet<String> = listed.descriptors.into_iter().map(|d| d.digest).collect();
        for mut entry in found.descriptors {
            let where_ = format!("referrer {} of {subject}", entry.digest);
            let m = match self.fetch(&entry, "referrer").await {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.report
                        .warnings
                        .push(format!("{where_}: listed but missing; skipped"));
                    continue;
                }
                Err(e @ (Error::DigestMismatch { .. } | Error::TooLarge { .. })) => return Err(e),
                Err(e) => {
                    self.report.warnings.push(format!("{where_}: {e}; skipped"));
                    continue;
                }
            };
            if subject_of(&m.bytes).as_deref() != Some(subject.to_string().as_str()) {
                self.report
                    .warnings
                    .push(format!("{where_}: its subject is not this image; skipped"));
                continue;
            }
            let media_type = media_type_of(&m, Some(&entry.media_type))?;
            entry.media_type = media_type.clone();
            let parsed = ImageManifest::from_bytes(&m.bytes).ok();
            if entry.artifact_type.is_none() {
                entry.artifact_type = parsed.as_ref().map(|p| {
                    p.artifact_type
                        .clone()
                        .unwrap_or(p.config.media_type.clone())
                });
            }
            let annotations = parsed.map(|p| p.annotations).unwrap_or_default();
            let kind = AttachmentKind::of_referrer(entry.artifact_type.as_deref(), &annotations);
            if !self.how.wants(kind) {
                continue;
            }
            let mut attachment = CopiedAttachment {
                subject: subject.clone(),
                via: "referrer".into(),
                location: m.digest.to_string(),
                digest: m.digest.clone(),
                artifact_type: entry.artifact_type.clone(),
                outcome: Outcome::Skipped,
                scheme: found.scheme.id().to_string(),
            };
            if listed.contains(&entry.digest) {
                self.report.manifests_skipped.push(m.digest.clone());
            } else {
                self.copy_contents(&m, &media_type, 0).await?;
                let scheme = self
                    .to
                    .attach_referrer(subject, &m.bytes, &media_type, entry)
                    .await?;
                self.report.manifests_copied.push(m.digest.clone());
                attachment.outcome = Outcome::Copied;
                attachment.scheme = scheme.id().to_string();
            }
            self.report.attachments.push(attachment);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Digest {
        Digest::sha256(b"x")
    }

    #[test]
    fn destination_defaults_to_the_source_tag() {
        let src = ImageRef::parse("registry.example/app:1.0").unwrap();
        let dst = destination(&src, "mirror.example/team/app").unwrap();
        assert_eq!(dst.to_string(), "mirror.example/team/app:1.0");
        let dst = destination(&src, "mirror.example/team/app:latest").unwrap();
        assert_eq!(dst.to_string(), "mirror.example/team/app:latest");
        let dst = destination(&src, "localhost:5000/app").unwrap();
        assert_eq!(dst.to_string(), "localhost:5000/app:1.0");
        // A layout gets the full source reference, so its identity is the source repository.
        let dst = destination(&src, "oci:/tmp/carry").unwrap();
        assert_eq!(dst.to_string(), "oci:/tmp/carry:registry.example/app:1.0");
        let ImageRef::Layout(l) = &dst else { panic!() };
        assert_eq!(l.identity(), "registry.example/app");
        // … and out of the layout, that reference's tag.
        let dst2 = destination(&dst, "airgap.example/app").unwrap();
        assert_eq!(dst2.to_string(), "airgap.example/app:1.0");
    }

    #[test]
    fn destination_by_digest() {
        let src = ImageRef::parse(&format!("registry.example/app@{}", d())).unwrap();
        let dst = destination(&src, "mirror.example/app").unwrap();
        assert_eq!(dst.to_string(), format!("mirror.example/app@{}", d()));
        let dst = destination(&src, "oci:/tmp/x").unwrap();
        assert_eq!(dst.to_string(), format!("oci:/tmp/x@{}", d()));
    }

    #[test]
    fn target_refuses_another_digest() {
        let src = ImageRef::parse("registry.example/app:1").unwrap();
        let dst = ImageRef::parse(&format!("mirror.example/app@{}", d())).unwrap();
        let other = Digest::sha256(b"y");
        assert!(matches!(target(&src, &dst, &other), Err(Error::Usage(_))));
        assert_eq!(target(&src, &dst, &d()).unwrap(), ManifestRef::Digest(d()));
        let dst = ImageRef::Layout(LayoutRef {
            path: "/tmp/x".into(),
            name: None,
            digest: None,
        });
        assert_eq!(
            target(&src, &dst, &d()).unwrap(),
            ManifestRef::Tag("registry.example/app:1".into())
        );
    }
}
