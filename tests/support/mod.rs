//! The one test-support module every integration test shares (`mod support;`):
//!
//! - [`registry`]: a real CNCF distribution registry (Debian's `docker-registry`) per test, and
//!   pushing small images to any store;
//! - [`layout`]: OCI image layouts on disk with an image in them;
//! - [`pki`]: test certificate authorities and code-signing leaves (rcgen);
//! - [`cli`]: running the real `imgseal` binary in an isolated scratch directory;
//! - [`hostile_server`]: a registry that lies (digests, sizes, errors) on purpose;
//! - [`latency_proxy`]: one ordinary network hop of latency in front of a real registry;
//! - [`ferro`]: an in-process OCI 1.1 registry with the native referrers API;
//! - [`interop`]: the upstream fixtures in `../shared/interop`, and what a missing one means.
//!
//! Each test binary uses a part of it, hence `dead_code` is allowed here.
#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod ferro;
pub mod hostile_server;
pub mod interop;
pub mod latency_proxy;
pub mod layout;
pub mod pki;
pub mod registry;
