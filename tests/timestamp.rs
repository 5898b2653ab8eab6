//! RFC 3161 timestamp tokens (src/timestamp.rs) against the Notary Project's fixtures
//! (../shared/interop/notation, README section C), and the notation authenticTimestamp
//! validation (`notation_timestamp::notation_authentic_timestamp`, which `imgseal verify` runs for
//! `notary.x509` envelopes).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imgseal::formats::notation::{self, VerifiedEnvelope};
use imgseal::pki::tsp::{self, Hash, TimestampError};
use imgseal::pki::{load_pem_certificates, Certificate};
use imgseal::trust::notation_timestamp::{self, AuthenticTime};
use imgseal::trust::{TrustPolicy, TrustStore};

/// genTime of the notation-go timestamp-tokens (GlobalSign): 2021-09-17T14:09:10Z.
const TOKEN_GEN_TIME: u64 = 1_631_887_750;
/// genTime of the tokens in notation-go's timestamp envelopes: 2024-06-18T06:29:37Z.
const ENVELOPE_GEN_TIME: u64 = 1_718_692_177;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn interop() -> Option<PathBuf> {
    support::interop::set("notation")
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn certs(dir: &Path, rel: &str) -> Vec<Certificate> {
    load_pem_certificates(&read(dir, rel)).unwrap()
}

fn globalsign_root(dir: &Path) -> Vec<Certificate> {
    certs(
        dir,
        "notation-go/truststore/x509/tsa/test-timestamp/globalsignRoot.cer",
    )
}

fn envelope(dir: &Path, name: &str) -> VerifiedEnvelope {
    let bytes = read(dir, &format!("notation-go/envelopes/timestamp/{name}"));
    notation::parse_envelope(&bytes)
        .and_then(|e| e.verify_integrity())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn globalsign_token_verifies_over_notation() {
    let Some(dir) = interop() else { return };
    let token = read(&dir, "notation-go/timestamp-tokens/TimeStampToken.p7s");
    let parsed = tsp::parse(&token).unwrap();
    let (hash, imprint) = parsed.message_imprint();
    assert_eq!(hash, Hash::Sha256);
    assert!(hex::encode(imprint).starts_with("8326f470"));
    assert_eq!(parsed.certificates().count(), 4);
    let ts = tsp::verify(&token, b"notation", &globalsign_root(&dir)).unwrap();
    assert_eq!(ts.gen_time, at(TOKEN_GEN_TIME));
    assert_eq!(ts.accuracy, Some(Duration::from_secs(1)));
    assert_eq!(ts.earliest(), at(TOKEN_GEN_TIME - 1));
    assert_eq!(ts.latest(), at(TOKEN_GEN_TIME + 1));
    assert!(
        ts.tsa_subject.contains("Globalsign TSA for Advanced - G4"),
        "{}",
        ts.tsa_subject
    );
}

#[test]
fn token_over_other_bytes_is_refused() {
    let Some(dir) = interop() else { return };
    let token = read(&dir, "notation-go/timestamp-tokens/TimeStampToken.p7s");
    let err = tsp::verify(&token, b"notation!", &globalsign_root(&dir)).unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("does not cover this signature"),
        "{err}"
    );
}

#[test]
fn token_without_certificate_cannot_be_verified() {
    let Some(dir) = interop() else { return };
    let token = read(
        &dir,
        "notation-go/timestamp-tokens/TimeStampTokenWithoutCertificate.p7s",
    );
    let err = tsp::verify(&token, b"notation", &globalsign_root(&dir)).unwrap_err();
    assert!(
        matches!(err, TimestampError::SignerCertificateMissing(_)),
        "{err}"
    );
}

#[test]
fn malformed_tokens_are_refused_with_clear_errors() {
    let Some(dir) = interop() else { return };
    let roots = globalsign_root(&dir);
    for (rel, expect) in [
        (
            "notation-go/timestamp-tokens/TimeStampTokenWithInvalidTSTInfo.p7s",
            "TSTInfo",
        ),
        (
            "notation-go/timestamp-tokens/TimeStampTokenWithInvalideContentType.p7s",
            "not id-ct-TSTInfo",
        ),
    ] {
        let err = tsp::verify(&read(&dir, rel), b"notation", &roots).unwrap_err();
        let msg = err.to_string();
        eprintln!("{rel}: {msg}");
        assert!(matches!(err, TimestampError::Malformed(_)), "{rel}: {msg}");
        assert!(msg.contains(expect), "{rel}: {msg}");
        assert!(!msg.contains('\n'), "{rel}: {msg}");
    }
    let rel = "notation-core-go/timestamp/TimeStampTokenWithInvalidSignature.p7s";
    let err = tsp::verify(&read(&dir, rel), b"notation", &roots).unwrap_err();
    eprintln!("{rel}: {err}");
    assert!(matches!(err, TimestampError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn untrusted_tsa_root_is_refused() {
    let Some(dir) = interop() else { return };
    let token = read(&dir, "notation-go/timestamp-tokens/TimeStampToken.p7s");
    let digicert = certs(
        &dir,
        "notation-go/truststore/x509/tsa/test-mismatch/DigiCertTSARootSHA384.cer",
    );
    let err = tsp::verify(&token, b"notation", &digicert).unwrap_err();
    assert!(matches!(err, TimestampError::Untrusted(_)), "{err}");
    let err = tsp::verify(&token, b"notation", &[]).unwrap_err();
    assert_eq!(err, TimestampError::NoRoots);
    // The signing-certificate root is not a TSA root.
    let other = certs(
        &dir,
        "notation-go/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem",
    );
    assert!(tsp::verify(&token, b"notation", &other).is_err());
}

#[test]
fn truncated_and_mutated_tokens_never_panic() {
    let Some(dir) = interop() else { return };
    let roots = globalsign_root(&dir);
    let token = read(&dir, "notation-go/timestamp-tokens/TimeStampToken.p7s");
    for len in 0..token.len() {
        assert!(
            tsp::verify(&token[..len], b"notation", &roots).is_err(),
            "truncated to {len} bytes"
        );
    }
    // Flip bits through the whole token; a change to a part nothing verifies (an unused
    // certificate) may still verify, a change to the TSTInfo, the signed attributes or the
    // signature must not.
    let signed_end = token.len();
    let mut accepted = 0;
    for i in 0..token.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut m = token.clone();
            m[i] ^= mask;
            if let Ok(ts) = tsp::verify(&m, b"notation", &roots) {
                accepted += 1;
                // Only the unused digestAlgorithms set (bytes 25..43) and the two GlobalSign
                // root certificates the path does not use (bytes 3524..5746).
                assert!(
                    (25..43).contains(&i) || (3524..5746).contains(&i),
                    "byte {i}"
                );
                assert_eq!(ts.gen_time, at(TOKEN_GEN_TIME), "byte {i} mask {mask:#x}");
                // The TSTInfo (offsets 62..266) is covered by messageDigest.
                assert!(!(62..266).contains(&i), "byte {i} in TSTInfo accepted");
                // Signed attributes and signature (from offset 5885) are covered.
                assert!(
                    !(5885..signed_end).contains(&i),
                    "byte {i} in signer info accepted"
                );
            }
        }
    }
    eprintln!("{accepted} single-byte mutations outside verified data were accepted");
    // Garbage and hostile lengths.
    for bad in [
        &b""[..],
        &[0x30][..],
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
        &[0x30, 0x80, 0x00, 0x00][..],
        &[0x06, 0x00][..],
        &[0x30, 0x03, 0x06, 0x01, 0x00][..],
    ] {
        assert!(tsp::parse(bad).is_err());
    }
    let big = vec![0u8; tsp::MAX_TOKEN_SIZE + 1];
    assert!(tsp::parse(&big).is_err());
}

#[test]
fn envelope_tokens_verify_over_their_signatures() {
    let Some(dir) = interop() else { return };
    let roots = globalsign_root(&dir);
    for name in [
        "jwsWithTimestamp.sig",
        "jwsExpiredWithTimestamp.sig",
        "timestampBeforeNotBefore.sig",
    ] {
        let env = envelope(&dir, name);
        let token = env.timestamp_signature.as_deref().expect(name);
        let ts =
            tsp::verify(token, &env.signature, &roots).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!(
            "{name}: genTime {:?} accuracy {:?}",
            ts.gen_time, ts.accuracy
        );
        if name == "jwsWithTimestamp.sig" {
            assert_eq!(ts.gen_time, at(ENVELOPE_GEN_TIME));
        }
        // Not over the payload, and not over a changed signature.
        assert!(tsp::verify(token, &env.payload, &roots).is_err());
        let mut sig = env.signature.clone();
        sig[0] ^= 1;
        assert!(matches!(
            tsp::verify(token, &sig, &roots),
            Err(TimestampError::ImprintMismatch { .. })
        ));
    }
    assert!(!envelope(&dir, "withoutTimestamp.sig").has_timestamp());
}

/// A trust store directory `{root}/x509/{type}/{name}/` from (store, files) pairs.
fn trust_store(dir: &Path, stores: &[(&str, &[&str])]) -> (tempfile::TempDir, TrustStore) {
    let tmp = tempfile::tempdir().unwrap();
    for (store, files) in stores {
        let (ty, name) = store.split_once(':').unwrap();
        let d = tmp.path().join("x509").join(ty).join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in *files {
            let file = Path::new(f).file_name().unwrap();
            std::fs::copy(dir.join(f), d.join(file)).unwrap();
        }
    }
    let store = TrustStore::load(tmp.path()).unwrap();
    (tmp, store)
}

fn policy(stores: &[&str], verify_timestamp: &str) -> TrustPolicy {
    let json = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "test-timestamp",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict", "verifyTimestamp": verify_timestamp},
            "trustStores": stores,
            "trustedIdentities": ["*"]
        }]
    });
    TrustPolicy::from_json(json.to_string().as_bytes()).unwrap()
}

