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
