#!/usr/bin/env bash
# Format the code as pyproject.toml says: imports sorted (ruff's "I" rules), then `ruff format`.
# --check: change nothing, fail when a file would change (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff=.venv/bin/ruff
if [ "${1:-}" = "--check" ]; then
  "$ruff" check --select I .
  "$ruff" format --check .
else
  "$ruff" check --select I --fix .
  "$ruff" format .
fi
