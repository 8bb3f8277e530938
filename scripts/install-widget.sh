#!/bin/sh
# Installs the widget's only dependency, sip.js 0.21.2, from widget/package-lock.json into
# widget/node_modules (served at /widget/vendor/sip.js/). Idempotent: skips when already in place.
set -eu
cd "$(dirname "$0")/../widget"
if [ -f node_modules/sip.js/package.json ] && grep -q '"version": "0.21.2"' node_modules/sip.js/package.json; then
    echo "install-widget: sip.js 0.21.2 already installed"
    exit 0
fi
npm ci --no-audit --no-fund
