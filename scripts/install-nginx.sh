#!/bin/sh
# Installs Debian's nginx, which tests/nginx runs with the project's docker/nginx.conf (as a plain
# process on free ports, never as a service: the package's own service is not started). Idempotent.
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends nginx-light ||
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends nginx
