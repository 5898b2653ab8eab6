//! The Notary Project JWS envelope (`imgseal::formats::notation`): sign → parse → verify round
//! trips, one refused input per format rule, header bytes against notation-core-go's conformance
//! vector, and every JWS envelope of the upstream interop data (../shared/interop/notation, read
//! in place; without it those tests print a note and pass; in CI they fail).

mod support;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use imgseal::formats::notation::{
    self, Algorithm, EnvelopeError, SigningScheme, VerifiedEnvelope, ARTIFACT_TYPE,
    CREATED_ANNOTATION, ENVELOPE_MEDIA_TYPE, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY,
    HEADER_SIGNING_SCHEME, HEADER_SIGNING_TIME, HEADER_VERIFICATION_PLUGIN, PAYLOAD_CONTENT_TYPE,
    THUMBPRINT_ANNOTATION,
};
use imgseal::oci::{Descriptor, ImageManifest, EMPTY_MEDIA_TYPE};
use imgseal::{Digest, SigningKey};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// 2022-08-29T13:50:00Z, the signing time of notation-core-go's conformance vector.
const CONFORMANCE_SIGNING_TIME: u64 = 1_661_781_000;
/// 2099-08-30T13:50:00Z, its expiry.
const CONFORMANCE_EXPIRY: u64 = 4_091_781_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `../shared/interop/notation`, or a note on stderr and `None`.
fn interop() -> Option<PathBuf> {
    support::interop::set("notation")
}

fn verify(bytes: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    notation::parse_envelope(bytes)?.verify_integrity()
}

/// Assert that `verify($bytes)` fails with `$pat`; returns the one-line message.
macro_rules! refused {
    ($bytes:expr, $pat:pat) => {{
        match verify(AsRef::<[u8]>::as_ref(&$bytes)) {
            Err(e @ $pat) => {
                let message = e.to_string();
                assert!(!message.contains('\n'), "multi-line message: {message}");
                message
            }
            Err(other) => panic!("expected {}, got {other:?}", stringify!($pat)),
            Ok(_) => panic!("expected {}, but it verified", stringify!($pat)),
        }
    }};
}

/// A P-256 signing key and a self-signed code-signing certificate for it (rcgen).
struct Signer {
    key: SigningKey,
    cert: Vec<u8>,
}

fn code_signing_params(cn: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    params
}

fn p256_signer() -> Signer {
    let key = SigningKey::generate().unwrap();
    let key_pair = rcgen::KeyPair::try_from(key.to_pkcs8_der().unwrap().as_slice()).unwrap();
    let cert = code_signing_params("imgseal test signer")
        .self_signed(&key_pair)
        .unwrap();
    Signer {
        key,
        cert: cert.der().to_vec(),
    }
}

fn image() -> Descriptor {
    Descriptor {
        media_type: OCI_MANIFEST.into(),
        size: 16724,
        digest: "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333".into(),
        annotations: BTreeMap::from([("io.wabbit-networks.buildId".into(), "123".into())]),
        ..Descriptor::default()
    }
}

/// An envelope from raw parts: `protected` and `payload` are encoded as given and the signing
/// input is signed with `sign`.
fn forge(
    protected: &str,
    payload: &[u8],
    header: Value,
    sign: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let p = B64URL.encode(protected);
    let pl = B64URL.encode(payload);
    let signature = sign(format!("{p}.{pl}").as_bytes());
    serde_json::to_vec(&json!({
        "payload": pl, "protected": p, "header": header, "signature": B64URL.encode(signature)
    }))
    .unwrap()
}

fn x5c(chain: &[&[u8]]) -> Value {
    json!({ "x5c": chain.iter().map(|c| B64.encode(c)).collect::<Vec<_>>() })
}

/// A valid `notary.x509` ES256 protected header.
fn base_header() -> Value {
    json!({
        "alg": "ES256",
        "crit": [HEADER_SIGNING_SCHEME],
        "cty": PAYLOAD_CONTENT_TYPE,
        HEADER_SIGNING_SCHEME: "notary.x509",
        HEADER_SIGNING_TIME: "2022-08-29T13:50:00Z",
    })
}

fn with(mut header: Value, name: &str, value: Option<Value>) -> Value {
    let map = header.as_object_mut().unwrap();
    match value {
        Some(v) => map.insert(name.to_string(), v),
        None => map.remove(name),
    };
    header
}

fn payload_of(d: &Descriptor) -> Vec<u8> {
    serde_json::to_vec(&json!({ "targetArtifact": {
        "mediaType": d.media_type, "digest": d.digest, "size": d.size, "annotations": d.annotations
    }}))
    .unwrap()
}

