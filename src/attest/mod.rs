//! Attestations: signed in-toto statements about an image (vulnerability scans, SBOMs, SLSA
//! provenance), written and read in both of cosign's layouts.
//!
//! * [`Attester`] builds the statement `cosign attest` builds (subject = the image's manifest
//!   digest; see [`crate::formats::intoto`]), wraps it in a DSSE envelope of type
//!   `application/vnd.in-toto+json`, signs it, and attaches it — as a layer of the
//!   `sha256-<hex>.att` manifest (added beside the attestations already there, through the
//!   same read → write → confirm loop signing uses for shared tags), or with
//!   [`Attester::with_bundle`] as a Sigstore bundle v0.3 referrer (cosign v3).
//! * [`AttestationVerifier`] finds the attestations of an image in the `.att` tag and among its
//!   referrers (API, or the tag schema's index; bundles and DSSE layers), and verifies each
//!   envelope: the signatures over the DSSE PAE with the given authorities, the payload type,
//!   the statement's subject (this digest) and its predicate type (the one asked for). An
//!   attestation about another digest, or of another type, is never accepted.
//! * Authorities ([`Authority`]) are keys, certificate roots (cosign certificate mode), or
//!   **keyless**: a Sigstore trusted root with the identities that may sign, checked offline as
//!   keyless signatures are — a bundle v0.3 referrer in full through [`crate::verify::sigstore`]
//!   (Fulcio chain at the integrated time or timestamp, SCT, tlog entry recording this envelope,
//!   identity), a legacy `.att` layer through its certificate, chain and Rekor bundle
//!   annotations ([`crate::verify::verify_keyless_envelope`]: SET, intoto/dsse entry body ↔
//!   envelope).
//!
//! **Several signatures on one envelope**: by default ([`EnvelopeSignatures::Every`]) every
//! signature an envelope carries must verify with one of the given authorities, so an
//! envelope with one good and one bad (or unknown) signature is refused as a whole;
//! [`EnvelopeSignatures::Any`] accepts an envelope when at least one of its signatures verifies
//! (what cosign does) and ignores the others.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use imgseal::attest::{AttestationVerifier, Attester, Authority};
//! use imgseal::{ImageRef, SigningKey};
//!
//! let image = ImageRef::parse("registry.example/app:1.0")?;
//! let key = SigningKey::from_file("cosign.key".as_ref(), Some(b"password"))?;
//! let report = std::fs::read("trivy.json")?; // `trivy image -f json`: wrapped for `vuln`
//! let attested = Attester::new(key.clone()).attest(&image, "vuln", &report).await?;
//! println!("attested {} ({})", attested.digest, attested.predicate_type);
//!
//! let verification = AttestationVerifier::new(vec![Authority::key("scanner", key.public_key())])
//!     .with_predicate_type(Some("vuln"))?
//!     .verify(&image)
//!     .await?;
//! for statement in verification.statements() {
//!     println!("{}", statement.predicate_type);
//! }
//! # Ok(()) }
//! ```

