//! Transparency-log checks for Rekor v1 and Rekor v2 entries, as pure functions over bytes.
//!
//! - **Inclusion promise** (Rekor v1 "SET"): [`verify_inclusion_promise`] checks the log's
//!   signature over the canonical JSON `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`
//!   (cosign's `bundle.Payload`: keys sorted, no spaces, `logID` in hex, `body` the base64
//!   canonicalized entry), see [`inclusion_promise_payload`].
//! - **Merkle inclusion proofs** (RFC 6962 hashing, RFC 9162 §2.1.3.2 verification):
//!   [`leaf_hash`] is SHA-256(0x00 || body), [`node_hash`] SHA-256(0x01 || left || right),
//!   [`verify_inclusion`] recomputes the root from the audit path.
//! - **Signed checkpoints** in the signed-note format (transparency-dev `formats/note` and
//!   `formats/log`): [`Checkpoint::parse`] reads the origin line, tree size, base64 root hash,
//!   optional extension lines, the blank line and the `— <name> <base64(key hint || signature)>`
//!   lines; [`verify_checkpoint`] accepts a checkpoint when a signature whose 4-byte key hint is
//!   the log's (the first four bytes of its log ID: SHA-256 of the DER key for Rekor v1, the
//!   note key ID for Rekor v2) verifies over the note text. Signatures from other keys (witness
//!   cosignatures) are ignored; a signature carrying the log's hint that does not verify is an
//!   error, as in Go's `note.Open`.
//! - **Entry bodies**: [`EntryBody::decode`] reads hashedrekord v0.0.1 / v0.0.2, rekord v0.0.1,
//!   dsse v0.0.1 and intoto v0.0.2 bodies; [`check_message_signature_body`] and
//!   [`check_dsse_body`] compare them with the artifact digest, signature and certificate or
//!   key actually verified (GHSA-whqx-f9j3-ch6m: a valid log entry for *another* signature
//!   proves nothing).
//!
//! [`TlogEntry`] reads the protobuf-JSON `TransparencyLogEntry` of a Sigstore bundle and
//! [`TlogEntry::verify`] runs the log checks against a [`TrustedRoot`]. A Rekor v2 entry has
//! neither inclusion promise nor integrated time: [`TlogVerified::integrated_time`] is then
//! `None`, and the caller must establish the signing time with an RFC 3161 timestamp from a
//! trusted timestamp authority.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use super::sigstore_root::{SigstoreRootError, TransparencyLog, TrustedRoot};

/// A Merkle tree hash (SHA-256).
pub type Hash = [u8; 32];

/// Errors from transparency-log checks; each message names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The entry, proof, checkpoint or body cannot be read.
    #[error("transparency log entry: {0}")]
    Malformed(String),
    /// The log is not in the trusted root, or its key does not count at the entry's time.
    #[error(transparent)]
    Root(#[from] SigstoreRootError),
    /// The inclusion promise (SET) does not verify with the log's key.
    #[error("transparency log inclusion promise: signature does not verify with the key of {log}")]
    InclusionPromise {
        /// The log's base URL.
        log: String,
    },
    /// The Merkle inclusion proof does not lead to the stated root.
    #[error("transparency log inclusion proof: {0}")]
    InclusionProof(String),
    /// The checkpoint is not signed by the log, or does not match the proof.
    #[error("transparency log checkpoint: {0}")]
    Checkpoint(String),
    /// The entry body does not describe the signature being verified.
    #[error("transparency log entry body: {0}")]
    BodyMismatch(String),
    /// The entry has neither an inclusion promise nor an inclusion proof, or needs a time.
    #[error("transparency log entry: {0}")]
    Missing(String),
}

type Result<T> = std::result::Result<T, TlogError>;

fn malformed(msg: impl Into<String>) -> TlogError {
    TlogError::Malformed(msg.into())
}

// ---------------------------------------------------------------- inclusion promise (SET)

/// The bytes a Rekor v1 inclusion promise signs: canonical JSON (RFC 8785 for these value
/// types) of `body` (base64 canonicalized body), `integratedTime`, `logID` (lowercase hex) and
/// `logIndex`.
pub fn inclusion_promise_payload(
    body: &[u8],
    integrated_time: i64,
    log_id: &[u8],
    log_index: i64,
) -> Vec<u8> {
    // Base64 and hex never need JSON escaping, integers are written in decimal.
    format!(
        "{{\"body\":\"{}\",\"integratedTime\":{integrated_time},\"logID\":\"{}\",\"logIndex\":{log_index}}}",
        B64.encode(body),
        hex::encode(log_id)
    )
    .into_bytes()
}

/// Verifies a Rekor v1 inclusion promise (signed entry timestamp) with `log`'s key.
pub fn verify_inclusion_promise(
    log: &TransparencyLog,
    body: &[u8],
    integrated_time: i64,
    log_index: i64,
    signed_entry_timestamp: &[u8],
) -> Result<()> {
    let payload = inclusion_promise_payload(body, integrated_time, log.log_id(), log_index);
    if log.key().verify(&payload, signed_entry_timestamp) {
        Ok(())
    } else {
        Err(TlogError::InclusionPromise {
            log: log.base_url().to_string(),
        })
    }
}

// ---------------------------------------------------------------- Merkle proofs

/// RFC 6962 leaf hash: SHA-256(0x00 || leaf).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Computes the root hash an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub(crate) fn root_from_inclusion_proof(
    index: u64,
    tree_size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    if index >= tree_size {
        return Err(TlogError::InclusionProof(format!(
            "leaf index {index} is not below tree size {tree_size}"
        )));
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(TlogError::InclusionProof(
                "the proof has more hashes than the tree has levels".into(),
            ));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(TlogError::InclusionProof(
            "the proof has fewer hashes than the tree has levels".into(),
        ));
    }
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `tree_size` leaves with root `root`.
pub fn verify_inclusion(
    index: u64,
    tree_size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion_proof(index, tree_size, leaf, proof)?;
    if &computed == root {
        Ok(())
    } else {
        Err(TlogError::InclusionProof(format!(
            "the audit path leads to root {}, not the stated root {}",
            B64.encode(computed),
            B64.encode(root)
        )))
    }
}

// ---------------------------------------------------------------- checkpoints

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key hint.
    pub key_hint: [u8; 4],
    /// The signature bytes after the key hint.
    pub signature: Vec<u8>,
}

/// A log checkpoint (signed tree head) in the signed-note format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The origin line (log name; for Rekor v1 followed by ` - <tree ID>`).
    pub origin: String,
    /// The tree size.
    pub tree_size: u64,
    /// The root hash.
    pub root_hash: Hash,
    /// Extension lines after the root hash (Rekor v1 writes `Timestamp: …`).
    pub extensions: Vec<String>,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
    /// The signed text: every line before the blank line, each ending in `\n`.
    pub text: String,
}

