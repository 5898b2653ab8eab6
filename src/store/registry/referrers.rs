//! The OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) with `Link` pagination.

use super::*;

impl Repository {
    /// Query the OCI 1.1 referrers API for `subject`, following `Link` pagination.
    /// `Ok(None)` when the registry does not implement the API (404/400/405), or when this
    /// repository answered so less than `NO_REFERRERS_API_TTL` (60 s) ago (no request is sent
    /// then; see `ReferrersMemo`): the caller reads the referrers tag schema instead.
    ///
    /// A read-only repository (one operation) lists each subject once: the signature and
    /// attestation lookups of one image share the listing (at most [`MAX_CACHED_LISTINGS`]).
    pub async fn referrers_api(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Listing>> {
        let key = (subject.clone(), artifact_type.map(str::to_string));
        if !self.write {
            if let Some(held) = self
                .memo
                .listings
                .lock()
                .ok()
                .and_then(|l| l.get(&key).cloned())
            {
                return Ok(Some(held));
            }
        }
        let got = self.list_referrers(subject, artifact_type).await?;
        if let (false, Some(listing)) = (self.write, &got) {
            if let Ok(mut l) = self.memo.listings.lock() {
                if l.len() < MAX_CACHED_LISTINGS {
                    l.insert(key, listing.clone());
                }
            }
        }
        Ok(got)
    }

    /// [`Repository::referrers_api`] from the registry, always.
    async fn list_referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Listing>> {
        const MAX_PAGES: usize = 64;
        const MAX_ENTRIES: usize = crate::store::MAX_REFERRERS;
        let origin = self.origin();
        let memo = self.options.session.referrers_memo();
        if memo.lacks_api(&origin, &self.repository) {
            tracing::debug!(
                target: "imgseal::registry",
                "referrers API of {origin}/{} not probed: it answered \"not implemented\" less than {} s ago; reading the referrers tag schema",
                self.repository,
                NO_REFERRERS_API_TTL.as_secs()
            );
            return Ok(None);
        }
        let mut seen_digests = std::collections::HashSet::new();
        let mut url = self.url(&format!("referrers/{subject}"));
        if let Some(t) = artifact_type {
            url.push_str("?artifactType=");
            url.push_str(&percent_encode(t));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        let mut first = true;
        loop {
            if !seen.insert(url.clone()) {
                warnings.push(format!(
                    "referrers pagination loops back to {url}; stopped there"
                ));
                break;
            }
            if seen.len() > MAX_PAGES {
                warnings.push(format!(
                    "referrers list longer than {MAX_PAGES} pages; stopped"
                ));
                break;
            }
            let resp = self
                .send(|c| c.get(&url).header(ACCEPT, crate::oci::OCI_INDEX))
                .await?;
            let status = resp.status();
            if first
                && matches!(
                    status,
                    StatusCode::NOT_FOUND
                        | StatusCode::BAD_REQUEST
                        | StatusCode::METHOD_NOT_ALLOWED
                )
            {
                if status != StatusCode::BAD_REQUEST {
                    let body = self
                        .read_body(resp, 1024, &format!("referrers of {subject}"))
                        .await
                        .unwrap_or_default();
                    if !one_line(&body).contains("NAME_UNKNOWN") {
                        memo.remember_absent(&origin, &self.repository);
                    }
                }
                return Ok(None);
            }
            if first && status.is_success() {
                memo.forget(&origin, &self.repository);
            }
            first = false;
            if !status.is_success() {
                return Err(self
                    .error_for(resp, &format!("referrers of {subject}"))
                    .await);
            }
            let filtered = resp.headers().get("oci-filters-applied").is_some();
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_next_link);
            let body = self
                .read_body(
                    resp,
                    self.options.max_manifest_bytes,
                    &format!("referrers of {subject}"),
                )
                .await?;
            let index = crate::oci::Index::from_bytes(&body).map_err(|e| {
                Error::invalid(
                    format!("referrers of {subject} from {}", self.registry),
                    e.to_string(),
                )
            })?;
            for d in index.manifests {
                let wanted = filtered
                    || artifact_type.is_none()
                    || d.artifact_type.as_deref() == artifact_type;
                if wanted && seen_digests.insert(d.digest.clone()) {
                    out.push(d);
                }
            }
            if out.len() > MAX_ENTRIES {
                out.truncate(MAX_ENTRIES);
                warnings.push(format!(
                    "more than {MAX_ENTRIES} referrers; the rest were not examined"
                ));
                break;
            }
            match next {
                Some(n) if n.starts_with('/') => {
                    url = format!("{}://{}{}", self.scheme, self.api_host, n)
                }
                Some(n) if n.starts_with("http://") || n.starts_with("https://") => {
                    // Never follow pagination to another host (credentials, SSRF).
                    let host_prefix = format!("{}://{}/", self.scheme, self.api_host);
                    if !n.starts_with(&host_prefix) {
                        warnings.push(format!(
                            "referrers pagination points to another host ({n}); stopped"
                        ));
                        break;
                    }
                    url = n;
                }
                Some(n) => {
                    warnings.push(format!("unusable referrers Link {n:?}; stopped"));
                    break;
                }
                None => break,
            }
        }
        Ok(Some((out, warnings)))
    }
}

/// A referrers API listing: the descriptors, and warnings about the listing itself.
pub type Listing = (Vec<crate::oci::Descriptor>, Vec<String>);

/// Referrers listings remembered by a read-only repository ([`Repository::referrers_api`]).
pub const MAX_CACHED_LISTINGS: usize = 8;

/// The target of a `Link: <url>; rel="next"` header.
pub(super) fn parse_next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_string())
    })
}

