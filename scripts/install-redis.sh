#!/bin/sh
# Installs redis-server (Debian package), needed by tests/store and tests/hub. Idempotent.
set -eu
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
