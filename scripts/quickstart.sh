#!/usr/bin/env bash
# The README's main command: set up from scratch, then evaluate the embedded local model on one
# scenario (offline) and write runs/quickstart/report.html. Extra arguments go to
# `valuelens quickstart` (e.g. --model openai:gpt-4o-mini --out runs/mine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
exec uv run --locked valuelens quickstart "$@"
