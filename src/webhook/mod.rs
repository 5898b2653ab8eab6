//! The admission webhook server (`imgseal admission serve`): HTTPS on rustls, answering
//! `admission.k8s.io/v1` AdmissionReviews with [`crate::admission::review_detailed`].
//!
//! | path | answers |
//! |---|---|
//! | `POST /validate` | the ValidatingWebhookConfiguration's reviews |
//! | `POST /mutate` | the MutatingWebhookConfiguration's: allowed images pinned by a JSONPatch |
//! | `GET /healthz` | `ok` while the process serves |
//! | `GET /readyz` | 200 once a policy is loaded (with the last reload error, if any); 503 before |
//! | `GET /metrics` | Prometheus text: decisions by result, rule mode and webhook, review latency, cache hits and misses, registry errors, reviews in flight, policy reload failures |
//!
//! The policy file and the TLS certificate and key are watched (polled every
//! [`ServeConfig::reload_every`]); a changed file is reloaded without dropping a request. An
//! invalid new policy keeps the last good one serving and is reported in the log, the metrics
//! and `/readyz`; a certificate that does not load keeps the old one. Request bodies are capped
//! at [`MAX_BODY`] (the API server's own limit); malformed JSON gets HTTP 400 and a message.
//! Every review is logged as one JSON line on standard output.

use crate::admission::{review_detailed, Cache, ReviewOptions};
use crate::policy::Policy;
use crate::{Error, Result, StoreOptions};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Largest review body accepted (the Kubernetes API server's request limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The policy file.
    pub policy: PathBuf,
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM).
    pub tls_key: PathBuf,
    /// Where to listen.
    pub addr: SocketAddr,
    /// How reviews are answered (budget, failure mode, exempt namespaces, concurrency).
    pub review: ReviewOptions,
    /// Registry access.
    pub store: StoreOptions,
    /// How long a verified decision is reused.
    pub cache_ttl: Duration,
    /// How long a tag → digest resolution is reused.
    pub tag_ttl: Duration,
    /// Most decisions held.
    pub cache_size: usize,
    /// How often the policy and TLS files are checked for changes.
    pub reload_every: Duration,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    /// allow, deny, warn, audit, pending, unchanged.
    result: String,
    /// The judging rule's mode: enforce, warn, audit, none.
    mode: String,
    /// validate or mutate.
    webhook: String,
}

/// Review latency histograms, by path.
type LatencyFamily = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

struct Metrics {
    decisions: Family<DecisionLabels, Counter>,
    latency: LatencyFamily,
    cache_hits: Counter,
    cache_misses: Counter,
    registry_errors: Counter,
    in_flight: Gauge,
    reload_failures: Counter,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    fn new() -> Metrics {
        Metrics {
            decisions: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            registry_errors: Counter::default(),
            in_flight: Gauge::default(),
            reload_failures: Counter::default(),
        }
    }
}

struct Loaded {
    policy: Policy,
    stamp: Option<FileStamp>,
}

/// What a file looked like when it was last read (changes are noticed by these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(p: &std::path::Path) -> Option<FileStamp> {
    std::fs::metadata(p).ok().map(|m| FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

struct Shared {
    config: ServeConfig,
    policy: RwLock<Option<Arc<Loaded>>>,
    reload_error: Mutex<Option<String>>,
    /// The policy file as it was when a reload was last refused (not retried until it changes).
    refused: Mutex<Option<Option<FileStamp>>>,
    cache: Arc<Cache>,
    metrics: Metrics,
    registry: prometheus_client::registry::Registry,
}

fn load_policy(config: &ServeConfig) -> Result<Policy> {
    let (p, _) = Policy::load(&config.policy)?;
    Ok(p.with_options(config.store.clone()))
}

/// TLS server configuration from PEM files.
pub(crate) fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    crate::net::install_crypto_provider();
    let bad = |what: &std::path::Path, why: String| Error::invalid(what.display().to_string(), why);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, format!("cannot read the TLS certificate: {e}")))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(bad(cert, "holds no certificate".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad(key, format!("not a PEM private key: {e}")))?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            bad(
                cert,
                format!("certificate and key do not form a TLS identity: {e}"),
            )
        })
}

fn log_line(v: serde_json::Value) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
}

