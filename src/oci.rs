//! OCI image-spec types imgseal reads and writes: every media type, descriptors, image
//! manifests and indexes.
//!
//! Field order follows go-containerregistry (what cosign writes), so manifests imgseal builds
//! are byte-identical to cosign's; absent optional fields are omitted.

use crate::{Digest, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media type of the OCI empty descriptor's blob (`{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The 2-byte empty JSON blob.
pub const EMPTY_BLOB: &[u8] = b"{}";
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

/// An OCI content descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Digest of the content.
    pub digest: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform (in image indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (in referrers lists).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// The parsed digest.
    pub fn digest(&self) -> Result<Digest> {
        self.digest.parse()
    }

    /// A descriptor for `bytes` of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            size: bytes.len() as u64,
            digest: Digest::sha256(bytes).to_string(),
            ..Descriptor::default()
        }
    }
}

/// A platform (`os`/`architecture`/`variant`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// Variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// True when `spec` (`os/arch[/variant]`) names this platform.
    pub fn matches(&self, spec: &str) -> bool {
        let mut parts = spec.split('/');
        let os = parts.next().unwrap_or("");
        let arch = parts.next().unwrap_or("");
        let variant = parts.next();
        self.os == os
            && self.architecture == arch
            && (variant.is_none() || self.variant.as_deref() == variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI (or docker schema 2) image manifest.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Manifest media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type (OCI 1.1 artifacts).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Config blob.
    pub config: Descriptor,
    /// Layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this artifact refers to (OCI 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Parse `what` from JSON bytes.
fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::invalid(what, format!("invalid JSON: {e}")))
}

/// `value` as compact JSON bytes.
fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::invalid(what, e.to_string()))
}

impl ImageManifest {
    /// Parse manifest bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ImageManifest> {
        decode("image manifest", bytes)
    }

    /// Compact JSON bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode("image manifest", self)
    }
}

/// An OCI image index (or docker manifest list); also the referrers list format.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// Index media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// Entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    /// Parse index bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Index> {
        decode("image index", bytes)
    }

    /// Compact JSON bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        encode("image index", self)
    }
}

/// True for image index / manifest list media types.
pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
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

impl Manifest {
    /// A descriptor of these bytes: media type, size and digest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            size: self.bytes.len() as u64,
            digest: self.digest.to_string(),
            ..Descriptor::default()
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
