//! RFC 3161 timestamp tokens: parsing and verification.
//!
//! A TimeStampToken is a CMS `SignedData` (RFC 5652) whose encapsulated content is a `TSTInfo`
//! (RFC 3161 §2.4.2). [`verify`] checks, in this order, and reports the first failure:
//!
//! 1. structure: `ContentInfo` of type `signedData`, `eContentType` `id-ct-TSTInfo`, a DER
//!    `TSTInfo` of version 1, exactly one `SignerInfo`, signed attributes present;
//! 2. the `messageImprint`: its hash (SHA-256, SHA-384 or SHA-512) of the given bytes equals
//!    `hashedMessage` (for a Notary Project signature, the bytes are the envelope's signature);
//! 3. the signed attributes: `contentType` is `id-ct-TSTInfo` and `messageDigest` is the
//!    `SignerInfo`'s digest of the encapsulated `TSTInfo`;
//! 4. the signature over the DER `SET OF` signed attributes, with the TSA certificate found
//!    among the token's certificates by issuer and serial number or subject key identifier
//!    (RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512, ECDSA P-256/P-384 with SHA-256/384: the
//!    crate's one algorithm table, `crate::crypto::algorithms`);
//! 5. the TSA certificate chain (built from the token's certificates) validates to one of the
//!    given TSA roots at `genTime` under [`Profile::TimeStamping`] (leaf `extendedKeyUsage`
//!    exactly `timeStamping`, critical).
//!
//! Not checked: revocation of the TSA chain, the `signingCertificate(V2)` attribute's hash of
//! the TSA certificate, the nonce and the TSA policy OID.
//!
//! Every error is one line; no input makes this module panic.

use std::time::{Duration, SystemTime};

use x509_parser::asn1_rs::{Any, Class, FromDer, GeneralizedTime, Oid};
use x509_parser::extensions::ParsedExtension;

use crate::crypto::algorithms::{self, AlgorithmError, SignatureAlgorithm};
use crate::pki::cert::Certificate;
use crate::pki::chain::{validate_chain, Profile};

/// Hash function of a `messageImprint` or a CMS digest (the crate's one hash enum).
pub use crate::crypto::algorithms::HashAlgorithm as Hash;

/// Largest token [`parse`] accepts (tokens are a few KiB; certificates included).
pub const MAX_TOKEN_SIZE: usize = 256 * 1024;

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";

/// Why a timestamp token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The bytes are not a well-formed TimeStampToken.
    #[error("malformed timestamp token: {0}")]
    Malformed(String),
    /// The token is well formed but uses an algorithm imgseal does not verify.
    #[error("unsupported timestamp token: {0}")]
    Unsupported(String),
    /// The `messageImprint` does not match the timestamped bytes.
    #[error("the timestamp does not cover this signature: messageImprint {found} is not the {hash} of the signature ({expected})")]
    ImprintMismatch {
        /// Hash function named by the token.
        hash: &'static str,
        /// Hex of the hash of the given bytes.
        expected: String,
        /// Hex of the token's `hashedMessage`.
        found: String,
    },
    /// The signed attributes' `messageDigest` is not the digest of the encapsulated `TSTInfo`.
    #[error("timestamp token's messageDigest attribute does not match its TSTInfo")]
    MessageDigestMismatch,
    /// No certificate in the token matches the `SignerInfo`'s signer identifier.
    #[error("timestamp token carries no certificate for its signer ({0})")]
    SignerCertificateMissing(String),
    /// The TSA's signature over the signed attributes does not verify.
    #[error("timestamp token signature by {subject:?} does not verify: {reason}")]
    BadSignature {
        /// Subject of the TSA certificate.
        subject: String,
        /// What failed.
        reason: String,
    },
    /// No TSA roots were given.
    #[error("no TSA trust store certificates to verify the timestamp against")]
    NoRoots,
    /// The TSA certificate chain does not validate to the TSA roots at `genTime`.
    #[error("timestamp authority certificate is not trusted: {0}")]
    Untrusted(String),
}

/// How the `SignerInfo` names its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SignerId {
    IssuerSerial { issuer: Vec<u8>, serial: Vec<u8> },
    KeyId(Vec<u8>),
}

