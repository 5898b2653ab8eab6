//! Certificate chains (`imgseal::x509`) and Notary Project trust stores and policies
//! (`imgseal::trust`).
//!
//! Synthetic PKIs are built with rcgen for every rule; real upstream data from
//! `../shared/interop/notation` (read in place) checks interoperability: notation-go's trust
//! store fixtures, the specification's example policies, the signer certificates of notation's
//! envelopes and notation-core-go's certificates. Without that folder each interop test prints
//! a note and passes, except in CI, where it fails (tests/support/interop.rs).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imgseal::pki::{
    generate_test, load_pem_certificates, validate_chain, CertError, Certificate, KeyAlgorithm,
    Profile, SignatureAlgorithm,
};
use imgseal::trust::{
    trusted_identity_matches, Action, BlobTrustPolicy, TrustError, TrustPolicy, TrustStore,
    TrustStoreKind, TrustedIdentity, ValidationType, VerificationLevel, VerifyTimestamp,
};
use support::pki::*;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// Synthetic PKIs

fn now() -> SystemTime {
    SystemTime::now()
}

fn check(chain: &[&Node], roots: &[&Node], profile: Profile) -> Result<(), CertError> {
    let chain: Vec<Certificate> = chain.iter().map(|n| n.cert.clone()).collect();
    let roots: Vec<Certificate> = roots.iter().map(|n| n.cert.clone()).collect();
    validate_chain(&chain, &roots, now(), profile)
}

fn both_profiles_ok(chain: &[&Node], roots: &[&Node]) {
    check(chain, roots, Profile::CodeSigning).unwrap();
    check(chain, roots, Profile::Notary).unwrap();
}

#[test]
fn valid_two_and_three_level_chains() {
    let root = issue(ca_params("Root", None), None);
    let leaf = issue(leaf_params("signer"), Some(&root));
    // The root only in the trust store, or also at the end of the chain.
    both_profiles_ok(&[&leaf], &[&root]);
    both_profiles_ok(&[&leaf, &root], &[&root]);

    let inter = issue(ca_params("Intermediate", Some(0)), Some(&root));
    let leaf2 = issue(leaf_params("signer 2"), Some(&inter));
    both_profiles_ok(&[&leaf2, &inter], &[&root]);
    both_profiles_ok(&[&leaf2, &inter, &root], &[&root]);
    // A trusted intermediate (pinning) is an anchor too.
    both_profiles_ok(&[&leaf2, &inter], &[&inter]);

    assert!(!leaf.cert.is_self_signed());
    assert!(root.cert.is_self_signed());
    assert!(leaf.cert.is_issued_by(&root.cert));
    assert_eq!(leaf.cert.subject(), "CN=signer,O=imgseal tests,ST=WA,C=US");
    assert_eq!(leaf.cert.issuer(), root.cert.subject());
    assert_eq!(
        leaf.cert.key_algorithm(),
        &KeyAlgorithm::Ec(imgseal::pki::EcCurve::P256)
    );
}

#[test]
fn chain_to_another_root_is_untrusted() {
    let root = issue(ca_params("Root", None), None);
    let other = issue(ca_params("Other Root", None), None);
    let leaf = issue(leaf_params("signer"), Some(&root));
    let err = check(&[&leaf], &[&other], Profile::Notary).unwrap_err();
    assert!(matches!(err, CertError::Untrusted { .. }), "{err}");
    let err = check(&[&leaf, &root], &[&other], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("not in the trust store"), "{err}");
    assert!(matches!(
        validate_chain(
            &[],
            std::slice::from_ref(&root.cert),
            now(),
            Profile::Notary
        ),
        Err(CertError::EmptyChain)
    ));
}

#[test]
fn expired_and_not_yet_valid_leaf() {
    let t = OffsetDateTime::now_utc();
    let mut p = ca_params("Root", None);
    p.not_before = t - days(30);
    let root = issue(p, None);

    let mut p = leaf_params("expired signer");
    p.not_before = t - days(10);
    p.not_after = t - days(1);
    let expired = issue(p, Some(&root));
    let err = check(&[&expired], &[&root], Profile::Notary).unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err}");
    assert!(err.is_validity_period());
    assert!(err.to_string().contains("CN=expired signer"), "{err}");

    let mut p = leaf_params("future signer");
    p.not_before = t + days(1);
    p.not_after = t + days(10);
    let future = issue(p, Some(&root));
    let err = check(&[&future], &[&root], Profile::CodeSigning).unwrap_err();
    assert!(matches!(err, CertError::NotYetValid { .. }), "{err}");

    // The same chains are fine at a time inside their validity.
    let then = SystemTime::now() - Duration::from_secs(5 * 86400);
    validate_chain(
        std::slice::from_ref(&expired.cert),
        std::slice::from_ref(&root.cert),
        then,
        Profile::Notary,
    )
    .unwrap();
}

#[test]
fn expired_root_is_refused() {
    let t = OffsetDateTime::now_utc();
    let mut p = ca_params("Old Root", None);
    p.not_before = t - days(100);
    p.not_after = t - days(1);
    let root = issue(p, None);
    let leaf = issue(leaf_params("signer"), Some(&root));
    for chain in [vec![&leaf], vec![&leaf, &root]] {
        let err = check(&chain, &[&root], Profile::Notary).unwrap_err();
        match &err {
            CertError::Expired { subject, .. } => assert!(subject.contains("Old Root"), "{err}"),
            other => panic!("expected the root's expiry, got {other}"),
        }
    }
}

