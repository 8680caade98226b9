#!/usr/bin/env bash
# Create .venv and install the pinned dependencies (and the project, editable).
# Uses uv when it can be installed (fast), else plain venv + pip. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQS=${1:-requirements-dev.txt}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "bootstrap: Python 3.11 is required (found $("$PY" --version 2>&1))" >&2
  exit 1
fi

if "$PY" -m uv --version >/dev/null 2>&1 || "$PY" -m pip install -q --disable-pip-version-check uv==0.13.8 >/dev/null 2>&1; then
  [ -x .venv/bin/python ] || "$PY" -m uv venv -q -p "$PY" .venv
  "$PY" -m uv pip install -q --python .venv/bin/python -r "$REQS"
  "$PY" -m uv pip install -q --python .venv/bin/python --no-deps -e .
else
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQS"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
fi
