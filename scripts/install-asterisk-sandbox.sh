#!/bin/sh
# Install what the Asterisk sandbox needs and build it (idempotent; run as root, with internet).
# debootstrap builds the Debian sid chroot; sip-tester is sipp (the Genesys/phone simulator).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
missing=""
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"  # test certificates
if [ -n "$missing" ]; then
    apt-get update
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
exec "${CTIBRIDGE:-$here/../.venv/bin/ctibridge}" asterisk-sandbox build
