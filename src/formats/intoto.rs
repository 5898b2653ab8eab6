//! in-toto attestations as cosign writes them: predicate types and cosign's short names, the
//! statement `cosign attest` builds around a predicate file, the DSSE envelope of a legacy
//! `.att` layer, and the Trivy report → cosign vulnerability predicate wrapper.
//!
//! * **Predicate types**: `--type` takes cosign's short names, mapped exactly as cosign's
//!   `cmd/cosign/cli/options/predicate.go` maps them ([`predicate_type`]); any other value
//!   must itself be a URI (`scheme:…`) and is used as it is.
//! * **Statement**: cosign's `attestation.GenerateStatement`: `_type`
//!   `https://in-toto.io/Statement/v0.1`, one subject named by the repository with the
//!   manifest's `sha256` digest, and the predicate — for `custom`
//!   (`https://cosign.sigstore.dev/attestation/v1`) the file's text wrapped as
//!   `{"Data": TEXT, "Timestamp": RFC3339}`, for `spdx` the file's text as a JSON string, for
//!   every other type the file's JSON (an object for SLSA and vuln).
//! * **Legacy layout**: the DSSE envelope JSON (`payloadType`, `payload`, `signatures`) is a
//!   layer of media type [`DSSE_LAYER_MEDIA_TYPE`] in the `sha256-<hex>.att` manifest, with the
//!   annotation [`PREDICATE_TYPE_ANNOTATION`] (and an empty
//!   `dev.cosignproject.cosign/signature`: the signature is inside the envelope).
//! * **Bundle layout** (cosign v3): a Sigstore bundle v0.3 referrer (see
//!   [`crate::formats::cosign::bundle`]) whose manifest carries
//!   [`BUNDLE_CONTENT_ANNOTATION`] `dsse-envelope` and [`BUNDLE_PREDICATE_TYPE_ANNOTATION`].

use crate::formats::cosign::bundle::{
    DsseEnvelope, DsseSignature, Statement, Subject, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V01,
    MAX_SIGNATURES,
};
use crate::Digest;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Media type of a legacy attestation layer (cosign's `ctypes.DssePayloadType`).
pub const DSSE_LAYER_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Layer annotation naming the predicate type of a legacy attestation.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
/// Referrer manifest annotation of cosign v3 bundles: what the bundle holds.
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Referrer manifest annotation of cosign v3 bundles: the statement's predicate type.
pub const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// `artifactType` cosign gives legacy DSSE layers attached as OCI 1.1 referrers.
pub(crate) const IN_TOTO_ARTIFACT_TYPE: &str = IN_TOTO_PAYLOAD_TYPE;
/// Largest predicate file read (bytes): SBOMs of large images are a few MiB.
pub const MAX_PREDICATE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest DSSE envelope read from a registry (bytes): a predicate at its cap, base64.
pub(crate) const MAX_ENVELOPE_BYTES: u64 = MAX_PREDICATE_BYTES / 3 * 4 + 64 * 1024;

/// `custom` (cosign's default): `{"Data", "Timestamp"}`.
pub(crate) const COSIGN_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
/// `vuln`: cosign's vulnerability-scan predicate.
pub(crate) const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// `slsaprovenance`, `slsaprovenance02`.
pub(crate) const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// `slsaprovenance1`.
pub(crate) const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// `spdx`, `spdxjson`.
pub const SPDX: &str = "https://spdx.dev/Document";
/// `cyclonedx`.
pub(crate) const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// `link`.
pub(crate) const LINK: &str = "https://in-toto.io/Link/v1";
/// `openvex`.
pub(crate) const OPENVEX: &str = "https://openvex.dev/ns";

/// cosign's short names and the predicate types they stand for (cosign v3 `predicate.go`).
pub(crate) const SHORT_NAMES: [(&str, &str); 10] = [
    ("custom", COSIGN_CUSTOM),
    ("slsaprovenance", SLSA_PROVENANCE_V02),
    ("slsaprovenance02", SLSA_PROVENANCE_V02),
    ("slsaprovenance1", SLSA_PROVENANCE_V1),
    ("spdx", SPDX),
    ("spdxjson", SPDX),
    ("cyclonedx", CYCLONEDX),
    ("link", LINK),
    ("vuln", COSIGN_VULN),
    ("openvex", OPENVEX),
];

/// Why a predicate, statement or envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntotoError {
    /// A type that is neither a short name nor a URI.
    #[error("invalid predicate type {0:?}: use one of custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, or a URI")]
    PredicateType(String),
    /// The predicate is larger than [`MAX_PREDICATE_BYTES`].
    #[error("predicate: {size} bytes, over the {cap}-byte cap")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// The predicate must be JSON (of this shape) for its type.
    #[error("predicate for {predicate_type}: {reason}")]
    Predicate {
        /// The predicate type.
        predicate_type: String,
        /// Why.
        reason: String,
    },
    /// A Trivy report without a `CreatedAt` (the scan time the predicate needs).
    #[error("Trivy report has no CreatedAt: the vulnerability predicate needs the scan time (scanStartedOn, scanFinishedOn); re-run a Trivy that records it")]
    NoScanTime,
    /// A DSSE envelope that does not parse.
    #[error("DSSE envelope: {0}")]
    Envelope(String),
}

