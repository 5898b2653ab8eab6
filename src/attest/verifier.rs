//! [`AttestationVerifier`]: discovery of an image's attestations (the `.att` tag, then its
//! referrers: Sigstore bundles and DSSE layers) and the check of each envelope.

use super::*;

/// One attestation looked at, and what became of it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationCheck {
    /// Where it was found, e.g. `tag sha256-….att, layer 0`.
    pub source: String,
    /// `dsse` (a legacy layer) or `sigstore-bundle`.
    pub format: &'static str,
    /// The envelope's (or bundle's) layer digest.
    pub layer_digest: String,
    /// The predicate type: the statement's once verified, before that the one the layer or
    /// referrer annotation claims (unauthenticated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// True when every check passed.
    pub verified: bool,
    /// The first check that failed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The authorities whose signatures verified.
    pub signed_by: Vec<String>,
    /// The statement, once verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<Statement>,
    /// A keyless signature's certificate, once it verified: the identity found (SAN, issuer,
    /// GitHub workflow), the Fulcio CA and CT log of the trusted root it was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<crate::verify::CertificateEvidence>,
    /// A keyless signature's transparency-log entry (log, index, integrated time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlog: Option<crate::verify::TlogEvidence>,
    /// A keyless signature's RFC 3161 timestamp (time, TSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<crate::verify::TimestampEvidence>,
}

/// The result of [`AttestationVerifier::verify`].
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationVerification {
    /// The image as given.
    pub image: String,
    /// Its manifest digest.
    pub digest: Digest,
    /// The predicate type asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// True when at least one attestation passed every check.
    pub verified: bool,
    /// Why nothing was verified when there was nothing to look at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every attestation examined.
    pub attestations: Vec<AttestationCheck>,
    /// Problems with what was attached (entries skipped, caps reached…).
    pub warnings: Vec<String>,
    /// Registry requests made.
    pub requests: u64,
}

impl AttestationVerification {
    /// The verified statements.
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.attestations
            .iter()
            .filter(|a| a.verified)
            .filter_map(|a| a.statement.as_ref())
    }

    /// The verified attestations.
    pub fn verified_attestations(&self) -> impl Iterator<Item = &AttestationCheck> {
        self.attestations.iter().filter(|a| a.verified)
    }

    /// Why no attestation passed: the reason when there was nothing to examine, else each
    /// failed attestation's place and first failed check (bounded).
    pub fn failure_summary(&self) -> String {
        self.reason.clone().unwrap_or_else(|| {
            crate::util::text::bounded_join(
                self.attestations.iter().filter(|a| !a.verified).map(|a| {
                    format!(
                        "{}: {}",
                        a.source,
                        a.failure.as_deref().unwrap_or("not valid")
                    )
                }),
                "; ",
                crate::util::text::MAX_LISTED_REASONS,
            )
        })
    }
}

/// Verifies an image's attestations against named authorities (see the module docs).
#[derive(Clone, Debug)]
pub struct AttestationVerifier {
    authorities: Vec<Authority>,
    predicate_type: Option<String>,
    signatures: EnvelopeSignatures,
    options: StoreOptions,
    now: Option<SystemTime>,
}

impl AttestationVerifier {
    /// A verifier accepting attestations signed by these authorities (of any predicate type
    /// until [`AttestationVerifier::with_predicate_type`]).
    pub fn new(authorities: Vec<Authority>) -> AttestationVerifier {
        AttestationVerifier {
            authorities,
            predicate_type: None,
            signatures: EnvelopeSignatures::Every,
            options: StoreOptions::default(),
            now: None,
        }
    }

    /// Accept only statements of this predicate type (a cosign short name or a URI); other
    /// types are reported and never accepted.
    pub fn with_predicate_type(mut self, kind: Option<&str>) -> Result<AttestationVerifier> {
        self.predicate_type = match kind {
            Some(k) => Some(intoto::predicate_type(k).map_err(AttestError::from)?),
            None => None,
        };
        Ok(self)
    }