/// A parsed (not yet verified) TimeStampToken.
#[derive(Clone, Debug)]
pub struct TimestampToken {
    gen_time: SystemTime,
    accuracy: Option<Duration>,
    imprint_hash: Hash,
    imprint: Vec<u8>,
    serial_hex: String,
    policy: String,
    tst_info: Vec<u8>,
    certificates: Vec<TokenCert>,
    signer_id: SignerId,
    digest_hash: Hash,
    signed_attrs_der: Vec<u8>,
    message_digest: Vec<u8>,
    signature_oid: String,
    signature_algorithm: SignatureAlgorithm,
    signature: Vec<u8>,
}

#[derive(Clone, Debug)]
struct TokenCert {
    cert: Certificate,
    raw_issuer: Vec<u8>,
    serial: Vec<u8>,
    key_id: Option<Vec<u8>>,
}

/// What a verified token establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime`: when the TSA says it saw the bytes.
    pub gen_time: SystemTime,
    /// `accuracy`, when the token states one (none: the TSA gives no bound).
    pub accuracy: Option<Duration>,
    /// Subject of the TSA certificate that signed the token.
    pub tsa_subject: String,
}

impl VerifiedTimestamp {
    /// Earliest instant the timestamp stands for (`genTime - accuracy`).
    pub fn earliest(&self) -> SystemTime {
        self.gen_time - self.accuracy.unwrap_or_default()
    }

    /// Latest instant the timestamp stands for (`genTime + accuracy`).
    pub fn latest(&self) -> SystemTime {
        self.gen_time + self.accuracy.unwrap_or_default()
    }
}

impl TimestampToken {
    /// `genTime` (unverified until [`TimestampToken::verify`]).
    pub fn gen_time(&self) -> SystemTime {
        self.gen_time
    }

    /// `accuracy`, if stated.
    pub fn accuracy(&self) -> Option<Duration> {
        self.accuracy
    }

    /// The `messageImprint`: hash function and hashed message.
    pub fn message_imprint(&self) -> (Hash, &[u8]) {
        (self.imprint_hash, &self.imprint)
    }

