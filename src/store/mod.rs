//! Where images and their signatures live: an OCI registry ([`registry`]) or an OCI image
//! layout on disk ([`layout`]). [`Store`] is the one interface the sign and verify pipelines use,
//! bound to one repository.
//!
//! Everything read is size-capped before it is buffered and re-hashed against the digest it was
//! fetched by; a registry's `Docker-Content-Digest` header is never trusted on its own.

pub mod layout;
pub mod registry;

use crate::reference::ImageRef;
use crate::{Digest, Result};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Manifest media types imgseal asks for and accepts.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// Default cap on a manifest's size (4 MiB, as the distribution spec suggests registries use).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Default cap on a signature payload or config blob read during verification.
pub const MAX_SMALL_BLOB_BYTES: u64 = 4 * 1024 * 1024;

/// How to reach stores.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Allow plain HTTP to registries that are not on loopback (loopback always uses HTTP).
    pub allow_http: bool,
    /// Cap for manifests, in bytes.
    pub max_manifest_bytes: u64,
    /// Cap for signature payloads and other small blobs, in bytes.
    pub max_blob_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            allow_http: false,
            max_manifest_bytes: MAX_MANIFEST_BYTES,
            max_blob_bytes: MAX_SMALL_BLOB_BYTES,
        }
    }
}

/// Which manifest to fetch: by tag (or layout ref name) or by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestRef {
    /// A tag, or in a layout an `org.opencontainers.image.ref.name`.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl std::fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestRef::Tag(t) => write!(f, "{t}"),
            ManifestRef::Digest(d) => write!(f, "{d}"),
        }
    }
}

/// A manifest's exact bytes with their media type and (computed) digest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The bytes as stored; signatures bind their digest.
    pub bytes: Vec<u8>,
    /// Media type (from the store, or the manifest's own `mediaType`).
    pub media_type: String,
    /// SHA-256 (or the requested algorithm) of `bytes`, computed here.
    pub digest: Digest,
}

/// A repository in a registry, or an OCI layout.
#[derive(Debug)]
pub enum Store {
    /// A registry repository.
    Registry(registry::Repository),
    /// An OCI image layout directory.
    Layout(layout::Layout),
}

impl Store {
    /// Open the store holding `image`. `write` asks for push access (registry token scope).
    pub fn open(image: &ImageRef, options: &StoreOptions, write: bool) -> Result<Store> {
        match image {
            ImageRef::Registry(r) => Ok(Store::Registry(registry::Repository::new(
                r, options, write,
            )?)),
            ImageRef::Layout(l) => Ok(Store::Layout(layout::Layout::open(&l.path, options)?)),
        }
    }

    /// Fetch a manifest; `Ok(None)` when it does not exist.
    pub async fn get_manifest(&self, r: &ManifestRef) -> Result<Option<Manifest>> {
        match self {
            Store::Registry(s) => s.get_manifest(r).await,
            Store::Layout(s) => s.get_manifest(r),
        }
    }

    /// Fetch a blob of announced `size`, refusing it if over `cap` or not matching `digest`.
    pub async fn get_blob(&self, digest: &Digest, size: u64, cap: u64) -> Result<Vec<u8>> {
        match self {
            Store::Registry(s) => s.get_blob(digest, size, cap).await,
            Store::Layout(s) => s.get_blob(digest, size, cap),
        }
    }