#[test]
fn wrong_issuer_signature_is_refused() {
    let root = issue(ca_params("Root", None), None);
    // Same name as the root, different key.
    let impostor = issue(ca_params("Root", None), None);
    let leaf = issue(leaf_params("signer"), Some(&impostor));
    let err = check(&[&leaf], &[&root], Profile::CodeSigning).unwrap_err();
    assert!(matches!(err, CertError::Signature { .. }), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
    let err = check(&[&leaf, &root], &[&root], Profile::Notary).unwrap_err();
    assert!(matches!(err, CertError::Signature { .. }), "{err}");
    assert!(!leaf.cert.is_issued_by(&root.cert));
}

#[test]
fn leaf_extended_key_usage_rules() {
    let root = issue(ca_params("Root", None), None);

    let mut p = leaf_params("tls server");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = issue(p, Some(&root));
    let err = check(&[&server], &[&root], Profile::CodeSigning).unwrap_err();
    assert!(err.to_string().contains("lacks codeSigning"), "{err}");
    let err = check(&[&server], &[&root], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("serverAuth"), "{err}");

    // No EKU at all means any purpose (RFC 5280; Go's x509.Verify, which cosign uses, agrees),
    // so both profiles accept it; an EKU that is present must fit the profile.
    let mut p = leaf_params("no eku");
    p.extended_key_usages = vec![];
    let none = issue(p, Some(&root));
    check(&[&none], &[&root], Profile::CodeSigning).unwrap();
    check(&[&none], &[&root], Profile::Notary).unwrap();

    // The Notary Project forbids timeStamping and anyExtendedKeyUsage on signing certificates.
    let mut p = leaf_params("stamper");
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::CodeSigning,
        ExtendedKeyUsagePurpose::TimeStamping,
    ];
    let stamper = issue(p, Some(&root));
    let err = check(&[&stamper], &[&root], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("timeStamping"), "{err}");
    check(&[&stamper], &[&root], Profile::CodeSigning).unwrap();
}

#[test]
fn leaf_key_usage_rules() {
    let root = issue(ca_params("Root", None), None);
    let mut p = leaf_params("no digitalSignature");
    p.key_usages = vec![KeyUsagePurpose::ContentCommitment];
    let leaf = issue(p, Some(&root));
    let err = check(&[&leaf], &[&root], Profile::CodeSigning).unwrap_err();
    assert!(err.to_string().contains("digitalSignature"), "{err}");

    let mut p = leaf_params("encrypting");
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf = issue(p, Some(&root));
    let err = check(&[&leaf], &[&root], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("keyEncipherment"), "{err}");
    check(&[&leaf], &[&root], Profile::CodeSigning).unwrap();
}

#[test]
fn ca_certificate_cannot_be_the_leaf() {
    let root = issue(ca_params("Root", None), None);
    let mut p = ca_params("sub CA as signer", None);
    p.key_usages.push(KeyUsagePurpose::DigitalSignature);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let ca_leaf = issue(p, Some(&root));
    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = check(&[&ca_leaf], &[&root], profile).unwrap_err();
        assert!(err.to_string().contains("CA certificate"), "{err}");
        assert!(err.to_string().contains("sub CA as signer"), "{err}");
    }
}

#[test]
fn intermediate_must_be_a_ca() {
    let root = issue(ca_params("Root", None), None);
    let mut p = leaf_params("not a CA");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.extended_key_usages = vec![];
    let inter = issue(p, Some(&root));
    let leaf = issue(leaf_params("signer"), Some(&inter));
    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = check(&[&leaf, &inter], &[&root], profile).unwrap_err();
        assert!(err.to_string().contains("is not a CA"), "{err}");
        assert!(err.to_string().contains("CN=not a CA"), "{err}");
    }
}

#[test]
fn issuer_key_usage_must_allow_cert_signing() {
    let root = issue(ca_params("Root", None), None);
    let mut p = ca_params("Intermediate", None);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let inter = issue(p, Some(&root));
    let leaf = issue(leaf_params("signer"), Some(&inter));
    let err = check(&[&leaf, &inter], &[&root], Profile::CodeSigning).unwrap_err();
    assert!(err.to_string().contains("keyCertSign"), "{err}");

    // A CA without keyUsage: tolerated in cosign mode, refused by the Notary Project rules.
    let mut p = ca_params("Bare CA", None);
    p.key_usages = vec![];
    let bare = issue(p, None);
    let leaf = issue(leaf_params("signer"), Some(&bare));
    check(&[&leaf], &[&bare], Profile::CodeSigning).unwrap();
    let err = check(&[&leaf], &[&bare], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("keyUsage"), "{err}");
}

#[test]
fn path_length_constraint_is_honoured() {
    let root = issue(ca_params("Root", Some(0)), None);
    let inter = issue(ca_params("Intermediate", None), Some(&root));
    let leaf = issue(leaf_params("signer"), Some(&inter));
    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = check(&[&leaf, &inter], &[&root], profile).unwrap_err();
        assert!(err.to_string().contains("pathLenConstraint 0"), "{err}");
        assert!(err.to_string().contains("CN=Root"), "{err}");
    }
    // pathlen 1 allows it.
    let root1 = issue(ca_params("Root", Some(1)), None);
    let inter1 = issue(ca_params("Intermediate", Some(0)), Some(&root1));
    let leaf1 = issue(leaf_params("signer"), Some(&inter1));
    both_profiles_ok(&[&leaf1, &inter1], &[&root1]);
}

/// An RSA public key of `bits` bits (not a usable key: only its size matters here).
struct FakeRsaKey(Vec<u8>);

impl FakeRsaKey {
    fn new(bits: usize) -> FakeRsaKey {
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend(std::iter::repeat_n(0x5au8, bits / 8 - 2));
        modulus.push(0x0b);
        let mut inner = der(0x02, &modulus);
        inner.extend(der(0x02, &[0x01, 0x00, 0x01]));
        FakeRsaKey(der(0x30, &inner))
    }
}

impl rcgen::PublicKeyData for FakeRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

#[test]
fn rsa_1024_key_is_refused() {
    let root = issue(ca_params("Root", None), None);
    let params = leaf_params("weak rsa");
    let cert = params
        .signed_by(
            &FakeRsaKey::new(1024),
            &Issuer::from_params(&root.params, &root.key),
        )
        .unwrap();
    let leaf = Certificate::from_der(cert.der()).unwrap();
    assert_eq!(leaf.key_algorithm(), &KeyAlgorithm::Rsa { bits: 1024 });
    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = validate_chain(
            std::slice::from_ref(&leaf),
            std::slice::from_ref(&root.cert),
            now(),
            profile,
        )
        .unwrap_err();
        assert!(err.to_string().contains("1024 bits"), "{err}");
        assert!(err.to_string().contains("weak rsa"), "{err}");
    }
    // 2048 is the minimum and passes the key rule.
    let cert = leaf_params("rsa 2048")
        .signed_by(
            &FakeRsaKey::new(2048),
            &Issuer::from_params(&root.params, &root.key),
        )
        .unwrap();
    let leaf = Certificate::from_der(cert.der()).unwrap();
    assert_eq!(leaf.key_algorithm(), &KeyAlgorithm::Rsa { bits: 2048 });
    validate_chain(
        &[leaf],
        std::slice::from_ref(&root.cert),
        now(),
        Profile::Notary,
    )
    .unwrap();
}

