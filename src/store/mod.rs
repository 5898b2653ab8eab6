//! Where images and their signatures live: an OCI registry ([`registry`]) or an OCI image
//! layout on disk ([`layout`]). [`Store`] is the one interface the sign and verify pipelines use,
//! bound to one repository.
//!
//! Everything read is size-capped before it is buffered and re-hashed against the digest it was
//! fetched by; a registry's `Docker-Content-Digest` header is never trusted on its own.

pub use crate::net::{TlsError, TlsOptions};

pub mod layout;
pub mod registry;
// used by the imgseal binary/tests/fuzz targets; not a stable API
#[doc(hidden)]
pub mod resolve;

use crate::net::Deadline;
use crate::oci::OCI_INDEX;
use crate::reference::ImageRef;
use crate::{Digest, Result};

/// Default cap on a manifest's size (4 MiB, as the distribution spec suggests registries use).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Default cap on a signature payload or config blob read during verification.
pub const MAX_SMALL_BLOB_BYTES: u64 = 4 * 1024 * 1024;
/// Most referrers examined for one subject, from the referrers API or the tag schema's index
/// (after duplicates are dropped); the rest are ignored with a warning.
pub const MAX_REFERRERS: usize = 1000;
/// Most candidates examined for one image, counted apart: signatures (each `.sig` layer and
/// each layer of a referrer artifact) and signature artifacts fetched from the referrers list;
/// the rest are ignored with a warning naming this cap.
pub const MAX_SIGNATURE_CANDIDATES: usize = 100;

/// State shared by every store opened with (clones of) the same [`StoreOptions`]: one HTTP
/// client (so connections are pooled and reused across images and repositories), the
/// registry tokens already obtained, per registry, repository and access, and the
/// repositories found without the OCI referrers API in the last minute (so each is probed
/// once a minute, not once per image; the referrers tag schema is still read every time).
#[derive(Clone, Debug, Default)]
pub struct Session {
    inner: std::sync::Arc<SessionInner>,
}

#[derive(Debug, Default)]
struct SessionInner {
    client: std::sync::OnceLock<reqwest::Client>,
    /// The client for loopback registries: never through a proxy.
    direct: std::sync::OnceLock<reqwest::Client>,
    tokens: std::sync::Mutex<
        std::collections::HashMap<(String, String, bool), reqwest::header::HeaderValue>,
    >,
    /// Repositories recently found without the referrers API.
    referrers: registry::ReferrersMemo,
}

impl Session {
    /// The session's client (`direct`: the one that never uses a proxy), built by `build`
    /// the first time.
    pub(crate) fn client(
        &self,
        direct: bool,
        build: impl FnOnce() -> Result<reqwest::Client>,
    ) -> Result<reqwest::Client> {
        let slot = if direct {
            &self.inner.direct
        } else {
            &self.inner.client
        };
        if let Some(c) = slot.get() {
            return Ok(c.clone());
        }
        let c = build()?;
        Ok(slot.get_or_init(|| c).clone())
    }

    /// The repositories recently found without the referrers API (see
    /// [`registry::Repository::referrers_api`]).
    pub(crate) fn referrers_memo(&self) -> &registry::ReferrersMemo {
        &self.inner.referrers
    }

    pub(crate) fn token(
        &self,
        key: &(String, String, bool),
    ) -> Option<reqwest::header::HeaderValue> {
        self.inner.tokens.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn set_token(
        &self,
        key: (String, String, bool),
        value: reqwest::header::HeaderValue,
    ) {
        if let Ok(mut t) = self.inner.tokens.lock() {
            t.insert(key, value);
        }
    }
}

/// How to reach stores.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Allow plain HTTP to registries that are not on loopback (loopback always uses HTTP).
    pub allow_http: bool,
    /// Cap for manifests, in bytes.
    pub max_manifest_bytes: u64,
    /// Cap for signature payloads and other small blobs, in bytes.
    pub max_blob_bytes: u64,
    /// Connections and tokens shared by every store opened with these options.
    pub session: Session,
    /// Overall deadline for everything done with these options (`None`: only per-request
    /// timeouts). See [`StoreOptions::with_timeout`].
    pub deadline: Option<Deadline>,
    /// Credentials given for this run (before docker's and podman's stored ones).
    pub credentials: registry::credentials::GivenCredentials,
    /// TLS beyond the system roots (extra CAs, a client certificate, or no verification);
    /// with any of it, loopback registries are reached over HTTPS too.
    pub tls: TlsOptions,
}