    /// The `TSTInfo` serial number, hex.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// The TSA policy OID.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// The certificates the token carries, in token order.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.iter().map(|c| &c.cert)
    }

    /// Verify the token over `message` (the timestamped bytes) against the TSA trust roots.
    pub fn verify(
        &self,
        message: &[u8],
        roots: &[Certificate],
    ) -> Result<VerifiedTimestamp, TimestampError> {
        // 2. and 3.
        self.check_digests(message)?;
        // 4. The signer's certificate and its signature.
        let signer = self.embedded_signer().ok_or_else(|| {
            TimestampError::SignerCertificateMissing(match &self.signer_id {
                SignerId::IssuerSerial { serial, .. } => {
                    format!("issuer and serial number {}", hex::encode(serial))
                }
                SignerId::KeyId(id) => format!("subject key identifier {}", hex::encode(id)),
            })
        })?;
        self.verify_signature(&signer.cert)?;
        // 5. The TSA chain at genTime.
        if roots.is_empty() {
            return Err(TimestampError::NoRoots);
        }
        let chain = self.build_chain(&signer.cert, roots);
        validate_chain(&chain, roots, self.gen_time, Profile::TimeStamping)
            .map_err(|e| TimestampError::Untrusted(e.to_string()))?;
        Ok(VerifiedTimestamp {
            gen_time: self.gen_time,
            accuracy: self.accuracy,
            tsa_subject: signer.cert.subject().to_string(),
        })
    }

    /// Verify the token over `message` with a TSA chain given out of band (a Sigstore trusted
    /// root's timestamp authority: TSA certificate first, root last), as sigstore-go does: the
    /// chain's first certificate must be the token's signer (by its signer identifier; when
    /// the token embeds certificates, the signer's must be that same certificate), and the
    /// chain validates to its own last certificate at `genTime` under
    /// [`Profile::TimeStamping`].
    pub(crate) fn verify_with_chain(
        &self,
        message: &[u8],
        tsa_chain: &[Certificate],
    ) -> Result<VerifiedTimestamp, TimestampError> {
        self.check_digests(message)?;
        let (leaf, root) = match (tsa_chain.first(), tsa_chain.last()) {
            (Some(l), Some(r)) => (l, r),
            _ => return Err(TimestampError::NoRoots),
        };
        let names_leaf = match &self.signer_id {
            SignerId::IssuerSerial { issuer, serial } => {
                &leaf.raw_issuer == issuer && &leaf.serial == serial
            }
            SignerId::KeyId(id) => token_cert(leaf.der())
                .ok()
                .and_then(|c| c.key_id)
                .is_some_and(|k| &k == id),
        };
        if !names_leaf {
            return Err(TimestampError::Untrusted(format!(
                "the token is not signed by the timestamp authority's certificate {:?}",
                leaf.subject()
            )));
        }
        if let Some(embedded) = self.embedded_signer() {
            if embedded.cert.der() != leaf.der() {
                return Err(TimestampError::Untrusted(
                    "the token's embedded signer certificate is not the timestamp authority's"
                        .into(),
                ));
            }
        }
        self.verify_signature(leaf)?;
        validate_chain(
            tsa_chain,
            std::slice::from_ref(root),
            self.gen_time,
            Profile::TimeStamping,
        )
        .map_err(|e| TimestampError::Untrusted(e.to_string()))?;
        Ok(VerifiedTimestamp {
            gen_time: self.gen_time,
            accuracy: self.accuracy,
            tsa_subject: leaf.subject().to_string(),
        })
    }

    /// The messageImprint is `message`'s hash, and the signed messageDigest the encapsulated
    /// TSTInfo's.
    fn check_digests(&self, message: &[u8]) -> Result<(), TimestampError> {
        // messageImprint.
        let expected = self.imprint_hash.digest(message);
        if expected != self.imprint {
            return Err(TimestampError::ImprintMismatch {
                hash: self.imprint_hash.as_str(),
                expected: hex::encode(expected),
                found: hex::encode(&self.imprint),
            });
        }
        // messageDigest over the encapsulated TSTInfo.
        if self.digest_hash.digest(&self.tst_info) != self.message_digest {
            return Err(TimestampError::MessageDigestMismatch);
        }
        Ok(())
    }

    /// The embedded certificate the signer identifier names.
    fn embedded_signer(&self) -> Option<&TokenCert> {
        self.certificates.iter().find(|c| match &self.signer_id {
            SignerId::IssuerSerial { issuer, serial } => {
                &c.raw_issuer == issuer && &c.serial == serial
            }
            SignerId::KeyId(id) => c.key_id.as_ref() == Some(id),
        })
    }

    fn verify_signature(&self, cert: &Certificate) -> Result<(), TimestampError> {
        let bad = |reason: String| TimestampError::BadSignature {
            subject: cert.subject().to_string(),
            reason,
        };
        // Which algorithm/key pairs verify is the crate's one table.
        let signature = &self.signature_algorithm;
        let (kind, hash) = match signature {
            SignatureAlgorithm::RsaPkcs1(h) => ("rsa", *h),
            SignatureAlgorithm::RsaPss(h) => ("rsa-pss", *h),
            SignatureAlgorithm::Ecdsa(h) => ("ecdsa", *h),
            _ => {
                return Err(TimestampError::Unsupported(format!(
                    "signature algorithm {} (RSA PKCS#1 v1.5, RSA-PSS and ECDSA are supported)",
                    self.signature_oid
                )))
            }
        };
        let alg = algorithms::verifier(signature, cert.key_algorithm()).map_err(|e| match e {
            AlgorithmError::Curve { key, .. } | AlgorithmError::KeyMismatch { key, .. } => {
                TimestampError::Unsupported(format!(
                    "{kind} signature with {} by an {key} key",
                    hash.as_str()
                ))
            }
            other => TimestampError::Unsupported(other.to_string()),
        })?;
        ring::signature::UnparsedPublicKey::new(alg, cert.public_key_raw())
            .verify(&self.signed_attrs_der, &self.signature)
            .map_err(|_| bad("the signature over the signed attributes is invalid".into()))
    }

    /// The TSA certificate and its issuers from the token, up to (and including) a certificate
    /// that is itself a TSA root, or up to the certificate a TSA root issued.
    fn build_chain(&self, leaf: &Certificate, roots: &[Certificate]) -> Vec<Certificate> {
        let mut chain = vec![leaf.clone()];
        while chain.len() < 8 {
            let Some(current) = chain.last() else { break };
            let anchored = roots.iter().any(|r| {
                r.der() == current.der()
                    || (r.subject() == current.subject()
                        && r.public_key_spki() == current.public_key_spki())
                    || current.is_issued_by(r)
            });
            if anchored || current.is_self_signed() {
                break;
            }
            let next = self
                .certificates
                .iter()
                .map(|c| &c.cert)
                .find(|c| !chain.contains(c) && current.is_issued_by(c));
            match next {
                Some(c) => chain.push(c.clone()),
                None => break,
            }
        }
        chain
    }
}

