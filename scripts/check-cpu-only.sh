#!/usr/bin/env bash
# A fresh-clone check of the install: pip resolves the requirements as scripts/install.sh
# does (same torch source), ignoring what is installed, and the plan must hold no
# nvidia/cuda/triton package.
#
#   bash scripts/check-cpu-only.sh [REQUIREMENTS_FILE]    (default: requirements-dev.txt)
#
# Exit codes: 0 CPU only, 1 a CUDA package would be installed (named), 2 pip could not resolve.
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements-dev.txt}
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
. scripts/torch-index.sh
torch_source "$PYTHON"
echo "torch from $TORCH_SOURCE"
plan=$(mktemp /tmp/olympus-pip-plan.XXXXXX.json)
trap 'rm -f "$plan"' EXIT
"$PYTHON" -m pip install -q --dry-run --ignore-installed --report "$plan" -r "$req" \
  ${TORCH_PIP_ARGS[@]+"${TORCH_PIP_ARGS[@]}"} >/dev/null || { echo "pip could not resolve $req" >&2; exit 2; }
"$PYTHON" scripts/torch_build.py report "$plan"
