//! An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
//!
//! Tags are `org.opencontainers.image.ref.name` annotations on `index.json` entries. Signatures
//! are stored exactly as in a registry: a manifest whose ref name is `sha256-<hex>.sig`. Every
//! write goes to a temporary file that is renamed into place, so an interrupted run leaves the
//! layout as it was.

use super::{ManifestRef, StoreOptions};
use crate::oci::{embedded_media_type, Manifest};
use crate::oci::{MANIFEST_MEDIA_TYPES, OCI_INDEX, OCI_MANIFEST};
use crate::util::fs::write_temp;
use crate::{Digest, Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The annotation holding a manifest's name in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const MAX_INDEX_BYTES: u64 = 16 * 1024 * 1024;

/// An OCI image layout directory.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    options: StoreOptions,
}

impl Layout {
    /// Open an existing layout (it must contain an `oci-layout` file).
    pub fn open(root: &Path, options: &StoreOptions) -> Result<Layout> {
        let marker = root.join("oci-layout");
        if !marker.is_file() {
            return Err(Error::invalid(
                format!("{}", root.display()),
                "not an OCI image layout (no oci-layout file); create one with `skopeo copy … oci:DIR` or `umoci init`",
            ));
        }
        Ok(Layout {
            root: root.to_path_buf(),
            options: options.clone(),
        })
    }

    /// Create an empty layout at `root` (used by tests and `copy`).
    pub fn init(root: &Path) -> Result<Layout> {
        let ctx = |what: &str| format!("creating OCI layout {}: {what}", root.display());
        std::fs::create_dir_all(root.join("blobs/sha256"))
            .map_err(|e| Error::io(ctx("blobs"), e))?;
        if !root.join("oci-layout").exists() {
            std::fs::write(
                root.join("oci-layout"),
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )
            .map_err(|e| Error::io(ctx("oci-layout"), e))?;
        }
        if !root.join("index.json").exists() {
            let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
            std::fs::write(root.join("index.json"), index.to_string())
                .map_err(|e| Error::io(ctx("index.json"), e))?;
        }
        Layout::open(root, &StoreOptions::default())
    }

    /// Where blob `d` lives: `blobs/<alg>/<hex>`.
    pub(crate) fn blob_path(&self, d: &Digest) -> PathBuf {
        let alg = d.to_string();
        let alg = alg.split(':').next().unwrap_or("sha256").to_string();
        self.root.join("blobs").join(alg).join(d.hex())
    }