/// Parse a DER TimeStampToken (structure only; see [`TimestampToken::verify`]).
pub fn parse(der: &[u8]) -> Result<TimestampToken, TimestampError> {
    if der.len() > MAX_TOKEN_SIZE {
        return Err(malformed(format!(
            "{} bytes, over the {MAX_TOKEN_SIZE}-byte limit",
            der.len()
        )));
    }
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
    let content_info = whole(der, "ContentInfo")?;
    let mut ci = Reader::new(expect_seq(&content_info, "ContentInfo")?);
    let content_type = oid(
        &ci.next("ContentInfo.contentType")?,
        "ContentInfo.contentType",
    )?;
    if content_type != OID_SIGNED_DATA {
        return Err(malformed(format!(
            "content type is {content_type}, not signedData"
        )));
    }
    let explicit = ci.next("ContentInfo.content")?;
    expect_context(&explicit, 0, true, "ContentInfo.content")?;
    ci.end("ContentInfo")?;
    let signed_data = whole(explicit.data, "SignedData")?;
    let mut sd = Reader::new(expect_seq(&signed_data, "SignedData")?);
    integer(&sd.next("SignedData.version")?, "SignedData.version")?;
    expect_set(&sd.next("SignedData.digestAlgorithms")?, "digestAlgorithms")?;

    // EncapsulatedContentInfo ::= SEQUENCE { eContentType, [0] EXPLICIT OCTET STRING }
    let encap = sd.next("encapContentInfo")?;
    let mut ec = Reader::new(expect_seq(&encap, "encapContentInfo")?);
    let e_type = oid(&ec.next("eContentType")?, "eContentType")?;
    if e_type != OID_TST_INFO {
        return Err(malformed(format!(
            "encapsulated content type is {e_type}, not id-ct-TSTInfo"
        )));
    }
    let e_content = ec.next("eContent")?;
    expect_context(&e_content, 0, true, "eContent")?;
    ec.end("encapContentInfo")?;
    let octets = whole(e_content.data, "eContent")?;
    if octets.class() != Class::Universal || octets.tag().0 != 4 || octets.constructed() {
        return Err(malformed("eContent is not an OCTET STRING"));
    }
    let tst_info = octets.data;
    let tst = parse_tst_info(tst_info).map_err(|e| match e {
        TimestampError::Malformed(m) => malformed(format!("invalid TSTInfo: {m}")),
        other => other,
    })?;

    // certificates [0] IMPLICIT, crls [1] IMPLICIT, then signerInfos SET.
    let mut certificates = Vec::new();
    let mut item = sd.next("SignedData.signerInfos")?;
    if is_context(&item, 0) {
        let mut certs = Reader::new(item.data);
        while let Some(c) = certs.next_opt("certificate")? {
            if c.class() == Class::Universal && c.tag().0 == 16 {
                certificates.push(token_cert(raw(&c)?)?);
            }
            // Other CertificateChoices (attribute certificates, ...) are ignored.
        }
        item = sd.next("SignedData.signerInfos")?;
    }
    if is_context(&item, 1) {
        item = sd.next("SignedData.signerInfos")?;
    }
    let mut infos = Reader::new(expect_set(&item, "signerInfos")?);
    sd.end("SignedData")?;
    let signer_info = infos.next("SignerInfo")?;
    if infos.next_opt("SignerInfo")?.is_some() {
        return Err(malformed("more than one SignerInfo"));
    }

    // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm,
    //                           signature, [1] unsignedAttrs OPTIONAL }
    let mut si = Reader::new(expect_seq(&signer_info, "SignerInfo")?);
    let si_version = integer(&si.next("SignerInfo.version")?, "SignerInfo.version")?;
    let sid = si.next("SignerInfo.sid")?;
    // RFC 5652 5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
    let expected_version: &[u8] = if is_context(&sid, 0) { &[3] } else { &[1] };
    if si_version != expected_version {
        return Err(malformed(format!(
            "SignerInfo version {} does not match its signer identifier",
            hex::encode(si_version)
        )));
    }
    let signer_id = if is_context(&sid, 0) {
        SignerId::KeyId(sid.data.to_vec())
    } else {
        let mut ias = Reader::new(expect_seq(&sid, "SignerInfo.sid")?);
        let issuer = ias.next("sid.issuer")?;
        expect_seq(&issuer, "sid.issuer")?;
        let serial = ias.next("sid.serialNumber")?;
        integer(&serial, "sid.serialNumber")?;
        ias.end("sid")?;
        SignerId::IssuerSerial {
            issuer: raw(&issuer)?.to_vec(),
            serial: serial.data.to_vec(),
        }
    };
    let digest_oid = algorithm(&si.next("SignerInfo.digestAlgorithm")?, "digestAlgorithm")?;
    let digest_hash = Hash::from_oid(&digest_oid).ok_or_else(|| {
        TimestampError::Unsupported(format!(
            "digest algorithm {digest_oid} (SHA-256/384/512 are supported)"
        ))
    })?;
    let attrs = si.next("SignerInfo.signedAttrs")?;
    if !is_context(&attrs, 0) {
        return Err(malformed("the SignerInfo has no signed attributes"));
    }
    // The signature covers the attributes' DER with the SET OF tag in place of [0] IMPLICIT.
    let mut signed_attrs_der = raw(&attrs)?.to_vec();
    if let Some(first) = signed_attrs_der.first_mut() {
        *first = 0x31;
    }
    let mut content_type_ok = false;
    let mut message_digest = None;
    let mut list = Reader::new(attrs.data);
    while let Some(attr) = list.next_opt("signed attribute")? {
        let mut a = Reader::new(expect_seq(&attr, "signed attribute")?);
        let ty = oid(&a.next("attribute type")?, "attribute type")?;
        let values = a.next("attribute values")?;
        let mut vals = Reader::new(expect_set(&values, "attribute values")?);
        let first = vals.next("attribute value")?;
        let single = vals.next_opt("attribute value")?.is_none();
        match ty.as_str() {
            OID_ATTR_CONTENT_TYPE => {
                if !single || content_type_ok {
                    return Err(malformed("contentType attribute must have one value"));
                }
                let v = oid(&first, "contentType attribute")?;
                if v != OID_TST_INFO {
                    return Err(malformed(format!(
                        "contentType attribute is {v}, not id-ct-TSTInfo"
                    )));
                }
                content_type_ok = true;
            }
            OID_ATTR_MESSAGE_DIGEST => {
                if !single || message_digest.is_some() {
                    return Err(malformed("messageDigest attribute must have one value"));
                }
                if first.class() != Class::Universal || first.tag().0 != 4 {
                    return Err(malformed("messageDigest attribute is not an OCTET STRING"));
                }
                message_digest = Some(first.data.to_vec());
            }
            _ => {}
        }
    }
    if !content_type_ok {
        return Err(malformed("signed attributes lack contentType"));
    }
    let message_digest =
        message_digest.ok_or_else(|| malformed("signed attributes lack messageDigest"))?;
    let (signature_oid, signature_algorithm) =
        signature_algorithm(&si.next("SignerInfo.signatureAlgorithm")?, digest_hash)?;
    let sig = si.next("SignerInfo.signature")?;
    if sig.class() != Class::Universal || sig.tag().0 != 4 {
        return Err(malformed("SignerInfo.signature is not an OCTET STRING"));
    }
    if let Some(unsigned) = si.next_opt("SignerInfo.unsignedAttrs")? {
        if !is_context(&unsigned, 1) {
            return Err(malformed("unexpected element after SignerInfo.signature"));
        }
    }
    si.end("SignerInfo")?;

    Ok(TimestampToken {
        gen_time: tst.gen_time,
        accuracy: tst.accuracy,
        imprint_hash: tst.imprint_hash,
        imprint: tst.imprint,
        serial_hex: tst.serial_hex,
        policy: tst.policy,
        tst_info: tst_info.to_vec(),
        certificates,
        signer_id,
        digest_hash,
        signed_attrs_der,
        message_digest,
        signature_oid,
        signature_algorithm,
        signature: sig.data.to_vec(),
    })
}