    /// Upload a blob unless it is already there; returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        match self {
            Store::Registry(s) => s.put_blob(bytes).await,
            Store::Layout(s) => s.put_blob(bytes),
        }
    }

    /// Store a manifest, tagged with `tag` if given; returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest> {
        match self {
            Store::Registry(s) => s.put_manifest(bytes, media_type, tag).await,
            Store::Layout(s) => s.put_manifest(bytes, media_type, tag),
        }
    }

    /// Everything that refers to `subject` (optionally only `artifact_type`): from the OCI 1.1
    /// referrers API when the registry has it, otherwise from the referrers tag schema's index
    /// at tag `sha256-<hex>`. Problems with individual entries become warnings.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        if let Store::Registry(r) = self {
            if let Some((descriptors, warnings)) = r.referrers_api(subject, artifact_type).await? {
                return Ok(Referrers {
                    scheme: ReferrerScheme::Api,
                    descriptors,
                    warnings,
                });
            }
        }
        let tag = referrers_tag(subject);
        let mut out = Referrers {
            scheme: ReferrerScheme::TagSchema,
            descriptors: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(m) = self.get_manifest(&ManifestRef::Tag(tag.clone())).await? else {
            return Ok(out);
        };
        if !crate::oci::is_index_media_type(&m.media_type) {
            out.warnings.push(format!(
                "referrers tag {tag} holds a {:?}, not an image index; ignored",
                m.media_type
            ));
            return Ok(out);
        }
        match crate::oci::Index::from_bytes(&m.bytes) {
            Ok(index) => {
                out.descriptors = index
                    .manifests
                    .into_iter()
                    .filter(|d| {
                        artifact_type.is_none() || d.artifact_type.as_deref() == artifact_type
                    })
                    .collect()
            }
            Err(e) => out
                .warnings
                .push(format!("referrers tag {tag}: {e}; ignored")),
        }
        Ok(out)
    }

    /// Store `manifest` (which has a `subject`) and make it discoverable as a referrer of
    /// `subject`: through the registry's referrers API when it indexes the subject (it answers
    /// with `OCI-Subject`), otherwise by adding it to the referrers tag schema's index
    /// (read, add, write, re-read to confirm; retried when a concurrent writer dropped it).
    pub async fn attach_referrer(
        &self,
        subject: &Digest,
        manifest: &[u8],
        media_type: &str,
        entry: crate::oci::Descriptor,
    ) -> Result<ReferrerScheme> {
        let indexed = match self {
            Store::Registry(r) => {
                let (_, oci_subject) = r.put_manifest_subject(manifest, media_type, None).await?;
                oci_subject.as_deref() == Some(subject.to_string().as_str())
            }
            Store::Layout(l) => {
                l.put_manifest(manifest, media_type, None)?;
                false
            }
        };
        if indexed {
            return Ok(ReferrerScheme::Api);
        }
        let tag = referrers_tag(subject);
        for _attempt in 0..6 {
            let mut index = match self.get_manifest(&ManifestRef::Tag(tag.clone())).await? {
                None => crate::oci::Index {
                    schema_version: 2,
                    media_type: Some(OCI_INDEX.to_string()),
                    ..Default::default()
                },
                Some(m) if crate::oci::is_index_media_type(&m.media_type) => {
                    crate::oci::Index::from_bytes(&m.bytes)?
                }
                Some(m) => {
                    return Err(crate::Error::invalid(
                        format!("referrers tag {tag}"),
                        format!(
                            "holds a {:?}, not an image index; refusing to overwrite it",
                            m.media_type
                        ),
                    ))
                }
            };
            if index.manifests.iter().any(|d| d.digest == entry.digest) {
                // Already listed, or written by an earlier pass and still there after a pause.
                return Ok(ReferrerScheme::TagSchema);
            }
            index.manifests.push(entry.clone());
            self.put_manifest(&index.to_bytes()?, OCI_INDEX, Some(&tag))
                .await?;
            // Pause, then re-read: a concurrent writer that read the old index may overwrite
            // ours; the next pass re-adds our entry on top of theirs.
            let mut jitter = [0u8; 1];
            let _ = getrandom::fill(&mut jitter);
            tokio::time::sleep(std::time::Duration::from_millis(20 + u64::from(jitter[0]))).await;
        }
        Err(crate::Error::invalid(
            format!("referrers tag {tag}"),
            "could not confirm the new entry after 6 attempts (concurrent writers?); re-run to retry",
        ))
    }

    /// How many HTTP requests this store has made (0 for layouts).
    pub fn requests(&self) -> u64 {
        match self {
            Store::Registry(s) => s.requests(),
            Store::Layout(_) => 0,
        }
    }
}

/// How referrers were found or attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrerScheme {
    /// The registry's OCI 1.1 referrers API.
    Api,
    /// The referrers tag schema (an index at tag `sha256-<hex>`).
    TagSchema,
}

impl std::fmt::Display for ReferrerScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReferrerScheme::Api => "referrers API",
            ReferrerScheme::TagSchema => "referrers tag schema",
        })
    }
}

/// The result of [`Store::referrers`].
#[derive(Clone, Debug)]
pub struct Referrers {
    /// Where they came from.
    pub scheme: ReferrerScheme,
    /// The referrer descriptors (not yet fetched or checked).
    pub descriptors: Vec<crate::oci::Descriptor>,
    /// Problems noticed (pagination loops, a fallback tag that is not an index…).
    pub warnings: Vec<String>,
}

/// The referrers tag schema's tag for `subject`: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    subject.to_string().replacen(':', "-", 1)
}

/// The `mediaType` field of a manifest's JSON, if any.
pub(crate) fn embedded_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct M {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<M>(bytes).ok()?.media_type
}
