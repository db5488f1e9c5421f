# Sourced by scripts/install.sh and scripts/check-cpu-only.sh: where the CPU build of torch
# comes from. PyTorch's CPU index serves torch==X as X+cpu, which sorts above PyPI's X (on
# Linux a CUDA build that pulls ~18 nvidia/cuda/triton packages, several GB), so with that
# index added pip takes the CPU build. The index is probed first with a 3 s limit: where it
# cannot be reached (a firewall, this CI machine) the install falls back at once to pip's
# configured indexes and wheel folders, and says which build it got.
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
TORCH_PIP_ARGS=()
TORCH_SOURCE=""

torch_source() {  # torch_source PYTHON: sets TORCH_PIP_ARGS and TORCH_SOURCE
  if timeout 5 "$1" "$(dirname "${BASH_SOURCE[0]}")/torch_build.py" probe "${TORCH_INDEX_URL%/}/torch/"; then
    TORCH_PIP_ARGS=(--extra-index-url "$TORCH_INDEX_URL")
    TORCH_SOURCE="PyTorch's CPU index ($TORCH_INDEX_URL)"
  else
    TORCH_PIP_ARGS=()
    TORCH_SOURCE="pip's configured indexes and wheel folders (PyTorch's CPU index $TORCH_INDEX_URL did not answer within 3 s)"
  fi
}
