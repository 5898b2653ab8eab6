//! Resolving an image reference to its manifest in its store: the first step of every
//! pipeline (sign, verify, policy, tree).

use crate::oci::Manifest;
use crate::reference::ImageRef;
use crate::store::{ManifestRef, Store, StoreOptions};
use crate::{Error, Result};

/// An image resolved to its manifest in its store.
pub struct Resolved {
    /// The store the image lives in.
    pub store: Store,
    /// The image's manifest (bytes re-hashed against the digest they were fetched by).
    pub manifest: Manifest,
    /// The repository (`docker-reference`) signatures of this image name.
    pub repository: String,
}

/// Open the store for `image` and fetch its manifest, re-hashing the bytes.
pub async fn resolve(image: &ImageRef, options: &StoreOptions, write: bool) -> Result<Resolved> {
    let store = Store::open(image, options, write)?;
    let (wanted, identity) = match image {
        ImageRef::Registry(r) => (
            match (r.digest(), r.tag()) {
                (Some(d), _) => ManifestRef::Digest(d.clone()),
                (None, Some(t)) => ManifestRef::Tag(t.to_string()),
                (None, None) => ManifestRef::Tag("latest".into()),
            },
            r.cosign_identity(),
        ),
        ImageRef::Layout(l) => (
            match (&l.digest, &l.name) {
                (Some(d), _) => ManifestRef::Digest(d.clone()),
                (None, Some(n)) => ManifestRef::Tag(n.clone()),
                (None, None) => ManifestRef::Tag("latest".into()),
            },
            l.identity(),
        ),
    };
    let manifest = store
        .get_manifest(&wanted)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: format!("image {image}"),
        })?;
    Ok(Resolved {
        store,
        manifest,
        repository: identity,
    })
}