/// Parse an RFC 3161 `TimeStampResp` (status `granted` or `grantedWithMods`, then the token),
/// as Sigstore bundles carry them, or a bare TimeStampToken.
pub(crate) fn parse_response(der: &[u8]) -> Result<TimestampToken, TimestampError> {
    if der.len() > MAX_TOKEN_SIZE {
        return Err(malformed(format!(
            "{} bytes, over the {MAX_TOKEN_SIZE}-byte limit",
            der.len()
        )));
    }
    let outer = whole(der, "TimeStampResp")?;
    let mut r = Reader::new(expect_seq(&outer, "TimeStampResp")?);
    let first = r.next("TimeStampResp.status")?;
    if first.class() == Class::Universal && first.tag().0 == 6 {
        // A ContentInfo: its first element is the content type OID.
        return parse(der);
    }
    let mut status = Reader::new(expect_seq(&first, "PKIStatusInfo")?);
    let code = integer(
        &status.next("PKIStatusInfo.status")?,
        "PKIStatusInfo.status",
    )?;
    if code != [0] && code != [1] {
        return Err(malformed(format!(
            "the timestamp response's status is {}, not granted",
            hex::encode(code)
        )));
    }
    let token = r.next("TimeStampResp.timeStampToken")?;
    r.end("TimeStampResp")?;
    parse(raw(&token)?)
}

