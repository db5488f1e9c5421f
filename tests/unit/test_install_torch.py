"""scripts/install.sh takes torch's CPU build from PyTorch's CPU index when it answers (checked
with a short limit), else falls back at once; scripts/check-cpu-only.sh fails on any
nvidia/cuda/triton package in pip's install plan (gigabytes of GPU libraries a CPU machine
never uses)."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH_BUILD = ROOT / "scripts" / "torch_build.py"


@pytest.fixture
def index_url():
    """A local stand-in for PyTorch's CPU index: answers GET /torch/."""

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/torch/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def _torch_source(url: str) -> list[str]:
    script = (
        '. scripts/torch-index.sh; torch_source "$1"; '
        'echo "${TORCH_PIP_ARGS[*]:-none}"; echo "$TORCH_SOURCE"'
    )
    out = subprocess.run(
        ["bash", "-c", script, "bash", sys.executable],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TORCH_INDEX_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.splitlines()


def test_a_reachable_cpu_index_is_added_for_torch(index_url):
    args, source = _torch_source(index_url)
    assert args == f"--extra-index-url {index_url}"
    assert source == f"PyTorch's CPU index ({index_url})"


def test_an_unreachable_index_falls_back_at_once_and_says_so():
    url = _closed_port_url()
    started = time.monotonic()
    args, source = _torch_source(url)
    assert time.monotonic() - started < 30  # a liveness bound: the probe gives up (3 s limit)
    assert args == "none"
    assert f"PyTorch's CPU index {url} did not answer" in source


def _report(tmp_path: Path, names: list[str]) -> subprocess.CompletedProcess:
    plan = {"install": [{"metadata": {"name": n, "version": "1.0"}} for n in names]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return subprocess.run(
        [sys.executable, str(TORCH_BUILD), "report", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_install_plan_with_cuda_packages_fails_naming_them(tmp_path):
    bad = _report(tmp_path, ["torch", "numpy", "nvidia-cublas-cu12", "triton", "cuda-bindings"])
    assert bad.returncode == 1
    assert "cuda-bindings, nvidia-cublas-cu12, triton" in bad.stderr
    good = _report(tmp_path, ["torch", "numpy", "sentence-transformers"])
    assert good.returncode == 0 and "no nvidia/cuda/triton package" in good.stdout


def test_the_installed_build_is_named():
    done = subprocess.run(
        [sys.executable, str(TORCH_BUILD), "installed", "here"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("torch ") and (
        "CPU build" in done.stdout or "CUDA build" in done.stdout
    )
