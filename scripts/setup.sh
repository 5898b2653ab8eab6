#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian machine: the CNCF distribution registry
# (Debian's docker-registry package). Safe to re-run; does nothing when already installed.
set -euo pipefail
if ! command -v docker-registry >/dev/null 2>&1 && [ ! -x /usr/bin/docker-registry ]; then
  echo "setup: installing docker-registry (CNCF distribution) from Debian" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends docker-registry
fi
# The package starts a system service on :5000 where systemd runs; the tests start their own
# registries on free ports, so that service is not needed (and is harmless if running).