/// Parse `token` and verify it over `message` against `roots` (see [`TimestampToken::verify`]).
pub fn verify(
    token: &[u8],
    message: &[u8],
    roots: &[Certificate],
) -> Result<VerifiedTimestamp, TimestampError> {
    parse(token)?.verify(message, roots)
}

struct TstInfo {
    gen_time: SystemTime,
    accuracy: Option<Duration>,
    imprint_hash: Hash,
    imprint: Vec<u8>,
    serial_hex: String,
    policy: String,
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, TimestampError> {
    let tst = whole(der, "TSTInfo")?;
    let mut r = Reader::new(expect_seq(&tst, "TSTInfo")?);
    let version = integer(&r.next("TSTInfo.version")?, "TSTInfo.version")?;
    if version != [1] {
        return Err(malformed(format!(
            "TSTInfo version is {}, not 1",
            hex::encode(version)
        )));
    }
    let policy = oid(&r.next("TSTInfo.policy")?, "TSTInfo.policy")?;
    let imprint = r.next("TSTInfo.messageImprint")?;
    let mut mi = Reader::new(expect_seq(&imprint, "messageImprint")?);
    let hash_oid = algorithm(&mi.next("messageImprint.hashAlgorithm")?, "hashAlgorithm")?;
    let imprint_hash = Hash::from_oid(&hash_oid).ok_or_else(|| {
        TimestampError::Unsupported(format!(
            "messageImprint hash algorithm {hash_oid} (SHA-256/384/512 are supported)"
        ))
    })?;
    let hashed = mi.next("messageImprint.hashedMessage")?;
    if hashed.class() != Class::Universal || hashed.tag().0 != 4 {
        return Err(malformed("hashedMessage is not an OCTET STRING"));
    }
    mi.end("messageImprint")?;
    let serial = integer(&r.next("TSTInfo.serialNumber")?, "TSTInfo.serialNumber")?;
    let gen = r.next("TSTInfo.genTime")?;
    if gen.class() != Class::Universal || gen.tag().0 != 24 {
        return Err(malformed("genTime is not a GeneralizedTime"));
    }
    let gen_time = GeneralizedTime::try_from(&gen.any)
        .ok()
        .and_then(|t| t.utc_datetime().ok())
        .map(SystemTime::from)
        .ok_or_else(|| malformed("genTime is not a valid GeneralizedTime"))?;
    let mut accuracy = None;
    if let Some(next) = r.next_opt("TSTInfo.accuracy")? {
        if next.class() == Class::Universal && next.tag().0 == 16 {
            accuracy = Some(parse_accuracy(next.data)?);
        }
        // ordering, nonce, tsa, extensions: not used.
    }
    Ok(TstInfo {
        gen_time,
        accuracy,
        imprint_hash,
        imprint: hashed.data.to_vec(),
        serial_hex: hex::encode(serial),
        policy,
    })
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1]
/// INTEGER OPTIONAL }`
fn parse_accuracy(content: &[u8]) -> Result<Duration, TimestampError> {
    let mut total = Duration::ZERO;
    let mut r = Reader::new(content);
    while let Some(item) = r.next_opt("accuracy")? {
        let value = small_unsigned(item.data)
            .ok_or_else(|| malformed("accuracy value is not a small non-negative integer"))?;
        let part = match (item.class(), item.tag().0) {
            (Class::Universal, 2) => Duration::from_secs(value),
            (Class::ContextSpecific, 0) => Duration::from_millis(value),
            (Class::ContextSpecific, 1) => Duration::from_micros(value),
            _ => return Err(malformed("unexpected element in accuracy")),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

fn small_unsigned(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 || bytes[0] & 0x80 != 0 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn token_cert(der: &[u8]) -> Result<TokenCert, TimestampError> {
    let cert =
        Certificate::from_der(der).map_err(|e| malformed(format!("embedded certificate: {e}")))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| malformed(format!("embedded certificate: {e}")))?;
    let tbs = &parsed.tbs_certificate;
    let key_id = tbs
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
    Ok(TokenCert {
        raw_issuer: tbs.issuer.as_raw().to_vec(),
        serial: tbs.raw_serial().to_vec(),
        key_id,
        cert,
    })
}

// --- a small DER walker over asn1-rs -------------------------------------------------------

fn malformed(reason: impl Into<String>) -> TimestampError {
    TimestampError::Malformed(reason.into())
}

/// One DER element: the parsed header and content, and its full encoding.
struct Elem<'a> {
    any: Any<'a>,
    raw: &'a [u8],
    data: &'a [u8],
}

/// Sequential reader over the content of a constructed element.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Elem<'_> {
    fn class(&self) -> Class {
        self.any.class()
    }

    fn tag(&self) -> x509_parser::asn1_rs::Tag {
        self.any.tag()
    }

    fn constructed(&self) -> bool {
        self.any.header.is_constructed()
    }
}

impl<'a> Reader<'a> {
    fn new(content: &'a [u8]) -> Self {
        Reader { rest: content }
    }

    fn next_opt(&mut self, what: &str) -> Result<Option<Elem<'a>>, TimestampError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let input = self.rest;
        let (rest, any) =
            Any::from_der(input).map_err(|e| malformed(format!("{what}: invalid DER ({e})")))?;
        let used = input.len().saturating_sub(rest.len());
        let raw = input
            .get(..used)
            .ok_or_else(|| malformed(format!("{what}: invalid DER length")))?;
        self.rest = rest;
        Ok(Some(Elem {
            data: any.data,
            any,
            raw,
        }))
    }

    fn next(&mut self, what: &str) -> Result<Elem<'a>, TimestampError> {
        self.next_opt(what)?
            .ok_or_else(|| malformed(format!("{what} is missing")))
    }

