#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing.
# Playwright's own browser download does not work here: tests use /usr/bin/chromium.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: /usr/bin/chromium is missing and this user cannot install it;" >&2
    echo "  run: apt-get install chromium   (as root)" >&2
    exit 1
  fi
fi
echo "installing Debian's chromium (browser tests need it)..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
