//! Trust for cosign's key-in-certificate mode ("bring your own PKI"): the root certificates a
//! signing certificate must chain to, and the identity (SAN) or subject it must carry. The
//! checks themselves run in the verify pipeline.

use crate::pki::{load_pem_certificates, Certificate};

/// Trust roots and identity constraints for cosign certificate-mode signatures.
#[derive(Clone, Debug)]
pub struct CertificateTrust {
    /// Root certificates (`--certificate-chain`).
    pub roots: Vec<Certificate>,
    /// Identity the signing certificate must carry (`--certificate-identity`): one of its
    /// email, URI or DNS subject alternative names, as cosign matches. The subject (CN, DN) is
    /// never matched here: CAs commonly validate the SAN and copy the CN from the request.
    pub identity: Option<String>,
    /// Subject the signing certificate must have (an explicit opt-in): its common name or its
    /// whole subject DN (RFC 4514, as imgseal prints it). For PKIs that put the identity in the
    /// subject only.
    pub subject: Option<String>,
}

/// A PEM file of root certificates.
const MAX_ROOTS_FILE: u64 = 4 * 1024 * 1024;

impl CertificateTrust {
    /// Load roots from a PEM file.
    pub fn load(
        roots: &std::path::Path,
        identity: Option<String>,
    ) -> crate::Result<CertificateTrust> {
        let bytes = crate::util::fs::read_capped(roots, MAX_ROOTS_FILE, "a certificate file")?;
        let roots = load_pem_certificates(&bytes)?;
        Ok(CertificateTrust {
            roots,
            identity,
            subject: None,
        })
    }

    /// Also require the signing certificate's subject CN or DN to equal `subject`.
    pub fn with_subject(mut self, subject: Option<String>) -> CertificateTrust {
        self.subject = subject;
        self
    }
}
