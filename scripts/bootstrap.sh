#!/bin/sh
# Sets up everything ctibridge and its tests need on a Debian machine, idempotently:
# system packages, the Python virtualenv with the project, then every scripts/install-*.sh
# (npm packages, the Asterisk 22 sandbox chroot, ...). Run as root (apt, debootstrap, netns).
set -eu
cd "$(dirname "$0")/.."

need=""
for pkg_cmd in sip-tester:sipp debootstrap:debootstrap chromium:chromium redis-server:redis-server \
               nodejs:node npm:npm iproute2:ip nginx-light:nginx; do
    command -v "${pkg_cmd#*:}" >/dev/null 2>&1 || need="$need ${pkg_cmd%%:*}"
done
if [ -n "$need" ]; then
    echo "bootstrap: installing system packages:$need"
    apt-get update -qq
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.installed-from-pyproject.toml
if ! cmp -s pyproject.toml "$stamp" 2>/dev/null; then
    .venv/bin/pip install -q -U pip
    .venv/bin/pip install -q -e '.[test]'
    cp pyproject.toml "$stamp"
fi

for script in scripts/install-*.sh; do
    sh "$script"
done