    fn read_index(&self) -> Result<Value> {
        let path = self.root.join("index.json");
        let what = format!("{}", path.display());
        // A local file: too large is a usage error (exit 2), not an integrity failure.
        let bytes = crate::util::fs::read_capped(&path, MAX_INDEX_BYTES, "a layout index.json")?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(&what, format!("not valid JSON: {e}")))?;
        if !v.get("manifests").map(Value::is_array).unwrap_or(false) {
            return Err(Error::invalid(&what, "has no manifests array"));
        }
        Ok(v)
    }

    fn read_file_capped(&self, d: &Digest, cap: u64, what: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(d);
        let bytes = match crate::util::fs::read_capped(&path, cap, "a layout blob") {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(Error::NotFound {
                    what: format!("{what} in layout {}", self.root.display()),
                })
            }
            // Content larger than its cap is refused like an oversized registry blob.
            Err(crate::util::fs::FileError::TooLarge { .. }) => {
                return Err(Error::TooLarge {
                    what: what.to_string(),
                    limit: cap,
                })
            }
            Err(e) => return Err(e.into()),
        };
        d.verify(&bytes, what)?;
        Ok(bytes)
    }

    /// Fetch a manifest by ref name or digest; `Ok(None)` when absent.
    ///
    /// Its media type comes from the `index.json` entry that lists it (by ref name, or for a
    /// digest the first entry with that digest), else from its own `mediaType` field, else
    /// from its shape: a manifest need not carry `mediaType` (umoci writes none), and an image
    /// manifest's media type is part of what a notation signature signs.
    pub fn get_manifest(&self, r: &ManifestRef) -> Result<Option<Manifest>> {
        let (digest, media_type) = match r {
            ManifestRef::Digest(d) => {
                let listed = self.read_index()?["manifests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["digest"].as_str() == Some(d.to_string().as_str()))
                    .and_then(|m| m["mediaType"].as_str())
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                (d.clone(), listed)
            }
            ManifestRef::Tag(name) => {
                let index = self.read_index()?;
                let found = index["manifests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["annotations"][REF_NAME].as_str() == Some(name.as_str()));
                let Some(entry) = found else { return Ok(None) };
                let d: Digest =
                    entry["digest"]
                        .as_str()
                        .unwrap_or("")
                        .parse()
                        .map_err(|e: Error| {
                            Error::invalid("index.json", format!("entry {name:?}: {e}"))
                        })?;
                (d, entry["mediaType"].as_str().map(str::to_string))
            }
        };
        let what = format!("manifest {r} in layout {}", self.root.display());
        let bytes = match self.read_file_capped(&digest, self.options.max_manifest_bytes, &what) {
            Ok(b) => b,
            Err(Error::NotFound { .. }) if matches!(r, ManifestRef::Digest(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let media_type = media_type
            .filter(|t| !t.is_empty())
            .or_else(|| embedded_media_type(&bytes))
            .or_else(|| media_type_from_shape(&bytes))
            .unwrap_or_default();
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// The manifests of this layout whose `subject` is `subject`, as a registry's referrers
    /// API would list them (digest, size, media type, `artifactType` — else the config's media
    /// type — and annotations). Every manifest `index.json` lists is read, and the manifests
    /// of the image indexes among them, as oras-go's layout store (which notation uses) indexes
    /// them: notation 1.3 stores a signature as an `index.json` entry with a `subject` and no
    /// referrers tag schema index. Unreadable entries become warnings.
    pub fn referrers_by_subject(
        &self,
        subject: &Digest,
    ) -> Result<(Vec<crate::oci::Descriptor>, Vec<String>)> {
        const MAX_SCANNED: usize = 10_000;
        const MAX_DEPTH: usize = 4;
        let index = self.read_index()?;
        let wanted = subject.to_string();
        let mut found = Vec::new();
        let mut warnings = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut queue: std::collections::VecDeque<(Value, usize)> = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| (m.clone(), 0))
            .collect();
        while let Some((entry, depth)) = queue.pop_front() {
            let Some(text) = entry["digest"].as_str() else {
                continue;
            };
            if !seen.insert(text.to_string()) {
                continue;
            }
            if seen.len() > MAX_SCANNED {
                warnings.push(format!(
                    "layout {}: stopped looking for referrers after {MAX_SCANNED} manifests",
                    self.root.display()
                ));
                break;
            }
            let listed_type = entry["mediaType"].as_str().unwrap_or("");
            // Blobs that are not manifests (a layout may list anything) are not read.
            if !listed_type.is_empty()
                && !MANIFEST_MEDIA_TYPES.contains(&listed_type)
                && !listed_type.ends_with("+json")
            {
                continue;
            }
            let Ok(d) = text.parse::<Digest>() else {
                warnings.push(format!(
                    "layout {}: index.json entry {text:?} is not a digest; skipped",
                    self.root.display()
                ));
                continue;
            };
            let what = format!("manifest {d} in layout {}", self.root.display());
            let bytes = match self.read_file_capped(&d, self.options.max_manifest_bytes, &what) {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(format!("{e}; skipped while looking for referrers"));
                    continue;
                }
            };
            let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if depth < MAX_DEPTH {
                if let Some(children) = v["manifests"].as_array() {
                    queue.extend(children.iter().map(|c| (c.clone(), depth + 1)));
                }
            }
            if v["subject"]["digest"].as_str() != Some(wanted.as_str()) {
                continue;
            }
            let media_type = Some(listed_type.to_string())
                .filter(|t| !t.is_empty())
                .or_else(|| embedded_media_type(&bytes))
                .or_else(|| media_type_from_shape(&bytes))
                .unwrap_or_default();
            let artifact_type = v["artifactType"]
                .as_str()
                .or_else(|| v["config"]["mediaType"].as_str())
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            let annotations = v["annotations"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            found.push(crate::oci::Descriptor {
                media_type,
                size: bytes.len() as u64,
                digest: d.to_string(),
                annotations,
                artifact_type,
                ..crate::oci::Descriptor::default()
            });
        }
        Ok((found, warnings))
    }

    /// Read a blob, refusing it when over `cap`, not `size` bytes, or not matching `digest`.
    pub fn get_blob(&self, digest: &Digest, size: u64, cap: u64) -> Result<Vec<u8>> {
        let what = format!("blob {digest}");
        if size > cap {
            return Err(Error::TooLarge { what, limit: cap });
        }
        self.read_file_capped(digest, size.min(cap), &what)
    }

    /// Write a blob unless present.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256(bytes);
        let path = self.blob_path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let tmp = write_temp(&path, bytes, 0o644)?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", path.display()), e)
        })?;
        Ok(digest)
    }

    /// True when blob `digest` is present (its file exists; its content is checked on read).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A fresh temporary path beside where blob `digest` will live (same directory, so the
    /// final rename is atomic), creating the directory if needed.
    pub(crate) fn staging_path(&self, digest: &Digest) -> Result<PathBuf> {
        let path = self.blob_path(digest);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(dir.join(super::temp_name(digest)))
    }

    /// Move a verified temporary file (from [`Layout::staging_path`]) into place as blob
    /// `digest`.
    pub(crate) fn commit_blob(&self, staged: &Path, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        std::fs::rename(staged, &path)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// Write a manifest blob and, with `tag`, point that ref name at it in `index.json`.
    pub fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest> {
        let digest = self.put_blob(bytes)?;
        let Some(tag) = tag else { return Ok(digest) };
        let mut index = self.read_index()?;
        let entry = json!({
            "mediaType": media_type,
            "digest": digest.to_string(),
            "size": bytes.len(),
            "annotations": {REF_NAME: tag},
        });
        if let Some(list) = index["manifests"].as_array_mut() {
            list.retain(|m| m["annotations"][REF_NAME].as_str() != Some(tag));
            list.push(entry);
        }
        let path = self.root.join("index.json");
        let body =
            serde_json::to_vec(&index).map_err(|e| Error::invalid("index.json", e.to_string()))?;
        let tmp = write_temp(&path, &body, 0o644)?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", path.display()), e)
        })?;
        Ok(digest)
    }
}

/// The media type of a manifest without a `mediaType` field, from its shape (OCI image spec:
/// the field is optional for both): `manifests` makes it an image index, `config` an image
/// manifest (Docker schema 2 always writes `mediaType`).
fn media_type_from_shape(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if v.get("manifests").is_some_and(Value::is_array) {
        Some(OCI_INDEX.to_string())
    } else if v.get("config").is_some_and(Value::is_object) {
        Some(OCI_MANIFEST.to_string())
    } else {
        None
    }
}