impl Checkpoint {
    /// Parses a signed note holding a checkpoint.
    pub fn parse(note: &str) -> Result<Checkpoint> {
        let bad = |m: &str| TlogError::Checkpoint(m.to_string());
        let (text, sigs) = note
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line between the checkpoint and its signatures"))?;
        let text = format!("{text}\n");
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("the origin line is missing"))?
            .to_string();
        let size = lines
            .next()
            .ok_or_else(|| bad("the tree size line is missing"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || size.starts_with("0") && size.len() > 1
        {
            return Err(bad("the tree size line is not a decimal number"));
        }
        let tree_size = size
            .parse::<u64>()
            .map_err(|_| bad("the tree size is out of range"))?;
        let root = lines
            .next()
            .ok_or_else(|| bad("the root hash line is missing"))?;
        let root = B64
            .decode(root)
            .map_err(|_| bad("the root hash line is not base64"))?;
        let root_hash: Hash = root
            .try_into()
            .map_err(|_| bad("the root hash is not 32 bytes"))?;
        let extensions = lines.map(str::to_string).collect::<Vec<_>>();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty line inside the checkpoint body"));
        }
        if sigs.is_empty() {
            return Err(bad("the checkpoint has no signature"));
        }
        if !sigs.ends_with('\n') {
            return Err(bad("the signature block does not end with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("a signature line does not start with \"— \""))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line has no signature"))?;
            if name.is_empty() || b64.contains(' ') {
                return Err(bad("a signature line is not \"— <name> <signature>\""));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| bad("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("a signature is shorter than its key hint"));
            }
            let mut key_hint = [0u8; 4];
            key_hint.copy_from_slice(&raw[..4]);
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_hint,
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(bad("the checkpoint has no signature"));
        }
        Ok(Checkpoint {
            origin,
            tree_size,
            root_hash,
            extensions,
            signatures,
            text,
        })
    }
}

/// Parses `note` and verifies it is signed by `log`: a signature with the log's key hint
/// (first four bytes of its log ID) must verify over the note text; for a Rekor v2 log, the
/// origin line and the signature's name must also be the log's name (see
/// [`TransparencyLog::origin`]). Other signatures are ignored.
pub fn verify_checkpoint(note: &str, log: &TransparencyLog) -> Result<Checkpoint> {
    let cp = Checkpoint::parse(note)?;
    let hint = log
        .log_id()
        .get(..4)
        .ok_or_else(|| TlogError::Checkpoint("the log ID is shorter than a key hint".into()))?;
    let v2 = log.is_rekor_v2();
    if v2 && cp.origin != log.origin() {
        return Err(TlogError::Checkpoint(format!(
            "origin {:?} is not the log's name {:?}",
            cp.origin,
            log.origin()
        )));
    }
    let mut found = false;
    for sig in cp.signatures.iter().filter(|s| s.key_hint == hint) {
        if v2 && sig.name != log.origin() {
            continue;
        }
        found = true;
        if !log.key().verify(cp.text.as_bytes(), &sig.signature) {
            return Err(TlogError::Checkpoint(format!(
                "the signature by {:?} does not verify with the key of {}",
                sig.name,
                log.base_url()
            )));
        }
    }
    if !found {
        return Err(TlogError::Checkpoint(format!(
            "no signature by the key of {} (key hint {})",
            log.base_url(),
            hex::encode(hint)
        )));
    }
    Ok(cp)
}

/// A Merkle inclusion proof with the checkpoint it is anchored to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the entry in the (shard's) tree.
    pub log_index: u64,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// Root hash the proof is for.
    pub root_hash: Hash,
    /// Audit path, leaf to root.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (signed-note text); v0.1 bundles may omit it.
    pub checkpoint: Option<String>,
}

/// Verifies `proof` for the entry `body`, and that its checkpoint is signed by `log` and names
/// the same tree size and root hash. Returns the checkpoint.
pub(crate) fn verify_inclusion_with_checkpoint(
    log: &TransparencyLog,
    body: &[u8],
    proof: &InclusionProof,
) -> Result<Checkpoint> {
    if log.hash_algorithm() != "SHA2_256" {
        return Err(TlogError::InclusionProof(format!(
            "log {} uses hash algorithm {}, not SHA2_256",
            log.base_url(),
            log.hash_algorithm()
        )));
    }
    let note = proof
        .checkpoint
        .as_deref()
        .ok_or_else(|| TlogError::Checkpoint("the inclusion proof has no checkpoint".into()))?;
    let cp = verify_checkpoint(note, log)?;
    if cp.tree_size != proof.tree_size {
        return Err(TlogError::Checkpoint(format!(
            "checkpoint tree size {} is not the proof's tree size {}",
            cp.tree_size, proof.tree_size
        )));
    }
    if cp.root_hash != proof.root_hash {
        return Err(TlogError::Checkpoint(
            "checkpoint root hash is not the proof's root hash".into(),
        ));
    }
    verify_inclusion(
        proof.log_index,
        proof.tree_size,
        &leaf_hash(body),
        &proof.hashes,
        &proof.root_hash,
    )?;
    Ok(cp)
}

// ---------------------------------------------------------------- bundle tlog entries

/// A `dev.sigstore.rekor.v1.TransparencyLogEntry` as it appears in a Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// `logIndex` (global index for Rekor v1).
    pub log_index: i64,
    /// `logId.keyId`.
    pub log_id: Vec<u8>,
    /// `kindVersion.kind`.
    pub kind: String,
    /// `kindVersion.version`.
    pub version: String,
    /// `integratedTime`, absent (or 0) for Rekor v2.
    pub integrated_time: Option<i64>,
    /// `inclusionPromise.signedEntryTimestamp`.
    pub inclusion_promise: Option<Vec<u8>>,
    /// `inclusionProof`.
    pub inclusion_proof: Option<InclusionProof>,
    /// `canonicalizedBody`, decoded.
    pub canonicalized_body: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    log_index: Option<serde_json::Value>,
    log_id: Option<RawKeyId>,
    kind_version: Option<RawKindVersion>,
    integrated_time: Option<serde_json::Value>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKeyId {
    key_id: Option<String>,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: Option<serde_json::Value>,
    root_hash: Option<String>,
    tree_size: Option<serde_json::Value>,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: Option<String>,
}

/// A protobuf-JSON int64: a decimal string or a JSON number.
fn int64(v: Option<&serde_json::Value>, what: &str) -> Result<Option<i64>> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| malformed(format!("{what} {s:?} is not an integer"))),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| malformed(format!("{what} {n} is not an integer"))),
        Some(_) => Err(malformed(format!("{what} is not an integer"))),
    }
}

