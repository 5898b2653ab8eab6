//! Kubernetes admission: answer an `admission.k8s.io/v1` AdmissionReview with the policy's
//! verdict on every image the object runs, the same pipeline as `verify --policy` and
//! `k8s verify`. Usable without the webhook server, by admission tools that embed imgseal.
//!
//! - CREATE and UPDATE are judged; on UPDATE only images that changed against `oldObject`
//!   need a fresh check (the others were admitted before). DELETE and CONNECT are allowed, and
//!   so are objects of kinds that run no images, untouched. A `pods/ephemeralcontainers`
//!   request is judged on the Pod it carries.
//! - Enforce-mode failures deny, with a message naming each failing image and check;
//!   `warn`-mode failures become `response.warnings`, `audit`-mode failures
//!   `response.auditAnnotations`.
//! - With [`ReviewOptions::mutate`], allowed images are pinned to `tag@digest` with a
//!   base64 `JSONPatch` at each image's own path (as the API server wants: kube-rs serialises
//!   `patch` as a number array, which is why imgseal writes its own response).
//! - A deadline ([`ReviewOptions::budget`]) below the webhook's timeout: when it runs out the
//!   answer names the images still pending and follows [`ReviewOptions::fail_open`].
//!
//! ```no_run
//! # async fn demo(body: &[u8]) -> imgseal::Result<()> {
//! use imgseal::admission::{review, ReviewOptions};
//! use imgseal::policy::Policy;
//!
//! let (policy, _) = Policy::load("policy.yaml".as_ref())?;
//! let request: serde_json::Value = serde_json::from_slice(body).unwrap();
//! let answer = review(&policy, &request, &ReviewOptions::default()).await?;
//! println!("{}", answer["response"]["allowed"]);
//! # Ok(()) }
//! ```

mod cache;

pub use cache::Cache;

use crate::k8s::{self, ContainerImage};
use crate::policy::{Decision, Mode, Policy};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How [`review`] answers.
#[derive(Clone, Debug)]
pub struct ReviewOptions {
    /// Namespaces whose requests are allowed unexamined (default `kube-system`).
    pub exempt_namespaces: Vec<String>,
    /// Answer with a JSONPatch pinning allowed images to their digests (the mutating webhook).
    pub mutate: bool,
    /// Time for the whole review (default 8 s of Kubernetes' 10 s webhook timeout).
    pub budget: Duration,
    /// When the budget runs out: allow (true) or deny (false, the default).
    pub fail_open: bool,
    /// Images verified at once.
    pub concurrency: usize,
    /// Verified decisions and tag resolutions to reuse across reviews (the webhook's).
    pub cache: Option<std::sync::Arc<Cache>>,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            exempt_namespaces: vec!["kube-system".to_string()],
            mutate: false,
            budget: Duration::from_secs(8),
            fail_open: false,
            concurrency: 16,
            cache: None,
        }
    }
}

/// Why a body is not an AdmissionReview imgseal can answer (the server answers HTTP 400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// Not a JSON object of kind AdmissionReview.
    #[error("not an AdmissionReview: {0}")]
    NotAReview(String),
    /// The review has no `request`.
    #[error("the AdmissionReview has no request")]
    NoRequest,
}

impl From<ReviewError> for crate::Error {
    fn from(e: ReviewError) -> Self {
        crate::Error::invalid("AdmissionReview", e.to_string())
    }
}

/// The images of the object under review that need judging, with the pod-spec kind used.
fn images_for(request: &Value) -> Option<Vec<ContainerImage>> {
    let object = &request["object"];
    if object.is_null() {
        return None;
    }
    // The object names its kind; a bare object falls back to the request's kind.
    if object["kind"].is_string() {
        return k8s::images_of(object);
    }
    let kind = request["kind"]["kind"].as_str()?;
    let mut with_kind = object.clone();
    with_kind["kind"] = Value::String(kind.to_string());
    k8s::images_of(&with_kind)
}

/// One image of a review and what became of it (for logs and metrics).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageVerdict {
    /// The image as written.
    pub image: String,
    /// The digest it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `allow`, `deny`, `warn`, `audit`, `pending` (budget ran out) or `unchanged` (UPDATE).
    pub result: &'static str,
    /// The mode of the rule that judged it: `enforce`, `warn`, `audit`, or `none` (no rule:
    /// the default action, or not judged).
    pub mode: &'static str,
}