/// The predicate type for cosign's `--type` value: a short name, or a URI used as it is.
pub fn predicate_type(name: &str) -> Result<String, IntotoError> {
    if let Some((_, uri)) = SHORT_NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(uri.to_string());
    }
    // Go's url.ParseRequestURI: an absolute URI (scheme:…) or an absolute path.
    let scheme_ok = name.split_once(':').is_some_and(|(s, rest)| {
        !s.is_empty()
            && !rest.is_empty()
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if (scheme_ok || name.starts_with('/')) && !name.contains(char::is_whitespace) {
        Ok(name.to_string())
    } else {
        Err(IntotoError::PredicateType(name.to_string()))
    }
}

/// The short name cosign uses for `uri`, when it has one (`slsaprovenance` for v0.2).
pub fn short_name(uri: &str) -> Option<&'static str> {
    SHORT_NAMES.iter().find(|(_, u)| *u == uri).map(|(n, _)| *n)
}

fn predicate_error(predicate_type: &str, reason: impl Into<String>) -> IntotoError {
    IntotoError::Predicate {
        predicate_type: predicate_type.to_string(),
        reason: reason.into(),
    }
}

/// The predicate cosign puts in the statement for a predicate file of `kind` (a short name or
/// a URI): see the module docs. `now` is the `custom` type's `Timestamp`. A `vuln` predicate
/// may also be a raw Trivy JSON report, wrapped with [`wrap_trivy_report`].
pub fn predicate(
    kind: &str,
    bytes: &[u8],
    now: std::time::SystemTime,
) -> Result<(String, Value), IntotoError> {
    if bytes.len() as u64 > MAX_PREDICATE_BYTES {
        return Err(IntotoError::TooLarge {
            size: bytes.len() as u64,
            cap: MAX_PREDICATE_BYTES,
        });
    }
    let uri = predicate_type(kind)?;
    let text = || {
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| predicate_error(&uri, "not UTF-8 text"))
    };
    let parse = || {
        crate::util::json::parse_strict(bytes)
            .map_err(|e| predicate_error(&uri, format!("not JSON: {e}")))
    };
    let object = |v: Value, what: &str| {
        if v.is_object() {
            Ok(v)
        } else {
            Err(predicate_error(
                &uri,
                format!("{what} must be a JSON object"),
            ))
        }
    };
    let value = match (kind, uri.as_str()) {
        (_, COSIGN_CUSTOM) => json!({
            "Data": text()?,
            "Timestamp": crate::util::time::format_rfc3339(now),
        }),
        ("spdx", _) => Value::String(text()?),
        (_, COSIGN_VULN) => {
            let v = object(parse()?, "a vulnerability predicate")?;
            if is_trivy_report(&v) {
                wrap_trivy_report(v)?
            } else if v.get("scanner").is_some() || v.get("metadata").is_some() {
                v
            } else {
                return Err(predicate_error(
                    &uri,
                    "neither a cosign vulnerability predicate (scanner, metadata) nor a Trivy JSON report (SchemaVersion, CreatedAt)",
                ));
            }
        }
        (_, SLSA_PROVENANCE_V02) => {
            let v = object(parse()?, "SLSA v0.2 provenance")?;
            for field in ["builder", "buildType"] {
                if v.get(field).is_none() {
                    return Err(predicate_error(
                        &uri,
                        format!("required field {field} missing"),
                    ));
                }
            }
            v
        }
        (_, SLSA_PROVENANCE_V1) => {
            let v = object(parse()?, "SLSA v1 provenance")?;
            for field in ["buildDefinition", "runDetails"] {
                if v.get(field).is_none() {
                    return Err(predicate_error(
                        &uri,
                        format!("required field {field} missing"),
                    ));
                }
            }
            v
        }
        _ => parse()?,
    };
    Ok((uri, value))
}

