#!/usr/bin/env bash
# Installs what valuelens needs on a fresh machine: uv (from PyPI), the locked Python
# environment (which includes the embedded model package), and, for the browser tests,
# Debian's Chromium when running as root. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --user "uv==0.13.9"
  export PATH="$HOME/.local/bin:$PATH"
fi

if [ "${VALUELENS_WITH_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; browser tests will skip (or fail under CI=true)" >&2
  else
    echo "setup: chromium not found; install it for the browser tests" >&2
  fi
fi

# Bytecode compiled once at install: otherwise every command recompiles what it imports when
# the environment disables writing .pyc files (PYTHONDONTWRITEBYTECODE), a few seconds a start.
uv sync --locked --quiet --compile-bytecode