fn non_negative(v: Option<&serde_json::Value>, what: &str) -> Result<u64> {
    let n = int64(v, what)?.unwrap_or(0);
    u64::try_from(n).map_err(|_| malformed(format!("{what} {n} is negative")))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>> {
    B64.decode(s)
        .map_err(|_| malformed(format!("{what} is not base64")))
}

fn hash32(s: &str, what: &str) -> Result<Hash> {
    b64(s, what)?
        .try_into()
        .map_err(|_| malformed(format!("{what} is not a 32-byte hash")))
}

impl TlogEntry {
    /// Reads the protobuf-JSON form of a bundle's tlog entry.
    pub fn from_json(value: &serde_json::Value) -> Result<TlogEntry> {
        let raw: RawEntry = serde_json::from_value(value.clone())
            .map_err(|e| malformed(format!("not a tlog entry ({e})")))?;
        let log_index = int64(raw.log_index.as_ref(), "logIndex")?.unwrap_or(0);
        if log_index < 0 {
            return Err(malformed(format!("logIndex {log_index} is negative")));
        }
        let log_id = b64(
            raw.log_id
                .and_then(|l| l.key_id)
                .as_deref()
                .ok_or_else(|| malformed("logId.keyId is missing"))?,
            "logId.keyId",
        )?;
        let kv = raw
            .kind_version
            .ok_or_else(|| malformed("kindVersion is missing"))?;
        let integrated_time = int64(raw.integrated_time.as_ref(), "integratedTime")?;
        if integrated_time.is_some_and(|t| t < 0) {
            return Err(malformed("integratedTime is negative"));
        }
        let inclusion_promise = match raw.inclusion_promise {
            Some(p) => Some(b64(
                p.signed_entry_timestamp
                    .as_deref()
                    .ok_or_else(|| malformed("inclusionPromise.signedEntryTimestamp is missing"))?,
                "inclusionPromise.signedEntryTimestamp",
            )?),
            None => None,
        };
        let inclusion_proof = match raw.inclusion_proof {
            Some(p) => Some(InclusionProof {
                log_index: non_negative(p.log_index.as_ref(), "inclusionProof.logIndex")?,
                tree_size: non_negative(p.tree_size.as_ref(), "inclusionProof.treeSize")?,
                root_hash: hash32(
                    p.root_hash
                        .as_deref()
                        .ok_or_else(|| malformed("inclusionProof.rootHash is missing"))?,
                    "inclusionProof.rootHash",
                )?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| hash32(h, "inclusionProof.hashes[]"))
                    .collect::<Result<_>>()?,
                checkpoint: p.checkpoint.and_then(|c| c.envelope),
            }),
            None => None,
        };
        let canonicalized_body = b64(
            raw.canonicalized_body
                .as_deref()
                .ok_or_else(|| malformed("canonicalizedBody is missing"))?,
            "canonicalizedBody",
        )?;
        Ok(TlogEntry {
            log_index,
            log_id,
            kind: kv.kind.unwrap_or_default(),
            version: kv.version.unwrap_or_default(),
            integrated_time: integrated_time.filter(|&t| t != 0),
            inclusion_promise,
            inclusion_proof,
            canonicalized_body,
        })
    }

    /// The integrated time as an instant, when the entry has one.
    pub(crate) fn integrated_at(&self) -> Option<SystemTime> {
        self.integrated_time
            .and_then(|t| u64::try_from(t).ok())
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t))
    }

    /// Runs the log checks against `root`: finds the log by ID with its key valid at the
    /// integrated time (or at `trusted_time`, a verified RFC 3161 time, for entries without
    /// one), verifies the inclusion promise and the inclusion proof with its checkpoint when
    /// present, and requires at least one of them. The body is read by [`TlogEntry::body`];
    /// comparing it with the signature is [`check_message_signature_body`] /
    /// [`check_dsse_body`].
    pub fn verify<'r>(
        &self,
        root: &'r TrustedRoot,
        trusted_time: Option<SystemTime>,
    ) -> Result<TlogVerified<'r>> {
        let at = self.integrated_at().or(trusted_time).ok_or_else(|| {
            TlogError::Missing(
                "the entry has no integrated time (Rekor v2): a trusted timestamp is required"
                    .into(),
            )
        })?;
        let log = root.tlog_by_log_id(&self.log_id, at)?;
        let mut promise_verified = false;
        if let Some(set) = &self.inclusion_promise {
            let t = self
                .integrated_time
                .ok_or_else(|| malformed("an inclusion promise without integratedTime"))?;
            verify_inclusion_promise(log, &self.canonicalized_body, t, self.log_index, set)?;
            promise_verified = true;
        }
        let mut proof_verified = false;
        let checkpoint = match &self.inclusion_proof {
            Some(p) if p.checkpoint.is_some() => {
                let cp = verify_inclusion_with_checkpoint(log, &self.canonicalized_body, p)?;
                proof_verified = true;
                Some(cp)
            }
            Some(p) => {
                // Without a checkpoint the root is unsigned: the path is checked for
                // consistency, but it proves nothing; only the inclusion promise can vouch
                // for the entry, so `proof_verified` stays false.
                verify_inclusion(
                    p.log_index,
                    p.tree_size,
                    &leaf_hash(&self.canonicalized_body),
                    &p.hashes,
                    &p.root_hash,
                )?;
                None
            }
            None => None,
        };
        if !promise_verified && checkpoint.is_none() {
            return Err(TlogError::Missing(
                "neither an inclusion promise nor an inclusion proof".into(),
            ));
        }
        Ok(TlogVerified {
            log,
            log_index: self.log_index,
            integrated_time: self.integrated_at(),
            promise_verified,
            proof_verified,
            checkpoint,
        })
    }

    /// Decodes the canonicalized body and checks it is of the entry's `kindVersion`.
    pub fn body(&self) -> Result<EntryBody> {
        let body = EntryBody::decode(&self.canonicalized_body)?;
        if body.kind != self.kind || body.api_version != self.version {
            return Err(TlogError::BodyMismatch(format!(
                "kindVersion {}/{} is not the body's {}/{}",
                self.kind, self.version, body.kind, body.api_version
            )));
        }
        Ok(body)
    }
}

/// What [`TlogEntry::verify`] established.
#[derive(Debug, Clone)]
pub struct TlogVerified<'r> {
    /// The trusted-root log whose key verified the entry.
    pub log: &'r TransparencyLog,
    /// The entry's `logIndex`.
    pub log_index: i64,
    /// The integrated time, attested by the inclusion promise; `None` for Rekor v2 entries,
    /// whose time must come from a trusted RFC 3161 timestamp.
    pub integrated_time: Option<SystemTime>,
    /// True when an inclusion promise (SET) was verified.
    pub promise_verified: bool,
    /// True when an inclusion proof was verified against a checkpoint signed by the log. (A
    /// proof without checkpoint, allowed in v0.1 bundles, is checked against its unsigned
    /// root hash but does not set this.)
    pub proof_verified: bool,
    /// The verified checkpoint, when the inclusion proof carried one (v0.1 bundles may not:
    /// then only the inclusion promise vouches for the entry).
    pub checkpoint: Option<Checkpoint>,
}

// ---------------------------------------------------------------- entry bodies