/// Decode a base64url member of an envelope.
fn member(envelope: &[u8], name: &str) -> Vec<u8> {
    let v: Value = serde_json::from_slice(envelope).unwrap();
    B64URL.decode(v[name].as_str().unwrap()).unwrap()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first certificate of a PEM file, or the file itself when it is DER.
fn cert_der(path: &Path) -> Vec<u8> {
    let bytes = read(path);
    match pem::parse(&bytes) {
        Ok(p) => p.contents().to_vec(),
        Err(_) => bytes,
    }
}

// ---- round trips ----

#[test]
fn sign_parse_verify_round_trip() {
    let s = p256_signer();
    let target = image();
    let signed_at = at(CONFORMANCE_SIGNING_TIME) + Duration::from_millis(750);
    let envelope = notation::sign_envelope(
        &target,
        &s.key,
        std::slice::from_ref(&s.cert),
        signed_at,
        Some(at(CONFORMANCE_EXPIRY)),
        "imgseal/0.1.0",
    )
    .unwrap();

    // Exactly the four flattened-JWS members, in notation-core-go's order.
    let text = String::from_utf8(envelope.clone()).unwrap();
    let positions: Vec<usize> = [
        "\"payload\"",
        "\"protected\"",
        "\"header\"",
        "\"signature\"",
    ]
    .iter()
    .map(|m| text.find(m).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(
        String::from_utf8(member(&envelope, "payload")).unwrap(),
        r#"{"targetArtifact":{"annotations":{"io.wabbit-networks.buildId":"123"},"digest":"sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333","mediaType":"application/vnd.oci.image.manifest.v1+json","size":16724}}"#
    );
    assert_eq!(
        String::from_utf8(member(&envelope, "protected")).unwrap(),
        r#"{"alg":"ES256","crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.expiry":"2099-08-30T13:50:00Z","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2022-08-29T13:50:00Z"}"#
    );
    assert_eq!(member(&envelope, "signature").len(), 64, "ES256 is r || s");

    let parsed = notation::parse_envelope(&envelope).unwrap();
    assert_eq!(parsed.certificate_chain(), std::slice::from_ref(&s.cert));
    assert_eq!(parsed.signing_agent(), Some("imgseal/0.1.0"));
    let v = parsed.verify_integrity().unwrap();
    assert_eq!(v.target, target);
    assert!(v.matches_target(&target));
    assert_eq!(v.signing_scheme, SigningScheme::X509);
    assert_eq!(v.algorithm, Algorithm::Es256);
    assert_eq!(
        v.signing_time,
        Some(at(CONFORMANCE_SIGNING_TIME)),
        "truncated to seconds"
    );
    assert_eq!(v.authentic_signing_time, None);
    assert_eq!(v.effective_signing_time(), at(CONFORMANCE_SIGNING_TIME));
    assert_eq!(v.expiry, Some(at(CONFORMANCE_EXPIRY)));
    assert_eq!(v.certificate_chain, vec![s.cert.clone()]);
    assert_eq!(v.signing_agent.as_deref(), Some("imgseal/0.1.0"));
    assert!(!v.has_timestamp());
    assert!(v.extended_attributes.is_empty());
    assert_eq!(v.signature, member(&envelope, "signature"));
    assert_eq!(v.payload, member(&envelope, "payload"));

    let mut other = target.clone();
    other.size += 1;
    assert!(!v.matches_target(&other));

    // No expiry, no agent, no annotations.
    let bare = Descriptor::of(OCI_MANIFEST, b"{}");
    let envelope = notation::sign_envelope(
        &bare,
        &s.key,
        std::slice::from_ref(&s.cert),
        signed_at,
        None,
        "",
    )
    .unwrap();
    let header: Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(header["header"].as_object().unwrap().len(), 1, "only x5c");
    let protected: Value = serde_json::from_slice(&member(&envelope, "protected")).unwrap();
    assert_eq!(protected["crit"], json!([HEADER_SIGNING_SCHEME]));
    assert!(protected.get(HEADER_EXPIRY).is_none());
    let v = verify(&envelope).unwrap();
    assert_eq!(v.target, bare);
    assert_eq!(v.expiry, None);
    assert_eq!(v.signing_agent, None);
}

#[test]
fn chain_and_signature_manifest() {
    // A CA-issued P-256 leaf: x5c keeps the chain order, the manifest's thumbprints follow it.
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "imgseal test root");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = SigningKey::generate().unwrap();
    let leaf_key = rcgen::KeyPair::try_from(key.to_pkcs8_der().unwrap().as_slice()).unwrap();
    let leaf = code_signing_params("imgseal leaf")
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let chain = vec![leaf.der().to_vec(), ca.der().to_vec()];

    let subject = Descriptor {
        platform: Some(imgseal::oci::Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        }),
        ..image()
    };
    let created = at(1_700_000_000);
    let envelope = notation::sign_envelope(&subject, &key, &chain, created, None, "t").unwrap();
    let v = verify(&envelope).unwrap();
    assert_eq!(v.certificate_chain, chain);
    assert_eq!(
        v.target.platform, None,
        "only mediaType, digest, size, annotations are signed"
    );

    let m = notation::signature_manifest(&envelope, &subject, created).unwrap();
    assert_eq!(m.digest, Digest::sha256(&m.bytes).to_string());
    assert_eq!(m.config_blob, b"{}");
    let json: Value = serde_json::from_slice(&m.bytes).unwrap();
    let thumbprints = json!([
        Digest::sha256(&chain[0]).hex(),
        Digest::sha256(&chain[1]).hex()
    ])
    .to_string();
    assert_eq!(
        json,
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "size": 2,
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
            },
            "layers": [{
                "mediaType": ENVELOPE_MEDIA_TYPE,
                "size": envelope.len(),
                "digest": Digest::sha256(&envelope).to_string()
            }],
            "subject": {
                "mediaType": OCI_MANIFEST,
                "size": 16724,
                "digest": "sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333"
            },
            "annotations": {
                THUMBPRINT_ANNOTATION: thumbprints,
                CREATED_ANNOTATION: "2023-11-14T22:13:20Z"
            }
        })
    );
    let back = ImageManifest::from_bytes(&m.bytes).unwrap();
    assert!(notation::is_notation_signature_manifest(&back));
    assert_eq!(notation::envelope_layer(&back).unwrap(), &m.envelope_layer);
    assert!(matches!(
        notation::signature_manifest(b"not an envelope", &subject, created),
        Err(EnvelopeError::InvalidJson { .. })
    ));
}

#[test]
fn sign_refuses_what_it_cannot_sign() {
    let s = p256_signer();
    let other = p256_signer();
    let t = at(CONFORMANCE_SIGNING_TIME);
    let sign = |target: &Descriptor, chain: &[Vec<u8>], expiry: Option<SystemTime>| {
        notation::sign_envelope(target, &s.key, chain, t, expiry, "t")
    };
    let chain = std::slice::from_ref(&s.cert);
    assert!(matches!(
        sign(&image(), &[], None),
        Err(EnvelopeError::EmptyCertificateChain)
    ));
    assert!(matches!(
        sign(&image(), std::slice::from_ref(&other.cert), None),
        Err(EnvelopeError::SigningKeyMismatch)
    ));
    assert!(matches!(
        sign(&image(), &[s.cert.clone(), b"junk".to_vec()], None),
        Err(EnvelopeError::InvalidCertificate { index: 1, .. })
    ));
    assert!(matches!(
        sign(&image(), chain, Some(t)),
        Err(EnvelopeError::ExpiryNotAfterSigningTime)
    ));
    assert!(matches!(
        sign(&image(), chain, Some(t - Duration::from_secs(1))),
        Err(EnvelopeError::ExpiryNotAfterSigningTime)
    ));
    let mut bad = image();
    bad.digest = "73c803930ea3".into();
    assert!(matches!(
        sign(&bad, chain, None),
        Err(EnvelopeError::InvalidTarget(_))
    ));
    bad = image();
    bad.media_type.clear();
    assert!(matches!(
        sign(&bad, chain, None),
        Err(EnvelopeError::InvalidTarget(_))
    ));
    assert!(matches!(
        notation::sign_envelope(
            &image(),
            &s.key,
            chain,
            UNIX_EPOCH - Duration::from_secs(1),
            None,
            ""
        ),
        Err(EnvelopeError::TimeOutOfRange(_))
    ));
}

// ---- one refused input per rule ----