use crate::crypto::keys::{PublicKey, SigningKey};
use crate::formats::cosign::bundle::{self, Bundle, Content, DsseEnvelope, Statement};
use crate::formats::cosign::{self as cosign_format, Descriptor, SignatureManifest};
use crate::formats::intoto::{self, IntotoError};
use crate::oci::Manifest;
use crate::pki::Certificate;
use crate::reference::ImageRef;
use crate::store::resolve::{resolve, Resolved};
use crate::store::{ManifestRef, ReferrerScheme, Store, StoreOptions, MAX_SIGNATURE_CANDIDATES};
use crate::trust::CertificateTrust;
use crate::verify::sigstore::{verify_parsed, Artifact, BundleOptions, BundlePolicy};
use crate::verify::{KeylessSigned, KeylessTrust};
use crate::{Digest, Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

mod verifier;

pub use verifier::{AttestationCheck, AttestationVerification, AttestationVerifier};

/// Why an attestation could not be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The predicate (or its type) was refused.
    #[error(transparent)]
    Predicate(#[from] IntotoError),
    /// The Sigstore bundle would be larger than verifiers read.
    #[error("the Sigstore bundle would be {size} bytes, over the {cap}-byte bundle cap; attach this predicate in the legacy .att layout")]
    BundleTooLarge {
        /// Its size.
        size: u64,
        /// The cap ([`bundle::MAX_BUNDLE_BYTES`]).
        cap: u64,
    },
    /// An [`AttestationVerifier`] was given no authority.
    #[error("no authority to verify attestations against")]
    NoAuthority,
}

/// Whose attestations count: a named trust root. Authorities are resolved by name (a policy's
/// `authorities:` map); more kinds (keyless) can be added without changing callers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Authority {
    /// A public key: the envelope signature verifies with it.
    Key {
        /// Its name, reported in [`AttestationCheck::signed_by`].
        name: String,
        /// The key.
        key: PublicKey,
    },
    /// cosign certificate mode: the envelope signature verifies with the key of a signing
    /// certificate carried beside it (the `.att` layer's `dev.sigstore.cosign/certificate` and
    /// `…/chain` annotations, or the bundle's certificate) that chains to these roots and
    /// carries the identity or subject asked for.
    Certificate {
        /// Its name.
        name: String,
        /// Roots and identity.
        trust: Arc<CertificateTrust>,
    },
    /// Keyless (Fulcio and Rekor), checked offline against a Sigstore trusted root, as
    /// keyless signatures are ([`crate::verify::KeylessTrust`]): a Sigstore bundle v0.3
    /// referrer is verified in full by [`crate::verify::sigstore`] (certificate chain at the
    /// integrated time or timestamp, SCT, transparency-log entry recording this envelope,
    /// identity); a legacy `.att` layer by its `dev.sigstore.cosign/certificate`, `…/chain`
    /// and `…/bundle` annotations ([`crate::verify::verify_keyless_envelope`]).
    Keyless {
        /// Its name.
        name: String,
        /// Trusted root, identities and what is required (tlog, SCT, timestamp).
        trust: Arc<KeylessTrust>,
    },
}

impl Authority {
    /// A key authority.
    pub fn key(name: impl Into<String>, key: PublicKey) -> Authority {
        Authority::Key {
            name: name.into(),
            key,
        }
    }

    /// A certificate authority.
    pub fn certificate(name: impl Into<String>, trust: CertificateTrust) -> Authority {
        Authority::Certificate {
            name: name.into(),
            trust: Arc::new(trust),
        }
    }

    /// A keyless authority.
    pub fn keyless(name: impl Into<String>, trust: KeylessTrust) -> Authority {
        Authority::Keyless {
            name: name.into(),
            trust: Arc::new(trust),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            Authority::Key { name, .. }
            | Authority::Certificate { name, .. }
            | Authority::Keyless { name, .. } => name,
        }
    }
}

/// Which of an envelope's signatures must verify (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvelopeSignatures {
    /// Every signature present must verify with a given authority (the default).
    #[default]
    Every,
    /// At least one must; the others are ignored.
    Any,
}

/// What [`Attester::attest`] did.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attested {
    /// The image as given.
    pub image: String,
    /// The manifest digest attested (the statement's subject).
    pub digest: Digest,
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The `.att` tag written (legacy layout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_tag: Option<String>,
    /// The bundle referrer's digest and how it was made discoverable (bundle layout).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::store::referrer_object"
    )]
    pub referrer: Option<(Digest, ReferrerScheme)>,
    /// False when an identical attestation was already attached.
    pub added: bool,
    /// The statement signed.
    pub statement: Statement,
    /// Registry requests made.
    pub requests: u64,
}

/// Signs predicates about images and attaches them as cosign does (see the module docs).
#[derive(Clone, Debug)]
pub struct Attester {
    key: SigningKey,
    chain: Vec<Certificate>,
    bundle: bool,
    options: StoreOptions,
    now: Option<SystemTime>,
}