/// How long a repository's answer "no referrers API" is remembered ([`ReferrersMemo`]).
pub(crate) const NO_REFERRERS_API_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Most repositories remembered as lacking the referrers API ([`ReferrersMemo`]).
pub(crate) const MAX_REMEMBERED_REPOSITORIES: usize = 4096;

/// Repositories that answered the referrers API with "not implemented", remembered per
/// [`Session`](crate::store::Session) for [`NO_REFERRERS_API_TTL`], so that the next images of
/// the same repository go straight to the referrers tag schema instead of probing the API
/// again (one request less per image on registries without it, such as docker-registry 2.8).
///
/// What counts as "not implemented" follows the OCI distribution spec (Listing Referrers): a
/// registry that supports the API "MUST NOT return a `404 Not Found`", and "assuming a
/// repository is found" answers `200` with an index, empty when nothing refers to the digest.
/// So a `404` (or `405`) is remembered unless its body is the distribution error
/// `NAME_UNKNOWN` (the repository is missing, which says nothing about the API). A `400`
/// (the spec's answer to an invalid request) falls back to the tag schema for that request
/// but is not remembered.
///
/// Safety: the memo only ever skips the API probe; the tag schema's index is still read for
/// every image, so a referrer added to the fallback tag later is seen at once. An entry
/// lives at most [`NO_REFERRERS_API_TTL`]; any sign that the repository does support the API
/// (a `200` from it, or an `OCI-Subject` header on a manifest push) drops it at once, so a
/// registry upgraded to the API is probed again within the TTL. It is keyed by scheme, host
/// and repository (a registry may route repositories to different back ends) and bounded to
/// [`MAX_REMEMBERED_REPOSITORIES`] entries: expired ones are dropped first, then the oldest.
#[derive(Debug, Default)]
pub(crate) struct ReferrersMemo {
    absent: Mutex<std::collections::HashMap<(String, String), std::time::Instant>>,
}

impl ReferrersMemo {
    /// True when `repository` at `origin` (`scheme://host`) answered "no referrers API"
    /// less than [`NO_REFERRERS_API_TTL`] ago.
    pub(crate) fn lacks_api(&self, origin: &str, repository: &str) -> bool {
        let Ok(mut m) = self.absent.lock() else {
            return false;
        };
        let key = (origin.to_string(), repository.to_string());
        match m.get(&key) {
            Some(at) if at.elapsed() < NO_REFERRERS_API_TTL => true,
            Some(_) => {
                m.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Remember that `repository` at `origin` has no referrers API (now).
    pub(crate) fn remember_absent(&self, origin: &str, repository: &str) {
        self.remember_absent_at(origin, repository, std::time::Instant::now());
    }

    /// [`ReferrersMemo::remember_absent`] as seen at instant `at`.
    fn remember_absent_at(&self, origin: &str, repository: &str, at: std::time::Instant) {
        let Ok(mut m) = self.absent.lock() else {
            return;
        };
        if m.len() >= MAX_REMEMBERED_REPOSITORIES {
            m.retain(|_, at| at.elapsed() < NO_REFERRERS_API_TTL);
        }
        if m.len() >= MAX_REMEMBERED_REPOSITORIES {
            if let Some(oldest) = m.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone()) {
                m.remove(&oldest);
            }
        }
        m.insert((origin.to_string(), repository.to_string()), at);
    }

    /// Forget what was remembered of `repository` at `origin` (it showed the API).
    pub(crate) fn forget(&self, origin: &str, repository: &str) {
        if let Ok(mut m) = self.absent.lock() {
            if !m.is_empty() {
                m.remove(&(origin.to_string(), repository.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn memo_is_per_repository_expires_and_is_bounded() {
        let m = ReferrersMemo::default();
        let o = "http://127.0.0.1:5000";
        assert!(!m.lacks_api(o, "a"));
        m.remember_absent(o, "a");
        assert!(m.lacks_api(o, "a"));
        // Another repository, or the same path on another origin, is probed on its own.
        assert!(!m.lacks_api(o, "b"));
        assert!(!m.lacks_api("https://127.0.0.1:5000", "a"));
        // Evidence of the API drops the entry at once.
        m.forget(o, "a");
        assert!(!m.lacks_api(o, "a"));
        // An entry older than the TTL no longer counts (and is dropped).
        if let Some(old) = Instant::now().checked_sub(NO_REFERRERS_API_TTL) {
            m.remember_absent_at(o, "stale", old);
            assert!(!m.lacks_api(o, "stale"));
            assert!(!m
                .absent
                .lock()
                .unwrap()
                .contains_key(&(o.into(), "stale".into())));
        }
        // Bounded: never more than MAX_REMEMBERED_REPOSITORIES entries; the newest is kept.
        for i in 0..MAX_REMEMBERED_REPOSITORIES + 10 {
            m.remember_absent(o, &format!("r{i}"));
        }
        assert_eq!(m.absent.lock().unwrap().len(), MAX_REMEMBERED_REPOSITORIES);
        assert!(m.lacks_api(o, &format!("r{}", MAX_REMEMBERED_REPOSITORIES + 9)));
    }
}