fn now_rfc3339() -> String {
    crate::util::time::format_rfc3339(std::time::SystemTime::now())
}

/// Run the server until the process is stopped. Fails at start when the policy, the
/// certificate or the address cannot be used.
pub async fn serve(config: ServeConfig) -> Result<()> {
    let policy = load_policy(&config)?;
    let tls = Arc::new(tls_config(&config.tls_cert, &config.tls_key)?);
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| Error::io(format!("listening on {}", config.addr), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listening address", e))?;
    let mut registry = prometheus_client::registry::Registry::with_prefix("imgseal");
    let metrics = Metrics::new();
    registry.register(
        "admission_decisions",
        "Admission decisions per image, by result, rule mode and webhook",
        metrics.decisions.clone(),
    );
    registry.register(
        "admission_review_duration_seconds",
        "Time to answer a review",
        metrics.latency.clone(),
    );
    registry.register(
        "cache_hits",
        "Decision cache hits",
        metrics.cache_hits.clone(),
    );
    registry.register(
        "cache_misses",
        "Decision cache misses",
        metrics.cache_misses.clone(),
    );
    registry.register(
        "registry_errors",
        "Images whose registry could not be read during a review",
        metrics.registry_errors.clone(),
    );
    registry.register(
        "reviews_in_flight",
        "Reviews being answered",
        metrics.in_flight.clone(),
    );
    registry.register(
        "policy_reload_failures",
        "Policy reloads refused (the last good policy kept serving)",
        metrics.reload_failures.clone(),
    );
    let cache = Arc::new(Cache::new(
        config.cache_ttl,
        config.tag_ttl,
        config.cache_size,
    ));
    let shared = Arc::new(Shared {
        policy: RwLock::new(Some(Arc::new(Loaded {
            policy,
            stamp: stamp(&config.policy),
        }))),
        reload_error: Mutex::new(None),
        refused: Mutex::new(None),
        cache,
        metrics,
        registry,
        config,
    });
    let current_tls = Arc::new(RwLock::new(tls));
    tokio::spawn(watch(shared.clone(), current_tls.clone()));
    log_line(
        serde_json::json!({"time": now_rfc3339(), "msg": "serving", "addr": local.to_string()}),
    );

    let app = axum::Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared);
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let config = current_tls.read().map(|c| c.clone()).ok();
        let Some(config) = config else { continue };
        let app = app.clone();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .header_read_timeout(Some(Duration::from_secs(10)))
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Poll the policy and TLS files; reload what changed.
async fn watch(shared: Arc<Shared>, tls: Arc<RwLock<Arc<rustls::ServerConfig>>>) {
    let config = &shared.config;
    let mut tls_stamps = (stamp(&config.tls_cert), stamp(&config.tls_key));
    loop {
        tokio::time::sleep(config.reload_every).await;
        let now = stamp(&config.policy);
        let before = shared
            .policy
            .read()
            .ok()
            .and_then(|p| p.as_ref().and_then(|l| l.stamp));
        let refused = shared.refused.lock().ok().and_then(|r| *r);
        if now != before && refused != Some(now) {
            match load_policy(config) {
                Ok(p) => {
                    if let Ok(mut slot) = shared.policy.write() {
                        *slot = Some(Arc::new(Loaded {
                            policy: p,
                            stamp: now,
                        }));
                    }
                    if let Ok(mut e) = shared.reload_error.lock() {
                        *e = None;
                    }
                    if let Ok(mut r) = shared.refused.lock() {
                        *r = None;
                    }
                    log_line(
                        serde_json::json!({"time": now_rfc3339(), "msg": "policy reloaded", "policy": config.policy.display().to_string()}),
                    );
                }
                Err(e) => {
                    shared.metrics.reload_failures.inc();
                    let why = e.to_string();
                    if let Ok(mut slot) = shared.reload_error.lock() {
                        *slot = Some(why.clone());
                    }
                    if let Ok(mut r) = shared.refused.lock() {
                        *r = Some(now);
                    }
                    log_line(
                        serde_json::json!({"time": now_rfc3339(), "msg": "policy reload refused; the last good policy keeps serving", "error": why}),
                    );
                }
            }
        }
        let tls_now = (stamp(&config.tls_cert), stamp(&config.tls_key));
        if tls_now != tls_stamps {
            match tls_config(&config.tls_cert, &config.tls_key) {
                Ok(c) => {
                    if let Ok(mut slot) = tls.write() {
                        *slot = Arc::new(c);
                    }
                    tls_stamps = tls_now;
                    log_line(
                        serde_json::json!({"time": now_rfc3339(), "msg": "TLS certificate reloaded"}),
                    );
                }
                Err(e) => {
                    // Perhaps mid-replacement (certificate written, key not yet): try again.
                    log_line(
                        serde_json::json!({"time": now_rfc3339(), "msg": "TLS certificate not reloaded; the old one keeps serving", "error": e.to_string()}),
                    );
                }
            }
        }
    }
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let loaded = shared.policy.read().map(|p| p.is_some()).unwrap_or(false);
    let error = shared.reload_error.lock().ok().and_then(|e| e.clone());
    match (loaded, error) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "no policy loaded").into_response(),
        (true, None) => (StatusCode::OK, "ready").into_response(),
        (true, Some(e)) => (
            StatusCode::OK,
            format!(
                "ready (serving the last good policy; the policy file on disk was refused: {e})"
            ),
        )
            .into_response(),
    }
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    let (hits, misses) = shared.cache.stats();
    // The cache counts on its own; bring the exported counters up to date.
    let bump = |c: &Counter, to: u64| {
        let have = c.get();
        if to > have {
            c.inc_by(to - have);
        }
    };
    bump(&shared.metrics.cache_hits, hits);
    bump(&shared.metrics.cache_misses, misses);
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &shared.registry) {
        Ok(()) => (
            StatusCode::OK,
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            out,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn validate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer(shared, body, false).await
}

async fn mutate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer(shared, body, true).await
}

