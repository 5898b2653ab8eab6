//! The throwaway demo and test PKI behind `cert generate-test`.

use std::fmt;

use crate::pki::cert::{CertError, Certificate};
use crate::util::time::{Clock, SystemClock};

/// A throwaway PKI for tests and demos, from [`generate_test`].
#[derive(Clone)]
#[non_exhaustive]
pub struct TestPki {
    /// The self-signed root CA (`CN=<name> Test Root`).
    pub root: Certificate,
    /// The signing certificate (`CN=<name>`), issued by `root`.
    pub leaf: Certificate,
    /// `root` as PEM.
    pub root_pem: String,
    /// `leaf` as PEM.
    pub leaf_pem: String,
    /// The leaf's ECDSA P-256 private key, unencrypted PKCS#8 PEM (`PRIVATE KEY`); loads with
    /// [`crate::crypto::keys::SigningKey::from_pem`].
    pub leaf_key_pem: zeroize::Zeroizing<String>,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("root", &self.root)
            .field("leaf", &self.leaf)
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// The chain as PEM, leaf first then root (what a signer embeds).
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.leaf_pem, self.root_pem)
    }
}

/// Make a test PKI named `name`, like `notation cert generate-test`: a self-signed root CA
/// `CN=<name> Test Root` (ECDSA P-256, `pathLenConstraint` 0, `keyCertSign`+`cRLSign`) and a
/// signing certificate `CN=<name>` issued by it (ECDSA P-256, `digitalSignature`, EKU
/// `codeSigning`, not a CA), both valid for one year from now. Both names also carry
/// `O=Notary, ST=WA, C=US` so that a Notary Project trusted identity (which must name C, ST and
/// O) can match them, e.g. `x509.subject: C=US, ST=WA, O=Notary, CN=<name>`.
pub fn generate_test(name: &str) -> crate::Result<TestPki> {
    generate_test_at(name, &SystemClock)
}

/// [`generate_test`] with the validity period starting at `clock`'s time instead of the wall
/// clock's (so that expiry can be tested at a fixed instant).
pub fn generate_test_at(name: &str, clock: &dyn Clock) -> crate::Result<TestPki> {
    use rcgen::{
        BasicConstraints as Bc, CertificateParams, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
        PKCS_ECDSA_P256_SHA256,
    };
    let gen = |e: rcgen::Error| CertError::Generate(e.to_string());
    if name.trim().is_empty() || name.chars().count() > 56 || name.chars().any(char::is_control) {
        return Err(CertError::Generate(format!(
            "name {name:?} must be 1 to 56 printable characters"
        ))
        .into());
    }
    let start = clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| CertError::Generate("the clock is before 1970".into()))?;
    let now = time::OffsetDateTime::from_unix_timestamp(start.as_secs() as i64)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let dn = |cn: &str| {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::StateOrProvinceName, "WA");
        dn.push(DnType::OrganizationName, "Notary");
        dn.push(DnType::CommonName, cn);
        dn
    };
    let serial = || -> Result<SerialNumber, CertError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| CertError::Generate(format!("the system random generator failed: {e}")))?;
        bytes[0] = (bytes[0] & 0x7f) | 0x01;
        Ok(SerialNumber::from_slice(&bytes))
    };

    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let mut root_params = CertificateParams::default();
    root_params.distinguished_name = dn(&format!("{name} Test Root"));
    root_params.is_ca = IsCa::Ca(Bc::Constrained(0));
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root_params.not_before = now;
    root_params.not_after = now + time::Duration::days(365);
    root_params.serial_number = Some(serial()?);
    let root_cert = root_params.self_signed(&root_key).map_err(gen)?;
    let issuer = Issuer::new(root_params, root_key);

    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = dn(name);
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now;
    leaf_params.not_after = now + time::Duration::days(365);
    leaf_params.serial_number = Some(serial()?);
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(gen)?;

    let root = Certificate::from_der(root_cert.der())?;
    let leaf = Certificate::from_der(leaf_cert.der())?;
    Ok(TestPki {
        root_pem: root.to_pem(),
        leaf_pem: leaf.to_pem(),
        root,
        leaf,
        leaf_key_pem: zeroize::Zeroizing::new(leaf_key.serialize_pem()),
    })
}