#[test]
fn protected_header_rules() {
    let s = p256_signer();
    let payload = payload_of(&image());
    let es256 = |m: &[u8]| s.key.sign_raw(m);
    let env = |h: &Value| forge(&h.to_string(), &payload, x5c(&[&s.cert]), &es256);
    let raw = |h: &str| forge(h, &payload, x5c(&[&s.cert]), &es256);

    assert!(verify(&env(&base_header())).is_ok());

    // alg
    let h = base_header();
    refused!(
        env(&with(h.clone(), "alg", Some(json!("none")))),
        EnvelopeError::AlgNone
    );
    for hmac in ["HS256", "HS384", "HS512"] {
        refused!(
            env(&with(h.clone(), "alg", Some(json!(hmac)))),
            EnvelopeError::SymmetricAlgorithm(_)
        );
    }
    for unknown in ["RS256", "EdDSA", "es256", ""] {
        refused!(
            env(&with(h.clone(), "alg", Some(json!(unknown)))),
            EnvelopeError::UnsupportedAlgorithm(_)
        );
    }
    refused!(
        env(&with(h.clone(), "alg", None)),
        EnvelopeError::MissingHeader("alg")
    );
    refused!(
        env(&with(h.clone(), "alg", Some(json!(256)))),
        EnvelopeError::HeaderType { .. }
    );
    // alg that the P-256 signing certificate does not call for
    for wrong in ["ES384", "ES512", "PS256", "PS384", "PS512"] {
        let m = refused!(
            env(&with(h.clone(), "alg", Some(json!(wrong)))),
            EnvelopeError::AlgorithmKeyMismatch {
                expected: "ES256",
                ..
            }
        );
        assert!(m.contains("EC P-256"), "{m}");
    }

    // cty
    refused!(
        env(&with(h.clone(), "cty", Some(json!("application/json")))),
        EnvelopeError::ContentType(_)
    );
    refused!(
        env(&with(h.clone(), "cty", None)),
        EnvelopeError::MissingHeader("cty")
    );

    // signing scheme
    refused!(
        env(&with(
            h.clone(),
            HEADER_SIGNING_SCHEME,
            Some(json!("notary.default.x509"))
        )),
        EnvelopeError::UnknownSigningScheme(_)
    );
    refused!(
        env(&with(h.clone(), HEADER_SIGNING_SCHEME, None)),
        EnvelopeError::MissingHeader(HEADER_SIGNING_SCHEME)
    );
    refused!(
        env(
            &json!({"alg": "ES256", "crit": ["x"], "x": 1, "cty": PAYLOAD_CONTENT_TYPE,
                    HEADER_SIGNING_TIME: "2022-08-29T13:50:00Z"})
        ),
        EnvelopeError::MissingHeader(HEADER_SIGNING_SCHEME)
    );

    // signing times per scheme
    refused!(
        env(&with(h.clone(), HEADER_SIGNING_TIME, None)),
        EnvelopeError::MissingHeader(HEADER_SIGNING_TIME)
    );
    refused!(
        env(&with(
            h.clone(),
            HEADER_AUTHENTIC_SIGNING_TIME,
            Some(json!("2022-08-29T13:50:00Z"))
        )),
        EnvelopeError::HeaderNotAllowed {
            header: HEADER_AUTHENTIC_SIGNING_TIME,
            ..
        }
    );
    let sa = json!({
        "alg": "ES256",
        "crit": [HEADER_SIGNING_SCHEME, HEADER_AUTHENTIC_SIGNING_TIME],
        "cty": PAYLOAD_CONTENT_TYPE,
        HEADER_SIGNING_SCHEME: "notary.x509.signingAuthority",
        HEADER_AUTHENTIC_SIGNING_TIME: "2022-08-29T13:50:00Z",
    });
    let v = verify(&env(&sa)).unwrap();
    assert_eq!(v.signing_scheme, SigningScheme::X509SigningAuthority);
    assert_eq!(v.authentic_signing_time, Some(at(CONFORMANCE_SIGNING_TIME)));
    assert_eq!(v.signing_time, None);
    refused!(
        env(&with(
            sa.clone(),
            HEADER_SIGNING_TIME,
            Some(json!("2022-08-29T13:50:00Z"))
        )),
        EnvelopeError::HeaderNotAllowed {
            header: HEADER_SIGNING_TIME,
            ..
        }
    );
    refused!(
        env(&with(
            with(sa.clone(), HEADER_AUTHENTIC_SIGNING_TIME, None),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME]))
        )),
        EnvelopeError::MissingHeader(HEADER_AUTHENTIC_SIGNING_TIME)
    );
    refused!(
        env(&with(
            sa.clone(),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME]))
        )),
        EnvelopeError::NotMarkedCritical(HEADER_AUTHENTIC_SIGNING_TIME)
    );
    for bad in [
        "2022-08-29",
        "yesterday",
        "2022-02-30T00:00:00Z",
        "2022-08-29T13:50:00",
    ] {
        refused!(
            env(&with(h.clone(), HEADER_SIGNING_TIME, Some(json!(bad)))),
            EnvelopeError::InvalidTime {
                header: HEADER_SIGNING_TIME,
                ..
            }
        );
    }
    refused!(
        env(&with(
            h.clone(),
            HEADER_SIGNING_TIME,
            Some(json!(1661781000))
        )),
        EnvelopeError::HeaderType { .. }
    );

    // expiry
    let expiring = |expiry: &str| {
        with(
            with(h.clone(), HEADER_EXPIRY, Some(json!(expiry))),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME, HEADER_EXPIRY])),
        )
    };
    let v = verify(&env(&expiring("2099-08-30T13:50:00Z"))).unwrap();
    assert_eq!(v.expiry, Some(at(CONFORMANCE_EXPIRY)));
    refused!(
        env(&expiring("2022-08-29T13:50:00Z")),
        EnvelopeError::ExpiryNotAfterSigningTime
    );
    refused!(
        env(&expiring("2022-08-29T15:49:59+02:00")),
        EnvelopeError::ExpiryNotAfterSigningTime
    );
    refused!(
        env(&expiring("soon")),
        EnvelopeError::InvalidTime {
            header: HEADER_EXPIRY,
            ..
        }
    );
    refused!(
        env(&with(
            expiring("2099-08-30T13:50:00Z"),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME]))
        )),
        EnvelopeError::NotMarkedCritical(HEADER_EXPIRY)
    );

    // crit
    refused!(
        env(&with(h.clone(), "crit", None)),
        EnvelopeError::MissingCrit
    );
    refused!(
        env(&with(h.clone(), "crit", Some(json!([])))),
        EnvelopeError::MissingCrit
    );
    refused!(
        env(&with(h.clone(), "crit", Some(json!(HEADER_SIGNING_SCHEME)))),
        EnvelopeError::HeaderType { .. }
    );
    refused!(
        env(&with(
            h.clone(),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME, 7]))
        )),
        EnvelopeError::HeaderType { .. }
    );
    refused!(
        env(&with(
            h.clone(),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME, HEADER_SIGNING_SCHEME]))
        )),
        EnvelopeError::DuplicateCrit(_)
    );
    let m = refused!(
        env(&with(
            h.clone(),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME, HEADER_EXPIRY]))
        )),
        EnvelopeError::CriticalHeaderAbsent(_)
    );
    assert!(m.contains(HEADER_EXPIRY), "{m}");
    refused!(
        env(&with(
            h.clone(),
            "crit",
            Some(json!([HEADER_SIGNING_SCHEME, "io.example.unknown"]))
        )),
        EnvelopeError::CriticalHeaderAbsent(_)
    );
    for registered in ["alg", "cty", "crit", HEADER_SIGNING_TIME] {
        refused!(
            env(&with(
                h.clone(),
                "crit",
                Some(json!([HEADER_SIGNING_SCHEME, registered]))
            )),
            EnvelopeError::MustNotBeCritical(_)
        );
    }
    refused!(
        env(&with(h.clone(), "crit", Some(json!(["x"])))
            .as_object()
            .map(|m| {
                let mut m = m.clone();
                m.insert("x".into(), json!(true));
                Value::Object(m)
            })
            .unwrap()),
        EnvelopeError::NotMarkedCritical(HEADER_SIGNING_SCHEME)
    );

    // Extended attributes: critical ones are reported, not refused.
    let plugin = with(
        with(
            with(
                h.clone(),
                HEADER_VERIFICATION_PLUGIN,
                Some(json!("com.example.plugin")),
            ),
            "signedKey1",
            Some(json!({"nested": [1, 2]})),
        ),
        "crit",
        Some(json!([HEADER_SIGNING_SCHEME, HEADER_VERIFICATION_PLUGIN])),
    );
    let v = verify(&env(&plugin)).unwrap();
    assert_eq!(v.verification_plugin(), Some("com.example.plugin"));
    assert_eq!(v.verification_plugin_min_version(), None);
    let critical: Vec<&str> = v
        .critical_extended_attributes()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(critical, [HEADER_VERIFICATION_PLUGIN]);
    assert_eq!(v.extended_attributes.len(), 2);
    assert!(v
        .extended_attributes
        .iter()
        .any(|a| a.name == "signedKey1" && !a.critical && a.value == json!({"nested": [1, 2]})));

    // Duplicate names anywhere in the protected header.
    let dup = r#"{"alg":"ES256","alg":"ES256","crit":["io.cncf.notary.signingScheme"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2022-08-29T13:50:00Z"}"#;
    let m = refused!(
        raw(dup),
        EnvelopeError::DuplicateMember {
            location: "protected header",
            ..
        }
    );
    assert!(m.contains("\"alg\""), "{m}");
    let dup = r#"{"alg":"ES256","crit":["io.cncf.notary.signingScheme"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingScheme":"notary.x509.signingAuthority","io.cncf.notary.signingTime":"2022-08-29T13:50:00Z"}"#;
    refused!(raw(dup), EnvelopeError::DuplicateMember { .. });
    let dup = r#"{"alg":"ES256","crit":["io.cncf.notary.signingScheme"],"cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2022-08-29T13:50:00Z","ext":{"a":1,"a":2}}"#;
    refused!(raw(dup), EnvelopeError::DuplicateMember { .. });
    refused!(
        raw("not json"),
        EnvelopeError::InvalidJson {
            location: "protected header",
            ..
        }
    );
    refused!(
        raw("[1,2]"),
        EnvelopeError::NotAnObject {
            location: "protected header"
        }
    );
}