const GLOBALSIGN: &str = "notation-go/truststore/x509/tsa/test-timestamp/globalsignRoot.cer";
const ALPINE_2033: &str = "notation-go/truststore/x509/ca/valid-trust-store/TestTimestamp.crt";
const NOT_YET_VALID: &str =
    "notation-go/truststore/x509/ca/valid-trust-store/TestTimestampNotYetValid.crt";
const EXPIRED_SIGNER: &str = "derived-signer-certs/testTSA-selfsigned-expired-20240618.pem";
const DIGICERT: &str = "notation-go/truststore/x509/tsa/test-mismatch/DigiCertTSARootSHA384.cer";

/// Run the authenticTimestamp validation for `name` under a statement naming `stores`.
fn authentic(
    dir: &Path,
    name: &str,
    files: &[(&str, &[&str])],
    verify_timestamp: &str,
    now: SystemTime,
) -> Result<AuthenticTime, String> {
    let (_tmp, store) = trust_store(dir, files);
    let names: Vec<&str> = files.iter().map(|(s, _)| *s).collect();
    let policy = policy(&names, verify_timestamp);
    let statement = policy.policy_for("localhost:5000/net-monitor").unwrap();
    let env = envelope(dir, name);
    let chain: Vec<Certificate> = env
        .certificate_chain
        .iter()
        .map(|d| Certificate::from_der(d).unwrap())
        .collect();
    notation_timestamp::notation_authentic_timestamp(&env, &chain, statement, &store, now)
        .map_err(|e| e.to_string())
}