async fn answer(shared: Arc<Shared>, body: Bytes, mutate: bool) -> Response {
    let started = Instant::now();
    shared.metrics.in_flight.inc();
    let response = answer_inner(&shared, &body, mutate, started).await;
    shared.metrics.in_flight.dec();
    response
}

async fn answer_inner(shared: &Shared, body: &[u8], mutate: bool, started: Instant) -> Response {
    let path = if mutate { "/mutate" } else { "/validate" };
    let bad_request = |why: String| {
        log_line(
            serde_json::json!({"time": now_rfc3339(), "path": path, "result": "bad-request", "error": why}),
        );
        (StatusCode::BAD_REQUEST, format!("imgseal: {why}\n")).into_response()
    };
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let Some(loaded) = shared.policy.read().ok().and_then(|p| p.clone()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no policy loaded").into_response();
    };
    let options = ReviewOptions {
        mutate,
        cache: Some(shared.cache.clone()),
        ..shared.config.review.clone()
    };
    let reviewed = match review_detailed(&loaded.policy, &value, &options).await {
        Ok(r) => r,
        Err(e) => return bad_request(e.to_string()),
    };
    let response = &reviewed.answer["response"];
    let allowed = response["allowed"].as_bool().unwrap_or(false);
    for i in &reviewed.images {
        shared
            .metrics
            .decisions
            .get_or_create(&DecisionLabels {
                result: i.result.to_string(),
                mode: i.mode.to_string(),
                webhook: if mutate { "mutate" } else { "validate" }.to_string(),
            })
            .inc();
        if i.result == "deny" && i.digest.is_none() {
            shared.metrics.registry_errors.inc();
        }
    }
    let elapsed = started.elapsed();
    shared
        .metrics
        .latency
        .get_or_create(&vec![("path".to_string(), path.to_string())])
        .observe(elapsed.as_secs_f64());
    let request = &value["request"];
    log_line(serde_json::json!({
        "time": now_rfc3339(),
        "path": path,
        "uid": request["uid"],
        "namespace": request["namespace"],
        "operation": request["operation"],
        "object": format!("{}/{}", request["kind"]["kind"].as_str().unwrap_or(""), request["object"]["metadata"]["name"].as_str().or(request["name"].as_str()).unwrap_or("")),
        "images": reviewed.images,
        "allowed": allowed,
        "patched": response["patch"].is_string(),
        "duration_ms": (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    }));
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        reviewed.answer.to_string(),
    )
        .into_response()
}