/// A digest algorithm named in an entry body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    fn from_name(name: &str) -> Result<DigestAlgorithm> {
        match name {
            "sha256" | "SHA2_256" => Ok(DigestAlgorithm::Sha256),
            "sha384" | "SHA2_384" => Ok(DigestAlgorithm::Sha384),
            "sha512" | "SHA2_512" => Ok(DigestAlgorithm::Sha512),
            other => Err(malformed(format!("unsupported digest algorithm {other:?}"))),
        }
    }

    /// Hashes `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// A digest named in an entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDigest {
    /// Algorithm.
    pub algorithm: DigestAlgorithm,
    /// Digest bytes.
    pub value: Vec<u8>,
}

/// The certificate or key an entry says verifies its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryVerifier {
    /// An X.509 certificate, DER.
    Certificate(Vec<u8>),
    /// A public key, DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

/// One signature recorded in an entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySignature {
    /// Signature bytes.
    pub signature: Vec<u8>,
    /// Who verifies it.
    pub verifier: EntryVerifier,
}

/// A decoded Rekor entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBody {
    /// `kind`: `hashedrekord`, `rekord`, `dsse` or `intoto`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// hashedrekord/rekord: the digest of the signed artifact (for a Rekor v2 DSSE entry,
    /// hashedrekord v0.0.2, the digest of the envelope's PAE).
    pub artifact_digest: Option<EntryDigest>,
    /// dsse/intoto: the digest of the envelope payload.
    pub payload_hash: Option<EntryDigest>,
    /// The signatures the entry records (one for hashedrekord and rekord).
    pub signatures: Vec<EntrySignature>,
}

fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a serde_json::Value> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| malformed(format!("body field {} is missing", path.join("."))))?;
    }
    Ok(cur)
}

fn str_field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a str> {
    field(v, path)?
        .as_str()
        .ok_or_else(|| malformed(format!("body field {} is not a string", path.join("."))))
}

fn hex_digest(v: &serde_json::Value, path: &[&str]) -> Result<EntryDigest> {
    let mut alg = path.to_vec();
    alg.push("algorithm");
    let mut val = path.to_vec();
    val.push("value");
    let algorithm = DigestAlgorithm::from_name(str_field(v, &alg)?)?;
    let value = hex::decode(str_field(v, &val)?)
        .map_err(|_| malformed(format!("body field {} is not hex", val.join("."))))?;
    Ok(EntryDigest { algorithm, value })
}

fn b64_digest(v: &serde_json::Value, path: &[&str]) -> Result<EntryDigest> {
    let mut alg = path.to_vec();
    alg.push("algorithm");
    let mut val = path.to_vec();
    val.push("digest");
    let algorithm = DigestAlgorithm::from_name(str_field(v, &alg)?)?;
    let value = b64(str_field(v, &val)?, &val.join("."))?;
    Ok(EntryDigest { algorithm, value })
}

/// A verifier given as PEM (base64 in the body): `CERTIFICATE` or `PUBLIC KEY`.
fn pem_verifier(pem_b64: &str, what: &str) -> Result<EntryVerifier> {
    let pem_bytes = b64(pem_b64, what)?;
    let block = pem::parse(&pem_bytes).map_err(|_| malformed(format!("{what} is not PEM")))?;
    match block.tag() {
        "CERTIFICATE" => Ok(EntryVerifier::Certificate(block.into_contents())),
        "PUBLIC KEY" => Ok(EntryVerifier::PublicKey(block.into_contents())),
        tag => Err(malformed(format!("{what} is a PEM {tag:?} block"))),
    }
}

/// A protobuf-specs `Verifier` (Rekor v2 bodies).
fn v2_verifier(v: &serde_json::Value, path: &[&str]) -> Result<EntryVerifier> {
    let verifier = field(v, path)?;
    if let Some(raw) = verifier
        .get("x509Certificate")
        .and_then(|c| c.get("rawBytes"))
        .and_then(|r| r.as_str())
    {
        return Ok(EntryVerifier::Certificate(b64(
            raw,
            "verifier.x509Certificate",
        )?));
    }
    if let Some(raw) = verifier
        .get("publicKey")
        .and_then(|c| c.get("rawBytes"))
        .and_then(|r| r.as_str())
    {
        return Ok(EntryVerifier::PublicKey(b64(raw, "verifier.publicKey")?));
    }
    Err(malformed(
        "body verifier has neither x509Certificate nor publicKey",
    ))
}

impl EntryBody {
    /// Decodes a canonicalized entry body (JSON).
    pub fn decode(body: &[u8]) -> Result<EntryBody> {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| malformed(format!("body is not JSON ({e})")))?;
        let kind = str_field(&v, &["kind"])?.to_string();
        let api_version = str_field(&v, &["apiVersion"])?.to_string();
        let spec = field(&v, &["spec"])?;
        let mut out = EntryBody {
            kind: kind.clone(),
            api_version: api_version.clone(),
            artifact_digest: None,
            payload_hash: None,
            signatures: Vec::new(),
        };
        match (kind.as_str(), api_version.as_str()) {
            ("hashedrekord", "0.0.1") | ("rekord", "0.0.1") => {
                if kind == "rekord" {
                    let format = str_field(spec, &["signature", "format"])?;
                    if format != "x509" {
                        return Err(malformed(format!(
                            "rekord signature format {format:?} is not x509"
                        )));
                    }
                }
                out.artifact_digest = Some(hex_digest(spec, &["data", "hash"])?);
                out.signatures.push(EntrySignature {
                    signature: b64(
                        str_field(spec, &["signature", "content"])?,
                        "spec.signature.content",
                    )?,
                    verifier: pem_verifier(
                        str_field(spec, &["signature", "publicKey", "content"])?,
                        "spec.signature.publicKey.content",
                    )?,
                });
            }
            ("hashedrekord", "0.0.2") => {
                let s = field(spec, &["hashedRekordV002"])?;
                out.artifact_digest = Some(b64_digest(s, &["data"])?);
                out.signatures.push(EntrySignature {
                    signature: b64(
                        str_field(s, &["signature", "content"])?,
                        "signature.content",
                    )?,
                    verifier: v2_verifier(s, &["signature", "verifier"])?,
                });
            }
            ("dsse", "0.0.1") => {
                out.payload_hash = Some(hex_digest(spec, &["payloadHash"])?);
                for sig in field(spec, &["signatures"])?
                    .as_array()
                    .ok_or_else(|| malformed("body field signatures is not a list"))?
                {
                    out.signatures.push(EntrySignature {
                        signature: b64(str_field(sig, &["signature"])?, "signatures[].signature")?,
                        verifier: pem_verifier(
                            str_field(sig, &["verifier"])?,
                            "signatures[].verifier",
                        )?,
                    });
                }
            }
            ("dsse", "0.0.2") => {
                let s = field(spec, &["dsseV002"])?;
                out.payload_hash = Some(b64_digest(s, &["payloadHash"])?);
                for sig in field(s, &["signatures"])?
                    .as_array()
                    .ok_or_else(|| malformed("body field signatures is not a list"))?
                {
                    out.signatures.push(EntrySignature {
                        signature: b64(str_field(sig, &["content"])?, "signatures[].content")?,
                        verifier: v2_verifier(sig, &["verifier"])?,
                    });
                }
            }
            ("intoto", "0.0.2") => {
                let c = field(spec, &["content"])?;
                out.payload_hash = Some(hex_digest(c, &["payloadHash"])?);
                for sig in field(c, &["envelope", "signatures"])?
                    .as_array()
                    .ok_or_else(|| malformed("body field envelope.signatures is not a list"))?
                {
                    // Rekor's intoto v0.0.2 usually stores the envelope's base64 signature
                    // base64-encoded again; some entries hold it encoded once. A DER or raw
                    // signature is never itself base64 text, so decode twice when it is.
                    let once = b64(str_field(sig, &["sig"])?, "envelope.signatures[].sig")?;
                    let twice = std::str::from_utf8(&once)
                        .ok()
                        .and_then(|t| B64.decode(t).ok())
                        .filter(|t| !t.is_empty());
                    out.signatures.push(EntrySignature {
                        signature: twice.unwrap_or(once),
                        verifier: pem_verifier(
                            str_field(sig, &["publicKey"])?,
                            "envelope.signatures[].publicKey",
                        )?,
                    });
                }
            }
            _ => {
                return Err(malformed(format!(
                    "unsupported entry kind {kind} version {api_version}"
                )))
            }
        }
        Ok(out)
    }
}