/// True for a Trivy JSON report (`trivy image -f json`): `SchemaVersion` and `ArtifactName`
/// or `Results`, and no cosign predicate keys.
pub(crate) fn is_trivy_report(v: &Value) -> bool {
    v.get("SchemaVersion").is_some()
        && (v.get("ArtifactName").is_some() || v.get("Results").is_some())
        && v.get("scanner").is_none()
}

/// Wrap a Trivy JSON report into cosign's vulnerability predicate as
/// `trivy image --format cosign-vuln` does: scanner URI `pkg:github/aquasecurity/trivy@VERSION`
/// and version from `Trivy.Version`, an empty DB, the report as `scanner.result`, and
/// `scanStartedOn` = `scanFinishedOn` = the report's `CreatedAt` (RFC 3339 text, or Unix
/// seconds as older Trivy wrote). A report without `CreatedAt` is refused.
pub fn wrap_trivy_report(report: Value) -> Result<Value, IntotoError> {
    let created = match report.get("CreatedAt") {
        Some(Value::String(s)) if crate::util::time::parse_rfc3339(s).is_some() => s.clone(),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(crate::util::time::format_rfc3339_seconds)
            .ok_or(IntotoError::NoScanTime)?,
        _ => return Err(IntotoError::NoScanTime),
    };
    let version = report
        .pointer("/Trivy/Version")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok(json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": format!("pkg:github/aquasecurity/trivy@{version}"),
            "version": version,
            "db": {"uri": "", "version": ""},
            "result": report,
        },
        "metadata": {"scanStartedOn": created, "scanFinishedOn": created},
    }))
}

/// The statement cosign builds for image `digest` in `repository` (the subject's name).
pub fn statement(
    repository: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: Value,
) -> Statement {
    let alg = digest.to_string();
    let alg = alg.split_once(':').map(|(a, _)| a).unwrap_or("sha256");
    Statement {
        kind: IN_TOTO_STATEMENT_V01.to_string(),
        subject: vec![Subject {
            name: Some(repository.to_string()),
            digest: BTreeMap::from([(alg.to_string(), digest.hex().to_string())]),
            annotations: None,
        }],
        predicate_type: predicate_type.to_string(),
        predicate: Some(predicate),
    }
}

