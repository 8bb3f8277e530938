#!/bin/sh
# The Genesys lab's SIP stack (ctibridge/sim/sipserver, docs/genesys-lab.md): Debian's kamailio as
# the registrar, and PJSIP's Python bindings (PyPI pjsua2-python, a binary wheel whose packaging
# names no maintainer: pinned to one version and its hash) as the SIP Server stand-in. Idempotent.
set -eu
cd "$(dirname "$0")/.."
if ! command -v kamailio >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kamailio
fi
if ! .venv/bin/python -c "import pjsua2" 2>/dev/null; then
    .venv/bin/pip install -q --no-deps --require-hashes -r /dev/stdin <<'PINS'
pjsua2-python==2.15.1.post1 --hash=sha256:4eb5c3afca5ef589f94493ae14c86dbaf3584a9abc7964e89864ed85020c3d16
PINS
fi
