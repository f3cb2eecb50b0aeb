#!/usr/bin/env bash
# The README's test command: set up from scratch, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
VALUELENS_WITH_BROWSER=1 bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
exec uv run --locked pytest "$@"
