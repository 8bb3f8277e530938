#!/bin/sh
# The Asterisk 22 sandbox (Debian sid chroot): build | start --config-dir DIR | stop | status.
# Thin wrapper around `ctibridge asterisk-sandbox`; see ctibridge/gateway/sandbox.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "${CTIBRIDGE:-$here/../.venv/bin/ctibridge}" asterisk-sandbox "$@"
