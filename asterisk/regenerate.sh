#!/bin/sh
# Regenerate the example gateway configurations: asterisk/production and asterisk/lab.
# Their secrets are examples; a deployment runs `ctibridge asterisk-config` with its own.
# Usage: asterisk/regenerate.sh [OUT_DIR]   (default: this directory; the tests use a temp dir)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
ctibridge=${CTIBRIDGE:-$here/../.venv/bin/ctibridge}
export CTIBRIDGE_WEBRTC_SECRET=example-webrtc-secret
export CTIBRIDGE_AMI_SECRET=example-ami-secret
export CTIBRIDGE_GENESYS_PASSWORD=example-genesys-password
"$ctibridge" asterisk-config --dns 5001-5020 --genesys-host 192.168.210.81 \
    --genesys-auth-user asterisk_gateway --out "$out/production"
"$ctibridge" asterisk-config --profile lab --dns 5001-5004 --phone-dns 5003-5004 \
    --genesys-host 127.0.0.2 --out "$out/lab"