/// The tag of `digest`'s legacy attestations: `sha256-<hex>.att`.
pub fn attestation_tag(digest: &Digest) -> String {
    format!(
        "{}{}",
        crate::store::referrers_tag(digest),
        cosign_format::ATTESTATION_TAG_SUFFIX
    )
}

impl Attester {
    /// An attester signing with `key`, legacy `.att` layout, default store options.
    pub fn new(key: SigningKey) -> Attester {
        Attester {
            key,
            chain: Vec::new(),
            bundle: false,
            options: StoreOptions::default(),
            now: None,
        }
    }

    /// The signing certificate and its issuers, leaf first (cosign certificate mode): on the
    /// `.att` layer as `dev.sigstore.cosign/certificate` and `…/chain`, in a bundle as its
    /// certificate. The leaf must hold this attester's public key.
    pub fn with_certificate_chain(mut self, chain: Vec<Certificate>) -> Result<Attester> {
        if let Some(leaf) = chain.first() {
            if leaf.public_key_spki() != self.key.public_key_der()?.as_slice() {
                return Err(Error::Usage(format!(
                    "the certificate {} is not for this key (its public key differs)",
                    leaf.subject()
                )));
            }
        }
        self.chain = chain;
        Ok(self)
    }

    /// Attach as a Sigstore bundle v0.3 referrer (cosign v3 `--new-bundle-format`) instead of
    /// a layer of the `.att` tag.
    pub fn with_bundle(mut self, bundle: bool) -> Attester {
        self.bundle = bundle;
        self
    }

    /// Use these store options.
    pub fn with_options(mut self, options: StoreOptions) -> Attester {
        self.options = options;
        self
    }

    /// The instant written as the `custom` predicate's `Timestamp` and the bundle referrer's
    /// `org.opencontainers.image.created` (`None`: the system clock).
    pub fn with_now(mut self, now: Option<SystemTime>) -> Attester {
        self.now = now;
        self
    }

    /// The predicate type and predicate `kind` (a cosign short name or a URI) and `predicate`
    /// (the file's bytes) give, checked before anything is fetched: callers can call it early.
    pub fn predicate(&self, kind: &str, predicate: &[u8]) -> Result<(String, serde_json::Value)> {
        let now = self.now.unwrap_or_else(SystemTime::now);
        intoto::predicate(kind, predicate, now).map_err(|e| Error::from(AttestError::from(e)))
    }

    /// Attest `image`: the statement over its manifest digest with the predicate of `kind`
    /// (see [`Attester::predicate`]), signed and attached, keeping every attestation already
    /// there.
    pub async fn attest(&self, image: &ImageRef, kind: &str, predicate: &[u8]) -> Result<Attested> {
        let (predicate_type, value) = self.predicate(kind, predicate)?;
        let Resolved {
            store,
            manifest,
            repository,
        } = resolve(image, &self.options, true).await?;
        let statement = intoto::statement(&repository, &manifest.digest, &predicate_type, value);
        let payload = serde_json::to_vec(&statement)
            .map_err(|e| Error::invalid("in-toto statement", e.to_string()))?;
        let envelope = DsseEnvelope::sign(&self.key, bundle::IN_TOTO_PAYLOAD_TYPE, &payload);
        let mut out = Attested {
            image: image.to_string(),
            digest: manifest.digest.clone(),
            predicate_type: predicate_type.clone(),
            attestation_tag: None,
            referrer: None,
            added: false,
            statement,
            requests: 0,
        };
        if self.bundle {
            self.attach_bundle(&store, &manifest, &envelope, &predicate_type, &mut out)
                .await?;
        } else {
            let bytes = intoto::envelope_to_bytes(&envelope);
            let layer = self.legacy_layer(&bytes, &predicate_type);
            let tag = attestation_tag(&manifest.digest);
            out.added =
                crate::sign::attach_to_named_tag(&store, &tag, "attestation", layer, &bytes)
                    .await?;
            out.attestation_tag = Some(tag);
        }
        out.requests = store.requests();
        Ok(out)
    }

