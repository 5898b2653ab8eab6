#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against a real registry, and interop
# tests against sigstore-rs. Installs docker-registry first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
