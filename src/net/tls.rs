//! The process-wide rustls client configuration: the platform verifier (system roots, as
//! reqwest would set it up), created on the first TLS handshake instead of with the client, so
//! a run that only talks plain HTTP (a loopback registry, an OCI layout) never reads the
//! system certificate directory, and a process reads it at most once.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The TLS client configuration every HTTP client of this process uses (a cheap clone of one
/// shared configuration): TLS 1.2 and 1.3 with ring, SNI, ALPN `h2` then `http/1.1`, and
/// server certificates checked against the system roots by the platform verifier.
pub(super) fn client_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(build_config).clone()
}

fn build_config() -> rustls::ClientConfig {
    let provider = provider();
    let verifier = Arc::new(Verifier::new(provider.clone(), Certificates::System));
    let mut config = builder(provider, verifier).with_no_client_auth();
    config.alpn_protocols = alpn();
    config
}

/// The process's default crypto provider, or ring's.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// TLS 1.2 and 1.3 with `provider`, server certificates checked by `verifier`.
fn builder(
    provider: Arc<CryptoProvider>,
    verifier: Arc<Verifier>,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .unwrap_or_else(|_| {
            // ring supports every protocol version rustls knows; fall back to rustls's own
            // defaults rather than panic should that ever change.
            rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS)
        })
        .dangerous()
        .with_custom_certificate_verifier(verifier)
}

/// ALPN: `h2` then `http/1.1`.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// Which server certificates a [`Verifier`] accepts.
#[derive(Debug)]
enum Certificates {
    /// Those the system roots vouch for (the platform verifier).
    System,
    /// Those the given CA certificates vouch for, else those the system's do (as cosign adds
    /// `--registry-cacert` to the system pool).
    ExtraThenSystem(Arc<rustls::client::WebPkiServerVerifier>),
    /// `--allow-insecure-registry`: any certificate (handshake signatures are still checked,
    /// so the session is encrypted, but not authenticated).
    Any,
}

