//! L1 public-key infrastructure: X.509 certificates ([`cert`]), distinguished names rendered
//! and parsed ([`dn`]), chain validation and its profiles ([`chain`]), CRL parsing and checking
//! without network ([`crl`]), RFC 3161 timestamp tokens ([`tsp`]) and the demo PKI generator
//! ([`test_pki`]).

pub mod cert;
pub mod chain;
pub mod crl;
pub mod dn;
pub mod test_pki;
pub mod tsp;

pub use cert::{
    load_pem_certificates, CertError, Certificate, EcCurve, HashAlgorithm, KeyAlgorithm,
    SignatureAlgorithm,
};
pub use chain::{validate_chain, Profile};
pub use test_pki::{generate_test, generate_test_at, TestPki};