    fn end(&self, what: &str) -> Result<(), TimestampError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(malformed(format!("unexpected data at the end of {what}")))
        }
    }
}

/// Exactly one element filling `bytes`.
fn whole<'a>(bytes: &'a [u8], what: &str) -> Result<Elem<'a>, TimestampError> {
    let mut r = Reader::new(bytes);
    let any = r.next(what)?;
    if !r.rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes of trailing data after {what}",
            r.rest.len()
        )));
    }
    Ok(any)
}

/// The full encoding (header and content) of an element.
fn raw<'a>(e: &Elem<'a>) -> Result<&'a [u8], TimestampError> {
    Ok(e.raw)
}

fn is_context(any: &Elem<'_>, tag: u32) -> bool {
    any.class() == Class::ContextSpecific && any.tag().0 == tag
}

fn expect_context(
    any: &Elem<'_>,
    tag: u32,
    constructed: bool,
    what: &str,
) -> Result<(), TimestampError> {
    if is_context(any, tag) && any.constructed() == constructed {
        Ok(())
    } else {
        Err(malformed(format!("{what}: expected context tag [{tag}]")))
    }
}

fn expect_seq<'a>(any: &Elem<'a>, what: &str) -> Result<&'a [u8], TimestampError> {
    if any.class() == Class::Universal && any.tag().0 == 16 && any.constructed() {
        Ok(any.data)
    } else {
        Err(malformed(format!("{what} is not a SEQUENCE")))
    }
}

fn expect_set<'a>(any: &Elem<'a>, what: &str) -> Result<&'a [u8], TimestampError> {
    if any.class() == Class::Universal && any.tag().0 == 17 && any.constructed() {
        Ok(any.data)
    } else {
        Err(malformed(format!("{what} is not a SET")))
    }
}

fn integer<'a>(any: &Elem<'a>, what: &str) -> Result<&'a [u8], TimestampError> {
    if any.class() == Class::Universal && any.tag().0 == 2 && !any.data.is_empty() {
        Ok(any.data)
    } else {
        Err(malformed(format!("{what} is not an INTEGER")))
    }
}

