#!/bin/sh
# PyYAML in the project's virtualenv: tests/docker parses docker/compose.yaml with it (a test
# dependency only; the lead may move it into pyproject's test extras). Idempotent.
set -eu
cd "$(dirname "$0")/.."
.venv/bin/python -c "import yaml" 2>/dev/null || .venv/bin/pip install -q "pyyaml>=6"
