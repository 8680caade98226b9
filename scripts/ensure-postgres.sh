#!/usr/bin/env bash
# Install Debian's PostgreSQL server when its binaries are missing: the PostgreSQL tests
# (tests/test_store_postgres.py, tests/test_cluster_postgres.py) start their own throwaway
# server on 127.0.0.1 from /usr/lib/postgresql/*/bin (tests/pgserver.py).
# Where it truly cannot be installed this says so and goes on: those tests then skip,
# each saying why.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-postgres: PostgreSQL is missing and this user cannot install it; the" >&2
    echo "  PostgreSQL tests will skip. Run: apt-get install postgresql   (as root)" >&2
    exit 0
  fi
fi
echo "installing Debian's postgresql (the PostgreSQL tests need its server)..." >&2
if ! $SUDO apt-get update -qq \
    || ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null \
    || ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "ensure-postgres: apt-get install postgresql failed; the PostgreSQL tests will skip" >&2
fi
