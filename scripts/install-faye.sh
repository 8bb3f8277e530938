#!/bin/sh
# Installs the faye Bayeux server used by tests/gws/test_faye_interop.py (needs the npm registry;
# tests themselves never install). Idempotent: `npm ci` from the committed package-lock.json,
# skipped when node_modules was installed from this very lock file.
set -eu
cd "$(dirname "$0")/../tests/gws/faye"
stamp=node_modules/.installed-from-package-lock.json
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json "$stamp"