    /// Which of an envelope's signatures must verify (default [`EnvelopeSignatures::Every`]).
    pub fn with_envelope_signatures(mut self, rule: EnvelopeSignatures) -> AttestationVerifier {
        self.signatures = rule;
        self
    }

    /// Use these store options.
    pub fn with_options(mut self, options: StoreOptions) -> AttestationVerifier {
        self.options = options;
        self
    }

    /// Check certificate validity at this instant (`None`: the system clock).
    pub fn with_now(mut self, now: Option<SystemTime>) -> AttestationVerifier {
        self.now = now;
        self
    }

    /// The predicate type asked for.
    pub fn predicate_type(&self) -> Option<&str> {
        self.predicate_type.as_deref()
    }

    /// Find and verify the attestations of `image`. Errors are for images that cannot be
    /// examined at all; a missing or invalid attestation is a result with `verified: false`.
    pub async fn verify(&self, image: &ImageRef) -> Result<AttestationVerification> {
        if self.authorities.is_empty() {
            return Err(AttestError::NoAuthority.into());
        }
        let Resolved {
            store, manifest, ..
        } = resolve(image, &self.options, false).await?;
        self.verify_resolved(&store, &image.to_string(), &manifest)
            .await
    }

    /// [`AttestationVerifier::verify`] for an image already resolved in `store`.
    pub(crate) async fn verify_resolved(
        &self,
        store: &Store,
        image: &str,
        manifest: &Manifest,
    ) -> Result<AttestationVerification> {
        let digest = &manifest.digest;
        let mut out = AttestationVerification {
            image: image.to_string(),
            digest: digest.clone(),
            predicate_type: self.predicate_type.clone(),
            verified: false,
            reason: None,
            attestations: Vec::new(),
            warnings: Vec::new(),
            requests: 0,
        };
        let mut budget = Budget::default();
        let tag = attestation_tag(digest);
        // The `.att` tag and the referrers listing are independent: one round trip for both.
        let (tagged, referrers) = tokio::join!(
            attestation_manifest(store, digest),
            store.referrers(digest, None)
        );
        let (tagged, referrers) = (tagged?, referrers?);
        let mut unreadable_tag = None;
        let tagged_digest = tagged.as_ref().map(|(d, _)| d.to_string());
        if let Some((_, parsed)) = tagged {
            match parsed {
                Ok(m) => {
                    for (i, layer) in m.layers.iter().enumerate() {
                        if !budget.take() {
                            break;
                        }
                        let source = format!("tag {tag}, layer {i}");
                        let check = self.check_legacy_layer(store, layer, digest, source).await;
                        out.attestations.push(check);
                    }
                }
                Err(e) => unreadable_tag = Some(e),
            }
        }
        out.warnings.extend(referrers.warnings);
        for entry in referrers.descriptors {
            if tagged_digest.as_deref() == Some(entry.digest.as_str()) {
                continue;
            }
            let claimed = entry
                .annotations
                .get(intoto::BUNDLE_PREDICATE_TYPE_ANNOTATION)
                .cloned();
            let is_bundle = match entry.artifact_type.as_deref() {
                Some(cosign_format::BUNDLE_ARTIFACT_TYPE) => true,
                Some(intoto::IN_TOTO_ARTIFACT_TYPE) => false,
                _ => continue,
            };
            // cosign v3 image signatures share the bundle artifact type: not attestations.
            if is_bundle && claimed.as_deref() == Some(bundle::COSIGN_SIGN_PREDICATE_TYPE) {
                continue;
            }
            if !budget.take() {
                break;
            }
            let kind = if is_bundle {
                "sigstore bundle"
            } else {
                "attestation artifact"
            };
            let where_ = format!("{}, {kind} {}", referrers.scheme, entry.digest);
            let artifact = match self.fetch_referrer(store, &entry, digest).await {
                Ok(m) => m,
                Err(why) => {
                    out.warnings.push(format!("{where_}: {why}; skipped"));
                    continue;
                }
            };
            // A listing without annotations (a layout's index.json): the manifest's own.
            let claimed = claimed.or_else(|| {
                artifact
                    .annotations
                    .get(intoto::BUNDLE_PREDICATE_TYPE_ANNOTATION)
                    .cloned()
            });
            if is_bundle && claimed.as_deref() == Some(bundle::COSIGN_SIGN_PREDICATE_TYPE) {
                continue;
            }
            if let (Some(want), Some(c)) = (&self.predicate_type, &claimed) {
                if want != c {
                    out.attestations.push(AttestationCheck {
                        source: where_,
                        format: if is_bundle { "sigstore-bundle" } else { "dsse" },
                        layer_digest: String::new(),
                        predicate_type: Some(c.clone()),
                        verified: false,
                        failure: Some(format!(
                            "predicate type {c:?} (by its annotation), not {want:?}; not examined"
                        )),
                        signed_by: Vec::new(),
                        statement: None,
                        certificate: None,
                        tlog: None,
                        timestamp: None,
                    });
                    continue;
                }
            }
            for (i, layer) in artifact.layers.iter().enumerate() {
                let source = format!("{where_}, layer {i}");
                let check = if is_bundle {
                    self.check_bundle_layer(store, layer, digest, source, claimed.clone())
                        .await
                } else {
                    if i > 0 && !budget.take() {
                        break;
                    }
                    self.check_legacy_layer(store, layer, digest, source).await
                };
                out.attestations.push(check);
                if is_bundle {
                    break; // a bundle referrer holds one bundle
                }
            }
        }
        if out.attestations.iter().all(|a| !a.verified) {
            store.check_deadline()?;
        }
        if budget.capped {
            out.warnings.push(format!(
                "{digest} has more than {MAX_SIGNATURE_CANDIDATES} candidate attestations; only the first {MAX_SIGNATURE_CANDIDATES} were examined"
            ));
        }
        out.verified = out.attestations.iter().any(|a| a.verified);
        if out.attestations.is_empty() {
            out.reason = Some(match unreadable_tag {
                Some(e) => format!("the {tag} tag holds no usable attestation manifest ({e}) and there are no attestation referrers"),
                None => format!("no attestations found (no {tag} tag and no attestation referrers)"),
            });
        }
        out.requests = store.requests();
        Ok(out)
    }

