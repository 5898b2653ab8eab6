//! `imgseal admission serve`: the admission webhook.

use super::*;

pub(crate) async fn admission_serve(a: ServeArgs) -> Result<u8, Error> {
    if a.cache_size == 0 || a.concurrency == 0 {
        return Err(Error::Usage(
            "--cache-size and --concurrency must be at least 1".into(),
        ));
    }
    if a.budget.is_zero() || a.reload_interval.is_zero() {
        return Err(Error::Usage(
            "--budget and --reload-interval must be longer than zero".into(),
        ));
    }
    let config = imgseal::webhook::ServeConfig {
        policy: a.policy,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        addr: a.addr,
        review: imgseal::admission::ReviewOptions {
            exempt_namespaces: a.exempt_namespace,
            mutate: false,
            budget: a.budget,
            fail_open: a.failure_policy == FailurePolicy::Allow,
            concurrency: a.concurrency,
            cache: None,
        },
        store: StoreOptions {
            allow_http: a.allow_http_registry,
            ..StoreOptions::default()
        },
        cache_ttl: a.cache_ttl,
        tag_ttl: a.tag_ttl,
        cache_size: a.cache_size,
        reload_every: a.reload_interval,
    };
    imgseal::webhook::serve(config).await?;
    Ok(0)
}
