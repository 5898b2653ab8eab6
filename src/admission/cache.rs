//! Decisions reused across admission reviews.
//!
//! - Decisions are keyed by (policy fingerprint, image reference as written, digest): a new
//!   policy, a changed key file, another tag or another digest is another key, so a hit never
//!   skips a check the policy applies. They live `ttl` (default 5 min) and at most `capacity` of
//!   them are kept.
//! - Tag → digest resolutions live `tag_ttl` (default 30 s): within it a tagged image costs no
//!   registry request; after it, the tag is resolved again and a moved tag is a new key.
//! - Only decisions without a failed check are kept for enforce-mode rules (a denial is
//!   re-evaluated on the next review, so a fix takes effect at once); warn and audit decisions
//!   are kept as they are, since they allow either way.
//! - Concurrent reviews of one image share one in-flight verification.

use crate::policy::{Decision, Mode, Policy};
use crate::reference::ImageRef;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Key = (String, String, String);
/// One verification under way, shared by every review that asks for it meanwhile.
type Flight = Arc<tokio::sync::OnceCell<Decision>>;

/// Reusable decisions and tag resolutions (see the module docs).
#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    tag_ttl: Duration,
    capacity: usize,
    decisions: Mutex<HashMap<Key, (Instant, Decision)>>,
    tags: Mutex<HashMap<String, (Instant, String)>>,
    inflight: Mutex<HashMap<(String, String), Flight>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Cache {
    /// A cache keeping decisions `ttl`, tag resolutions `tag_ttl`, and at most `capacity`
    /// decisions.
    pub fn new(ttl: Duration, tag_ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            tag_ttl,
            capacity: capacity.max(1),
            decisions: Mutex::default(),
            tags: Mutex::default(),
            inflight: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Decisions held now.
    pub fn len(&self) -> usize {
        self.decisions.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// True when no decision is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The policy's decision for `image`, from the cache when a valid one is held.
    pub async fn evaluate(&self, policy: &Policy, image: &ImageRef) -> Decision {
        let fingerprint = policy.fingerprint().to_string();
        let reference = image.to_string();
        let now = Instant::now();
        let digest = match image {
            ImageRef::Registry(r) if r.digest().is_some() => r.digest().map(|d| d.to_string()),
            _ => self.tags.lock().ok().and_then(|t| {
                t.get(&reference)
                    .filter(|(at, _)| now.duration_since(*at) < self.tag_ttl)
                    .map(|(_, d)| d.clone())
            }),
        };
        if let Some(d) = &digest {
            let key = (fingerprint.clone(), reference.clone(), d.clone());
            let held = self.decisions.lock().ok().and_then(|m| {
                m.get(&key)
                    .filter(|(at, _)| now.duration_since(*at) < self.ttl)
                    .map(|(_, d)| d.clone())
            });
            if let Some(mut decision) = held {
                self.hits.fetch_add(1, Ordering::Relaxed);
                decision.requests = 0;
                return decision;
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let flight_key = (fingerprint.clone(), reference.clone());
        let cell = match self.inflight.lock() {
            Ok(mut m) => m.entry(flight_key.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let decision = cell.get_or_init(|| policy.evaluate(image)).await.clone();
        if let Ok(mut m) = self.inflight.lock() {
            if m.get(&flight_key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                m.remove(&flight_key);
            }
        }
        if let Some(d) = &decision.digest {
            if let Ok(mut t) = self.tags.lock() {
                if t.len() >= self.capacity {
                    t.retain(|_, (at, _)| now.duration_since(*at) < self.tag_ttl);
                }
                if t.len() < self.capacity {
                    t.insert(reference.clone(), (Instant::now(), d.clone()));
                }
            }
            let failed = decision.checks.iter().any(|c| !c.passed);
            let keep = !(failed && decision.mode == Mode::Enforce) && decision.rule.is_some();
            if keep {
                self.insert((fingerprint, reference, d.clone()), decision.clone());
            }
        }
        decision
    }

    fn insert(&self, key: Key, decision: Decision) {
        let Ok(mut m) = self.decisions.lock() else {
            return;
        };
        let now = Instant::now();
        if m.len() >= self.capacity {
            m.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
        }
        if m.len() >= self.capacity {
            // Still full of live entries: drop the oldest.
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(key, (now, decision));
    }
}