// Minimal DER writing/reading for the SHA-1 certificate below.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// (tag, whole element, content) of the first element of `bytes`.
fn read_der(bytes: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = bytes[0];
    let (len, header) = if bytes[1] < 0x80 {
        (bytes[1] as usize, 2)
    } else {
        let n = (bytes[1] & 0x7f) as usize;
        let len = bytes[2..2 + n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, 2 + n)
    };
    (tag, &bytes[..header + len], &bytes[header..header + len])
}

#[test]
fn sha1_signature_is_refused() {
    use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p256::pkcs8::DecodePrivateKey;

    // A root whose key both rcgen and p256 can use.
    let signing = imgseal::SigningKey::generate().unwrap();
    let pkcs8 = signing.to_pkcs8_der().unwrap();
    let root_key = KeyPair::try_from(pkcs8.as_slice()).unwrap();
    let p256_key = p256::ecdsa::SigningKey::from_pkcs8_der(&pkcs8).unwrap();
    let root = issue_with_key(ca_params("Root", None), root_key, None);
    let leaf = issue(leaf_params("sha1 signer"), Some(&root));

    // Re-sign the leaf with ECDSA over SHA-1 (ecdsa-with-SHA1, 1.2.840.10045.4.1).
    let sha256_alg = [
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];
    let sha1_alg = [
        0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01,
    ];
    let (_, _, outer) = read_der(leaf.cert.der());
    let (_, _, tbs_content) = read_der(outer);
    let at = tbs_content
        .windows(sha256_alg.len())
        .position(|w| w == sha256_alg)
        .unwrap();
    let mut new_content = tbs_content[..at].to_vec();
    new_content.extend(sha1_alg);
    new_content.extend(&tbs_content[at + sha256_alg.len()..]);
    let tbs = der(0x30, &new_content);
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &tbs);
    let sig: p256::ecdsa::Signature = p256_key.sign_prehash(digest.as_ref()).unwrap();
    // The signature is genuine: refusing it is about the algorithm, not a bad signature.
    p256_key
        .verifying_key()
        .verify_prehash(digest.as_ref(), &sig)
        .unwrap();
    let mut bits = vec![0u8];
    bits.extend(sig.to_der().as_bytes());
    let mut cert = tbs.clone();
    cert.extend(sha1_alg);
    cert.extend(der(0x03, &bits));
    let sha1_leaf = Certificate::from_der(&der(0x30, &cert)).unwrap();
    assert_eq!(
        sha1_leaf.signature_algorithm(),
        &SignatureAlgorithm::Insecure("ecdsa-with-SHA1".into())
    );

    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = validate_chain(
            std::slice::from_ref(&sha1_leaf),
            std::slice::from_ref(&root.cert),
            now(),
            profile,
        )
        .unwrap_err();
        assert!(matches!(err, CertError::Signature { .. }), "{err}");
        assert!(
            err.to_string().contains("ecdsa-with-SHA1 is refused"),
            "{err}"
        );
    }
}

#[test]
fn independent_webpki_check_runs_after_imgseal_rules() {
    // An unknown critical extension passes imgseal's own rules (the Notary Project says other
    // extensions are not evaluated) but RFC 5280 path validation, run by rustls-webpki as the
    // independent second check, refuses it.
    let root = issue(ca_params("Root", None), None);
    let mut p = leaf_params("odd extension");
    let mut ext =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
    ext.set_criticality(true);
    p.custom_extensions.push(ext);
    let leaf = issue(p, Some(&root));
    for profile in [Profile::CodeSigning, Profile::Notary] {
        let err = check(&[&leaf], &[&root], profile).unwrap_err();
        assert!(matches!(err, CertError::PathCheck { .. }), "{err}");
        assert!(
            err.to_string().contains("UnsupportedCriticalExtension"),
            "{err}"
        );
    }
}

#[test]
fn self_signed_signing_certificate_trusted_directly() {
    // notation's "self-signed signing certificate in a ca store".
    let mut p = leaf_params("self-signed signer");
    p.distinguished_name = dn("self-signed signer");
    let leaf = issue(p, None);
    assert!(leaf.cert.is_self_signed());
    both_profiles_ok(&[&leaf], &[&leaf]);

    // A self-signed signing certificate followed by more chain is refused.
    let root = issue(ca_params("Root", None), None);
    let err = check(&[&leaf, &root], &[&root], Profile::Notary).unwrap_err();
    assert!(err.to_string().contains("self-signed"), "{err}");
}

#[test]
fn generate_test_makes_a_usable_pki() {
    let pki = generate_test("wabbit-networks.io").unwrap();
    assert_eq!(
        pki.root.subject(),
        "CN=wabbit-networks.io Test Root,O=Notary,ST=WA,C=US"
    );
    assert_eq!(
        pki.leaf.subject(),
        "CN=wabbit-networks.io,O=Notary,ST=WA,C=US"
    );
    assert!(pki.root.is_ca() && !pki.leaf.is_ca());
    let year = pki
        .leaf
        .not_after()
        .duration_since(pki.leaf.not_before())
        .unwrap();
    assert_eq!(year, Duration::from_secs(365 * 86400));
    for profile in [Profile::CodeSigning, Profile::Notary] {
        validate_chain(
            std::slice::from_ref(&pki.leaf),
            std::slice::from_ref(&pki.root),
            now(),
            profile,
        )
        .unwrap();
    }
    // The PEM forms load back, and the key is the leaf's.
    let chain = load_pem_certificates(pki.chain_pem().as_bytes()).unwrap();
    assert_eq!(chain, vec![pki.leaf.clone(), pki.root.clone()]);
    let key = imgseal::SigningKey::from_pem(pki.leaf_key_pem.as_bytes(), None, "leaf.key").unwrap();
    assert_eq!(
        key.public_key_der().unwrap(),
        pki.leaf.public_key_spki().to_vec()
    );
    // A trusted identity naming C, ST and O matches the generated leaf.
    let policy = policy(
        r#"{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:test"],
        "trustedIdentities":["x509.subject: C=US, ST=WA, O=Notary, CN=wabbit-networks.io"]}]}"#,
    )
    .unwrap();
    assert!(trusted_identity_matches(
        &policy.statements()[0],
        pki.leaf.subject()
    ));
    assert!(generate_test("").is_err());
}

// ---------------------------------------------------------------------------------------------
// Trust stores on disk

fn write_cert(path: &Path, cert: &Certificate) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, cert.to_pem()).unwrap();
}