#[test]
fn envelope_structure_rules() {
    let s = p256_signer();
    let good = notation::sign_envelope(
        &image(),
        &s.key,
        std::slice::from_ref(&s.cert),
        at(CONFORMANCE_SIGNING_TIME),
        None,
        "t",
    )
    .unwrap();
    let doc: Value = serde_json::from_slice(&good).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| -> Vec<u8> {
        let mut d = doc.clone();
        f(d.as_object_mut().unwrap());
        serde_json::to_vec(&d).unwrap()
    };
    let text = |name: &str| doc[name].as_str().unwrap().to_string();

    refused!(
        b"invalid signature\n",
        EnvelopeError::InvalidJson {
            location: "signature envelope",
            ..
        }
    );
    refused!(b"[]", EnvelopeError::NotAnObject { .. });
    refused!(
        vec![b' '; notation::MAX_ENVELOPE_SIZE + 1],
        EnvelopeError::TooLarge { .. }
    );
    // Only the flattened JWS JSON serialization.
    refused!(
        edit(&|d| {
            d.insert("signatures".into(), json!([]));
        }),
        EnvelopeError::NotFlattened(_)
    );
    for name in ["payload", "protected", "signature", "header"] {
        let bytes = edit(&|d| {
            d.remove(name);
        });
        match verify(&bytes) {
            Err(EnvelopeError::MissingMember(n)) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    refused!(
        edit(&|d| {
            d.insert("payload".into(), json!(1));
        }),
        EnvelopeError::MemberType { .. }
    );
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!("x5c"));
        }),
        EnvelopeError::MemberType { .. }
    );
    // Duplicate members at the top level and in the unprotected header.
    let g = String::from_utf8(good.clone()).unwrap();
    let dup_top = g.replacen("{\"payload\"", "{\"signature\":\"AAAA\",\"payload\"", 1);
    refused!(
        dup_top.into_bytes(),
        EnvelopeError::DuplicateMember {
            location: "signature envelope",
            ..
        }
    );
    let dup_header = g.replacen("\"header\":{", "\"header\":{\"x5c\":[],", 1);
    refused!(
        dup_header.into_bytes(),
        EnvelopeError::DuplicateMember { .. }
    );

    // base64url without padding, for protected, payload and signature.
    for name in ["protected", "payload", "signature"] {
        for corrupt in [
            format!("{}=", text(name)),
            text(name).replace(['-', '_'], "+"),
        ] {
            if corrupt == text(name) {
                continue;
            }
            let bytes = edit(&|d| {
                d.insert(name.into(), json!(corrupt));
            });
            match verify(&bytes) {
                Err(EnvelopeError::Base64Url(n)) => assert_eq!(n, name),
                other => panic!("{name} {corrupt}: {other:?}"),
            }
        }
    }
    refused!(
        edit(&|d| {
            d.insert("signature".into(), json!(""));
        }),
        EnvelopeError::EmptySignature
    );

    // x5c
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"x5c": []}));
        }),
        EnvelopeError::EmptyCertificateChain
    );
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"io.cncf.notary.signingAgent": "a"}));
        }),
        EnvelopeError::MissingMember("header.x5c")
    );
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"x5c": "MIIB"}));
        }),
        EnvelopeError::MemberType { .. }
    );
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"x5c": [B64URL.encode(&s.cert)]}));
        }),
        EnvelopeError::Base64(_)
    );
    refused!(
        edit(&|d| {
            d.insert(
                "header".into(),
                json!({"x5c": [B64.encode(b"not a certificate")]}),
            );
        }),
        EnvelopeError::InvalidCertificate { index: 0, .. }
    );
    let mut trailing = s.cert.clone();
    trailing.push(0);
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"x5c": [B64.encode(&trailing)]}));
        }),
        EnvelopeError::InvalidCertificate { index: 0, .. }
    );
    refused!(
        edit(&|d| {
            d.insert(
                "header".into(),
                json!({"x5c": [B64.encode(&s.cert)], "io.cncf.notary.timestampSignature": "***"}),
            );
        }),
        EnvelopeError::Base64(_)
    );
    // A header name in both the protected and the unprotected header (RFC 7515 §7.2.1).
    refused!(
        edit(&|d| {
            d.insert(
                "header".into(),
                json!({"x5c": [B64.encode(&s.cert)], "alg": "none"}),
            );
        }),
        EnvelopeError::HeaderNamesNotDisjoint(_)
    );
    // Unknown unprotected members are tolerated; the signing agent is informational.
    let v = verify(&edit(&|d| {
        d.insert(
            "header".into(),
            json!({"x5c": [B64.encode(&s.cert)], "io.example.note": 1,
                   "io.cncf.notary.timestampSignature": B64.encode(b"token")}),
        );
    }))
    .unwrap();
    assert_eq!(v.signing_agent, None);
    assert_eq!(v.timestamp_signature.as_deref(), Some(&b"token"[..]));
    assert!(v.has_timestamp());

    // Signatures: tampered, from another key, over another payload.
    let mut sig = member(&good, "signature");
    sig[10] ^= 1;
    refused!(
        edit(&|d| {
            d.insert("signature".into(), json!(B64URL.encode(&sig)));
        }),
        EnvelopeError::SignatureInvalid
    );
    let other = p256_signer();
    refused!(
        edit(&|d| {
            d.insert("header".into(), json!({"x5c": [B64.encode(&other.cert)]}));
        }),
        EnvelopeError::SignatureInvalid
    );
    let mut evil = image();
    evil.digest = format!("sha256:{}", "0".repeat(64));
    refused!(
        edit(&|d| {
            d.insert("payload".into(), json!(B64URL.encode(payload_of(&evil))));
        }),
        EnvelopeError::SignatureInvalid
    );
    refused!(
        edit(&|d| {
            d.insert(
                "signature".into(),
                json!(B64URL.encode([&sig[..], &[0]].concat())),
            );
        }),
        EnvelopeError::SignatureInvalid
    );
}