impl StoreOptions {
    /// These options with an overall deadline `budget` from now.
    pub fn with_timeout(mut self, budget: std::time::Duration) -> StoreOptions {
        self.deadline = Some(Deadline::after(budget));
        self
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            allow_http: false,
            max_manifest_bytes: MAX_MANIFEST_BYTES,
            max_blob_bytes: MAX_SMALL_BLOB_BYTES,
            session: Session::default(),
            deadline: None,
            credentials: Default::default(),
            tls: TlsOptions::default(),
        }
    }
}

/// Which manifest to fetch: by tag (or layout ref name) or by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestRef {
    /// A tag, or in a layout an `org.opencontainers.image.ref.name`.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl std::fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestRef::Tag(t) => write!(f, "{t}"),
            ManifestRef::Digest(d) => write!(f, "{d}"),
        }
    }
}

use crate::oci::Manifest;

/// A repository in a registry, or an OCI layout.
#[derive(Debug)]
pub enum Store {
    /// A registry repository.
    Registry(registry::Repository),
    /// An OCI image layout directory.
    Layout(layout::Layout),
}

impl Store {
    /// Open the store holding `image`. `write` asks for push access (registry token scope).
    pub fn open(image: &ImageRef, options: &StoreOptions, write: bool) -> Result<Store> {
        match image {
            ImageRef::Registry(r) => Ok(Store::Registry(registry::Repository::new(
                r, options, write,
            )?)),
            ImageRef::Layout(l) => Ok(Store::Layout(layout::Layout::open(&l.path, options)?)),
        }
    }

    /// Fetch a manifest; `Ok(None)` when it does not exist.
    pub async fn get_manifest(&self, r: &ManifestRef) -> Result<Option<Manifest>> {
        match self {
            Store::Registry(s) => s.get_manifest(r).await,
            Store::Layout(s) => s.get_manifest(r),
        }
    }

    /// Fetch a blob of announced `size`, refusing it if over `cap` or not matching `digest`.
    pub async fn get_blob(&self, digest: &Digest, size: u64, cap: u64) -> Result<Vec<u8>> {
        match self {
            Store::Registry(s) => s.get_blob(digest, size, cap).await,
            Store::Layout(s) => s.get_blob(digest, size, cap),
        }
    }

