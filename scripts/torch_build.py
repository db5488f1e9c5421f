"""Which build of torch an install gives: the CPU one, or the CUDA one with its packages.

    python scripts/torch_build.py probe URL          exit 0 when URL answers within 3 s
    python scripts/torch_build.py installed SOURCE   says which torch build is installed
    python scripts/torch_build.py report FILE        exit 1 when pip's --report FILE would
                                                     install an nvidia/cuda/triton package

Used by scripts/install.sh and scripts/check-cpu-only.sh; standard library only.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import urllib.request

CUDA_PACKAGE = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")
PROBE_TIMEOUT_S = 3.0


def cuda_packages(names: list[str]) -> list[str]:
    """The CUDA runtime packages among ``names`` (PyPI's Linux torch depends on ~18).

    >>> cuda_packages(["torch", "nvidia-cublas-cu12", "Triton", "numpy", "cuda-bindings"])
    ['Triton', 'cuda-bindings', 'nvidia-cublas-cu12']
    """
    return sorted(n for n in names if CUDA_PACKAGE.match(n.lower()))


def probe(url: str) -> int:
    try:
        urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S).close()  # https URL
    except Exception:  # noqa: BLE001 - any failure means: not reachable, fall back
        return 1
    return 0


def installed(source: str) -> int:
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        print("torch is not installed", file=sys.stderr)
        return 1
    cuda = cuda_packages([d.metadata["Name"] or "" for d in importlib.metadata.distributions()])
    if cuda:
        print(
            f"torch {version}: the CUDA build, with {len(cuda)} nvidia/cuda/triton packages "
            f"(several GB), from {source}. For the CPU build, run the install again where "
            "PyTorch's CPU index is reachable, or set TORCH_INDEX_URL to a mirror of it."
        )
    else:
        print(f"torch {version}: the CPU build (no nvidia/cuda/triton package), from {source}")
    return 0


def report(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    names = {i["metadata"]["name"]: i["metadata"]["version"] for i in plan.get("install", [])}
    cuda = cuda_packages(list(names))
    torch = names.get("torch", "(already installed)")
    if cuda:
        print(
            f"CUDA packages in the install plan (torch {torch}): {', '.join(cuda)}", file=sys.stderr
        )
        return 1
    print(f"install plan: {len(names)} packages, torch {torch}, no nvidia/cuda/triton package")
    return 0


def main(argv: list[str]) -> int:
    commands = {"probe": probe, "installed": installed, "report": report}
    if len(argv) != 2 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
