//! OCI image layouts on disk: the one way tests make a layout and put an image in it.
#![allow(dead_code)]
use super::registry::push_image_to;
use imgseal::reference::ImageRef;
use imgseal::store::layout::Layout;
use imgseal::store::{Store, StoreOptions};
use imgseal::Digest;
use std::path::Path;

/// The layout at `dir` (created, with `oci-layout` and an empty `index.json`, when missing),
/// opened as a [`Store`].
pub fn open(dir: &Path) -> Store {
    Layout::init(dir).unwrap();
    Store::open(
        &ImageRef::parse(&format!("oci:{}", dir.display())).unwrap(),
        &StoreOptions::default(),
        true,
    )
    .unwrap()
}

/// A small image (one layer holding `content`) in the layout at `dir` under `ref_name`: its
/// `oci:DIR:REF` reference and its manifest digest.
pub async fn image(dir: &Path, ref_name: &str, content: &[u8]) -> (String, Digest) {
    let store = open(dir);
    let digest = push_image_to(&store, ref_name, content).await;
    (format!("oci:{}:{ref_name}", dir.display()), digest)
}

/// [`image`] for tests without a runtime of their own.
pub fn image_blocking(dir: &Path, ref_name: &str, content: &[u8]) -> (String, Digest) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(image(dir, ref_name, content))
}

/// slsa-github-generator's container attestation fixture (`src`: an OCI layout directory of
/// `../shared/interop/attestations/slsa/…`) in the layout at `dir`: every blob, the image index
/// under ref name `main`, and its `.att` manifest, passed through `att` first, at
/// `sha256-<index hex>.att`. The index digest and the `.att` manifest written.
pub async fn slsa_attestation(
    src: &Path,
    dir: &Path,
    att: impl FnOnce(Vec<u8>) -> Vec<u8>,
) -> (Digest, Vec<u8>) {
    let store = open(dir);
    let blobs = src.join("blobs/sha256");
    for e in std::fs::read_dir(&blobs).unwrap() {
        store
            .put_blob(&std::fs::read(e.unwrap().path()).unwrap())
            .await
            .unwrap();
    }
    let index = std::fs::read(
        blobs.join("234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122"),
    )
    .unwrap();
    let digest = store
        .put_manifest(&index, imgseal::oci::OCI_INDEX, Some("main"))
        .await
        .unwrap();
    let att = att(std::fs::read(
        blobs.join("21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe"),
    )
    .unwrap());
    store
        .put_manifest(
            &att,
            imgseal::oci::OCI_MANIFEST,
            Some(&format!("sha256-{}.att", digest.hex())),
        )
        .await
        .unwrap();
    (digest, att)
}
