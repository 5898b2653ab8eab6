//! The OCI signature manifest that attaches a Notary Project envelope to its subject, in the
//! OCI 1.1 artifact shape notation 1.1+ writes and the legacy shape of notation 1.0.

use super::*;
use crate::oci::OCI_MANIFEST;
use crate::oci::{Descriptor, ImageManifest, EMPTY_BLOB, EMPTY_MEDIA_TYPE};
use crate::Digest;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// A signature manifest ready to push: upload [`EMPTY_BLOB`] (the config) and the envelope (the
/// layer), then push [`SignatureManifest::bytes`] exactly as they are.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SignatureManifest {
    /// The manifest.
    pub manifest: ImageManifest,
    /// Its serialised bytes (what the digest covers).
    pub bytes: Vec<u8>,
    /// `sha256:` digest of `bytes`.
    pub digest: String,
    /// The envelope's layer descriptor.
    pub envelope_layer: Descriptor,
    /// The config blob (`{}`, media type [`EMPTY_MEDIA_TYPE`]).
    pub config_blob: &'static [u8],
}

/// The OCI 1.1 artifact manifest notation 1.1 and later write for a signature: `artifactType`
/// [`ARTIFACT_TYPE`], the empty config (`application/vnd.oci.empty.v1+json`, `{}`), one layer
/// (the envelope, [`ENVELOPE_MEDIA_TYPE`]), `subject` = the signed manifest (media type, digest,
/// size), and annotations [`THUMBPRINT_ANNOTATION`] (from the envelope's `x5c`) and
/// [`CREATED_ANNOTATION`] (`created`, RFC 3339 UTC).
pub fn signature_manifest(
    envelope: &[u8],
    subject: &Descriptor,
    created: SystemTime,
) -> Result<SignatureManifest, EnvelopeError> {
    let parsed = parse_envelope(envelope)?;
    let thumbprints: Vec<String> = parsed
        .certificate_chain
        .iter()
        .map(|der| Digest::sha256(der).hex().to_string())
        .collect();
    let thumbprints = serde_json::to_string(&thumbprints).map_err(|e| EnvelopeError::Encode {
        what: "thumbprints",
        reason: e.to_string(),
    })?;
    let created = format_rfc3339(
        unix_seconds(created, "the creation time")?,
        "the creation time",
    )?;
    let envelope_layer = Descriptor::of(ENVELOPE_MEDIA_TYPE, envelope);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(ARTIFACT_TYPE.to_string()),
        config: Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_BLOB),
        layers: vec![envelope_layer.clone()],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            size: subject.size,
            digest: subject.digest.clone(),
            ..Descriptor::default()
        }),
        annotations: BTreeMap::from([
            (THUMBPRINT_ANNOTATION.to_string(), thumbprints),
            (CREATED_ANNOTATION.to_string(), created),
        ]),
    };
    let bytes = encode_json(&manifest, "signature manifest")?;
    Ok(SignatureManifest {
        digest: Digest::sha256(&bytes).to_string(),
        manifest,
        bytes,
        envelope_layer,
        config_blob: EMPTY_BLOB,
    })
}

/// True for a Notary Project signature manifest in either shape: OCI 1.1 artifact
/// (`artifactType` = [`ARTIFACT_TYPE`], empty config; notation 1.1+) or the legacy image
/// manifest released notation 1.0 writes (no `artifactType`, `config.mediaType` =
/// [`ARTIFACT_TYPE`]). Use [`envelope_layer`] next to find the envelope.
pub fn is_notation_signature_manifest(manifest: &ImageManifest) -> bool {
    match manifest.artifact_type.as_deref() {
        None | Some("") => manifest.config.media_type == ARTIFACT_TYPE,
        Some(ARTIFACT_TYPE) => {
            manifest.config.media_type == EMPTY_MEDIA_TYPE
                || manifest.config.media_type == ARTIFACT_TYPE
        }
        Some(_) => false,
    }
}

/// The envelope layer of a Notary Project signature manifest: exactly one layer, of media type
/// [`ENVELOPE_MEDIA_TYPE`] (COSE and anything else are refused as unsupported).
pub fn envelope_layer(manifest: &ImageManifest) -> Result<&Descriptor, EnvelopeError> {
    let [layer] = manifest.layers.as_slice() else {
        return Err(EnvelopeError::LayerCount(manifest.layers.len()));
    };
    if layer.media_type != ENVELOPE_MEDIA_TYPE {
        return Err(EnvelopeError::UnsupportedEnvelopeMediaType(
            layer.media_type.clone(),
        ));
    }
    Ok(layer)
}
