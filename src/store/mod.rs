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

    /// How many HTTP requests this store has made (0 for layouts).
    pub fn requests(&self) -> u64 {
        match self {
            Store::Registry(s) => s.requests(),
            Store::Layout(_) => 0,
        }
    }
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