/// The one server-certificate verifier: certificates as [`Certificates`] says, checked against
/// the system roots by `rustls_platform_verifier::Verifier`, built (system roots read) on the
/// first certificate it has to check. Handshake signatures are checked with the provider's
/// algorithms, exactly as the platform verifier does, without needing the roots.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    certificates: Certificates,
    system: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl Verifier {
    fn new(provider: Arc<CryptoProvider>, certificates: Certificates) -> Verifier {
        Verifier {
            provider,
            certificates,
            system: OnceLock::new(),
        }
    }

    fn system(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.system
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.certificates {
            Certificates::Any => return Ok(ServerCertVerified::assertion()),
            Certificates::ExtraThenSystem(extra) => {
                if let Ok(ok) = extra.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    return Ok(ok);
                }
            }
            Certificates::System => {}
        }
        self.system()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// TLS settings for registries beyond the system roots: extra CA certificates
/// (`--registry-cacert`), a client certificate for mutual TLS, or no verification at all
/// (`--allow-insecure-registry`). With any of them, loopback registries are reached over HTTPS
/// too.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// DER certificates trusted as roots in addition to the system's.
    pub extra_roots: Vec<Vec<u8>>,
    /// The client certificate chain (DER, leaf first) and its private key (DER: PKCS#8, SEC1
    /// or PKCS#1), presented when a registry asks.
    pub client_identity: Option<(Vec<Vec<u8>>, Vec<u8>)>,
    /// Accept any server certificate (the connection is then not authenticated).
    pub insecure_skip_verify: bool,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_roots", &self.extra_roots.len())
            .field("client_identity", &self.client_identity.is_some())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

impl TlsOptions {
    /// Read a CA bundle (PEM, one or more certificates), a client certificate chain (PEM) and
    /// its key (PEM: `PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`).
    pub fn from_pem_files(
        cacert: Option<&std::path::Path>,
        client_cert: Option<&std::path::Path>,
        client_key: Option<&std::path::Path>,
        insecure_skip_verify: bool,
    ) -> crate::Result<TlsOptions> {
        const MAX_PEM: u64 = 4 * 1024 * 1024;
        let mut out = TlsOptions {
            insecure_skip_verify,
            ..TlsOptions::default()
        };
        if let Some(path) = cacert {
            let bytes = crate::util::fs::read_capped(path, MAX_PEM, "a CA certificate file")?;
            let certs = crate::pki::load_pem_certificates(&bytes).map_err(|e| {
                crate::Error::invalid(
                    format!("CA certificate file {}", path.display()),
                    e.to_string(),
                )
            })?;
            if certs.is_empty() {
                return Err(crate::Error::invalid(
                    format!("CA certificate file {}", path.display()),
                    "holds no CERTIFICATE block",
                ));
            }
            out.extra_roots = certs.iter().map(|c| c.der().to_vec()).collect();
        }
        match (client_cert, client_key) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let bytes =
                    crate::util::fs::read_capped(cert, MAX_PEM, "a client certificate file")?;
                let chain = crate::pki::load_pem_certificates(&bytes).map_err(|e| {
                    crate::Error::invalid(
                        format!("client certificate {}", cert.display()),
                        e.to_string(),
                    )
                })?;
                if chain.is_empty() {
                    return Err(crate::Error::invalid(
                        format!("client certificate {}", cert.display()),
                        "holds no CERTIFICATE block",
                    ));
                }
                let key_text = crate::util::fs::read_capped(key, MAX_PEM, "a client key file")?;
                let block = pem::parse(&key_text).map_err(|e| {
                    crate::Error::invalid(format!("client key {}", key.display()), e.to_string())
                })?;
                if !matches!(
                    block.tag(),
                    "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY"
                ) {
                    return Err(crate::Error::invalid(
                        format!("client key {}", key.display()),
                        format!("a {} block is not an unencrypted private key", block.tag()),
                    ));
                }
                out.client_identity = Some((
                    chain.iter().map(|c| c.der().to_vec()).collect(),
                    block.contents().to_vec(),
                ));
            }
            _ => {
                return Err(crate::Error::Usage(
                    "a client certificate needs its key and a key its certificate".into(),
                ))
            }
        }
        // Checked now, so a bad file fails before any request.
        client_config_with(&out)
            .map_err(|e| crate::Error::invalid("TLS settings", e.to_string()))?;
        Ok(out)
    }

    /// True when nothing beyond the system roots is configured.
    pub fn is_default(&self) -> bool {
        self.extra_roots.is_empty() && self.client_identity.is_none() && !self.insecure_skip_verify
    }
}

/// Why TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A CA certificate is not one rustls can use as a root.
    #[error("CA certificate {index} cannot be used as a trust anchor: {reason}")]
    BadRoot {
        /// Its position in the file (from 0).
        index: usize,
        /// Why.
        reason: String,
    },
    /// The client key is not PKCS#8, SEC1 or PKCS#1 DER, or does not go with the certificate.
    #[error("the client certificate and key cannot be used: {0}")]
    BadClientIdentity(String),
}

/// A client configuration for `options` (the shared one when they are the default).
pub(super) fn client_config_with(options: &TlsOptions) -> Result<rustls::ClientConfig, TlsError> {
    if options.is_default() {
        return Ok(client_config());
    }
    let provider = provider();
    let certificates = if options.insecure_skip_verify {
        Certificates::Any
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for (index, der) in options.extra_roots.iter().enumerate() {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| TlsError::BadRoot {
                    index,
                    reason: e.to_string(),
                })?;
        }
        if roots.is_empty() {
            Certificates::System
        } else {
            Certificates::ExtraThenSystem(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| TlsError::BadRoot {
                    index: 0,
                    reason: e.to_string(),
                })?,
            )
        }
    };
    let builder = builder(
        provider.clone(),
        Arc::new(Verifier::new(provider, certificates)),
    );
    let mut config = match &options.client_identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = chain
                .iter()
                .map(|c| CertificateDer::from(c.clone()))
                .collect();
            let key = rustls::pki_types::PrivateKeyDer::try_from(key.clone())
                .map_err(|e| TlsError::BadClientIdentity(e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::BadClientIdentity(e.to_string()))?
        }
    };
    config.alpn_protocols = alpn();
    Ok(config)
}
