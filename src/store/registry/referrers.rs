//! The OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) with `Link` pagination.

use super::*;

impl Repository {
    /// Query the OCI 1.1 referrers API for `subject`, following `Link` pagination.
    /// `Ok(None)` when the registry does not implement the API (404/400/405).
    pub async fn referrers_api(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<(Vec<crate::oci::Descriptor>, Vec<String>)>> {
        const MAX_PAGES: usize = 64;
        const MAX_ENTRIES: usize = crate::store::MAX_REFERRERS;
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
                return Ok(None);
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