    /// Upload a blob unless it is already there; returns its digest.
    pub async fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        match self {
            Store::Registry(s) => s.put_blob(bytes).await,
            Store::Layout(s) => s.put_blob(bytes),
        }
    }

    /// Store a manifest, tagged with `tag` if given; returns its digest.
    pub async fn put_manifest(
        &self,
        bytes: &[u8],
        media_type: &str,
        tag: Option<&str>,
    ) -> Result<Digest> {
        match self {
            Store::Registry(s) => s.put_manifest(bytes, media_type, tag).await,
            Store::Layout(s) => s.put_manifest(bytes, media_type, tag),
        }
    }

    /// Everything that refers to `subject` (optionally only `artifact_type`): from the OCI 1.1
    /// referrers API when the registry has it, otherwise from the referrers tag schema's index
    /// at tag `sha256-<hex>`; in an OCI layout, also every manifest `index.json` reaches whose
    /// `subject` is `subject` ([`layout::Layout::referrers_by_subject`]), each listed once.
    /// Problems with individual entries become warnings.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let mut out = self.referrers_tag_schema(subject, artifact_type).await?;
        if let Store::Layout(l) = self {
            let (scanned, warnings) = l.referrers_by_subject(subject)?;
            out.warnings.extend(warnings);
            let before = out.descriptors.len();
            for d in scanned {
                if artifact_type.is_some() && d.artifact_type.as_deref() != artifact_type {
                    continue;
                }
                if out.descriptors.iter().any(|x| x.digest == d.digest) {
                    continue;
                }
                out.descriptors.push(d);
            }
            if before == 0 && !out.descriptors.is_empty() {
                out.scheme = ReferrerScheme::LayoutIndex;
            }
        }
        Ok(out)
    }

    async fn referrers_tag_schema(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        if let Store::Registry(r) = self {
            if let Some((descriptors, warnings)) = r.referrers_api(subject, artifact_type).await? {
                return Ok(Referrers {
                    scheme: ReferrerScheme::Api,
                    descriptors,
                    warnings,
                });
            }
        }
        let tag = referrers_tag(subject);
        let mut out = Referrers {
            scheme: ReferrerScheme::TagSchema,
            descriptors: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(m) = self.get_manifest(&ManifestRef::Tag(tag.clone())).await? else {
            return Ok(out);
        };
        if !crate::oci::is_index_media_type(&m.media_type) {
            out.warnings.push(format!(
                "referrers tag {tag} holds a {:?}, not an image index; ignored",
                m.media_type
            ));
            return Ok(out);
        }
        match crate::oci::Index::from_bytes(&m.bytes) {
            Ok(index) => {
                // Anyone who can push can list one artifact thousands of times: each digest
                // counts once, and at most MAX_REFERRERS are kept, as on the API path.
                let mut seen = std::collections::HashSet::new();
                let mut dropped = 0usize;
                for d in index.manifests {
                    if !(artifact_type.is_none() || d.artifact_type.as_deref() == artifact_type)
                        || !seen.insert(d.digest.clone())
                    {
                        continue;
                    }
                    if out.descriptors.len() < MAX_REFERRERS {
                        out.descriptors.push(d);
                    } else {
                        dropped += 1;
                    }
                }
                if dropped > 0 {
                    out.warnings.push(format!(
                        "referrers tag {tag} lists more than {MAX_REFERRERS} referrers; the other {dropped} were not examined"
                    ));
                }
            }
            Err(e) => out
                .warnings
                .push(format!("referrers tag {tag}: {e}; ignored")),
        }
        Ok(out)
    }

    /// Store `manifest` (which has a `subject`) and make it discoverable as a referrer of
    /// `subject`: through the registry's referrers API when it indexes the subject (it answers
    /// with `OCI-Subject`), otherwise by adding it to the referrers tag schema's index
    /// (`Store::update_tag`: read, add, write, re-read to confirm, merged again when a
    /// concurrent writer dropped it).
    pub async fn attach_referrer(
        &self,
        subject: &Digest,
        manifest: &[u8],
        media_type: &str,
        entry: crate::oci::Descriptor,
    ) -> Result<ReferrerScheme> {
        let indexed = match self {
            Store::Registry(r) => {
                // Pushed by digest, so idempotent: retried when the registry fails it
                // transiently (docker-registry answers 400 MANIFEST_BLOB_UNKNOWN while another
                // client uploads a blob it names, such as the shared empty config).
                let mut failures = 0;
                let oci_subject = loop {
                    match r.put_manifest_subject(manifest, media_type, None).await {
                        Ok((_, s)) => break s,
                        Err(crate::Error::Registry { .. }) if failures + 1 < MAX_FAILURES => {
                            failures += 1;
                            pause().await;
                        }
                        Err(e) => return Err(e),
                    }
                };
                oci_subject.as_deref() == Some(subject.to_string().as_str())
            }
            Store::Layout(l) => {
                l.put_manifest(manifest, media_type, None)?;
                false
            }
        };
        if indexed {
            return Ok(ReferrerScheme::Api);
        }
        let tag = referrers_tag(subject);
        self.update_tag(&tag, "referrer", |current| {
            let mut index = match current {
                None => crate::oci::Index {
                    schema_version: 2,
                    media_type: Some(OCI_INDEX.to_string()),
                    ..Default::default()
                },
                Some(m) if crate::oci::is_index_media_type(&m.media_type) => {
                    crate::oci::Index::from_bytes(&m.bytes)?
                }
                Some(m) => {
                    return Err(crate::Error::invalid(
                        format!("referrers tag {tag}"),
                        format!(
                            "holds a {:?}, not an image index; refusing to overwrite it",
                            m.media_type
                        ),
                    ))
                }
            };
            if index.manifests.iter().any(|d| d.digest == entry.digest) {
                return Ok(None);
            }
            index.manifests.push(entry.clone());
            Ok(Some(TagWrite {
                manifest: index.to_bytes()?,
                media_type: OCI_INDEX.to_string(),
                blobs: Vec::new(),
            }))
        })
        .await?;
        Ok(ReferrerScheme::TagSchema)
    }

    /// Read-modify-write of a tag that concurrent writers share (cosign's `.sig` and `.att`
    /// tags, the referrers tag schema's index). Registries offer no compare-and-swap for tags
    /// (docker-registry 2.8 ignores `If-Match` on a manifest `PUT`), so lost updates are caught
    /// after the fact:
    ///
    /// 1. read the tag; `update` returns `None` when our entry is already there, or the
    ///    manifest to write and the blobs it needs;
    /// 2. blobs not yet uploaded are uploaded and the tag is read again (step 1): a write only
    ///    ever follows its read directly, so the window in which a concurrent writer can slip
    ///    in is one manifest `GET` and one `PUT`, never a blob upload;
    /// 3. write, then wait a random 1–3 times the longest read → write window measured so
    ///    far (at least [`CONFIRM_MIN`], at most [`CONFIRM_MAX`]), so that a concurrent
    ///    writer that read the old version has landed its write, and read again (step 1):
    ///    our entry gone is merged on top of theirs and written again; our entry there is
    ///    confirmed [`CONFIRMATIONS`] times, each after such a wait, before we return.
    ///
    /// Gives up with an error naming `what` (never a false success) after our entry was found
    /// overwritten [`MAX_OVERWRITES`] times, after [`MAX_FAILURES`] transient registry errors,
    /// or after [`MAX_ROUNDS`] reads.
    pub(crate) async fn update_tag(
        &self,
        tag: &str,
        what: &str,
        mut update: impl FnMut(Option<&Manifest>) -> Result<Option<TagWrite>>,
    ) -> Result<TagUpdate> {
        let mut uploaded = std::collections::HashSet::new();
        let (mut wrote, mut written) = (false, false);
        let (mut overwritten, mut confirmed, mut failures) = (0, 0, 0);
        let mut window = std::time::Duration::ZERO;
        let transient = |e: crate::Error, failures: &mut usize| match e {
            crate::Error::Registry { .. } if *failures + 1 < MAX_FAILURES => {
                *failures += 1;
                Ok(())
            }
            e => Err(e),
        };
        for _ in 0..MAX_ROUNDS {
            let read_started = std::time::Instant::now();
            let current = match self.get_manifest(&ManifestRef::Tag(tag.to_string())).await {
                Ok(c) => c,
                Err(e) => {
                    transient(e, &mut failures)?;
                    pause().await;
                    continue;
                }
            };
            let read_time = read_started.elapsed();
            let Some(write) = update(current.as_ref())? else {
                // There: done if we never tried to write (it was there already) or have
                // seen it survive CONFIRMATIONS waits (also after a write that reported an
                // error but landed).
                confirmed += 1;
                if !wrote || confirmed >= CONFIRMATIONS {
                    return Ok(TagUpdate {
                        wrote,
                        digest: current.map(|m| m.digest),
                    });
                }
                confirm_delay(window).await;
                continue;
            };
            confirmed = 0;
            if std::mem::take(&mut written) {
                overwritten += 1;
                if overwritten >= MAX_OVERWRITES {
                    return Err(crate::Error::invalid(
                        format!("tag {tag}"),
                        format!("{what} written but overwritten by concurrent writers {overwritten} times; re-run to add it again"),
                    ));
                }
            }
            let missing: Vec<&Vec<u8>> = write
                .blobs
                .iter()
                .filter(|b| !uploaded.contains(&Digest::sha256(b)))
                .collect();
            if !missing.is_empty() {
                for b in missing {
                    match self.put_blob(b).await {
                        Ok(d) => {
                            uploaded.insert(d);
                        }
                        Err(e) => {
                            transient(e, &mut failures)?;
                            pause().await;
                            break;
                        }
                    }
                }
                continue; // read again, so that the write follows its read directly
            }
            let put_started = std::time::Instant::now();
            wrote = true;
            match self
                .put_manifest(&write.manifest, &write.media_type, Some(tag))
                .await
            {
                Ok(_) => written = true,
                Err(e) => {
                    // Also a manifest pushed while another client still uploads a blob it
                    // names (docker-registry: 400 MANIFEST_BLOB_UNKNOWN).
                    transient(e, &mut failures)?;
                    pause().await;
                    continue;
                }
            }
            window = window.max(read_time + put_started.elapsed());
            confirm_delay(window).await;
        }
        Err(crate::Error::invalid(
            format!("tag {tag}"),
            format!("could not add the {what} in {MAX_ROUNDS} reads (concurrent writers or a failing registry); re-run to retry"),
        ))
    }

    /// True when the store holds blob `digest`: a `HEAD` in a registry, the blob's file in a
    /// layout (its content is checked whenever it is read).
    pub async fn has_blob(&self, digest: &Digest) -> Result<bool> {
        match self {
            Store::Registry(s) => s.blob_exists(digest).await,
            Store::Layout(s) => Ok(s.has_blob(digest)),
        }
    }

    /// Copy blob `digest` (announced as `size` bytes) from this store to `dst` with memory
    /// bounded whatever its size:
    ///
    /// 1. nothing when `dst` already has it;
    /// 2. a cross-repository mount when both are repositories of one registry;
    /// 3. otherwise streamed into a temporary file (beside its final place for a layout,
    ///    in the system temp directory for a registry) while being hashed and counted,
    ///    refused as soon as it runs past `size` and at the end unless it hashes to `digest`,
    ///    then renamed into place or uploaded from that file in one streamed `PUT`. A
    ///    layout's blob file is verified in place and uploaded from where it is.
    ///
    /// Nothing is written at `dst` unless the content checked out.
    pub async fn copy_blob_to(&self, digest: &Digest, size: u64, dst: &Store) -> Result<BlobCopy> {
        self.copy_blob_observed(digest, size, dst, None).await
    }

    /// [`Store::copy_blob_to`], telling `observer` the bytes of the blob as they flow: while
    /// they are read from the source (downloaded, or read from a layout's file) and checked,
    /// then while they are uploaded to a destination registry (see [`BlobProgress`]). Not
    /// called for a blob already there or mounted.
    pub async fn copy_blob_observed(
        &self,
        digest: &Digest,
        size: u64,
        dst: &Store,
        observer: Option<BlobObserver>,
    ) -> Result<BlobCopy> {
        if dst.has_blob(digest).await? {
            return Ok(BlobCopy::Present);
        }
        let mut session = None;
        if let (Store::Registry(from), Store::Registry(to)) = (self, dst) {
            if to.same_registry(from) && to.repository() != from.repository() {
                match to.mount_blob(digest, from.repository()).await? {
                    registry::Mount::Mounted => return Ok(BlobCopy::Mounted),
                    registry::Mount::Refused(s) => session = s,
                }
            }
        }
        let staged = match dst {
            Store::Layout(l) => l.staging_path(digest)?,
            Store::Registry(_) => std::env::temp_dir().join(temp_name(digest)),
        };
        let mut guard = None;
        let local = match self {
            Store::Layout(from) if matches!(dst, Store::Registry(_)) => {
                let path = from.blob_path(digest);
                let sink = VerifiedSink::new(digest, size, None).observed(observer.clone());
                read_verified(&path, digest, size, sink).await?;
                path
            }
            Store::Layout(from) => {
                let (file, g) = TempFile::create(&staged)?;
                guard = Some(g);
                let sink = VerifiedSink::new(digest, size, Some(file)).observed(observer.clone());
                read_verified(&from.blob_path(digest), digest, size, sink).await?;
                staged
            }
            Store::Registry(from) => {
                let (file, g) = TempFile::create(&staged)?;
                guard = Some(g);
                let mut sink =
                    VerifiedSink::new(digest, size, Some(file)).observed(observer.clone());
                from.download_blob(digest, size, &mut sink).await?;
                sink.finish().await?;
                staged
            }
        };
        match dst {
            Store::Registry(to) => {
                to.upload_blob_file(digest, size, &local, session, observer)
                    .await?
            }
            Store::Layout(to) => {
                to.commit_blob(&local, digest)?;
                if let Some(g) = guard.as_mut() {
                    g.keep = true;
                }
            }
        }
        Ok(BlobCopy::Copied)
    }

    /// The deadline error once the options' overall deadline has passed (registries only:
    /// a layout has no network to wait for).
    pub fn check_deadline(&self) -> Result<()> {
        match self {
            Store::Registry(s) => s.check_deadline(),
            Store::Layout(_) => Ok(()),
        }
    }

    /// How many HTTP requests this store has made (0 for layouts).
    pub fn requests(&self) -> u64 {
        match self {
            Store::Registry(s) => s.requests(),
            Store::Layout(_) => 0,
        }
    }
}