    fn wants_certificates(&self) -> bool {
        self.authorities
            .iter()
            .any(|a| matches!(a, Authority::Certificate { .. }))
    }

    fn finish(
        &self,
        mut check: AttestationCheck,
        candidate: std::result::Result<Candidate, AttestationRejected>,
        digest: &Digest,
    ) -> AttestationCheck {
        let result = candidate.and_then(|c| {
            check_envelope(
                &c,
                digest,
                self.predicate_type.as_deref(),
                &self.authorities,
                self.signatures,
                self.now.unwrap_or_else(SystemTime::now),
            )
        });
        match result {
            Ok(checked) => {
                check.verified = true;
                check.predicate_type = Some(checked.statement.predicate_type.clone());
                check.signed_by = checked.signed_by;
                check.statement = Some(checked.statement);
                if let Some(k) = checked.keyless {
                    check.certificate = Some(k.certificate);
                    check.tlog = k.tlog;
                    check.timestamp = k.timestamp;
                }
            }
            Err(why) => check.failure = Some(why.to_string()),
        }
        check
    }

    /// Check one layer of the `.att` manifest (or of a DSSE referrer).
    async fn check_legacy_layer(
        &self,
        store: &Store,
        layer: &Descriptor,
        digest: &Digest,
        source: String,
    ) -> AttestationCheck {
        let claimed = layer
            .annotations
            .get(intoto::PREDICATE_TYPE_ANNOTATION)
            .cloned();
        let mut check = AttestationCheck {
            source,
            format: "dsse",
            layer_digest: layer.digest.clone(),
            predicate_type: claimed.clone(),
            verified: false,
            failure: None,
            signed_by: Vec::new(),
            statement: None,
            certificate: None,
            tlog: None,
            timestamp: None,
        };
        if layer.media_type != intoto::DSSE_LAYER_MEDIA_TYPE {
            check.failure = Some(format!(
                "not a DSSE attestation layer (media type {:?})",
                layer.media_type
            ));
            return check;
        }
        if let (Some(want), Some(c)) = (&self.predicate_type, &claimed) {
            if want != c {
                check.failure = Some(format!(
                    "predicate type {c:?} (by its annotation), not {want:?}; not examined"
                ));
                return check;
            }
        }
        let cap = intoto::MAX_ENVELOPE_BYTES.min(self.options.max_blob_bytes.max(1 << 20));
        let candidate = match layer.digest() {
            Err(e) => Err(AttestationRejected::Layer(format!("bad layer digest: {e}"))),
            Ok(d) => match store.get_blob(&d, layer.size, cap).await {
                Err(e) => Err(AttestationRejected::Layer(format!(
                    "envelope could not be fetched: {e}"
                ))),
                Ok(bytes) => legacy_candidate(&bytes, layer, self.wants_certificates()),
            },
        };
        self.finish(check, candidate, digest)
    }

