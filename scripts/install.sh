#!/usr/bin/env bash
# Installs Olympus into ./.venv on a Debian machine with Python 3.11+.
#   bash scripts/install.sh          the app (runtime dependencies, offline models)
#   bash scripts/install.sh --test   also test tools, headless Chromium and the PDF manuals
#                                    that tests and benchmarks use (Debian packages)
# torch is the CPU build wherever PyTorch's CPU index answers (TORCH_INDEX_URL: a mirror of
# it); the last line says which build was installed and from where.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-app}
PYTHON=${PYTHON:-python3}

apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get not found: install $* by hand" >&2; return 0; }
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11+ is required (found $("$PYTHON" --version))" >&2; exit 1; }
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

apt_install tesseract-ocr tesseract-ocr-eng  # OCR of scanned pages (OLYMPUS_OCR)
if [ "$mode" = "--test" ]; then
  apt_install chromium bash-doc glpk-doc systemtap-doc nut-doc debmake-doc r-doc-pdf asymptote-doc
  req=requirements-dev.txt
else
  req=requirements.txt
fi

# torch's CPU build where PyTorch's CPU index answers (scripts/torch-index.sh)
. scripts/torch-index.sh
torch_source "$PYTHON"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r "$req" ${TORCH_PIP_ARGS[@]+"${TORCH_PIP_ARGS[@]}"}
.venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
.venv/bin/python scripts/torch_build.py installed "$TORCH_SOURCE"
echo "Olympus installed in .venv ($req): run it with .venv/bin/python startup.py"