/// How [`Store::copy_blob_to`] got a blob to its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobCopy {
    /// The destination already had it; nothing was transferred.
    Present,
    /// Mounted from the source repository of the same registry; nothing was transferred.
    Mounted,
    /// Streamed from the source, verified, and written to the destination.
    Copied,
}

/// Where a blob's bytes are, told to a [`BlobObserver`] by [`Store::copy_blob_observed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobStage {
    /// Read from the source (downloaded, or read from a layout's file) and checked against
    /// the digest.
    Fetch,
    /// Uploaded to the destination registry (after the fetch checked out).
    Upload,
}

/// How far one blob's copy is: `done` of `size` bytes (the size its descriptor announces)
/// in `stage`. Within a stage, `done` only grows and ends at `size` when the stage completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobProgress {
    /// The stage the bytes are in.
    pub stage: BlobStage,
    /// Bytes of the blob through this stage so far.
    pub done: u64,
    /// The blob's announced size.
    pub size: u64,
}

/// Called with each [`BlobProgress`] of a blob copy, as chunks flow (from the task doing the
/// copy: keep it quick).
pub type BlobObserver = std::sync::Arc<dyn Fn(BlobProgress) + Send + Sync>;

/// Reports `done` of a stage to an observer, only ever growing (a retried upload starts its
/// stream again; what was reported is not taken back).
pub(crate) struct StageReporter {
    observer: BlobObserver,
    stage: BlobStage,
    size: u64,
    high: std::sync::atomic::AtomicU64,
}

