#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian machine, from Debian's packages:
#   docker-registry    the CNCF distribution registry the tests run against
#   kubernetes-client  kubectl, to build docs/deploy with `kubectl kustomize` (tests/deploy.rs)
#   openssl            docs/deploy/gen-certs.sh
# Safe to re-run; installs only what is missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# The docker-registry package starts a system service on :5000 where systemd runs; the tests
# start their own registries on free ports, so that service is not needed (and is harmless).