fn verifier_matches(recorded: &EntryVerifier, used: &EntryVerifier) -> bool {
    recorded == used
}

/// Checks that a hashedrekord/rekord body records this message signature: the artifact digest
/// (`digest` of the bytes that were signed), the signature bytes and the certificate or key.
pub fn check_message_signature_body(
    body: &EntryBody,
    digest: &EntryDigest,
    signature: &[u8],
    verifier: &EntryVerifier,
) -> Result<()> {
    if body.kind != "hashedrekord" && body.kind != "rekord" {
        return Err(TlogError::BodyMismatch(format!(
            "a {} entry cannot record a message signature",
            body.kind
        )));
    }
    let recorded = body
        .artifact_digest
        .as_ref()
        .ok_or_else(|| TlogError::BodyMismatch("no artifact digest".into()))?;
    if recorded != digest {
        return Err(TlogError::BodyMismatch(
            "the logged artifact digest is not the artifact's".into(),
        ));
    }
    check_signatures(body, &[signature], verifier)
}

fn check_signatures(
    body: &EntryBody,
    signatures: &[&[u8]],
    verifier: &EntryVerifier,
) -> Result<()> {
    if signatures.is_empty() || body.signatures.len() != signatures.len() {
        return Err(TlogError::BodyMismatch(format!(
            "the entry records {} signature(s), the envelope has {}",
            body.signatures.len(),
            signatures.len()
        )));
    }
    for sig in signatures {
        let Some(rec) = body.signatures.iter().find(|r| r.signature == *sig) else {
            return Err(TlogError::BodyMismatch(
                "the logged signature is not this signature".into(),
            ));
        };
        if !verifier_matches(&rec.verifier, verifier) {
            return Err(TlogError::BodyMismatch(
                "the logged certificate or key is not the one that verified the signature".into(),
            ));
        }
    }
    Ok(())
}