#[test]
fn trust_store_layout_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = issue(ca_params("Root", None), None);
    let leaf = issue(leaf_params("signer"), Some(&root));
    let x509 = dir.path().join("x509");
    write_cert(&x509.join("ca/good/root.pem"), &root.cert);
    std::fs::write(x509.join("ca/good/root.der"), root.cert.der()).unwrap();
    write_cert(&x509.join("ca/leafy/leaf.crt"), &leaf.cert);
    write_cert(&x509.join("ca/nested/root.pem"), &root.cert);
    std::fs::create_dir_all(x509.join("ca/nested/sub-dir")).unwrap();
    std::fs::create_dir_all(x509.join("ca/empty")).unwrap();
    std::fs::create_dir_all(x509.join("signingAuthority/junk")).unwrap();
    std::fs::write(x509.join("signingAuthority/junk/notes.txt"), "hello").unwrap();
    write_cert(&x509.join("tsa/leaf-tsa/leaf.pem"), &leaf.cert);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(x509.join("ca/good"), x509.join("ca/linked")).unwrap();
        write_cert(&x509.join("ca/filelink/real.pem"), &root.cert);
        std::os::unix::fs::symlink(
            x509.join("ca/good/root.pem"),
            x509.join("ca/filelink/link.pem"),
        )
        .unwrap();
    }

    let store = TrustStore::load(dir.path()).unwrap();
    assert_eq!(store.certificates("ca:good").unwrap().len(), 2);
    let err_of = |name: &str| store.certificates(name).unwrap_err().to_string();
    assert!(
        err_of("ca:leafy").contains("neither a CA"),
        "{}",
        err_of("ca:leafy")
    );
    assert!(err_of("ca:nested").contains("not a regular file"));
    assert!(err_of("ca:empty").contains("no x509 certificates"));
    assert!(err_of("signingAuthority:junk").contains("failed to read certificates"));
    assert!(err_of("tsa:leaf-tsa").contains("not a self-signed root CA"));
    assert!(err_of("ca:missing").contains("does not exist"));
    assert!(err_of("ca:..").contains("unsupported trust store name"));
    assert!(err_of("root:good").contains("unsupported trust store type"));
    assert!(err_of("good").contains("malformed trust store value"));
    #[cfg(unix)]
    {
        assert!(
            err_of("ca:linked").contains("symlink"),
            "{}",
            err_of("ca:linked")
        );
        assert!(err_of("ca:filelink").contains("not a regular file"));
    }
    assert!(TrustStore::load(dir.path().join("nope")).is_err());

    // roots_for collects the statement's stores of one type; a broken one fails the lookup.
    let good = policy(
        r#"{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:good","tsa:leaf-tsa"],
        "trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let roots = store
        .roots_for(&good.statements()[0], TrustStoreKind::Ca)
        .unwrap();
    assert_eq!(roots.len(), 2);
    validate_chain(
        std::slice::from_ref(&leaf.cert),
        &roots,
        now(),
        Profile::Notary,
    )
    .unwrap();
    assert!(store
        .roots_for(&good.statements()[0], TrustStoreKind::Tsa)
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Trust policies

fn policy(json: &str) -> Result<TrustPolicy, TrustError> {
    TrustPolicy::from_json(json.as_bytes())
}

/// A one-statement OCI policy with the given statement body fields spliced in.
fn statement(fields: &str) -> String {
    format!(r#"{{"version":"1.0","trustPolicies":[{{"name":"s",{fields}}}]}}"#)
}

const OK_FIELDS: &str = r#""registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]"#;

fn refused(json: &str, needle: &str) {
    match policy(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error {e:?} lacks {needle:?} for {json}"
        ),
    }
}

#[test]
fn policy_document_rules() {
    policy(&statement(OK_FIELDS)).unwrap();
    refused(r#"{"trustPolicies":[]}"#, "no version");
    refused(
        r#"{"version":"1.1","trustPolicies":[]}"#,
        "unsupported version",
    );
    refused(
        r#"{"version":"1.0","trustPolicies":[]}"#,
        "no trust policy statements",
    );
    refused(r#"{"version":"1.0"}"#, "no trust policy statements");
    refused("not json", "malformed JSON");
    let two = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"s",{OK_FIELDS}}},{{"name":"s",{}}}]}}"#,
        OK_FIELDS.replace(r#"["*"],"sig"#, r#"["r.io/a"],"sig"#)
    );
    refused(&two, "statement names must be unique");
    refused(
        &format!(r#"{{"version":"1.0","trustPolicies":[{{{OK_FIELDS}}}]}}"#),
        "has no name",
    );
    // Unknown fields are ignored, as notation's decoder does.
    policy(&statement(&format!(r#"{OK_FIELDS},"comment":"x""#))).unwrap();
}

#[test]
fn verification_level_rules() {
    let with_sv = |sv: &str| {
        statement(&format!(
            r#""registryScopes":["*"],"signatureVerification":{sv},"trustStores":["ca:a"],"trustedIdentities":["*"]"#
        ))
    };
    refused(&with_sv("{}"), "level is empty or missing");
    refused(
        &with_sv(r#"{"level":"lenient"}"#),
        "invalid verification level",
    );
    refused(
        &with_sv(r#"{"level":"strict","override":{"integrity":"log"}}"#),
        "\"integrity\" verification cannot be overridden",
    );
    refused(
        &with_sv(r#"{"level":"strict","override":{"authenticity":"skip"}}"#),
        "cannot be skipped",
    );
    refused(
        &with_sv(r#"{"level":"strict","override":{"signature":"log"}}"#),
        "is not supported",
    );
    refused(
        &with_sv(r#"{"level":"strict","override":{"expiry":"ignore"}}"#),
        "override action",
    );
    refused(
        &with_sv(r#"{"level":"strict","verifyTimestamp":"never"}"#),
        "verifyTimestamp",
    );
    let p = policy(&with_sv(
        r#"{"level":"strict","override":{"revocation":"skip","expiry":"log"},"verifyTimestamp":"afterCertExpiry"}"#,
    ))
    .unwrap();
    let s = &p.statements()[0];
    assert_eq!(s.level(), VerificationLevel::Strict);
    assert_eq!(s.verify_timestamp(), VerifyTimestamp::AfterCertExpiry);
    assert_eq!(s.action(ValidationType::Integrity), Action::Enforce);
    assert_eq!(s.action(ValidationType::Authenticity), Action::Enforce);
    assert_eq!(
        s.action(ValidationType::AuthenticTimestamp),
        Action::Enforce
    );
    assert_eq!(s.action(ValidationType::Expiry), Action::Log);
    assert_eq!(s.action(ValidationType::Revocation), Action::Skip);

    let p = policy(&with_sv(
        r#"{"level":"audit","override":{"authenticity":"enforce"}}"#,
    ))
    .unwrap();
    let s = &p.statements()[0];
    assert_eq!(s.action(ValidationType::Authenticity), Action::Enforce);
    assert_eq!(s.action(ValidationType::Expiry), Action::Log);
    assert_eq!(s.verify_timestamp(), VerifyTimestamp::Always);

    // The table itself.
    use ValidationType::*;
    let table = [
        (VerificationLevel::Strict, ["enforce"; 5]),
        (
            VerificationLevel::Permissive,
            ["enforce", "enforce", "log", "log", "log"],
        ),
        (
            VerificationLevel::Audit,
            ["enforce", "log", "log", "log", "log"],
        ),
        (VerificationLevel::Skip, ["skip"; 5]),
    ];
    for (level, actions) in table {
        for (v, want) in [
            Integrity,
            Authenticity,
            AuthenticTimestamp,
            Expiry,
            Revocation,
        ]
        .into_iter()
        .zip(actions)
        {
            assert_eq!(level.action(v).as_str(), want, "{level} {v}");
        }
    }

    // skip: no customisation, no stores, no identities.
    refused(
        &statement(
            r#""registryScopes":["r.io/a"],"signatureVerification":{"level":"skip","override":{"expiry":"log"}}"#,
        ),
        "cannot be customised",
    );
    refused(
        &statement(
            r#""registryScopes":["r.io/a"],"signatureVerification":{"level":"skip"},"trustStores":["ca:a"]"#,
        ),
        "skip signature verification but configures",
    );
    let p = policy(&statement(
        r#""registryScopes":["r.io/a"],"signatureVerification":{"level":"skip"}"#,
    ))
    .unwrap();
    for v in ValidationType::ALL {
        assert_eq!(p.statements()[0].action(v), Action::Skip);
    }
}

#[test]
fn trust_store_and_identity_rules() {
    let with = |stores: &str, ids: &str| {
        statement(&format!(
            r#""registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":{stores},"trustedIdentities":{ids}"#
        ))
    };
    refused(
        &with("[]", r#"["*"]"#),
        "missing trust stores or trusted identities",
    );
    refused(
        &with(r#"["ca:a"]"#, "[]"),
        "missing trust stores or trusted identities",
    );
    refused(
        &with(r#"["x509:a"]"#, r#"["*"]"#),
        "unsupported trust store type",
    );
    refused(
        &with(r#"["ca"]"#, r#"["*"]"#),
        "malformed trust store value",
    );
    refused(
        &with(r#"["ca:a/b"]"#, r#"["*"]"#),
        "unsupported trust store name",
    );
    refused(
        &with(r#"["ca:a"]"#, r#"["*","x509.subject: C=US, ST=WA, O=x"]"#),
        "'*' must stand alone",
    );
    refused(&with(r#"["ca:a"]"#, r#"[""]"#), "empty trusted identity");
    refused(&with(r#"["ca:a"]"#, r#"["C=US"]"#), "no prefix separator");
    refused(&with(r#"["ca:a"]"#, r#"["x509.subject:"]"#), "has no value");
    refused(
        &with(r#"["ca:a"]"#, r#"["x509.subject: C=US, ST=WA"]"#),
        "mandatory attribute O",
    );
    refused(
        &with(r#"["ca:a"]"#, r#"["x509.subject: C=US, ST=WA, O=a, O=b"]"#),
        "more than once",
    );
    refused(
        &with(
            r#"["ca:a"]"#,
            r#"["x509.subject: C=US, ST=WA, O=#0403616263"]"#,
        ),
        "=#",
    );
    refused(
        &with(
            r#"["ca:a"]"#,
            r#"["x509.subject: C=US, ST=WA, O=wabbit-network.io, OU=org1","x509.subject: C=US, ST=WA, O=wabbit-network.io"]"#,
        ),
        "overlapping",
    );
    // Identities with other prefixes are accepted (plugins) and never match here.
    let p = policy(&with(
        r#"["ca:a","signingAuthority:b","tsa:c"]"#,
        r#"["x509.subject: C=US, ST=WA, O=Notary","plugin.id: something"]"#,
    ))
    .unwrap();
    let s = &p.statements()[0];
    assert_eq!(s.trust_stores().len(), 3);
    assert!(matches!(
        s.trusted_identities()[1],
        TrustedIdentity::Other { .. }
    ));
}

#[test]
fn registry_scope_rules_and_selection() {
    let stmt = |name: &str, scopes: &str| {
        format!(
            r#"{{"name":"{name}","registryScopes":{scopes},"signatureVerification":{{"level":"audit"}},"trustStores":["ca:a"],"trustedIdentities":["*"]}}"#
        )
    };
    let doc = |stmts: &[String]| {
        format!(
            r#"{{"version":"1.0","trustPolicies":[{}]}}"#,
            stmts.join(",")
        )
    };
    refused(&doc(&[stmt("a", "[]")]), "no registry scopes");
    refused(
        &doc(&[stmt("a", r#"["*","r.io/x"]"#)]),
        "'*' must stand alone",
    );
    refused(&doc(&[stmt("a", r#"["r.io/x:v1"]"#)]), "is not valid");
    refused(
        &doc(&[stmt("a", r#"["r.io/x@sha256:abcd"]"#)]),
        "is not valid",
    );
    refused(&doc(&[stmt("a", r#"["r.io/*"]"#)]), "wildcard");
    refused(&doc(&[stmt("a", r#"["x"]"#)]), "is not valid");
    refused(
        &doc(&[
            stmt("a", r#"["r.io/x"]"#),
            stmt("b", r#"["r.io/y","r.io/x"]"#),
        ]),
        "a repository may belong to one statement only",
    );
    refused(
        &doc(&[stmt("a", r#"["*"]"#), stmt("b", r#"["*"]"#)]),
        "only one statement may be global",
    );

    let p = policy(&doc(&[
        stmt("global", r#"["*"]"#),
        stmt(
            "exact",
            r#"["registry.acme-rockets.io/software/net-monitor","localhost:5000/net-monitor"]"#,
        ),
    ]))
    .unwrap();
    let name = |repo: &str| p.policy_for(repo).map(|s| s.name().to_string());
    assert_eq!(
        name("registry.acme-rockets.io/software/net-monitor").as_deref(),
        Some("exact")
    );
    assert_eq!(name("localhost:5000/net-monitor").as_deref(), Some("exact"));
    assert_eq!(name("docker.io/library/nginx").as_deref(), Some("global"));
    let p = policy(&doc(&[stmt("only", r#"["r.io/x"]"#)])).unwrap();
    assert!(p.policy_for("r.io/y").is_none());
    assert_eq!(p.policy_for("r.io/x").unwrap().name(), "only");
}

#[test]
fn identity_matching_is_attribute_subset() {
    let p = policy(&statement(
        r#""registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:a"],
        "trustedIdentities":["x509.subject: C=US, ST=WA, O=Notary, CN=alpine","x509.subject: C=US, S=CA, o=Acme"]"#,
    ))
    .unwrap();
    let s = &p.statements()[0];
    assert!(trusted_identity_matches(
        s,
        "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"
    ));
    assert!(trusted_identity_matches(
        s,
        "C=US,ST=WA,L=Seattle,O=Notary,CN=alpine"
    ));
    assert!(trusted_identity_matches(s, "CN=anything,O=Acme,ST=CA,C=US"));
    assert!(!trusted_identity_matches(
        s,
        "CN=alpine2,O=Notary,ST=WA,C=US"
    ));
    assert!(!trusted_identity_matches(
        s,
        "CN=alpine,O=notary,ST=WA,C=US"
    ));
    assert!(!trusted_identity_matches(s, "CN=alpine,O=Notary,C=US"));
    // Repeated or multi-valued attributes in the subject match nothing.
    assert!(!trusted_identity_matches(
        s,
        "CN=alpine,O=Notary,O=Other,ST=WA,C=US"
    ));
    assert!(!trusted_identity_matches(
        s,
        "CN=alpine+O=Notary,ST=WA,C=US"
    ));
    // An attribute in #hex form never stands in for a text value.
    assert!(!trusted_identity_matches(
        s,
        "CN=alpine,O=#0c064e6f74617279,ST=WA,C=US"
    ));

    let any = policy(&statement(OK_FIELDS)).unwrap();
    assert!(trusted_identity_matches(&any.statements()[0], "CN=whoever"));
}

#[test]
fn blob_policy_rules() {
    let p = BlobTrustPolicy::from_json(
        br#"{"version":"1.0","trustPolicies":[
        {"name":"a","signatureVerification":{"level":"strict"},"trustStores":["ca:a"],"trustedIdentities":["*"]},
        {"name":"b","signatureVerification":{"level":"audit"},"trustStores":["ca:a"],"trustedIdentities":["*"],"globalPolicy":true}]}"#,
    )
    .unwrap();
    assert_eq!(
        p.policy_named("a").unwrap().level(),
        VerificationLevel::Strict
    );
    assert_eq!(p.global_policy().unwrap().name(), "b");
    let err = BlobTrustPolicy::from_json(
        br#"{"version":"1.0","trustPolicies":[
        {"name":"a","signatureVerification":{"level":"skip"},"globalPolicy":true},
        {"name":"b","signatureVerification":{"level":"skip"},"globalPolicy":true}]}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("globalPolicy"), "{err}");
}

#[test]
fn policy_files_must_be_regular() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trustpolicy.json");
    std::fs::write(&file, statement(OK_FIELDS)).unwrap();
    TrustPolicy::load(&file).unwrap();
    #[cfg(unix)]
    {
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = TrustPolicy::load(&link).unwrap_err();
        assert!(
            err.to_string().contains("symlinks are not supported"),
            "{err}"
        );
    }
    assert!(TrustPolicy::load(dir.path()).is_err());
}

// ---------------------------------------------------------------------------------------------
// Upstream Notary Project data (../shared/interop/notation)

fn interop() -> Option<PathBuf> {
    support::interop::set("notation")
}

fn load_one(path: &Path) -> Certificate {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut certs = load_pem_certificates(&bytes).unwrap();
    assert_eq!(certs.len(), 1, "{}", path.display());
    certs.remove(0)
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

#[test]
fn interop_certificate_files_parse() {
    let Some(dir) = interop() else { return };
    let x = dir.join("notation-core-go/x509");
    let count =
        |f: &str| load_pem_certificates(&std::fs::read(x.join(f)).unwrap()).map(|c| c.len());
    assert_eq!(count("pem.crt").unwrap(), 1);
    assert_eq!(count("der.der").unwrap(), 1);
    assert_eq!(count("multi-pem.crt").unwrap(), 2);
    assert_eq!(count("multi-der.der").unwrap(), 2);
    assert!(count("invalid").is_err());
    let g = load_one(&x.join("der.der"));
    assert_eq!(
        g.subject(),
        "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R3"
    );
    assert!(g.is_ca() && g.is_self_signed());
}

#[test]
fn interop_notation_go_trust_store() {
    let Some(dir) = interop() else { return };
    let store = TrustStore::load(dir.join("notation-go/truststore")).unwrap();
    for ok in [
        "ca:valid-trust-store",
        "ca:valid-trust-store-2",
        "ca:valid-trust-store-self-signed",
        "signingAuthority:valid-trust-store",
        "signingAuthority:valid-trust-store-2",
        "tsa:test-timestamp",
        "tsa:test-mismatch",
    ] {
        let certs = store
            .certificates(ok)
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(!certs.is_empty(), "{ok}");
    }
    assert_eq!(store.certificates("ca:valid-trust-store").unwrap().len(), 6);
    assert_eq!(
        store
            .certificates("ca:valid-trust-store-self-signed")
            .unwrap()
            .len(),
        1
    );
    for (bad, why) in [
        (
            "ca:trust-store-with-invalid-certs",
            "failed to read certificates",
        ),
        ("ca:trust-store-with-leaf-certs", "neither a CA"),
        (
            "ca:trust-store-with-leaf-certs-in-single-file",
            "neither a CA",
        ),
        ("tsa:test-nonCA", "not a self-signed root CA"),
        ("tsa:test-nonSelfIssued", "not a self-signed root CA"),
    ] {
        let err = store.certificates(bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn interop_mock_envelope_chain_validates() {
    // notation-go's mock envelopes: leaf "CN=Notation Test Root" (RSA-3072) signed by the root
    // of the same name; the leaf is NOT self-signed.
    let Some(dir) = interop() else { return };
    let leaf = load_one(&dir.join("derived-signer-certs/notation-test-leaf-rsa3072.pem"));
    let root = load_one(
        &dir.join("notation-go/truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"),
    );
    assert_eq!(leaf.subject(), root.subject());
    assert!(leaf.is_self_issued() && !leaf.is_self_signed());
    assert!(root.is_self_signed());
    assert_eq!(leaf.key_algorithm(), &KeyAlgorithm::Rsa { bits: 3072 });
    for profile in [Profile::Notary, Profile::CodeSigning] {
        validate_chain(
            std::slice::from_ref(&leaf),
            std::slice::from_ref(&root),
            now(),
            profile,
        )
        .unwrap();
        validate_chain(
            &[leaf.clone(), root.clone()],
            std::slice::from_ref(&root),
            now(),
            profile,
        )
        .unwrap();
    }
    // The trust store's ca:valid-trust-store as roots, and the envelope's own x5c chain.
    let store = TrustStore::load(dir.join("notation-go/truststore")).unwrap();
    let roots = store.certificates("ca:valid-trust-store").unwrap();
    validate_chain(std::slice::from_ref(&leaf), roots, now(), Profile::Notary).unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("notation-go/envelopes/mock/ca_valid_sig_env.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine as _;
    let x5c: Vec<Certificate> = envelope["header"]["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(c.as_str().unwrap())
                .unwrap();
            Certificate::from_der(&der).unwrap()
        })
        .collect();
    assert_eq!(x5c, vec![leaf.clone(), root.clone()]);
    validate_chain(&x5c, roots, now(), Profile::Notary).unwrap();
    // Not against an unrelated store.
    let other = store.certificates("ca:valid-trust-store-2").unwrap();
    let err = validate_chain(&x5c, other, now(), Profile::Notary).unwrap_err();
    assert!(matches!(err, CertError::Untrusted { .. }), "{err}");
}

#[test]
fn interop_self_signed_signers() {
    let Some(dir) = interop() else { return };
    let d = dir.join("derived-signer-certs");
    // alpine: valid 2000..2123.
    let alpine = load_one(&d.join("alpine-selfsigned-2000-2123.pem"));
    validate_chain(
        std::slice::from_ref(&alpine),
        std::slice::from_ref(&alpine),
        now(),
        Profile::Notary,
    )
    .unwrap();
    // wabbit-networks: expired 2023-01-12; fine the day before.
    let wabbit = load_one(&d.join("wabbit-networks-selfsigned-expired-20230112.pem"));
    let err = validate_chain(
        std::slice::from_ref(&wabbit),
        std::slice::from_ref(&wabbit),
        now(),
        Profile::Notary,
    )
    .unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err}");
    validate_chain(
        std::slice::from_ref(&wabbit),
        std::slice::from_ref(&wabbit),
        at(1_673_400_000),
        Profile::Notary,
    )
    .unwrap();
    // Not yet valid (2099..2100).
    let future = load_one(
        &dir.join("notation-go/truststore/x509/ca/valid-trust-store/TestTimestampNotYetValid.crt"),
    );
    let err = validate_chain(
        std::slice::from_ref(&future),
        std::slice::from_ref(&future),
        now(),
        Profile::Notary,
    )
    .unwrap_err();
    assert!(matches!(err, CertError::NotYetValid { .. }), "{err}");
    // A self-signed signer trusted through someone else's store is not trusted.
    let err = validate_chain(&[alpine], &[wabbit], now(), Profile::Notary).unwrap_err();
    assert!(matches!(err, CertError::Untrusted { .. }), "{err}");
    // The blob envelope's signer (RSA-3072, self-signed).
    let trusted = load_one(&dir.join("notation-go/blob-envelope/trustedCert.pem"));
    let one = std::slice::from_ref(&trusted);
    validate_chain(one, one, now(), Profile::Notary).unwrap();
}

#[test]
fn interop_timestamping_chain_is_not_a_signing_chain() {
    // notation-core-go's DigiCert chain: TSA leaf -> intermediate (pathlen 0) -> root G4.
    let Some(dir) = interop() else { return };
    let x = dir.join("notation-core-go/x509");
    let leaf = load_one(&x.join("timestamp_leaf.crt"));
    let inter = load_one(&x.join("timestamp_intermediate.crt"));
    let root = load_one(&x.join("timestamp_root.crt"));
    assert!(leaf.is_issued_by(&inter) && inter.is_issued_by(&root) && root.is_self_signed());
    assert_eq!(inter.path_len(), Some(0));
    let when = at(1_767_225_600); // 2026-01-01
    let err = validate_chain(
        &[leaf.clone(), inter.clone()],
        std::slice::from_ref(&root),
        when,
        Profile::Notary,
    )
    .unwrap_err();
    assert!(err.to_string().contains("timeStamping"), "{err}");
    let err = validate_chain(&[leaf, inter], &[root], when, Profile::CodeSigning).unwrap_err();
    assert!(err.to_string().contains("codeSigning"), "{err}");
}

#[test]
fn interop_identity_matching_on_real_subjects() {
    let Some(dir) = interop() else { return };
    let d = dir.join("derived-signer-certs");
    let subject = |f: &str| load_one(&d.join(f)).subject().to_string();
    let alpine = subject("alpine-selfsigned-2000-2123.pem");
    let leaf = subject("notation-test-leaf-rsa3072.pem");
    let wabbit = subject("wabbit-networks-selfsigned-expired-20230112.pem");
    assert_eq!(alpine, "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US");

    // The identities cases.json uses for these signers.
    let stmt = |identity: &str| {
        policy(&statement(&format!(
            r#""registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:a"],"trustedIdentities":["{identity}"]"#
        )))
        .unwrap()
    };
    let p_alpine = stmt("x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine");
    let p_root = stmt("x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US");
    let p_wabbit = stmt("x509.subject: CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US");
    let p_notary = stmt("x509.subject: C=US, ST=WA, O=Notary");
    let s = |p: &TrustPolicy| p.statements()[0].clone();
    assert!(trusted_identity_matches(&s(&p_alpine), &alpine));
    assert!(!trusted_identity_matches(&s(&p_alpine), &leaf));
    assert!(trusted_identity_matches(&s(&p_root), &leaf));
    assert!(!trusted_identity_matches(&s(&p_root), &wabbit));
    assert!(trusted_identity_matches(&s(&p_wabbit), &wabbit));
    for subj in [&alpine, &leaf, &wabbit] {
        assert!(trusted_identity_matches(&s(&p_notary), subj), "{subj}");
    }

    // notation-go's bad-cert.pem has CN "Bad=#CN": its subject escapes the '='.
    let bad = load_one(&dir.join("notation-go/misc-certs/bad-cert.pem"));
    assert!(bad.subject().contains("CN=Bad\\=#CN"), "{}", bad.subject());
    assert!(trusted_identity_matches(
        &s(&stmt("x509.subject: C=US, ST=WA, O=SomeOrg")),
        bad.subject()
    ));

    // cases.json: every x509.subject identity it uses parses under notation's rules.
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let doc = &case["trustPolicy"];
        if !doc.is_object() {
            continue;
        }
        let text = serde_json::to_vec(doc).unwrap();
        let oci = doc["trustPolicies"][0].get("registryScopes").is_some();
        let result = if oci {
            TrustPolicy::from_json(&text).map(|_| ())
        } else {
            BlobTrustPolicy::from_json(&text).map(|_| ())
        };
        result.unwrap_or_else(|e| panic!("{}: {e}", case["id"]));
        checked += 1;
    }
    assert!(checked > 20, "only {checked} policies in cases.json");
}

#[test]
fn interop_specification_example_policies_validate() {
    let Some(dir) = interop() else { return };
    let ex = dir.join("specifications-examples");
    let read = |n: u32| {
        support::interop::strip_jsonc(
            &std::fs::read_to_string(
                ex.join(format!("trust-store-trust-policy.example0{n}.jsonc")),
            )
            .unwrap(),
        )
    };
    // 1-3: OCI trust policies.
    for n in 1..=3 {
        let p = TrustPolicy::from_json(read(n).as_bytes())
            .unwrap_or_else(|e| panic!("example0{n}: {e}"));
        assert!(!p.statements().is_empty());
    }
    let p = TrustPolicy::from_json(read(2).as_bytes()).unwrap();
    assert_eq!(
        p.policy_for("registry.wabbit-networks.io/software/unsigned/net-utils")
            .unwrap()
            .level(),
        VerificationLevel::Skip
    );
    let legacy = p
        .policy_for("registry.acme-rockets.io/software/legacy/metrics")
        .unwrap();
    assert_eq!(legacy.action(ValidationType::Expiry), Action::Log);
    assert_eq!(legacy.action(ValidationType::Revocation), Action::Skip);
    assert_eq!(
        p.policy_for("example.com/anything").unwrap().name(),
        "global-policy-for-all-other-images"
    );
    let p3 = TrustPolicy::from_json(read(3).as_bytes()).unwrap();
    assert_eq!(
        p3.statements()[0].verify_timestamp(),
        VerifyTimestamp::AfterCertExpiry
    );
    // 4-5: blob trust policies.
    for n in 4..=5 {
        BlobTrustPolicy::from_json(read(n).as_bytes())
            .unwrap_or_else(|e| panic!("example0{n}: {e}"));
    }
    let b = BlobTrustPolicy::from_json(read(4).as_bytes()).unwrap();
    assert_eq!(
        b.global_policy().unwrap().name(),
        "global-policy-for-all-blobs"
    );
    // 6: a signatureVerification fragment.
    let fragment = read(6);
    let doc = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"f","registryScopes":["*"],{fragment},"trustStores":["ca:a"],"trustedIdentities":["*"]}}]}}"#
    );
    let p6 = TrustPolicy::from_json(doc.as_bytes()).unwrap();
    assert_eq!(
        p6.statements()[0].action(ValidationType::Expiry),
        Action::Log
    );
}

#[test]
fn interop_e2e_trust_policies() {
    let Some(dir) = interop() else { return };
    let e2e = dir.join("notation-cli-e2e/trustpolicies");
    if !e2e.is_dir() {
        support::interop::absent(e2e.display());
        return;
    }
    // cases.json verifies signatures with these, so they must be valid documents.
    for name in [
        "trustpolicy.json",
        "valid_trusted_identity_trustpolicy.json",
        "invalid_trusted_identity_trustpolicy.json",
        "override_strict_trustpolicy.json",
        "override_permissive_trustpolicy.json",
        "override_audit_trustpolicy.json",
        "skip_trustpolicy.json",
    ] {
        let path = e2e.join(name);
        if path.is_file() {
            TrustPolicy::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    // The rest: report what each one does (the expected errors live outside this data set).
    let mut names: Vec<_> = std::fs::read_dir(&e2e)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read(&path).unwrap();
        let oci = TrustPolicy::from_json(&text);
        let blob = BlobTrustPolicy::from_json(&text);
        eprintln!(
            "{}: oci={:?} blob={:?}",
            path.file_name().unwrap().to_string_lossy(),
            oci.err().map(|e| e.to_string()),
            blob.err().map(|e| e.to_string())
        );
    }
}

#[test]
fn interop_crl_three_level_chain() {
    let Some(dir) = interop() else { return };
    let crl = dir.join("notation-cli-e2e/crl");
    if !crl.is_dir() {
        support::interop::absent(crl.display());
        return;
    }
    // Every certificate in the folder, arranged by role: leaf -> intermediate -> root.
    let mut certs = Vec::new();
    for entry in std::fs::read_dir(&crl).unwrap().flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "crt" | "pem" | "cer") {
            if let Ok(found) = load_pem_certificates(&std::fs::read(&path).unwrap()) {
                certs.extend(found);
            }
        }
    }
    let root = certs
        .iter()
        .find(|c| c.is_ca() && c.is_self_signed())
        .cloned();
    let inter = certs
        .iter()
        .find(|c| c.is_ca() && !c.is_self_signed())
        .cloned();
    let leaf = certs.iter().find(|c| !c.is_ca()).cloned();
    let (Some(root), Some(inter), Some(leaf)) = (root, inter, leaf) else {
        eprintln!(
            "note: {} does not hold a leaf, an intermediate and a root; skipping",
            crl.display()
        );
        return;
    };
    for profile in [Profile::Notary, Profile::CodeSigning] {
        validate_chain(
            &[leaf.clone(), inter.clone()],
            std::slice::from_ref(&root),
            now(),
            profile,
        )
        .unwrap();
    }
    validate_chain(
        &[leaf, inter, root.clone()],
        &[root],
        now(),
        Profile::Notary,
    )
    .unwrap();
}