/// What [`review_detailed`] returns: the answer and the verdict on each image.
#[derive(Clone, Debug)]
pub struct Reviewed {
    /// The AdmissionReview to send back.
    pub answer: Value,
    /// Each distinct image of the object.
    pub images: Vec<ImageVerdict>,
}

/// Answer `review` (an AdmissionReview as the API server sends it) with `policy`.
pub async fn review(
    policy: &Policy,
    review: &Value,
    options: &ReviewOptions,
) -> Result<Value, ReviewError> {
    review_detailed(policy, review, options)
        .await
        .map(|r| r.answer)
}

/// [`review`], also saying what became of each image.
pub async fn review_detailed(
    policy: &Policy,
    review: &Value,
    options: &ReviewOptions,
) -> Result<Reviewed, ReviewError> {
    let mut verdicts: Vec<ImageVerdict> = Vec::new();
    let answer = review_inner(policy, review, options, &mut verdicts).await?;
    Ok(Reviewed {
        answer,
        images: verdicts,
    })
}

async fn review_inner(
    policy: &Policy,
    review: &Value,
    options: &ReviewOptions,
    verdicts: &mut Vec<ImageVerdict>,
) -> Result<Value, ReviewError> {
    if !review.is_object() {
        return Err(ReviewError::NotAReview(
            "the body is not a JSON object".into(),
        ));
    }
    if let Some(k) = review["kind"].as_str() {
        if k != "AdmissionReview" {
            return Err(ReviewError::NotAReview(format!("kind is {k:?}")));
        }
    }
    let request = &review["request"];
    if !request.is_object() {
        return Err(ReviewError::NoRequest);
    }
    let uid = request["uid"].as_str().unwrap_or("").to_string();
    let api_version = review["apiVersion"]
        .as_str()
        .unwrap_or("admission.k8s.io/v1")
        .to_string();
    let answer = |response: Value| json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response});
    let allow = |why: &str| {
        answer(
            json!({"uid": uid, "allowed": true, "auditAnnotations": {"imgseal.dev/skipped": why}}),
        )
    };
    let operation = request["operation"].as_str().unwrap_or("");
    if !matches!(operation, "CREATE" | "UPDATE") {
        return Ok(allow(&format!("operation {operation} is not judged")));
    }
    if let Some(ns) = request["namespace"].as_str() {
        if options.exempt_namespaces.iter().any(|e| e == ns) {
            return Ok(allow(&format!("namespace {ns} is exempt")));
        }
    }
    let Some(images) = images_for(request) else {
        return Ok(allow("the object runs no images"));
    };
    // On UPDATE, images the old object already ran were admitted then.
    let old: BTreeSet<String> = if operation == "UPDATE" {
        let mut old_request = request.clone();
        old_request["object"] = request["oldObject"].clone();
        images_for(&old_request)
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.image)
            .collect()
    } else {
        BTreeSet::new()
    };
    let fresh: Vec<&ContainerImage> = images.iter().filter(|c| !old.contains(&c.image)).collect();
    for c in images.iter().filter(|c| old.contains(&c.image)) {
        if !verdicts.iter().any(|v| v.image == c.image) {
            verdicts.push(ImageVerdict {
                image: c.image.clone(),
                digest: None,
                result: "unchanged",
                mode: "none",
            });
        }
    }

    // Judge each distinct image once.
    let mut distinct: Vec<String> = Vec::new();
    let mut refs = Vec::new();
    let mut bad: BTreeMap<String, String> = BTreeMap::new();
    for c in &fresh {
        if distinct.contains(&c.image) || bad.contains_key(&c.image) {
            continue;
        }
        match k8s::image_reference(&c.image) {
            Ok(r) => {
                distinct.push(c.image.clone());
                refs.push(r);
            }
            Err(e) => {
                bad.insert(c.image.clone(), e.to_string());
            }
        }
    }
    let evaluate = async {
        match &options.cache {
            None => {
                policy
                    .evaluate_many(&refs, options.concurrency, |_, _| {})
                    .await
            }
            Some(cache) => {
                use futures_util::StreamExt as _;
                let mut out: Vec<Option<Decision>> = vec![None; refs.len()];
                let mut stream = futures_util::stream::iter(refs.iter().cloned().enumerate())
                    .map(|(i, r)| async move { (i, cache.evaluate(policy, &r).await) })
                    .buffer_unordered(options.concurrency.max(1));
                while let Some((i, d)) = stream.next().await {
                    out[i] = Some(d);
                }
                out.into_iter().flatten().collect()
            }
        }
    };
    let judged = tokio::time::timeout(options.budget, evaluate).await;
    let decisions: BTreeMap<&str, Decision> = match judged {
        Ok(ds) => distinct.iter().map(String::as_str).zip(ds).collect(),
        Err(_) => {
            for i in &distinct {
                verdicts.push(ImageVerdict {
                    image: i.clone(),
                    digest: None,
                    result: "pending",
                    mode: "none",
                });
            }
            let pending = distinct.join(", ");
            let message = format!(
                "imgseal: images still being verified when the {:?} budget ran out: {pending}",
                options.budget
            );
            return Ok(answer(if options.fail_open {
                json!({"uid": uid, "allowed": true, "warnings": [message]})
            } else {
                json!({"uid": uid, "allowed": false, "status": {"code": 403, "message": message}})
            }));
        }
    };

    let mut denials = Vec::new();
    let mut warnings = Vec::new();
    let mut audits = Vec::new();
    let mut patch = Vec::new();
    for c in &fresh {
        let subject = format!("container {} image {}", c.container, c.image);
        let mut verdict = |digest: Option<&String>, result: &'static str, mode: &'static str| {
            if !verdicts.iter().any(|v| v.image == c.image) {
                verdicts.push(ImageVerdict {
                    image: c.image.clone(),
                    digest: digest.cloned(),
                    result,
                    mode,
                });
            }
        };
        if let Some(e) = bad.get(&c.image) {
            verdict(None, "deny", "none");
            denials.push(format!("{subject}: {e}"));
            continue;
        }
        let Some(d) = decisions.get(c.image.as_str()) else {
            continue;
        };
        let any_failed = d.checks.iter().any(|ch| !ch.passed);
        verdict(
            d.digest.as_ref(),
            match (d.allowed, any_failed, d.mode) {
                (false, _, _) => "deny",
                (true, true, Mode::Warn) => "warn",
                (true, true, _) => "audit",
                (true, false, _) => "allow",
            },
            match (&d.rule, d.mode) {
                (None, _) => "none",
                (Some(_), Mode::Enforce) => "enforce",
                (Some(_), Mode::Warn) => "warn",
                (Some(_), Mode::Audit) => "audit",
            },
        );
        let failed: Vec<String> = d
            .checks
            .iter()
            .filter(|ch| !ch.passed)
            .map(|ch| format!("{}: {}", ch.name, ch.reason))
            .collect();
        if !d.allowed {
            denials.push(format!("{subject}: {}", failed.join("; ")));
            continue;
        }
        if !failed.is_empty() {
            let line = format!("{subject}: {}", failed.join("; "));
            match d.mode {
                Mode::Warn => warnings.push(format!("imgseal: {line}")),
                Mode::Audit | Mode::Enforce => audits.push(line),
            }
        }
        if options.mutate && !c.image.contains('@') {
            if let Some(digest) = &d.digest {
                patch.push(json!({"op": "replace", "path": c.pointer, "value": format!("{}@{digest}", c.image)}));
            }
        }
    }
    let mut response = json!({"uid": uid, "allowed": denials.is_empty()});
    if !denials.is_empty() {
        response["status"] = json!({
            "code": 403,
            "message": format!("imgseal denied {}", denials.join(" | ")),
        });
    }
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    if !audits.is_empty() {
        response["auditAnnotations"] = json!({"imgseal.dev/audit": audits.join(" | ")});
    }
    if denials.is_empty() && !patch.is_empty() {
        use base64::Engine as _;
        let bytes = serde_json::to_vec(&patch).unwrap_or_default();
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    Ok(answer(response))
}
