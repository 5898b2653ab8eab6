//! The `.sig` manifest (one layer per signature) and its config blob, byte-for-byte as
//! cosign writes them; the referrer artifact types and the legacy tag suffixes.

use crate::oci::OCI_MANIFEST;
use crate::Digest;
use serde::Serialize;

const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub use crate::oci::Descriptor;

/// The manifest at a `.sig` tag (an OCI image manifest).
pub type SignatureManifest = crate::oci::ImageManifest;

/// `artifactType` cosign uses for signatures attached as OCI 1.1 referrers
/// (`--registry-referrers-mode=oci-1-1`).
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// `artifactType` of cosign v3's Sigstore bundles attached as referrers.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Legacy tag suffix for attestations.
pub(crate) const ATTESTATION_TAG_SUFFIX: &str = ".att";
/// Legacy tag suffix for SBOMs.
pub(crate) const SBOM_TAG_SUFFIX: &str = ".sbom";

/// The config blob for a `.sig` manifest with these layers, byte-for-byte as cosign (through
/// go-containerregistry's `mutate.Append` on an empty image) writes it.
pub fn config_blob(layers: &[Descriptor]) -> Vec<u8> {
    #[derive(Serialize)]
    struct History {
        created: &'static str,
    }
    #[derive(Serialize)]
    struct RootFs<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        diff_ids: Vec<&'a str>,
    }
    #[derive(Serialize)]
    struct Empty {}
    #[derive(Serialize)]
    struct Config<'a> {
        architecture: &'static str,
        created: &'static str,
        history: Vec<History>,
        os: &'static str,
        rootfs: RootFs<'a>,
        config: Empty,
    }
    let cfg = Config {
        architecture: "",
        created: ZERO_TIME,
        history: layers
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.digest.as_str()).collect(),
        },
        config: Empty {},
    };
    serde_json::to_vec(&cfg).unwrap_or_default()
}

/// Build the `.sig` manifest and its config blob for `layers`.
pub fn signature_manifest(layers: Vec<Descriptor>) -> (SignatureManifest, Vec<u8>) {
    let config = config_blob(&layers);
    let manifest = SignatureManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.to_string(),
            size: config.len() as u64,
            digest: Digest::sha256(&config).to_string(),
            ..Descriptor::default()
        },
        layers,
        ..SignatureManifest::default()
    };
    (manifest, config)
}