fn oid(any: &Elem<'_>, what: &str) -> Result<String, TimestampError> {
    if any.class() != Class::Universal || any.tag().0 != 6 || any.data.is_empty() {
        return Err(malformed(format!("{what} is not an OBJECT IDENTIFIER")));
    }
    // Each arc ends with a byte below 0x80 and has no leading 0x80 padding (X.690 8.19.2).
    let ends_open = any.data.last().is_some_and(|b| b & 0x80 != 0);
    let padded = any
        .data
        .iter()
        .enumerate()
        .any(|(i, b)| *b == 0x80 && (i == 0 || any.data[i - 1] & 0x80 == 0));
    if ends_open || padded {
        return Err(malformed(format!(
            "{what} is not a valid OBJECT IDENTIFIER"
        )));
    }
    Ok(Oid::new(std::borrow::Cow::Borrowed(any.data)).to_id_string())
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`: the OID.
/// The SignerInfo's `signatureAlgorithm`: its OID and what the crate's algorithm table reads
/// it as. The algorithm either names the hash (sha256WithRSAEncryption, ecdsa-with-SHA384, ...)
/// or is the bare key algorithm (rsaEncryption), and then the SignerInfo's `digestAlgorithm`
/// is the hash. RSASSA-PSS carries its parameters (hash, MGF1, salt length), read as X.509
/// reads them; every other algorithm takes absent or NULL parameters.
fn signature_algorithm(
    any: &Elem<'_>,
    digest: Hash,
) -> Result<(String, SignatureAlgorithm), TimestampError> {
    const WHAT: &str = "signatureAlgorithm";
    let mut r = Reader::new(expect_seq(any, WHAT)?);
    let id = oid(&r.next(WHAT)?, WHAT)?;
    if id == "1.2.840.113549.1.1.10" {
        use x509_parser::prelude::FromDer as _;
        let (rest, parsed) = x509_parser::x509::AlgorithmIdentifier::from_der(raw(any)?)
            .map_err(|e| malformed(format!("{WHAT} {id}: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{WHAT} {id} has trailing data")));
        }
        return Ok((id, algorithms::from_algorithm_identifier(&parsed)));
    }
    let id = algorithm(any, WHAT)?;
    let read = match id.as_str() {
        "1.2.840.113549.1.1.1" => SignatureAlgorithm::RsaPkcs1(digest),
        other => algorithms::from_oid(other),
    };
    Ok((id, read))
}

fn algorithm(any: &Elem<'_>, what: &str) -> Result<String, TimestampError> {
    let mut r = Reader::new(expect_seq(any, what)?);
    let id = oid(&r.next(what)?, what)?;
    // Every algorithm imgseal accepts here takes absent or NULL parameters.
    if let Some(params) = r.next_opt(what)? {
        if params.class() != Class::Universal || params.tag().0 != 5 || !params.data.is_empty() {
            return Err(malformed(format!("{what} {id} has unexpected parameters")));
        }
    }
    r.end(what)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(hex_der: &str, digest: Hash) -> Result<(String, SignatureAlgorithm), TimestampError> {
        let der = hex::decode(hex_der).unwrap();
        signature_algorithm(&whole(&der, "test").unwrap(), digest)
    }

    #[test]
    fn rsa_pss_is_read_through_the_one_table() {
        // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (RFC 4055 parameters).
        let pss = "3041\
                   06092a864886f70d01010a\
                   3034\
                   a00f300d06096086480165030402010500\
                   a11c301a06092a864886f70d010108300d06096086480165030402010500\
                   a203020120";
        let (oid, alg) = read(pss, Hash::Sha256).unwrap();
        assert_eq!(oid, "1.2.840.113549.1.1.10");
        assert_eq!(alg, SignatureAlgorithm::RsaPss(Hash::Sha256));
        let rsa = crate::crypto::algorithms::KeyAlgorithm::Rsa { bits: 2048 };
        assert!(algorithms::verifier(&alg, &rsa).is_ok());
        // Without parameters RSASSA-PSS names no hash: unsupported, not a verifier.
        let (_, bare) = read("300b06092a864886f70d01010a", Hash::Sha256).unwrap();
        assert!(matches!(bare, SignatureAlgorithm::Other(_)), "{bare:?}");
        // sha384WithRSAEncryption with NULL parameters; bare rsaEncryption takes the digest.
        let (_, pkcs1) = read("300d06092a864886f70d01010c0500", Hash::Sha256).unwrap();
        assert_eq!(pkcs1, SignatureAlgorithm::RsaPkcs1(Hash::Sha384));
        let (_, bare_rsa) = read("300d06092a864886f70d0101010500", Hash::Sha512).unwrap();
        assert_eq!(bare_rsa, SignatureAlgorithm::RsaPkcs1(Hash::Sha512));
        // Other algorithms still refuse parameters.
        assert!(read("300f06092a864886f70d01010b0402aabb", Hash::Sha256).is_err());
    }
}
