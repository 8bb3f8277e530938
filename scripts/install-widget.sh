#!/bin/sh
# Installs what the widget and its browser tests need, outside the tests (they have no network):
#  * Debian's Chromium (/usr/bin/chromium, driven by Playwright's Python package; no browser
#    download) and Node.js/npm, from Debian's packages when missing;
#  * sip.js 0.21.2 from ctibridge/widget/package-lock.json into ctibridge/widget/node_modules (served at
#    /widget/vendor/sip.js/).
# Idempotent: each step is skipped when already in place.
set -eu
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    apt-get update -q
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

cd "$(dirname "$0")/../ctibridge/widget"
if [ -f node_modules/sip.js/package.json ] && grep -q '"version": "0.21.2"' node_modules/sip.js/package.json; then
    echo "install-widget: chromium, npm and sip.js 0.21.2 in place"
    exit 0
fi
npm ci --no-audit --no-fund