/// The DSSE pre-authentication encoding `DSSEv1 <len> <type> <len> <payload>`.
pub(crate) fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Checks that a body records this DSSE envelope: for dsse and intoto entries the payload hash
/// and every envelope signature with `verifier`; for a Rekor v2 hashedrekord v0.0.2 entry, the
/// digest of the envelope's PAE and its (single) signature.
pub fn check_dsse_body(
    body: &EntryBody,
    payload_type: &str,
    payload: &[u8],
    signatures: &[&[u8]],
    verifier: &EntryVerifier,
) -> Result<()> {
    match body.kind.as_str() {
        "dsse" | "intoto" => {
            let recorded = body
                .payload_hash
                .as_ref()
                .ok_or_else(|| TlogError::BodyMismatch("no payload hash".into()))?;
            if recorded.value != recorded.algorithm.hash(payload) {
                return Err(TlogError::BodyMismatch(
                    "the logged payload hash is not the envelope payload's".into(),
                ));
            }
            check_signatures(body, signatures, verifier)
        }
        "hashedrekord" if body.api_version == "0.0.2" => {
            let recorded = body
                .artifact_digest
                .as_ref()
                .ok_or_else(|| TlogError::BodyMismatch("no artifact digest".into()))?;
            if recorded.value != recorded.algorithm.hash(&dsse_pae(payload_type, payload)) {
                return Err(TlogError::BodyMismatch(
                    "the logged digest is not the envelope's PAE digest".into(),
                ));
            }
            check_signatures(body, signatures, verifier)
        }
        other => Err(TlogError::BodyMismatch(format!(
            "a {other} {} entry cannot record a DSSE envelope",
            body.api_version
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::sigstore_root::tests::keyless_fixture;

    const CASES: &str = "sigstore-conformance/bundle-verify";

    // ---- Merkle: a reference tree built from RFC 6962's recursive definition.

    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = n.next_power_of_two() / 2;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    #[test]
    fn inclusion_proofs_verify_for_every_leaf_of_small_trees() {
        for n in 1..=17usize {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                verify_inclusion(m as u64, n as u64, &leaves[m], &p, &root)
                    .unwrap_or_else(|e| panic!("n={n} m={m}: {e}"));
                // Wrong index, wrong size, wrong leaf, truncated or extended paths all fail.
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(
                        verify_inclusion(other as u64, n as u64, &leaves[m], &p, &root).is_err()
                    );
                    assert!(
                        verify_inclusion(m as u64, n as u64, &leaves[other], &p, &root).is_err()
                    );
                    assert!(
                        verify_inclusion(m as u64, n as u64, &leaves[m], &p[1..], &root).is_err()
                    );
                }
                let mut longer = p.clone();
                longer.push(root);
                assert!(verify_inclusion(m as u64, n as u64, &leaves[m], &longer, &root).is_err());
            }
            assert!(verify_inclusion(n as u64, n as u64, &leaves[0], &[], &root).is_err());
        }
    }

    #[test]
    fn inclusion_promise_payload_is_cosigns_canonical_json() {
        let p = inclusion_promise_payload(b"{}", 1_689_177_396, &[0xab, 0x01], 27);
        assert_eq!(
            String::from_utf8(p).unwrap(),
            r#"{"body":"e30=","integratedTime":1689177396,"logID":"ab01","logIndex":27}"#
        );
    }

    #[test]
    fn checkpoint_parsing() {
        let note = "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nTimestamp: 1\n\n\u{2014} origin AQIDBAU=\n";
        let cp = Checkpoint::parse(note).unwrap();
        assert_eq!(cp.origin, "origin");
        assert_eq!(cp.tree_size, 5);
        assert_eq!(cp.extensions, ["Timestamp: 1"]);
        assert_eq!(cp.signatures[0].key_hint, [1, 2, 3, 4]);
        assert_eq!(
            cp.text,
            "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nTimestamp: 1\n"
        );
        for (bad, why) in [
            ("origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "no blank line"),
            ("origin\n05\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} origin AQIDBAU=\n", "decimal"),
            ("origin\n5\nAAAA\n\n\u{2014} origin AQIDBAU=\n", "32 bytes"),
            ("origin\n5\n\n\u{2014} origin AQIDBAU=\n", "root hash line is missing"),
            ("origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", "no signature"),
            ("origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n- origin AQIDBAU=\n", "start with"),
            ("origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} origin AQID\n", "shorter"),
            ("origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} origin AQIDBAU=", "newline"),
        ] {
            let e = Checkpoint::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    struct Case {
        name: String,
        bundle: serde_json::Value,
        root: TrustedRoot,
        key: Option<EntryVerifier>,
    }

    fn case(name: &str) -> Option<Case> {
        let bundle = keyless_fixture(&format!("{CASES}/{name}/bundle.sigstore.json"))?;
        let root_path = format!("{CASES}/{name}/trusted_root.json");
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/interop/keyless")
            .join(&root_path);
        let root = if dir.exists() {
            keyless_fixture(&root_path)?
        } else {
            keyless_fixture("trust-roots/public-good-production.trusted_root.json")?
        };
        let key_path = dir.with_file_name("key.pub");
        let key = std::fs::read(key_path).ok().map(|pem| {
            let key = crate::trust::sigstore_root::LogKey::from_pem(&pem).unwrap();
            EntryVerifier::PublicKey(key.spki_der().to_vec())
        });
        Some(Case {
            key,
            name: name.to_string(),
            bundle: serde_json::from_slice(&bundle).unwrap(),
            root: TrustedRoot::from_json(&root).unwrap(),
        })
    }

    fn all_cases() -> Vec<String> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/interop/keyless")
            .join(CASES);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            keyless_fixture(CASES);
            return Vec::new();
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("bundle.sigstore.json").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(
            names.len() >= 30,
            "expected the conformance cases in {}",
            dir.display()
        );
        names
    }

    impl Case {
        fn entry_json(&self) -> &serde_json::Value {
            &self.bundle["verificationMaterial"]["tlogEntries"][0]
        }

        /// The leaf certificate's notBefore, standing in for the verified timestamp a
        /// Rekor v2 entry needs (this layer takes that time as given).
        fn signing_time(&self) -> Option<SystemTime> {
            let vm = &self.bundle["verificationMaterial"];
            let raw = vm["certificate"]["rawBytes"]
                .as_str()
                .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())?;
            let der = B64.decode(raw).ok()?;
            crate::pki::Certificate::from_der(&der)
                .ok()
                .map(|c| c.not_before())
        }

        fn verify(&self) -> Result<TlogVerified<'_>> {
            let entry = TlogEntry::from_json(self.entry_json())?;
            let t = self.signing_time().map(|t| t + Duration::from_secs(1));
            entry.verify(&self.root, t)
        }

        fn verifier(&self) -> Option<EntryVerifier> {
            let vm = &self.bundle["verificationMaterial"];
            let raw = vm["certificate"]["rawBytes"]
                .as_str()
                .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())?;
            Some(EntryVerifier::Certificate(B64.decode(raw).ok()?))
        }

        /// Compares the entry body with the bundle's own signature content.
        fn check_body(&self, body: &EntryBody, artifact: &[u8]) -> Result<()> {
            let Some(verifier) = self.verifier().or_else(|| self.key.clone()) else {
                return Err(malformed("test: no certificate"));
            };
            if let Some(ms) = self.bundle.get("messageSignature") {
                let sig = B64
                    .decode(ms["signature"].as_str().unwrap_or_default())
                    .map_err(|_| malformed("test: signature not base64"))?;
                let digest = EntryDigest {
                    algorithm: DigestAlgorithm::Sha256,
                    value: Sha256::digest(artifact).to_vec(),
                };
                check_message_signature_body(body, &digest, &sig, &verifier)
            } else {
                let env = &self.bundle["dsseEnvelope"];
                let payload = B64
                    .decode(env["payload"].as_str().unwrap_or_default())
                    .unwrap();
                let sigs: Vec<Vec<u8>> = env["signatures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| B64.decode(s["sig"].as_str().unwrap()).unwrap())
                    .collect();
                let refs: Vec<&[u8]> = sigs.iter().map(Vec::as_slice).collect();
                check_dsse_body(
                    body,
                    env["payloadType"].as_str().unwrap(),
                    &payload,
                    &refs,
                    &verifier,
                )
            }
        }
    }

    /// Cases whose transparency-log evidence itself is bad, and the check that must say so.
    const TLOG_FAILURES: &[(&str, &str)] = &[
        // Their bodies were edited after logging: the inclusion promise no longer verifies.
        (
            "bundle-empty-certificate-chain_fail",
            "inclusion promise: signature does not verify",
        ),
        (
            "bundle-invalid-base64-signature_fail",
            "inclusion promise: signature does not verify",
        ),
        ("bundle-negative-log-index_fail", "logIndex -1 is negative"),
        (
            "checkpoint-bad-keyhint_fail",
            "transparency log checkpoint: no signature by the key",
        ),
        (
            "inclusion-proof-corrupted-hash_fail",
            "inclusion proof: the audit path leads to root",
        ),
        (
            "rekor2-checkpoint-missing-log-signature_fail",
            "transparency log checkpoint: the checkpoint has no signature",
        ),
        (
            "rekor2-checkpoint-missing-root-hash_fail",
            "checkpoint: the root hash line is missing",
        ),
        (
            "rekor2-no-inclusion-proof_fail",
            "neither an inclusion promise nor an inclusion proof",
        ),
    ];

    #[test]
    fn conformance_tlog_entries() {
        let mut report = Vec::new();
        for name in all_cases() {
            let Some(c) = case(&name) else { continue };
            let res = c.verify();
            report.push(format!(
                "{name}: {:?}",
                res.as_ref().map(|_| ()).map_err(ToString::to_string)
            ));
            match TLOG_FAILURES.iter().find(|(n, _)| *n == c.name) {
                Some((_, why)) => {
                    let e = res
                        .err()
                        .unwrap_or_else(|| panic!("{name}: tlog checks passed"));
                    assert!(e.to_string().contains(why), "{name}: {e}");
                }
                None => {
                    let v = res.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let v2 = v.log.is_rekor_v2();
                    assert_eq!(v.integrated_time.is_none(), v2, "{name}");
                    assert_eq!(v.promise_verified, !v2, "{name}");
                    let has_checkpoint = c.entry_json()["inclusionProof"]["checkpoint"].is_object();
                    assert_eq!(v.proof_verified, has_checkpoint, "{name}");
                    assert_eq!(v.checkpoint.is_some(), has_checkpoint, "{name}");
                }
            }
        }
        eprintln!("{}", report.join("\n"));
    }

    fn artifact(name: &str) -> Option<Vec<u8>> {
        let own = format!("{CASES}/{name}/artifact");
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/interop/keyless")
            .join(&own);
        if p.exists() {
            keyless_fixture(&own)
        } else {
            keyless_fixture(&format!("{CASES}/a.txt"))
        }
    }

    #[test]
    fn conformance_entry_bodies() {
        for name in all_cases() {
            let Some(c) = case(&name) else { continue };
            let Some(art) = artifact(&name) else { continue };
            let entry = TlogEntry::from_json(c.entry_json());
            let res = entry
                .and_then(|e| e.body())
                .and_then(|b| c.check_body(&b, &art));
            if name == "managed-key-no-key_fail" {
                continue; // no key given: decided by the verifier, not by this layer
            }
            match BODY_FAILURES.iter().find(|(n, _)| *n == name) {
                Some((_, why)) => {
                    let e = res.err().unwrap_or_else(|| panic!("{name}: body matched"));
                    assert!(e.to_string().contains(why), "{name}: {e}");
                }
                None => res.unwrap_or_else(|e| panic!("{name}: {e}")),
            }
        }
    }

    /// Cases whose entry body does not describe the bundle's signature (or cannot be read).
    const BODY_FAILURES: &[(&str, &str)] = &[
        (
            "bundle-empty-certificate-chain_fail",
            "body field spec is missing",
        ),
        (
            "bundle-invalid-base64-signature_fail",
            "publicKey.content is not PEM",
        ),
        ("bundle-negative-log-index_fail", "logIndex -1 is negative"),
        (
            "dsse-invalid-sig_fail",
            "the logged signature is not this signature",
        ),
        (
            "dsse-mismatch-sig_fail",
            "the logged signature is not this signature",
        ),
        (
            "intoto-log-entry-mismatch_fail",
            "the logged signature is not this signature",
        ),
        (
            "rekor2-dsse-invalid-sig_fail",
            "the logged signature is not this signature",
        ),
        (
            "rekor2-dsse-mismatch-sig_fail",
            "the logged signature is not this signature",
        ),
        (
            "signature-mismatch_fail",
            "the logged signature is not this signature",
        ),
        (
            "wrong-hashedrekord-artifact_fail",
            "the logged artifact digest is not the artifact's",
        ),
        (
            "wrong-hashedrekord-entry_fail",
            "the logged artifact digest is not the artifact's",
        ),
    ];

    fn entry_of(name: &str) -> Option<(Case, TlogEntry)> {
        let c = case(name)?;
        let e = TlogEntry::from_json(c.entry_json()).unwrap();
        Some((c, e))
    }

    #[test]
    fn corrupted_rekor_v1_evidence_is_refused() {
        let Some((c, good)) = entry_of("happy-path-v0.1") else {
            return;
        };
        let Some((_, other)) = entry_of("happy-path-v0.3-new-mediaType") else {
            return;
        };
        good.verify(&c.root, None).unwrap();

        // A flipped bit in one proof hash.
        let mut e = good.clone();
        e.inclusion_promise = None;
        e.inclusion_proof.as_mut().unwrap().hashes[3][7] ^= 0x10;
        let err = e.verify(&c.root, None).unwrap_err().to_string();
        assert!(
            err.contains("inclusion proof: the audit path leads to root"),
            "{err}"
        );

        // A (validly signed) checkpoint for another tree.
        let mut e = good.clone();
        let theirs = other.inclusion_proof.clone().unwrap();
        e.inclusion_proof.as_mut().unwrap().checkpoint = theirs.checkpoint.clone();
        let err = e.verify(&c.root, None).unwrap_err().to_string();
        assert!(
            err.contains("checkpoint tree size 75408393 is not the proof's tree size"),
            "{err}"
        );
        e.inclusion_proof.as_mut().unwrap().tree_size = theirs.tree_size;
        let err = e.verify(&c.root, None).unwrap_err().to_string();
        assert!(
            err.contains("checkpoint root hash is not the proof's root hash"),
            "{err}"
        );

        // The log's key hint with a broken signature.
        let mut e = good.clone();
        let cp = e
            .inclusion_proof
            .as_mut()
            .unwrap()
            .checkpoint
            .as_mut()
            .unwrap();
        *cp = cp.replace("wNI9ajBFAiBx", "wNI9ajBFAiBy");
        let err = e.verify(&c.root, None).unwrap_err().to_string();
        assert!(
            err.contains("does not verify with the key of https://rekor.sigstore.dev"),
            "{err}"
        );

        // An inclusion promise for another body, another time, another index.
        let mut e = good.clone();
        e.canonicalized_body = other.canonicalized_body.clone();
        e.inclusion_proof = None;
        let err = e.verify(&c.root, None).unwrap_err();
        assert!(matches!(err, TlogError::InclusionPromise { .. }), "{err}");
        let mut e = good.clone();
        e.integrated_time = e.integrated_time.map(|t| t + 1);
        assert!(matches!(
            e.verify(&c.root, None),
            Err(TlogError::InclusionPromise { .. })
        ));
        let mut e = good.clone();
        e.log_index += 1;
        assert!(matches!(
            e.verify(&c.root, None),
            Err(TlogError::InclusionPromise { .. })
        ));

        // A log ID the root does not hold: the production entry against the staging root.
        let Some(staging) = keyless_fixture("trust-roots/staging.trusted_root.json") else {
            return;
        };
        let staging = TrustedRoot::from_json(&staging).unwrap();
        let err = good.verify(&staging, None).unwrap_err().to_string();
        assert!(
            err.contains("no transparency log with log ID wNI9atQG"),
            "{err}"
        );

        // A proof without checkpoint (v0.1 bundles) has an unsigned root: it is checked but
        // only the inclusion promise counts.
        let mut e = good.clone();
        e.inclusion_proof.as_mut().unwrap().checkpoint = None;
        let v = e.verify(&c.root, None).unwrap();
        assert!(v.promise_verified && !v.proof_verified && v.checkpoint.is_none());
        e.inclusion_promise = None;
        assert!(matches!(
            e.verify(&c.root, None),
            Err(TlogError::Missing(_))
        ));
        e.inclusion_proof.as_mut().unwrap().hashes[0][0] ^= 1;
        assert!(matches!(
            e.verify(&c.root, None),
            Err(TlogError::InclusionProof(_))
        ));

        // No evidence at all.
        let mut e = good.clone();
        e.inclusion_promise = None;
        e.inclusion_proof = None;
        assert!(matches!(
            e.verify(&c.root, None),
            Err(TlogError::Missing(_))
        ));
    }

    #[test]
    fn rekor_v2_entries_need_a_trusted_time_and_the_logs_signature() {
        let Some((c, good)) = entry_of("rekor2-checkpoint-multiple-cosigs") else {
            return;
        };
        assert_eq!(good.integrated_time, None);
        assert_eq!(good.inclusion_promise, None);
        let err = good.verify(&c.root, None).unwrap_err().to_string();
        assert!(err.contains("a trusted timestamp is required"), "{err}");
        let t = c.signing_time().unwrap();
        let v = good.verify(&c.root, Some(t)).unwrap();
        assert!(v.proof_verified && !v.promise_verified && v.integrated_time.is_none());
        assert_eq!(v.checkpoint.as_ref().unwrap().tree_size, 736);
        assert_eq!(v.log.origin(), "log2025-alpha1.rekor.sigstage.dev");

        // The log's hint under another name does not count for a Rekor v2 log.
        let mut e = good.clone();
        let cp = e
            .inclusion_proof
            .as_mut()
            .unwrap()
            .checkpoint
            .as_mut()
            .unwrap();
        *cp = cp.replacen(
            "\u{2014} log2025-alpha1.rekor.sigstage.dev 8w1a",
            "\u{2014} impostor 8w1a",
            1,
        );
        let err = e.verify(&c.root, Some(t)).unwrap_err().to_string();
        assert!(err.contains("no signature by the key of"), "{err}");
        // Nor does a checkpoint of another origin.
        let mut e = good.clone();
        let cp = e
            .inclusion_proof
            .as_mut()
            .unwrap()
            .checkpoint
            .as_mut()
            .unwrap();
        *cp = cp.replacen(
            "log2025-alpha1.rekor.sigstage.dev\n736",
            "other.example\n736",
            1,
        );
        let err = e.verify(&c.root, Some(t)).unwrap_err().to_string();
        assert!(
            err.contains("origin \"other.example\" is not the log's name"),
            "{err}"
        );
        // The key does not count before its window: a time before 2025-04-16.
        let early = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let err = good.verify(&c.root, Some(early)).unwrap_err().to_string();
        assert!(
            err.contains("is not valid at 2023-11-14T22:13:20Z"),
            "{err}"
        );
    }

    #[test]
    fn a_valid_entry_for_another_signature_proves_nothing() {
        // GHSA-whqx-f9j3-ch6m: the log entry must be for this artifact, signature and signer.
        let Some((c, e)) = entry_of("happy-path-v0.1") else {
            return;
        };
        let Some(art) = artifact("happy-path-v0.1") else {
            return;
        };
        let body = e.body().unwrap();
        assert_eq!(body.kind, "hashedrekord");
        let sig = B64
            .decode(c.bundle["messageSignature"]["signature"].as_str().unwrap())
            .unwrap();
        let digest = EntryDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: Sha256::digest(&art).to_vec(),
        };
        let cert = c.verifier().unwrap();
        check_message_signature_body(&body, &digest, &sig, &cert).unwrap();
        let other_digest = EntryDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: Sha256::digest(b"another artifact").to_vec(),
        };
        let err = check_message_signature_body(&body, &other_digest, &sig, &cert).unwrap_err();
        assert!(err.to_string().contains("artifact digest"), "{err}");
        let mut other_sig = sig.clone();
        other_sig[10] ^= 1;
        let err = check_message_signature_body(&body, &digest, &other_sig, &cert).unwrap_err();
        assert!(err.to_string().contains("logged signature"), "{err}");
        let key = EntryVerifier::PublicKey(vec![0x30, 0x00]);
        let err = check_message_signature_body(&body, &digest, &sig, &key).unwrap_err();
        assert!(err.to_string().contains("certificate or key"), "{err}");
        // A message signature entry cannot vouch for a DSSE envelope.
        let err = check_dsse_body(&body, "t", b"p", &[&sig], &cert).unwrap_err();
        assert!(
            err.to_string().contains("cannot record a DSSE envelope"),
            "{err}"
        );
        // The entry's kindVersion must be its body's.
        let mut e2 = e.clone();
        e2.version = "0.0.2".into();
        assert!(matches!(e2.body(), Err(TlogError::BodyMismatch(_))));
    }

    #[test]
    fn bodies_that_cannot_be_read() {
        for (body, why) in [
            (&b"not json"[..], "body is not JSON"),
            (br#"{"kind":"hashedrekord","apiVersion":"0.0.1"}"#, "spec is missing"),
            (br#"{"kind":"alpine","apiVersion":"0.0.1","spec":{}}"#, "unsupported entry kind alpine"),
            (
                br#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"data":{"hash":{"algorithm":"md5","value":"00"}}}}"#,
                "unsupported digest algorithm",
            ),
        ] {
            let e = EntryBody::decode(body).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn legacy_cosign_bundle_annotation() {
        // A keyless `.sig` layer (containers/image fixture): its `dev.sigstore.cosign/bundle`
        // SET verifies with the production Rekor key at the integrated time, and its body
        // records this layer's signature, certificate and payload digest.
        let Some(layer) = keyless_fixture(
            "containers-container-libs/dir-img-cosign-fulcio-rekor-valid/signature-1",
        ) else {
            return;
        };
        let Some(root) = keyless_fixture("trust-roots/public-good-production.trusted_root.json")
        else {
            return;
        };
        let root = TrustedRoot::from_json(&root).unwrap();
        let json = layer
            .strip_prefix(b"\x00sigstore-json\n".as_slice())
            .unwrap();
        let layer: serde_json::Value = serde_json::from_slice(json).unwrap();
        let ann = &layer["annotations"];
        let bundle: serde_json::Value =
            serde_json::from_str(ann["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
        let p = &bundle["Payload"];
        let body = B64.decode(p["body"].as_str().unwrap()).unwrap();
        let time = p["integratedTime"].as_i64().unwrap();
        let index = p["logIndex"].as_i64().unwrap();
        let log_id = hex::decode(p["logID"].as_str().unwrap()).unwrap();
        let set = B64
            .decode(bundle["SignedEntryTimestamp"].as_str().unwrap())
            .unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(time as u64);
        let log = root.tlog_by_log_id(&log_id, at).unwrap();
        verify_inclusion_promise(log, &body, time, index, &set).unwrap();
        assert!(verify_inclusion_promise(log, &body, time, index + 1, &set).is_err());

        let decoded = EntryBody::decode(&body).unwrap();
        let payload = B64.decode(layer["payload"].as_str().unwrap()).unwrap();
        let digest = EntryDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: Sha256::digest(&payload).to_vec(),
        };
        let sig = B64
            .decode(ann["dev.cosignproject.cosign/signature"].as_str().unwrap())
            .unwrap();
        let cert_pem = ann["dev.sigstore.cosign/certificate"].as_str().unwrap();
        let cert = EntryVerifier::Certificate(pem::parse(cert_pem).unwrap().into_contents());
        check_message_signature_body(&decoded, &digest, &sig, &cert).unwrap();
        let other = EntryDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: Sha256::digest(b"{}").to_vec(),
        };
        assert!(check_message_signature_body(&decoded, &other, &sig, &cert).is_err());
    }
}