#[test]
fn notation_authentic_timestamp_follows_cases_json() {
    let Some(dir) = interop() else { return };
    let now = SystemTime::now();
    let tsa: (&str, &[&str]) = ("tsa:test-timestamp", &[GLOBALSIGN]);
    let ca: (&str, &[&str]) = ("ca:valid-trust-store", &[ALPINE_2033, NOT_YET_VALID]);
    let expired: (&str, &[&str]) = ("ca:expired-signer", &[EXPIRED_SIGNER]);

    // ng-ts-jws-valid: verified timestamp.
    match authentic(&dir, "jwsWithTimestamp.sig", &[ca, tsa], "always", now) {
        Ok(AuthenticTime::Timestamp(ts)) => assert_eq!(ts.gen_time, at(ENVELOPE_GEN_TIME)),
        other => panic!("{other:?}"),
    }
    // verifyTimestamp=afterCertExpiry with an unexpired chain: not checked.
    assert_eq!(
        authentic(
            &dir,
            "jwsWithTimestamp.sig",
            &[ca, tsa],
            "afterCertExpiry",
            now
        ),
        Ok(AuthenticTime::Now {
            token_ignored: true
        })
    );
    // No tsa store: validity now (the caller's check), token ignored.
    assert_eq!(
        authentic(&dir, "jwsWithTimestamp.sig", &[ca], "always", now),
        Ok(AuthenticTime::Now {
            token_ignored: true
        })
    );

    // ng-ts-jwsexpiredwithtimestamp: the signing cert expired 2024-06-18T07:30:31Z, the
    // timestamp is inside its validity: valid with a tsa store, under both options.
    for option in ["always", "afterCertExpiry"] {
        match authentic(
            &dir,
            "jwsExpiredWithTimestamp.sig",
            &[expired, tsa],
            option,
            now,
        ) {
            Ok(AuthenticTime::Timestamp(_)) => {}
            other => panic!("{option}: {other:?}"),
        }
    }
    // Without a tsa store, the caller checks validity now, which fails.
    assert_eq!(
        authentic(
            &dir,
            "jwsExpiredWithTimestamp.sig",
            &[expired],
            "always",
            now
        ),
        Ok(AuthenticTime::Now {
            token_ignored: true
        })
    );

    // ng-ts-missing-token.
    let err = authentic(&dir, "withoutTimestamp.sig", &[ca, tsa], "always", now).unwrap_err();
    assert_eq!(
        err,
        "no timestamp countersignature was found in the signature envelope"
    );
    assert_eq!(
        authentic(&dir, "withoutTimestamp.sig", &[ca], "always", now),
        Ok(AuthenticTime::Now {
            token_ignored: false
        })
    );

    // ng-ts-before-notbefore: signer valid 2099-2100.
    let err = authentic(
        &dir,
        "timestampBeforeNotBefore.sig",
        &[ca, tsa],
        "always",
        now,
    )
    .unwrap_err();
    assert!(
        err.starts_with("timestamp can be before certificate"),
        "{err}"
    );
    assert!(err.contains("2099-09-18T11:54:34Z"), "{err}");

    // ng-ts-untrusted-tsa (with the JWS envelope; imgseal reads no COSE).
    let mismatch: (&str, &[&str]) = ("tsa:test-mismatch", &[DIGICERT]);
    let err = authentic(&dir, "jwsWithTimestamp.sig", &[ca, mismatch], "always", now).unwrap_err();
    assert!(
        err.starts_with("failed to verify the timestamp countersignature"),
        "{err}"
    );
    assert!(err.contains("not trusted"), "{err}");
}

#[test]
fn notation_authentic_timestamp_against_the_whole_upstream_trust_store() {
    // The trust store directory as notation-go's tests lay it out (cases.json trustStoreRoot).
    let Some(dir) = interop() else { return };
    let store = TrustStore::load(dir.join("notation-go/truststore")).unwrap();
    let policy = policy(&["ca:valid-trust-store", "tsa:test-timestamp"], "always");
    let statement = policy.policy_for("localhost:5000/net-monitor").unwrap();
    let env = envelope(&dir, "jwsWithTimestamp.sig");
    let chain: Vec<Certificate> = env
        .certificate_chain
        .iter()
        .map(|d| Certificate::from_der(d).unwrap())
        .collect();
    let got = notation_timestamp::notation_authentic_timestamp(
        &env,
        &chain,
        statement,
        &store,
        SystemTime::now(),
    );
    assert!(matches!(got, Ok(AuthenticTime::Timestamp(_))), "{got:?}");
}
