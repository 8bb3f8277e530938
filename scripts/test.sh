#!/bin/sh
# Every check and every test: lint, types (strict on the sans-IO core and the application layer),
# then pytest. Exits non-zero
# on any failure, including pytest's "no tests collected" (exit 5).
set -eu
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy ctibridge
mkdir -p artifacts
.venv/bin/pytest -q -p no:cacheprovider --junitxml=artifacts/junit.xml "$@"
