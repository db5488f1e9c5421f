"""``python -m src engine serve`` as a real subprocess on the tiny model."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared_utils.generation.base import GenerationOptions, Message
from shared_utils.generation.hf_inference import HFInferenceBackend

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(model: Path, port: int, data_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(OLYMPUS_DATA_DIR=str(data_dir), OLYMPUS_LOG_FORMAT="json")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "src",
            "engine",
            "serve",
            "--model",
            str(model),
            "--port",
            str(port),
            "--ctx",
            "1024",
            "--threads",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_ready(proc: subprocess.Popen, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ready "):
            return line.split()[1]
        if not line and proc.poll() is not None:
            pytest.fail(f"engine exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    pytest.fail("engine did not print ready")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_engine_serve_answers_and_stops_cleanly(tiny_gguf, data_dir, sig):
    port = _free_port()
    proc = _serve(tiny_gguf, port, data_dir)
    try:
        url = _wait_ready(proc)
        assert url == f"http://127.0.0.1:{port}"
        backend = HFInferenceBackend(base_url=f"{url}/v1", name="llamacpp")
        answer = backend.generate(
            [Message("user", "Hello")], options=GenerationOptions(max_tokens=4)
        )
        assert answer
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert '"event": "ready"' in stderr and '"event": "stopping"' in stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)  # port freed


def test_engine_killed_mid_answer_is_interrupted_with_text_kept(tiny_gguf, data_dir):
    from shared_utils.generation.base import Delta
    from shared_utils.generation.chain import FallbackChain, Interrupted

    proc = _serve(tiny_gguf, _free_port(), data_dir)
    try:
        url = _wait_ready(proc)
        backend = HFInferenceBackend(base_url=f"{url}/v1", name="llamacpp")
        events, texts = [], []
        options = GenerationOptions(max_tokens=2000, stall_timeout_s=10)
        for event in FallbackChain([backend]).stream([Message("user", "Go on.")], options=options):
            events.append(event)
            if isinstance(event, Delta) and event.text:
                texts.append(event.text)
                if len(texts) == 3:
                    proc.kill()  # the engine process dies (OOM killer, crash)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert any(isinstance(e, Interrupted) for e in events)
    assert events[-1].interrupted and len(texts) >= 3


def test_engine_serve_with_a_missing_model_says_how_to_fix(data_dir, tmp_path):
    proc = _serve(tmp_path / "missing.gguf", _free_port(), data_dir)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "GGUF model file not found" in err and "hint:" in err