/// The DSSE envelope JSON of a legacy `.att` layer (standard base64, cosign's field order).
pub(crate) fn envelope_to_bytes(envelope: &DsseEnvelope) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let signatures: Vec<Value> = envelope
        .signatures
        .iter()
        .map(|s| json!({"keyid": s.keyid, "sig": b64.encode(&s.sig)}))
        .collect();
    let v = json!({
        "payloadType": envelope.payload_type,
        "payload": b64.encode(&envelope.payload),
        "signatures": signatures,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Decode DSSE base64: the standard or URL-safe alphabet, padded or not (the DSSE
/// specification allows both).
fn dsse_b64(s: &str, field: &str) -> Result<Vec<u8>, IntotoError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(s)
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
        .map_err(|_| IntotoError::Envelope(format!("{field} is not valid base64")))
}

/// Parse a DSSE envelope (JSON; duplicate members refused; at most
/// [`MAX_SIGNATURES`] signatures).
pub fn envelope_from_bytes(bytes: &[u8]) -> Result<DsseEnvelope, IntotoError> {
    if bytes.len() as u64 > MAX_ENVELOPE_BYTES {
        return Err(IntotoError::Envelope(format!(
            "{} bytes, over the {MAX_ENVELOPE_BYTES}-byte cap",
            bytes.len()
        )));
    }
    let v = crate::util::json::parse_strict(bytes)
        .map_err(|e| IntotoError::Envelope(format!("not JSON: {e}")))?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| IntotoError::Envelope(format!("{name} is missing or not a string")))
    };
    let payload_type = field("payloadType")?.to_string();
    let payload = dsse_b64(field("payload")?, "payload")?;
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| IntotoError::Envelope("signatures is missing".into()))?;
    if sigs.is_empty() {
        return Err(IntotoError::Envelope("no signatures".into()));
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(IntotoError::Envelope(format!(
            "more than {MAX_SIGNATURES} signatures"
        )));
    }
    let mut signatures = Vec::new();
    for s in sigs {
        let sig = s
            .get("sig")
            .and_then(Value::as_str)
            .ok_or_else(|| IntotoError::Envelope("a signature has no sig".into()))?;
        signatures.push(DsseSignature {
            sig: dsse_b64(sig, "sig")?,
            keyid: s
                .get("keyid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(DsseEnvelope {
        payload_type,
        payload,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_map_as_cosign_maps_them() {
        assert_eq!(predicate_type("custom").unwrap(), COSIGN_CUSTOM);
        assert_eq!(
            predicate_type("slsaprovenance").unwrap(),
            SLSA_PROVENANCE_V02
        );
        assert_eq!(
            predicate_type("slsaprovenance02").unwrap(),
            SLSA_PROVENANCE_V02
        );
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            SLSA_PROVENANCE_V1
        );
        assert_eq!(predicate_type("spdxjson").unwrap(), SPDX);
        assert_eq!(predicate_type("spdx").unwrap(), SPDX);
        assert_eq!(predicate_type("cyclonedx").unwrap(), CYCLONEDX);
        assert_eq!(predicate_type("vuln").unwrap(), COSIGN_VULN);
        assert_eq!(predicate_type("openvex").unwrap(), OPENVEX);
        assert_eq!(predicate_type("link").unwrap(), LINK);
        assert_eq!(
            predicate_type("https://example.com/TestResult/v1").unwrap(),
            "https://example.com/TestResult/v1"
        );
        for bad in [
            "",
            "vulns",
            "not a uri",
            "cosign.sigstore.dev/attestation/v1",
        ] {
            assert!(predicate_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn custom_predicates_wrap_text_and_others_need_json() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let (uri, v) = predicate("custom", b"foobar e2e test", now).unwrap();
        assert_eq!(uri, COSIGN_CUSTOM);
        assert_eq!(v["Data"], "foobar e2e test");
        assert_eq!(v["Timestamp"], "2023-11-14T22:13:20Z");
        let e = predicate("cyclonedx", b"not json", now).unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
        let e = predicate("slsaprovenance1", br#"{"builder":{}}"#, now).unwrap_err();
        assert!(e.to_string().contains("buildDefinition"), "{e}");
        let big = vec![b' '; MAX_PREDICATE_BYTES as usize + 1];
        assert!(matches!(
            predicate("vuln", &big, now),
            Err(IntotoError::TooLarge { .. })
        ));
    }

    #[test]
    fn trivy_reports_need_a_scan_time() {
        let now = std::time::UNIX_EPOCH;
        let e = predicate(
            "vuln",
            br#"{"SchemaVersion":2,"ArtifactName":"x","Results":[]}"#,
            now,
        )
        .unwrap_err();
        assert_eq!(e, IntotoError::NoScanTime);
        let (_, v) = predicate(
            "vuln",
            br#"{"SchemaVersion":2,"CreatedAt":1629894030,"ArtifactName":"x","Trivy":{"Version":"0.50.0"}}"#,
            now,
        )
        .unwrap();
        assert_eq!(v["metadata"]["scanFinishedOn"], "2021-08-25T12:20:30Z");
        assert_eq!(v["scanner"]["uri"], "pkg:github/aquasecurity/trivy@0.50.0");
        assert_eq!(v["scanner"]["result"]["ArtifactName"], "x");
    }

    #[test]
    fn envelopes_round_trip_and_bad_ones_are_refused() {
        let env = DsseEnvelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
            payload: b"{}".to_vec(),
            signatures: vec![DsseSignature {
                sig: vec![1, 2, 3],
                keyid: String::new(),
            }],
        };
        assert_eq!(envelope_from_bytes(&envelope_to_bytes(&env)).unwrap(), env);
        for (bad, want) in [
            (&b"{"[..], "not JSON"),
            (br#"{"payloadType":"t","payload":"e30=","signatures":[]}"#, "no signatures"),
            (br#"{"payloadType":"t","payload":"!!","signatures":[{"sig":"AA=="}]}"#, "base64"),
            (
                br#"{"payloadType":"t","payloadType":"u","payload":"e30=","signatures":[{"sig":"AA=="}]}"#,
                "duplicate",
            ),
        ] {
            let e = envelope_from_bytes(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