#[test]
fn payload_rules_apply_after_the_signature() {
    let s = p256_signer();
    let h = base_header().to_string();
    let env = |payload: &str| {
        forge(&h, payload.as_bytes(), x5c(&[&s.cert]), &|m| {
            s.key.sign_raw(m)
        })
    };
    let d = r#""mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333""#;
    assert!(verify(&env(&format!(r#"{{"targetArtifact":{{{d},"size":1}}}}"#))).is_ok());
    refused!(env("{}"), EnvelopeError::InvalidPayload(_));
    refused!(
        env(r#"{"targetArtifact":"x"}"#),
        EnvelopeError::InvalidPayload(_)
    );
    refused!(
        env("[]"),
        EnvelopeError::NotAnObject {
            location: "payload"
        }
    );
    refused!(
        env("{"),
        EnvelopeError::InvalidJson {
            location: "payload",
            ..
        }
    );
    for bad in [
        format!(r#"{{"targetArtifact":{{{d}}}}}"#),
        format!(r#"{{"targetArtifact":{{{d},"size":-1}}}}"#),
        format!(r#"{{"targetArtifact":{{{d},"size":1.5}}}}"#),
        format!(r#"{{"targetArtifact":{{{d},"size":"1"}}}}"#),
        format!(r#"{{"targetArtifact":{{{d},"size":1,"annotations":{{"a":1}}}}}}"#),
        format!(r#"{{"targetArtifact":{{{d},"size":1,"annotations":[]}}}}"#),
        r#"{"targetArtifact":{"digest":"sha256:00","size":1}}"#.to_string(),
        r#"{"targetArtifact":{"mediaType":"","digest":"sha256:00","size":1}}"#.to_string(),
        r#"{"targetArtifact":{"mediaType":"a/b","size":1}}"#.to_string(),
    ] {
        match verify(&env(&bad)) {
            Err(EnvelopeError::InvalidPayload(_)) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    refused!(
        env(&format!(
            r#"{{"targetArtifact":{{{d},"size":1,"size":2}}}}"#
        )),
        EnvelopeError::DuplicateMember {
            location: "payload",
            ..
        }
    );
    refused!(
        env(&format!(
            r#"{{"targetArtifact":{{{d},"size":1,"annotations":{{"k":"a","k":"b"}}}}}}"#
        )),
        EnvelopeError::DuplicateMember {
            location: "payload",
            ..
        }
    );
}

#[test]
fn other_key_types_pair_with_their_algorithm() {
    // ES384 with a P-384 certificate verifies (ring, fixed-width r || s).
    let rng = ring::rand::SystemRandom::new();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let ring_key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        &kp.serialize_der(),
        &rng,
    )
    .unwrap();
    let cert = code_signing_params("p384")
        .self_signed(&kp)
        .unwrap()
        .der()
        .to_vec();
    let sign384 = |m: &[u8]| ring_key.sign(&rng, m).unwrap().as_ref().to_vec();
    let payload = payload_of(&image());
    let es384 = with(base_header(), "alg", Some(json!("ES384")));
    let v = verify(&forge(
        &es384.to_string(),
        &payload,
        x5c(&[&cert]),
        &sign384,
    ))
    .unwrap();
    assert_eq!(v.algorithm, Algorithm::Es384);
    assert_eq!(v.target, image());
    refused!(
        forge(
            &base_header().to_string(),
            &payload,
            x5c(&[&cert]),
            &sign384
        ),
        EnvelopeError::AlgorithmKeyMismatch {
            expected: "ES384",
            ..
        }
    );

    let Some(dir) = interop() else { return };
    let junk = |_: &[u8]| vec![7u8; 132];
    // ES512 with a P-521 certificate: paired correctly, but ring cannot verify P-521.
    let p521 = cert_der(&dir.join("notation-core-go/revocation-crl/certificateWithDeltaCRL.cer"));
    let es512 = with(base_header(), "alg", Some(json!("ES512")));
    let m = refused!(
        forge(&es512.to_string(), &payload, x5c(&[&p521]), &junk),
        EnvelopeError::VerificationUnsupported { alg: "ES512", .. }
    );
    assert!(m.contains("P-521"), "{m}");
    refused!(
        forge(&base_header().to_string(), &payload, x5c(&[&p521]), &junk),
        EnvelopeError::AlgorithmKeyMismatch {
            expected: "ES512",
            ..
        }
    );
    // RSA-4096 calls for PS512, RSA-3072 for PS384, RSA-2048 for PS256.
    for (cert, expected, wrong) in [
        ("notation-core-go/x509/timestamp_root.crt", "PS512", "PS256"),
        (
            "derived-signer-certs/notation-test-leaf-rsa3072.pem",
            "PS384",
            "PS512",
        ),
        (
            "derived-signer-certs/alpine-selfsigned-2000-2123.pem",
            "PS256",
            "PS384",
        ),
    ] {
        let der = cert_der(&dir.join(cert));
        let h = with(base_header(), "alg", Some(json!(wrong)));
        match verify(&forge(&h.to_string(), &payload, x5c(&[&der]), &junk)) {
            Err(EnvelopeError::AlgorithmKeyMismatch { expected: e, .. }) => {
                assert_eq!(e, expected, "{cert}")
            }
            other => panic!("{cert}: {other:?}"),
        }
        let h = with(base_header(), "alg", Some(json!(expected)));
        let junk_rsa = |_: &[u8]| vec![7u8; 512];
        match verify(&forge(&h.to_string(), &payload, x5c(&[&der]), &junk_rsa)) {
            Err(EnvelopeError::SignatureInvalid) => {}
            other => panic!("{cert}: {other:?}"),
        }
    }
}

// ---- notation-core-go's conformance vector ----

#[test]
fn protected_header_bytes_match_notation_core_go() {
    let Some(dir) = interop() else { return };
    let conformance: Value = serde_json::from_slice(&read(
        &dir.join("notation-core-go/conformance/jws-conformance.json"),
    ))
    .unwrap();
    let expected = B64URL
        .decode(conformance["protected"].as_str().unwrap())
        .unwrap();

    // The vector adds extended attributes imgseal never writes (signedCritKey1 critical,
    // signedKey1..4); drop those and compare the rest byte for byte. notation-core-go writes
    // Go maps, i.e. members in lexicographic order, as does serde_json's Map.
    let mut comparable: serde_json::Map<String, Value> = serde_json::from_slice(&expected).unwrap();
    comparable.retain(|k, _| {
        ["alg", "crit", "cty"].contains(&k.as_str()) || k.starts_with("io.cncf.notary.")
    });
    comparable
        .get_mut("crit")
        .unwrap()
        .as_array_mut()
        .unwrap()
        .retain(|c| c.as_str().unwrap().starts_with("io.cncf.notary."));
    let keys: Vec<&String> = comparable.keys().collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "upstream members are sorted"
    );
    let comparable = serde_json::to_string(&comparable).unwrap();

    let s = p256_signer();
    let envelope = notation::sign_envelope(
        &image(),
        &s.key,
        std::slice::from_ref(&s.cert),
        at(CONFORMANCE_SIGNING_TIME),
        Some(at(CONFORMANCE_EXPIRY)),
        conformance["header"]["io.cncf.notary.signingAgent"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(member(&envelope, "protected")).unwrap(),
        comparable
    );
    let ours: Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(
        ours["header"]["io.cncf.notary.signingAgent"],
        conformance["header"]["io.cncf.notary.signingAgent"]
    );
    // Same top-level member order as the vector.
    let order = |text: &str| {
        let mut names = ["payload", "protected", "header", "signature"];
        names.sort_by_key(|n| text.find(&format!("\"{n}\"")).unwrap());
        names
    };
    let upstream = String::from_utf8(read(
        &dir.join("notation-core-go/conformance/jws-conformance.json"),
    ))
    .unwrap();
    assert_eq!(
        order(&String::from_utf8(envelope).unwrap()),
        order(&upstream)
    );
    // The vector has no x5c, so it is not a complete Notary Project envelope.
    assert!(matches!(
        notation::parse_envelope(upstream.as_bytes()),
        Err(EnvelopeError::MissingMember("header.x5c"))
    ));

    // notation-go's mock envelope (PS384) differs from what imgseal writes for the same times
    // only in alg.
    let mock = read(&dir.join("notation-go/envelopes/mock/ca_valid_sig_env.json"));
    let theirs = String::from_utf8(member(&mock, "protected")).unwrap();
    let envelope = notation::sign_envelope(
        &image(),
        &s.key,
        std::slice::from_ref(&s.cert),
        at(1_604_905_200),       // 2020-11-09T07:00:00Z
        Some(at(4_760_578_800)), // 2120-11-09T07:00:00Z
        "",
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(member(&envelope, "protected")).unwrap(),
        theirs.replace("\"PS384\"", "\"ES256\"")
    );

    // Payload bytes are notation's too (notation 1.x JWS payloads: members sorted).
    for file in [
        "notation-go/envelopes/oci-layout-alpine/jws_signature.sig",
        "notation-go/blob-envelope/testSig.jws.sig",
        "notation-go/envelopes/mock/sig_env_with_metadata.json",
    ] {
        let upstream = read(&dir.join(file));
        let target = verify(&upstream).unwrap().target;
        let ours = notation::sign_envelope(
            &target,
            &s.key,
            std::slice::from_ref(&s.cert),
            at(CONFORMANCE_SIGNING_TIME),
            None,
            "",
        )
        .unwrap();
        assert_eq!(
            member(&ours, "payload"),
            member(&upstream, "payload"),
            "{file}"
        );
    }
}

// ---- the upstream envelopes ----

fn descriptor_from(v: &Value) -> Descriptor {
    let annotations = v
        .get("annotations")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Descriptor {
        media_type: v["mediaType"].as_str().unwrap().into(),
        size: v["size"].as_u64().unwrap(),
        digest: v["digest"].as_str().unwrap().into(),
        annotations,
        ..Descriptor::default()
    }
}

#[test]
fn cases_json_envelopes() {
    let Some(dir) = interop() else { return };
    let cases: Value = serde_json::from_slice(&read(&dir.join("cases.json"))).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let Some(file) = case["envelope"].as_str() else {
            continue; // the e2e OCI layouts: see e2e_layouts
        };
        let path = dir.join(file);
        if !path.is_file() {
            support::interop::absent(format!("{file} (case {id})"));
            continue;
        }
        let bytes = read(&path);
        let result = verify(&bytes);
        if case["envelopeMediaType"] == "application/cose" {
            assert!(
                matches!(result, Err(EnvelopeError::InvalidJson { .. })),
                "{id}: COSE is not JWS: {result:?}"
            );
            continue;
        }
        let integrity_fails = case["expected"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v.as_str().unwrap().starts_with("fail:integrity"));
        if integrity_fails {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{id}: expected an integrity failure"));
            eprintln!("{id}: refused: {err}");
        } else {
            let v = result.unwrap_or_else(|e| panic!("{id}: {e}"));
            let target = descriptor_from(&case["target"]);
            assert_eq!(v.target, target, "{id}");
            assert!(v.matches_target(&target), "{id}");
            if let Some(scheme) = case["signingScheme"].as_str() {
                assert_eq!(v.signing_scheme.as_str(), scheme, "{id}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} envelopes checked");
}

#[test]
fn notation_go_mock_envelopes() {
    let Some(dir) = interop() else { return };
    let mock = |name: &str| read(&dir.join("notation-go/envelopes/mock").join(name));
    let target = Descriptor {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        size: 528,
        digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e".into(),
        ..Descriptor::default()
    };

    let v = verify(&mock("ca_valid_sig_env.json")).unwrap();
    assert_eq!(v.algorithm, Algorithm::Ps384);
    assert_eq!(v.signing_scheme, SigningScheme::X509);
    assert_eq!(v.signing_time, Some(at(1_604_905_200)));
    assert_eq!(v.expiry, Some(at(4_760_578_800)));
    assert_eq!(v.certificate_chain.len(), 2);
    assert_eq!(v.target, target);
    // Spelled "io.cncf.notary.SigningAgent" upstream (Go matches names case-insensitively).
    assert_eq!(v.signing_agent.as_deref(), Some("Notation/1.0.0"));
    assert!(!v.has_timestamp());
    assert!(v.extended_attributes.is_empty());

    let v = verify(&mock("sa_valid_sig_env.json")).unwrap();
    assert_eq!(v.signing_scheme, SigningScheme::X509SigningAuthority);
    assert_eq!(v.authentic_signing_time, Some(at(1_604_905_200)));
    assert_eq!(v.signing_time, None);

    // Expired: integrity holds, expiry is a policy decision.
    let v = verify(&mock("ca_expired_sig_env.json")).unwrap();
    assert_eq!(v.expiry, Some(at(1_659_139_140))); // 2022-07-29T23:59:00Z

    // The invalid ones carry a padded (non-base64url) payload.
    for name in ["ca_invalid_sig_env.json", "sa_invalid_sig_env.json"] {
        refused!(mock(name), EnvelopeError::Base64Url("payload"));
    }

    // Plugin envelopes: critical extended attributes are reported for an "inconclusive" result.
    for name in ["ca_plugin_sig_env.json", "sa_plugin_sig_env.json"] {
        let v = verify(&mock(name)).unwrap();
        let mut critical: Vec<&str> = v
            .critical_extended_attributes()
            .map(|a| a.name.as_str())
            .collect();
        critical.sort();
        assert_eq!(critical, ["SomeKey", HEADER_VERIFICATION_PLUGIN], "{name}");
        assert_eq!(v.verification_plugin(), Some("plugin-name"));
    }
    for version in [
        "0.0.9",
        "1.0.0-alpha",
        "1.0.0-alpha.beta",
        "1.0.0",
        "1.0.1",
        "1.0.9",
        "1.1.0-alpha",
        "1.2.3",
    ] {
        let compat = if ["1.0.1", "1.0.9", "1.1.0-alpha", "1.2.3"].contains(&version) {
            "incompatible"
        } else {
            "compatible"
        };
        let v = verify(&mock(&format!(
            "ca_{compat}_pluginver_sig_env_{version}.json"
        )))
        .unwrap();
        assert_eq!(v.algorithm, Algorithm::Ps256);
        assert_eq!(
            v.verification_plugin(),
            Some("io.cncf.notary.plugin.unittest.mock")
        );
        assert_eq!(v.verification_plugin_min_version(), Some(version));
        assert_eq!(v.critical_extended_attributes().count(), 2);
        assert!(v.signing_time.is_some(), "{version}: has a signing time");
    }

    let v = verify(&mock("sig_env_with_metadata.json")).unwrap();
    assert_eq!(v.target.annotations["io.wabbit-networks.buildId"], "123");
    assert_eq!(
        v.target.annotations["io.wabbit-networks.buildTime"],
        "1672944615"
    );

    // Tampering with any signed byte of a real PS384 envelope breaks it.
    let good = mock("ca_valid_sig_env.json");
    let doc: Value = serde_json::from_slice(&good).unwrap();
    let mut payload = B64URL.decode(doc["payload"].as_str().unwrap()).unwrap();
    let pos = payload.windows(3).position(|w| w == b"528").unwrap();
    payload[pos + 2] = b'9';
    let mut d = doc.clone();
    d["payload"] = json!(B64URL.encode(&payload));
    refused!(
        serde_json::to_vec(&d).unwrap(),
        EnvelopeError::SignatureInvalid
    );
    // Claiming PS256 for the RSA-3072 certificate is an algorithm substitution.
    let protected = String::from_utf8(member(&good, "protected"))
        .unwrap()
        .replace("PS384", "PS256");
    let mut d = doc.clone();
    d["protected"] = json!(B64URL.encode(protected));
    refused!(
        serde_json::to_vec(&d).unwrap(),
        EnvelopeError::AlgorithmKeyMismatch {
            expected: "PS384",
            ..
        }
    );
}

#[test]
fn alpine_layout_blob_and_timestamp_envelopes() {
    let Some(dir) = interop() else { return };

    // The alpine OCI layout's manifest is the target of jws_signature.sig.
    let layout = dir.join("notation-go/oci-layout-alpine");
    let index: Value = serde_json::from_slice(&read(&layout.join("index.json"))).unwrap();
    let entry = descriptor_from(&index["manifests"][0]);
    let manifest = read(
        &layout
            .join("blobs/sha256")
            .join(&entry.digest["sha256:".len()..]),
    );
    assert_eq!(Digest::sha256(&manifest).to_string(), entry.digest);
    assert_eq!(manifest.len() as u64, entry.size);
    let v = verify(&read(
        &dir.join("notation-go/envelopes/oci-layout-alpine/jws_signature.sig"),
    ))
    .unwrap();
    assert!(v.matches_target(&entry));
    assert_eq!(v.algorithm, Algorithm::Ps256);
    assert_eq!(v.signing_agent.as_deref(), Some("Notation/1.0.0"));
    // It was signed by the certificate derived-signer-certs/ extracted from it.
    let alpine = cert_der(&dir.join("derived-signer-certs/alpine-selfsigned-2000-2123.pem"));
    assert_eq!(v.certificate_chain, vec![alpine]);
    assert!(notation::parse_envelope(&read(
        &dir.join("notation-go/envelopes/oci-layout-alpine/cose_signature.sig")
    ))
    .is_err());

    // The blob envelope: PS384 over an RSA-3072 key, SHA-384 target digest.
    let v = verify(&read(
        &dir.join("notation-go/blob-envelope/testSig.jws.sig"),
    ))
    .unwrap();
    assert_eq!(v.algorithm, Algorithm::Ps384);
    assert_eq!(v.target.media_type, "video/mp4");
    assert_eq!(v.target.size, 12);
    assert_eq!(v.target.digest, "sha384:b8ab24dafba5cf7e4c89c562f811cf10493d4203da982d3b1345f366ca863d9c2ed323dbd0fb7ff83a80302ceffa5a61");
    assert_eq!(v.target.annotations["buildId"], "101");
    assert_eq!(v.signing_agent.as_deref(), Some("example signing agent"));
    let trusted = cert_der(&dir.join("notation-go/blob-envelope/trustedCert.pem"));
    assert_eq!(v.certificate_chain, vec![trusted]);
    let mut wrong = v.target.clone();
    wrong.digest.pop();
    wrong.digest.push('2');
    assert!(!v.matches_target(&wrong));

    // Timestamped envelopes parse and verify; the token is reported, not checked here.
    for (file, stamped) in [
        ("jwsWithTimestamp.sig", true),
        ("jwsExpiredWithTimestamp.sig", true),
        ("timestampBeforeNotBefore.sig", true),
        ("withoutTimestamp.sig", false),
    ] {
        let v = verify(&read(
            &dir.join("notation-go/envelopes/timestamp").join(file),
        ))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(v.has_timestamp(), stamped, "{file}");
        assert_eq!(
            v.target.digest,
            "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda"
        );
        if stamped {
            // A DER SEQUENCE (CMS ContentInfo).
            assert_eq!(v.timestamp_signature.as_ref().unwrap()[0], 0x30, "{file}");
        }
    }
    for file in [
        "coseWithTimestamp.sig",
        "coseExpiredWithTimestamp.sig",
        "timestampAfterNotAfter.sig",
    ] {
        assert!(notation::parse_envelope(&read(
            &dir.join("notation-go/envelopes/timestamp").join(file)
        ))
        .is_err());
    }
}

#[test]
fn spec_examples() {
    let Some(dir) = interop() else { return };
    let examples = dir.join("specifications-examples");
    let jsonc = |name: &str| -> Value {
        let text = String::from_utf8(read(&examples.join(name))).unwrap();
        let stripped: String = text
            .lines()
            .map(|l| match l.find("//") {
                Some(i) if !l[..i].contains("\"<") && !l[..i].contains("https:") => &l[..i],
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&stripped).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    // Signature manifests, both shapes.
    for name in [
        "signature-envelope-jws.example01.jsonc",
        "signature-specification.example05.jsonc",
        "signature-specification.example06.jsonc",
    ] {
        let m: ImageManifest = serde_json::from_value(jsonc(name)).unwrap();
        assert!(notation::is_notation_signature_manifest(&m), "{name}");
        assert_eq!(
            notation::envelope_layer(&m).unwrap().media_type,
            ENVELOPE_MEDIA_TYPE
        );
        let thumbprints: Vec<String> =
            serde_json::from_str(&m.annotations[THUMBPRINT_ANNOTATION]).unwrap();
        assert_eq!(thumbprints.len(), 2);
    }
    // Payload examples verify when signed (the payload itself is format-checked).
    let s = p256_signer();
    for name in [
        "signature-specification.example01.jsonc",
        "signature-specification.example02.jsonc",
        "signature-specification.example03.jsonc",
        "signature-specification.example04.jsonc",
        "signature-envelope-jws.example03.jsonc",
        "signature-envelope-jws.example04.jsonc",
    ] {
        let payload = jsonc(name);
        let bytes = forge(
            &base_header().to_string(),
            &serde_json::to_vec(&payload).unwrap(),
            x5c(&[&s.cert]),
            &|m| s.key.sign_raw(m),
        );
        let v = verify(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut want = descriptor_from(&payload["targetArtifact"]);
        want.artifact_type = payload["targetArtifact"]["artifactType"]
            .as_str()
            .map(String::from);
        assert_eq!(v.target, want, "{name}");
    }
    // The protected header examples are well-formed apart from their alg/key (no x5c given).
    for (name, scheme) in [
        (
            "signature-envelope-jws.example05.jsonc",
            SigningScheme::X509,
        ),
        (
            "signature-envelope-jws.example06.jsonc",
            SigningScheme::X509SigningAuthority,
        ),
    ] {
        let header = with(jsonc(name), "alg", Some(json!("ES256")));
        let bytes = forge(
            &header.to_string(),
            &payload_of(&image()),
            x5c(&[&s.cert]),
            &|m| s.key.sign_raw(m),
        );
        let v = verify(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.signing_scheme, scheme);
        assert!(v.expiry.is_some());
    }
}

/// notation CLI e2e layouts (legacy signature manifests), when present.
#[test]
fn e2e_layouts() {
    let Some(dir) = interop() else { return };
    let root = dir.join("notation-cli-e2e/oci_layout");
    if !root.is_dir() {
        support::interop::absent(root.display());
        return;
    }
    let cases: Value = serde_json::from_slice(&read(&dir.join("cases.json"))).unwrap();
    let target_of = |id: &str| {
        cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| descriptor_from(&c["target"]))
    };
    let mut layouts: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    layouts.sort();
    for layout in layouts {
        let name = layout.file_name().unwrap().to_str().unwrap().to_string();
        let id = if name == "e2e" {
            "e2e-unsigned".to_string()
        } else {
            name.clone()
        };
        let blobs = layout.join("blobs/sha256");
        let mut signatures = 0;
        let mut blob_paths: Vec<PathBuf> = std::fs::read_dir(&blobs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        blob_paths.sort();
        for blob in blob_paths {
            let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&read(&blob)) else {
                continue;
            };
            if !notation::is_notation_signature_manifest(&manifest) {
                continue;
            }
            signatures += 1;
            let layer = &manifest.layers[0];
            let envelope = read(&blobs.join(&layer.digest["sha256:".len()..]));
            if name == "e2e-invalid-signature" {
                assert!(matches!(
                    notation::envelope_layer(&manifest),
                    Err(EnvelopeError::UnsupportedEnvelopeMediaType(_))
                ));
                assert!(notation::parse_envelope(&envelope).is_err());
                continue;
            }
            assert_eq!(notation::envelope_layer(&manifest).unwrap(), layer);
            let v = verify(&envelope).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(target) = target_of(&id) {
                assert!(v.matches_target(&target), "{name}: {:?}", v.target);
            }
            if name.contains("timestamped") {
                assert!(v.has_timestamp(), "{name}");
            }
        }
        if id == "e2e-unsigned" {
            assert_eq!(signatures, 0, "{name}");
        } else {
            assert!(signatures > 0, "{name}: no signature manifest found");
        }
    }
}

// ---- robustness ----

/// Random, truncated and mutated inputs never panic.
#[test]
fn hostile_bytes_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let s = p256_signer();
    let mut corpus = vec![notation::sign_envelope(
        &image(),
        &s.key,
        std::slice::from_ref(&s.cert),
        at(CONFORMANCE_SIGNING_TIME),
        Some(at(CONFORMANCE_EXPIRY)),
        "t",
    )
    .unwrap()];
    if let Some(dir) = interop() {
        for f in [
            "notation-go/envelopes/mock/ca_plugin_sig_env.json",
            "notation-go/envelopes/timestamp/jwsWithTimestamp.sig",
            "notation-go/blob-envelope/testSig.jws.sig",
        ] {
            corpus.push(read(&dir.join(f)));
        }
    }
    let check = |bytes: &[u8]| {
        if let Ok(e) = notation::parse_envelope(bytes) {
            let _ = e.verify_integrity();
        }
        if let Ok(m) = serde_json::from_slice::<ImageManifest>(bytes) {
            let _ = notation::is_notation_signature_manifest(&m);
            let _ = notation::envelope_layer(&m);
        }
    };
    for seed in &corpus {
        for len in (0..seed.len()).step_by(7) {
            check(&seed[..len]);
        }
        for _ in 0..400 {
            let mut m = seed.clone();
            for _ in 0..=(next() % 4) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            check(&m);
        }
        // Mutate inside the decoded protected header and payload too, then re-encode.
        let doc: Value = serde_json::from_slice(seed).unwrap();
        for name in ["protected", "payload"] {
            let inner = B64URL.decode(doc[name].as_str().unwrap()).unwrap();
            for _ in 0..300 {
                let mut m = inner.clone();
                let i = (next() as usize) % m.len();
                m[i] = b"{}[]\",:0a\\ "[(next() % 11) as usize];
                let mut d = doc.clone();
                d[name] = json!(B64URL.encode(&m));
                check(&serde_json::to_vec(&d).unwrap());
            }
        }
    }
    for _ in 0..2000 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        check(&bytes);
    }
    check(&"[".repeat(100_000).into_bytes());
    check(format!("{{\"payload\":{}", "{\"a\":".repeat(10_000)).as_bytes());
}

/// The sets listed as withheld must really be absent: once one is supplied, its tests must run
/// (remove it from `support::interop::WITHHELD`).
#[test]
fn withheld_sets_are_really_absent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/interop");
    if !root.is_dir() {
        support::interop::absent("../shared/interop");
        return;
    }
    for set in support::interop::WITHHELD {
        assert!(
            !root.join(set).exists(),
            "{set} is now in ../shared/interop: remove it from support::interop::WITHHELD so its tests run"
        );
    }
}
