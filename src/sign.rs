//! The signing pipeline: resolve → payload → sign → attach at `sha256-<hex>.sig`.

use crate::formats::cosign::{self, Descriptor, Payload, SignatureManifest};
use crate::reference::ImageRef;
use crate::store::{Manifest, ManifestRef, Store, StoreOptions, OCI_MANIFEST};
use crate::{Digest, Error, Result, SigningKey};
use base64::Engine as _;
use std::collections::BTreeMap;

/// The outcome of [`Signer::sign`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct Signed {
    /// The image as given.
    pub image: String,
    /// The manifest digest that was signed.
    pub digest: Digest,
    /// The identity (`docker-reference`) written into the payload.
    pub identity: String,
    /// The tag the signature manifest was written to.
    pub signature_tag: String,
    /// False when an identical signature was already attached (nothing changed).
    pub added: bool,
    /// Registry requests made.
    pub requests: u64,
}

/// Signs images with one key, writing cosign's legacy format.
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
    options: StoreOptions,
}

/// An image resolved to its manifest in its store.
pub(crate) struct Resolved {
    pub store: Store,
    pub manifest: Manifest,
    pub identity: String,
}

/// Open the store for `image` and fetch its manifest, re-hashing the bytes.
pub(crate) async fn resolve(
    image: &ImageRef,
    options: &StoreOptions,
    write: bool,
) -> Result<Resolved> {
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
        identity,
    })
}

impl Signer {
    /// A signer using `key` and default store options.
    pub fn new(key: SigningKey) -> Signer {
        Signer {
            key,
            options: StoreOptions::default(),
        }
    }

    /// Use these store options (plain HTTP, caps).
    pub fn with_options(mut self, options: StoreOptions) -> Signer {
        self.options = options;
        self
    }

    /// Sign `image` (its manifest digest, repository and `annotations`) and attach the
    /// signature at `sha256-<hex>.sig`, keeping every signature already there.
    pub async fn sign(
        &self,
        image: &ImageRef,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Signed> {
        let Resolved {
            store,
            manifest,
            identity,
        } = resolve(image, &self.options, true).await?;
        let digest = manifest.digest.clone();
        let payload = Payload::new(&identity, &digest, annotations).to_bytes()?;
        let signature = base64::engine::general_purpose::STANDARD.encode(self.key.sign(&payload));
        let layer = Descriptor {
            media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            size: payload.len() as u64,
            digest: Digest::sha256(&payload).to_string(),
            annotations: BTreeMap::from([(cosign::SIGNATURE_ANNOTATION.to_string(), signature)]),
        };
        let tag = digest.signature_tag();
        let mut layers = match store.get_manifest(&ManifestRef::Tag(tag.clone())).await? {
            Some(existing) => {
                SignatureManifest::from_bytes(&existing.bytes)
                    .map_err(|e| {
                        Error::invalid(
                            format!("existing signature manifest at tag {tag}"),
                            format!("{e}; refusing to replace it"),
                        )
                    })?
                    .layers
            }
            None => Vec::new(),
        };
        let added = !layers.contains(&layer);
        if added {
            layers.push(layer);
            store.put_blob(&payload).await?;
            let (sig_manifest, config) = cosign::signature_manifest(layers);
            store.put_blob(&config).await?;
            store
                .put_manifest(&sig_manifest.to_bytes()?, OCI_MANIFEST, Some(&tag))
                .await?;
        }
        Ok(Signed {
            image: image.to_string(),
            digest,
            identity,
            signature_tag: tag,
            added,
            requests: store.requests(),
        })
    }
}