impl StageReporter {
    pub(crate) fn new(observer: BlobObserver, stage: BlobStage, size: u64) -> StageReporter {
        StageReporter {
            observer,
            stage,
            size,
            high: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Tell the observer the stage starts (`done` 0).
    pub(crate) fn start(&self) {
        self.tell(0);
    }

    /// Tell the observer `done` bytes, unless it was told as many already.
    pub(crate) fn report(&self, done: u64) {
        let before = self
            .high
            .fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        if done > before {
            self.tell(done);
        }
    }

    fn tell(&self, done: u64) {
        (self.observer)(BlobProgress {
            stage: self.stage,
            done,
            size: self.size,
        });
    }
}

/// What [`Store::update_tag`] writes: a manifest and the blobs it names that may be missing.
pub(crate) struct TagWrite {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Blobs to upload before the write (content-addressed; each uploaded once per update).
    pub blobs: Vec<Vec<u8>>,
}

/// The outcome of [`Store::update_tag`].
#[derive(Clone, Debug)]
pub(crate) struct TagUpdate {
    /// False when our entry was already there and nothing was written.
    pub wrote: bool,
    /// The manifest at the tag when our entry was seen in place.
    pub digest: Option<Digest>,
}

/// A shared-tag update gives up after finding its written entry overwritten this many times.
pub(crate) const MAX_OVERWRITES: usize = 8;
/// ... or after this many transient registry errors (5xx, a blob another client is uploading).
pub(crate) const MAX_FAILURES: usize = 8;
/// ... and reads the tag at most this many times in all.
pub(crate) const MAX_ROUNDS: usize = 64;
/// Reads, each after a confirmation wait, that must find our written entry in place.
pub(crate) const CONFIRMATIONS: usize = 2;
/// Shortest wait before the confirming re-read.
pub(crate) const CONFIRM_MIN: std::time::Duration = std::time::Duration::from_millis(10);
/// Longest wait before the confirming re-read.
pub(crate) const CONFIRM_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Wait a random 1–3 × `window` (the longest read → write window measured), clamped to
/// [`CONFIRM_MIN`]..[`CONFIRM_MAX`]: long enough for a concurrent writer that read the tag
/// before our write to have landed theirs; random so that signers fall out of step.
async fn confirm_delay(window: std::time::Duration) {
    let wait = window
        .max(CONFIRM_MIN)
        .mul_f64(1.0 + 2.0 * random_unit())
        .min(CONFIRM_MAX);
    tokio::time::sleep(wait).await;
}

/// A random number in [0, 1].
pub(crate) fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// A unique temporary file name for staging blob `digest`.
pub(crate) fn temp_name(digest: &Digest) -> String {
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    format!(
        ".imgseal-{}.tmp-{}",
        &digest.hex()[..12.min(digest.hex().len())],
        hex::encode(suffix)
    )
}

/// A temporary file removed when dropped unless `keep` is set (after it was renamed away).
struct TempFile {
    path: std::path::PathBuf,
    keep: bool,
}

impl TempFile {
    fn create(path: &std::path::Path) -> Result<(tokio::fs::File, TempFile)> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| crate::Error::io(format!("creating {}", path.display()), e))?;
        Ok((
            tokio::fs::File::from_std(file),
            TempFile {
                path: path.to_path_buf(),
                keep: false,
            },
        ))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Hashes and counts a blob as it streams (optionally into a file), refusing it as soon as it
/// runs past its announced size; [`VerifiedSink::finish`] checks size and digest.
pub(crate) struct VerifiedSink {
    file: Option<tokio::fs::File>,
    hasher: Hasher,
    digest: Digest,
    size: u64,
    written: u64,
    observer: Option<StageReporter>,
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl VerifiedSink {
    pub(crate) fn new(digest: &Digest, size: u64, file: Option<tokio::fs::File>) -> VerifiedSink {
        use sha2::Digest as _;
        let hasher = match digest.algorithm() {
            crate::digest::Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            crate::digest::Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        };
        VerifiedSink {
            file,
            hasher,
            digest: digest.clone(),
            size,
            written: 0,
            observer: None,
        }
    }

    /// Tell `observer` the bytes written so far after each chunk ([`BlobStage::Fetch`]).
    pub(crate) fn observed(mut self, observer: Option<BlobObserver>) -> VerifiedSink {
        self.observer = observer.map(|o| StageReporter::new(o, BlobStage::Fetch, self.size));
        if let Some(o) = &self.observer {
            o.start();
        }
        self
    }

    fn what(&self) -> String {
        format!("blob {}", self.digest)
    }

    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        use sha2::Digest as _;
        use tokio::io::AsyncWriteExt as _;
        if self.written + chunk.len() as u64 > self.size {
            return Err(crate::Error::TooLarge {
                what: format!("{} (its descriptor says {} bytes)", self.what(), self.size),
                limit: self.size,
            });
        }
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(chunk),
            Hasher::Sha512(h) => h.update(chunk),
        }
        if let Some(f) = &mut self.file {
            f.write_all(chunk)
                .await
                .map_err(|e| crate::Error::io(format!("staging {}", self.what()), e))?;
        }
        self.written += chunk.len() as u64;
        if let Some(o) = &self.observer {
            o.report(self.written);
        }
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> Result<()> {
        use sha2::Digest as _;
        use tokio::io::AsyncWriteExt as _;
        let what = self.what();
        if let Some(mut f) = self.file.take() {
            f.flush()
                .await
                .and(f.sync_all().await)
                .map_err(|e| crate::Error::io(format!("staging {what}"), e))?;
        }
        let (alg, hex) = match self.hasher {
            Hasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            Hasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        let actual: Digest = format!("{alg}:{hex}").parse()?;
        if actual != self.digest {
            return Err(crate::Error::DigestMismatch {
                what,
                expected: self.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        if self.written != self.size {
            return Err(crate::Error::invalid(
                what,
                format!(
                    "is {} bytes but its descriptor says {}; refusing it",
                    self.written, self.size
                ),
            ));
        }
        Ok(())
    }
}

/// Stream the file at `path` through `sink` (which checks it is blob `digest` of `size` bytes).
async fn read_verified(
    path: &std::path::Path,
    digest: &Digest,
    size: u64,
    mut sink: VerifiedSink,
) -> Result<()> {
    use tokio::io::AsyncReadExt as _;
    let ctx = || format!("reading {}", path.display());
    let mut file = match crate::util::fs::open_regular(path) {
        Ok(f) => tokio::fs::File::from_std(f),
        Err(e) if e.is_not_found() => {
            return Err(crate::Error::NotFound {
                what: format!("blob {digest} ({})", path.display()),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| crate::Error::io(ctx(), e))?
        .len();
    if len > size {
        return Err(crate::Error::TooLarge {
            what: format!("blob {digest} (its descriptor says {size} bytes)"),
            limit: size,
        });
    }
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| crate::Error::io(ctx(), e))?;
        if n == 0 {
            break;
        }
        sink.write(&buf[..n]).await?;
    }
    sink.finish().await
}

/// Sleep 20–275 ms (jittered), between attempts of a shared-tag update.
async fn pause() {
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    tokio::time::sleep(std::time::Duration::from_millis(20 + u64::from(jitter[0]))).await;
}

/// How referrers were found or attached.
///
/// In JSON output it is one of `referrers-api`, `referrers-tag-schema`, `layout-index`
/// ([`ReferrerScheme::id`]), the vocabulary `tree`, `copy` and `verify` share with `tag`
/// (cosign's `sha256-<hex>.sig` tags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ReferrerScheme {
    /// The registry's OCI 1.1 referrers API.
    #[serde(rename = "referrers-api")]
    Api,
    /// The referrers tag schema (an index at tag `sha256-<hex>`).
    #[serde(rename = "referrers-tag-schema")]
    TagSchema,
    /// An OCI layout's `index.json`: manifests with a matching `subject` (how notation 1.3
    /// and oras store signatures in a layout).
    #[serde(rename = "layout-index")]
    LayoutIndex,
}

/// Serializes a `(digest, scheme)` referrer as `{"digest": …, "scheme": …}` in JSON output.
pub(crate) fn referrer_object<S: serde::Serializer>(
    referrer: &Option<(crate::Digest, ReferrerScheme)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct Referrer<'a> {
        digest: &'a crate::Digest,
        scheme: ReferrerScheme,
    }
    match referrer {
        Some((digest, scheme)) => serde::Serialize::serialize(
            &Referrer {
                digest,
                scheme: *scheme,
            },
            s,
        ),
        None => s.serialize_none(),
    }
}

impl ReferrerScheme {
    /// The scheme's name in JSON output: `referrers-api`, `referrers-tag-schema` or
    /// `layout-index`.
    pub fn id(&self) -> &'static str {
        match self {
            ReferrerScheme::Api => "referrers-api",
            ReferrerScheme::TagSchema => "referrers-tag-schema",
            ReferrerScheme::LayoutIndex => "layout-index",
        }
    }
}

impl std::fmt::Display for ReferrerScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReferrerScheme::Api => "referrers API",
            ReferrerScheme::TagSchema => "referrers tag schema",
            ReferrerScheme::LayoutIndex => "layout index.json",
        })
    }
}

/// The result of [`Store::referrers`].
#[derive(Clone, Debug)]
pub struct Referrers {
    /// Where they came from.
    pub scheme: ReferrerScheme,
    /// The referrer descriptors (not yet fetched or checked).
    pub descriptors: Vec<crate::oci::Descriptor>,
    /// Problems noticed (pagination loops, a fallback tag that is not an index…).
    pub warnings: Vec<String>,
}

/// The referrers tag schema's tag for `subject`: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    subject.to_string().replacen(':', "-", 1)
}
