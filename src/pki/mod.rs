//! L1 public-key infrastructure: X.509 certificates and chain validation ([`cert`]), CRL
//! parsing and checking ([`crl`]) and RFC 3161 timestamp tokens ([`tsp`]).

pub mod cert;
pub mod crl;
pub mod tsp;
