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