    async fn attach_bundle(
        &self,
        store: &Store,
        manifest: &Manifest,
        envelope: &DsseEnvelope,
        predicate_type: &str,
        out: &mut Attested,
    ) -> Result<()> {
        let bytes =
            crate::sign::key_or_certificate_bundle(envelope, &self.key, &self.chain).to_bytes();
        if bytes.len() as u64 > bundle::MAX_BUNDLE_BYTES {
            return Err(AttestError::BundleTooLarge {
                size: bytes.len() as u64,
                cap: bundle::MAX_BUNDLE_BYTES,
            }
            .into());
        }
        let now = self.now.unwrap_or_else(SystemTime::now);
        let (d, scheme, added) =
            crate::sign::attach_bundle_referrer(store, manifest, &bytes, predicate_type, now)
                .await?;
        out.referrer = Some((d, scheme));
        out.added = added;
        Ok(())
    }

    /// The `.att` layer for the envelope `bytes`: cosign's media type and annotations.
    fn legacy_layer(&self, bytes: &[u8], predicate_type: &str) -> Descriptor {
        let mut layer = Descriptor::of(intoto::DSSE_LAYER_MEDIA_TYPE, bytes);
        let mut annotations = BTreeMap::from([
            (
                intoto::PREDICATE_TYPE_ANNOTATION.to_string(),
                predicate_type.to_string(),
            ),
            // cosign writes the signature annotation empty: the signature is in the envelope.
            (
                cosign_format::SIGNATURE_ANNOTATION.to_string(),
                String::new(),
            ),
        ]);
        if let Some((leaf, rest)) = self.chain.split_first() {
            annotations.insert(
                cosign_format::CERTIFICATE_ANNOTATION.to_string(),
                leaf.to_pem(),
            );
            if !rest.is_empty() {
                annotations.insert(
                    cosign_format::CHAIN_ANNOTATION.to_string(),
                    rest.iter().map(|c| c.to_pem()).collect(),
                );
            }
        }
        layer.annotations = annotations;
        layer
    }
}

/// How many candidates one image has had examined (each `.att` layer, each referrer).
#[derive(Default)]
pub(crate) struct Budget {
    used: usize,
    pub(crate) capped: bool,
}

impl Budget {
    /// Count one more; false (and remembered) past [`MAX_SIGNATURE_CANDIDATES`].
    pub(crate) fn take(&mut self) -> bool {
        if self.used >= MAX_SIGNATURE_CANDIDATES {
            self.capped = true;
            return false;
        }
        self.used += 1;
        true
    }
}

