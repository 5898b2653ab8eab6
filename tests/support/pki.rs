//! The one test PKI builder (rcgen): certificate authorities, code-signing leaves and TLS
//! server certificates, each a [`Node`] that can issue more. Validity is relative to now.
//!
//! The demo PKI that `imgseal cert generate-test` writes is the library's own
//! (`generate_test`); this module builds the unusual ones tests need (expired leaves, path
//! lengths, SANs, missing EKUs, …) by editing [`CertificateParams`] before [`issue`].
#![allow(dead_code)]
use imgseal::pki::Certificate;
pub use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

/// A certificate with the rcgen parameters and key that made it, so it can issue more.
pub struct Node {
    /// The certificate as imgseal parses it.
    pub cert: Certificate,
    pub params: CertificateParams,
    pub key: KeyPair,
}

impl Node {
    /// The certificate in PEM.
    pub fn pem(&self) -> String {
        pem_of(self.cert.der())
    }

    /// The private key in PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// DER certificate bytes as a PEM `CERTIFICATE` block.
pub fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// `C=US, ST=WA, O=imgseal tests, CN=cn`.
pub fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::StateOrProvinceName, "WA");
    dn.push(DnType::OrganizationName, "imgseal tests");
    dn.push(DnType::CommonName, cn);
    dn
}

/// A DN with only a common name.
pub fn cn_only(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

pub fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// A CA (keyCertSign, cRLSign) valid from yesterday for a year; `path_len` constrains it.
pub fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = now - days(1);
    p.not_after = now + days(365);
    p
}

/// A code-signing leaf (digitalSignature, EKU codeSigning) valid from yesterday for 30 days.
pub fn leaf_params(cn: &str) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.not_before = now - days(1);
    p.not_after = now + days(30);
    p
}

/// A fresh P-256 key.
pub fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// Issue `params` with a fresh key: self-signed when `issuer` is `None`.
pub fn issue(params: CertificateParams, issuer: Option<&Node>) -> Node {
    issue_with_key(params, new_key(), issuer)
}

/// Issue `params` for `key`: self-signed when `issuer` is `None`.
pub fn issue_with_key(params: CertificateParams, key: KeyPair, issuer: Option<&Node>) -> Node {
    let cert = match issuer {
        None => params.self_signed(&key).unwrap(),
        Some(parent) => params
            .signed_by(&key, &Issuer::from_params(&parent.params, &parent.key))
            .unwrap(),
    };
    Node {
        cert: Certificate::from_der(cert.der()).unwrap(),
        params,
        key,
    }
}

/// A key pair imgseal made, as an rcgen key (for certificates over imgseal signing keys).
pub fn rcgen_key(key: &imgseal::SigningKey) -> KeyPair {
    KeyPair::try_from(key.to_pkcs8_der().unwrap().as_slice()).unwrap()
}

/// A CA named `NAME CA` and a TLS server certificate from it for localhost and 127.0.0.1:
/// (CA PEM, certificate PEM, key PEM).
pub fn tls_server(name: &str) -> (String, String, String) {
    let mut ca = CertificateParams::default();
    ca.distinguished_name = cn_only(&format!("{name} CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = issue(ca, None);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server = issue(leaf, Some(&ca));
    (ca.pem(), server.pem(), server.key_pem())
}