    /// Check the bundle layer of a Sigstore bundle referrer.
    async fn check_bundle_layer(
        &self,
        store: &Store,
        layer: &Descriptor,
        digest: &Digest,
        source: String,
        claimed: Option<String>,
    ) -> AttestationCheck {
        let check = AttestationCheck {
            source,
            format: "sigstore-bundle",
            layer_digest: layer.digest.clone(),
            predicate_type: claimed,
            verified: false,
            failure: None,
            signed_by: Vec::new(),
            statement: None,
            certificate: None,
            tlog: None,
            timestamp: None,
        };
        let candidate = if !bundle::MEDIA_TYPES.contains(&layer.media_type.as_str()) {
            Err(AttestationRejected::Layer(format!(
                "not a sigstore bundle layer (media type {:?})",
                layer.media_type
            )))
        } else {
            match layer.digest() {
                Err(e) => Err(AttestationRejected::Layer(format!("bad layer digest: {e}"))),
                Ok(d) => {
                    let cap = bundle::MAX_BUNDLE_BYTES.min(self.options.max_blob_bytes);
                    match store.get_blob(&d, layer.size, cap).await {
                        Err(e) => Err(AttestationRejected::Layer(format!(
                            "bundle could not be fetched: {e}"
                        ))),
                        Ok(bytes) => bundle_candidate(&bytes),
                    }
                }
            }
        };
        self.finish(check, candidate, digest)
    }

    /// Fetch a referrer's manifest, refusing it unless its `subject` is this image.
    async fn fetch_referrer(
        &self,
        store: &Store,
        entry: &crate::oci::Descriptor,
        subject: &Digest,
    ) -> std::result::Result<SignatureManifest, AttestationRejected> {
        let unusable = |why: String| AttestationRejected::Manifest(why);
        let d = entry.digest().map_err(|e| unusable(e.to_string()))?;
        if entry.size > self.options.max_manifest_bytes {
            return Err(unusable(format!(
                "its descriptor announces {} bytes, over the {}-byte manifest cap",
                entry.size, self.options.max_manifest_bytes
            )));
        }
        let m = store
            .get_manifest(&ManifestRef::Digest(d))
            .await
            .map_err(|e| unusable(e.to_string()))?
            .ok_or_else(|| unusable("listed but missing".into()))?;
        let parsed =
            SignatureManifest::from_bytes(&m.bytes).map_err(|e| unusable(e.to_string()))?;
        match &parsed.subject {
            Some(s) if s.digest == subject.to_string() => Ok(parsed),
            Some(s) => Err(unusable(format!(
                "its subject is {}, another image",
                s.digest
            ))),
            None => Err(unusable("it has no subject".into())),
        }
    }
}