/// Why one attestation candidate does not count (the per-attestation reason).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationRejected {
    /// The Sigstore bundle or the statement does not parse.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    /// The DSSE envelope of a legacy layer does not parse.
    #[error(transparent)]
    Envelope(#[from] IntotoError),
    /// The bundle holds a message signature.
    #[error("the bundle holds a message signature, not a DSSE attestation")]
    MessageSignature,
    /// A certificate annotation of the layer does not hold PEM certificates.
    #[error("{key} annotation: {reason}")]
    Annotation {
        /// The annotation.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The envelope's payload type is not in-toto's.
    #[error(
        "DSSE payload type is {found:?}, not {:?}",
        bundle::IN_TOTO_PAYLOAD_TYPE
    )]
    PayloadType {
        /// The payload type found.
        found: String,
    },
    /// The envelope's signatures are not accepted: why each one did not verify.
    #[error("{0}")]
    Signatures(String),
    /// The statement is about other digests.
    #[error("the statement's subject names {named}, not this image's {digest}")]
    Subject {
        /// The digests it names.
        named: String,
        /// This image's digest.
        digest: Digest,
    },
    /// The statement's predicate type is not the one asked for.
    #[error("predicate type is {found:?}, not {want:?}")]
    PredicateType {
        /// The predicate type found.
        found: String,
        /// The one asked for.
        want: String,
    },
    /// A keyless bundle does not verify against the trusted root.
    #[error(transparent)]
    Sigstore(#[from] crate::verify::sigstore::SigstoreError),
    /// A keyless legacy layer does not verify.
    #[error(transparent)]
    Keyless(#[from] crate::verify::KeylessError),
    /// A bundle whose signer is a key where a keyless authority needs a certificate.
    #[error("the bundle's signer is not a certificate")]
    NotACertificate,
    /// The candidate carries nothing a keyless authority can check.
    #[error("no keyless material")]
    NoKeylessMaterial,
    /// The layer cannot be read (bad digest, media type, fetch failure).
    #[error("{0}")]
    Layer(String),
    /// The attestation manifest cannot be used.
    #[error("{0}")]
    Manifest(String),
}

/// An envelope to check, with the certificates that came with it.
pub(crate) struct Candidate {
    pub envelope: DsseEnvelope,
    pub certificates: Vec<Certificate>,
    /// The Sigstore bundle it came in (keyless authorities verify it in full).
    pub bundle: Option<Bundle>,
    /// The legacy layer it came in and the envelope's bytes (keyless authorities read the
    /// layer's certificate and Rekor bundle annotations).
    pub layer: Option<(Descriptor, Vec<u8>)>,
}

/// The envelope of a Sigstore bundle: DSSE only (a message signature is not an attestation).
pub(crate) fn bundle_candidate(
    bytes: &[u8],
) -> std::result::Result<Candidate, AttestationRejected> {
    let parsed = Bundle::from_bytes(bytes)?;
    match &parsed.content {
        Content::Dsse(envelope) => Ok(Candidate {
            envelope: envelope.clone(),
            certificates: parsed.verification_material.certificates.clone(),
            bundle: Some(parsed),
            layer: None,
        }),
        Content::MessageSignature(_) => Err(AttestationRejected::MessageSignature),
    }
}

/// The envelope of a legacy `.att` layer and the certificates its annotations carry (only
/// parsed when `want_certificates`).
pub(crate) fn legacy_candidate(
    bytes: &[u8],
    layer: &Descriptor,
    want_certificates: bool,
) -> std::result::Result<Candidate, AttestationRejected> {
    let envelope = intoto::envelope_from_bytes(bytes)?;
    let mut certificates = Vec::new();
    if want_certificates {
        for key in [
            cosign_format::CERTIFICATE_ANNOTATION,
            cosign_format::CHAIN_ANNOTATION,
        ] {
            if let Some(pem) = layer.annotations.get(key) {
                certificates.extend(crate::pki::load_pem_certificates(pem.as_bytes()).map_err(
                    |e| AttestationRejected::Annotation {
                        key,
                        reason: e.to_string(),
                    },
                )?);
            }
        }
    }
    Ok(Candidate {
        envelope,
        certificates,
        bundle: None,
        layer: Some((layer.clone(), bytes.to_vec())),
    })
}

/// The attested subject and type of a checked envelope.
pub(crate) struct Checked {
    pub signed_by: Vec<String>,
    pub statement: Statement,
    /// What the first keyless signature that verified was checked against.
    pub keyless: Option<KeylessSigned>,
}

/// Verify one envelope (see the module docs): payload type, signatures over the PAE by
/// `authorities` under `rule`, then the statement's subject and predicate type.
pub(crate) fn check_envelope(
    candidate: &Candidate,
    digest: &Digest,
    predicate_type: Option<&str>,
    authorities: &[Authority],
    rule: EnvelopeSignatures,
    now: SystemTime,
) -> std::result::Result<Checked, AttestationRejected> {
    let env = &candidate.envelope;
    if env.payload_type != bundle::IN_TOTO_PAYLOAD_TYPE {
        return Err(AttestationRejected::PayloadType {
            found: env.payload_type.clone(),
        });
    }
    let pae = env.pae();
    let n = env.signatures.len();
    let mut signed_by: Vec<String> = Vec::new();
    let mut keyless: Option<KeylessSigned> = None;
    let mut unverified = Vec::new();
    for (i, s) in env.signatures.iter().enumerate() {
        let mut by = None;
        let mut why = None;
        for a in authorities {
            match a {
                Authority::Key { name, key } => {
                    if key.verify(&pae, &s.sig) {
                        by = Some(name.clone());
                        break;
                    }
                }
                Authority::Certificate { name, trust } => {
                    if candidate.certificates.is_empty() {
                        continue;
                    }
                    match crate::verify::check_certificate_signature(
                        trust,
                        &candidate.certificates,
                        &pae,
                        &s.sig,
                        now,
                    ) {
                        Ok(_) => {
                            by = Some(name.clone());
                            break;
                        }
                        Err(e) => why = Some(e.to_string()),
                    }
                }
                Authority::Keyless { name, trust } => {
                    match check_keyless(candidate, digest, trust, now) {
                        Ok(k) => {
                            keyless.get_or_insert(k);
                            by = Some(name.clone());
                            break;
                        }
                        Err(e) => why = Some(format!("keyless authority {name:?}: {e}")),
                    }
                }
            }
        }
        match by {
            Some(name) => {
                if !signed_by.contains(&name) {
                    signed_by.push(name);
                }
            }
            None => unverified.push(match why {
                Some(w) => format!("signature {} of {n}: {w}", i + 1),
                None => format!(
                    "signature {} of {n} does not verify with any given authority (wrong key, or the envelope was altered)",
                    i + 1
                ),
            }),
        }
    }
    let accepted = match rule {
        EnvelopeSignatures::Every => unverified.is_empty(),
        EnvelopeSignatures::Any => !signed_by.is_empty(),
    };
    if !accepted {
        let mut why = unverified.join("; ");
        if rule == EnvelopeSignatures::Every && !signed_by.is_empty() {
            why.push_str(" (every signature an envelope carries must verify)");
        }
        return Err(AttestationRejected::Signatures(why));
    }
    let statement = Statement::from_bytes(&env.payload)?;
    if statement.subject_for(digest).is_none() {
        let named: Vec<String> = statement
            .subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect();
        return Err(AttestationRejected::Subject {
            named: if named.is_empty() {
                "no digest".to_string()
            } else {
                crate::util::text::bounded_join(&named, ", ", crate::util::text::MAX_LISTED_REASONS)
            },
            digest: digest.clone(),
        });
    }
    if let Some(want) = predicate_type {
        if statement.predicate_type != want {
            return Err(AttestationRejected::PredicateType {
                found: statement.predicate_type.clone(),
                want: want.to_string(),
            });
        }
    }
    Ok(Checked {
        signed_by,
        statement,
        keyless,
    })
}

/// The keyless checks of a candidate's one signature: the whole Sigstore bundle through
/// [`crate::verify::sigstore`] over this image's `digest` (the statement's subject), or the
/// legacy layer's annotations through [`crate::verify::verify_keyless_envelope`].
fn check_keyless(
    candidate: &Candidate,
    digest: &Digest,
    trust: &KeylessTrust,
    now: SystemTime,
) -> std::result::Result<KeylessSigned, AttestationRejected> {
    if let Some(bundle) = &candidate.bundle {
        if trust.identities.is_empty() {
            return Err(crate::verify::KeylessError::NoIdentity.into());
        }
        let options = BundleOptions {
            require_tlog: trust.require_tlog,
            require_sct: trust.require_sct,
            require_timestamp: trust.require_timestamp,
            now: Some(now),
        };
        let policy = BundlePolicy::Identities(trust.identities.clone());
        let v = verify_parsed(
            bundle,
            Artifact::Digest(digest),
            &policy,
            &trust.root,
            &options,
        )?;
        return crate::verify::bundle_evidence(&v).ok_or(AttestationRejected::NotACertificate);
    }
    match &candidate.layer {
        Some((layer, bytes)) => Ok(crate::verify::verify_keyless_envelope(
            trust,
            layer,
            bytes,
            &candidate.envelope,
        )?),
        None => Err(AttestationRejected::NoKeylessMaterial),
    }
}

/// The `.att` manifest at `digest`'s attestation tag, parsed; `Err` says why it is unusable.
pub(crate) async fn attestation_manifest(
    store: &Store,
    digest: &Digest,
) -> Result<
    Option<(
        Digest,
        std::result::Result<SignatureManifest, AttestationRejected>,
    )>,
> {
    let tag = attestation_tag(digest);
    Ok(store.get_manifest(&ManifestRef::Tag(tag)).await?.map(|m| {
        (
            m.digest.clone(),
            SignatureManifest::from_bytes(&m.bytes)
                .map_err(|e| AttestationRejected::Manifest(e.to_string())),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cosign::bundle::DsseSignature;

    fn candidate(payload_type: &str, payload: &[u8], keys: &[&SigningKey]) -> Candidate {
        let mut envelope = DsseEnvelope {
            payload_type: payload_type.into(),
            payload: payload.to_vec(),
            signatures: Vec::new(),
        };
        for k in keys {
            envelope.signatures.push(DsseSignature {
                sig: k.sign(&bundle::pae(bundle::IN_TOTO_PAYLOAD_TYPE, payload)),
                keyid: String::new(),
            });
        }
        Candidate {
            envelope,
            certificates: Vec::new(),
            bundle: None,
            layer: None,
        }
    }

    #[test]
    fn envelopes_are_checked_signature_subject_and_type() {
        let good = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let d = Digest::sha256(b"image");
        let st = intoto::statement("r/app", &d, intoto::COSIGN_VULN, serde_json::json!({}));
        let payload = serde_json::to_vec(&st).unwrap();
        let auth = [Authority::key("scanner", good.public_key())];
        let now = SystemTime::now();
        let check = |c: &Candidate, t: Option<&str>, rule| {
            check_envelope(c, &d, t, &auth, rule, now)
                .map(|c| c.signed_by)
                .map_err(|e| e.to_string())
        };
        let ok = candidate(bundle::IN_TOTO_PAYLOAD_TYPE, &payload, &[&good]);
        assert_eq!(
            check(&ok, Some(intoto::COSIGN_VULN), EnvelopeSignatures::Every).unwrap(),
            vec!["scanner".to_string()]
        );
        let e = check(&ok, Some(intoto::CYCLONEDX), EnvelopeSignatures::Every).unwrap_err();
        assert!(e.contains("predicate type"), "{e}");
        let e = check_envelope(
            &ok,
            &Digest::sha256(b"x"),
            None,
            &auth,
            EnvelopeSignatures::Every,
            now,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(e.contains("not this image's"), "{e}");
        // One good and one unknown signature: refused by default, accepted with Any.
        let two = candidate(bundle::IN_TOTO_PAYLOAD_TYPE, &payload, &[&good, &other]);
        let e = check(&two, None, EnvelopeSignatures::Every).unwrap_err();
        assert!(e.contains("signature 2 of 2"), "{e}");
        assert!(check(&two, None, EnvelopeSignatures::Any).is_ok());
        // Signed over the in-toto PAE, but the envelope claims another payload type.
        let other_type = candidate("application/json", &payload, &[&good]);
        let e = check(&other_type, None, EnvelopeSignatures::Any).unwrap_err();
        assert!(e.contains("payload type"), "{e}");
        let bad = candidate(bundle::IN_TOTO_PAYLOAD_TYPE, &payload, &[&other]);
        assert!(check(&bad, None, EnvelopeSignatures::Any).is_err());
    }
}
