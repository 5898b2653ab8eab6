#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against a real registry, and interop
# tests against sigstore-rs. Installs docker-registry first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Doc tests first, then library, binary and integration tests, so the run closes on the
# integration suites' summary (benchmarks are built by clippy in .ci/run, not run here).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib
cargo test --workspace --doc
cargo test --workspace --lib --bins --tests "$@"
