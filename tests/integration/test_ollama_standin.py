"""The stand-in ``ollama`` executable: Ollama's REST API, answered by real llama.cpp.

Every test runs the launcher (``tests/doubles/bin/ollama``) as a process, as the supervisor
and the image do, on the bundled SmolLM2-135M GGUF imported from an uploaded blob.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from src.models.model_files import bundled_gguf
from tests.doubles.ollama_server import Script
from tests.doubles.ollama_standin import LAUNCHER, write_tarball
from tests.supervisor.conftest import free_port, wait_for

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


class Standin:
    """``ollama serve`` from ``exe`` on a free port with its own model store."""

    def __init__(self, exe: Path, store: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "ab")  # noqa: SIM115
        self.log_path = log
        child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OLLAMA_HOST")}
        child_env.update(
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            OLLAMA_HOST=f"127.0.0.1:{self.port}",
            OLLAMA_MODELS=str(store),
            **env,
        )
        self.proc = subprocess.Popen(
            [str(exe), "serve"], env=child_env, cwd=store.parent, stdout=self._log, stderr=self._log
        )
        wait_for(self._up, 30, "the stand-in to listen")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"stand-in exited {self.proc.returncode}: {self.log()}")
        try:
            return httpx.get(f"{self.url}/api/version", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def import_gguf(self, name: str, gguf: Path) -> None:
        import ollama

        client = ollama.Client(host=self.url)
        digest = client.create_blob(gguf)
        list(
            client.create(
                model=name, files={gguf.name: digest}, parameters={"num_ctx": 1024}, stream=True
            )
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("standin")
    (tmp / "models").mkdir()
    server = Standin(LAUNCHER, tmp / "models", tmp / "ollama.log")
    server.import_gguf("smol:135m", bundled_gguf())
    yield server
    server.stop()


def _chat(url: str, model: str = "smol:135m", **body) -> list[dict]:
    payload = {"model": model, "messages": QUESTION, **body}
    with httpx.stream("POST", f"{url}/api/chat", json=payload, timeout=60) as r:
        assert r.status_code == 200, r.read()
        return [json.loads(line) for line in r.iter_lines() if line]


def test_version_command_prints_the_version():
    out = subprocess.run(
        [sys.executable, str(LAUNCHER), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("ollama version is 0.")


def test_create_from_an_uploaded_blob_lists_the_gguf_details(standin):
    import ollama

    gguf = bundled_gguf()
    client = ollama.Client(host=standin.url)
    model = {m.model: m for m in client.list().models}["smol:135m"]
    assert model.size == gguf.stat().st_size
    assert (model.details.family, model.details.quantization_level) == ("llama", "Q4_1")
    assert "num_ctx" in client.show("smol:135m").parameters
    digest = client.create_blob(gguf)  # already there: HEAD answers 200, nothing re-sent
    assert httpx.head(f"{standin.url}/api/blobs/{digest}").status_code == 200


def test_chat_streams_really_generated_tokens_with_final_stats(standin):
    httpx.post(f"{standin.url}/api/generate", json={"model": "smol:135m", "keep_alive": 0})
    lines = _chat(standin.url, options={"num_predict": 12, "temperature": 0})
    pieces = [line["message"]["content"] for line in lines if not line["done"]]
    final = lines[-1]
    text = "".join(pieces)
    assert len(pieces) >= 5 and text.strip() and text != Script().answer
    assert final["done"] and final["done_reason"] == "length"
    assert final["eval_count"] == 12 and final["eval_duration"] > 0
    assert final["prompt_eval_count"] > 5 and final["prompt_eval_duration"] > 0
    assert final["load_duration"] > 0, "first request after an unload loads the model"
    assert final["total_duration"] >= final["load_duration"] + final["eval_duration"]

    again = _chat(standin.url, options={"num_predict": 12, "temperature": 0})
    assert again[-1]["load_duration"] == 0, "the model stayed loaded"
    assert "".join(line["message"]["content"] for line in again) == text, "temperature 0"


def test_options_reach_llama_cpp(standin):
    first = _chat(standin.url, options={"num_predict": 12, "temperature": 0})
    word = "".join(line["message"]["content"] for line in first).split()[1]
    cut = _chat(standin.url, options={"num_predict": 12, "temperature": 0, "stop": [word]})
    assert word not in "".join(line["message"]["content"] for line in cut)
    assert cut[-1]["done_reason"] == "stop" and cut[-1]["eval_count"] < 12
    short = _chat(standin.url, options={"num_predict": 3, "temperature": 0})
    assert short[-1]["eval_count"] == 3


def test_generate_answers_a_prompt_in_one_response(standin):
    r = httpx.post(
        f"{standin.url}/api/generate",
        timeout=60,
        json={
            "model": "smol:135m",
            "prompt": "Tell me a long story about a dragon.",
            "stream": False,
            "options": {"num_predict": 6, "temperature": 0},
        },
    )
    body = r.json()
    assert r.status_code == 200 and body["response"].strip() and body["done"]
    assert body["eval_count"] == 6 and body["done_reason"] == "length"


def test_unknown_model_is_404_in_ollama_error_shape(standin):
    r = httpx.post(f"{standin.url}/api/chat", json={"model": "nope:7b", "messages": QUESTION})
    assert r.status_code == 404
    assert r.json() == {"error": 'model "nope:7b" not found, try pulling it first'}
    pull = httpx.post(f"{standin.url}/api/pull", json={"model": "nope:7b", "stream": False})
    assert pull.status_code == 500 and "error" in pull.json()


def test_keep_alive_zero_unloads_and_a_short_keep_alive_expires(standin):
    ps = f"{standin.url}/api/ps"
    _chat(standin.url, options={"num_predict": 2}, keep_alive="10m")
    assert [m["model"] for m in httpx.get(ps).json()["models"]] == ["smol:135m"]
    done = httpx.post(
        f"{standin.url}/api/chat", json={"model": "smol:135m", "messages": [], "keep_alive": 0}
    ).json()
    assert done["done_reason"] == "unload"
    assert httpx.get(ps).json()["models"] == []
    assert 'model "smol:135m" unloaded' in standin.log()

    _chat(standin.url, options={"num_predict": 2}, keep_alive="1s")
    assert httpx.get(ps).json()["models"]
    wait_for(lambda: httpx.get(ps).json()["models"] == [], 30, "keep_alive 1s to expire")


def test_models_survive_a_restart_and_sigterm_stops_it_cleanly(tmp_path):
    store = tmp_path / "models"
    first = Standin(LAUNCHER, store, tmp_path / "first.log")
    first.import_gguf("smol:135m", bundled_gguf())
    _chat(first.url, options={"num_predict": 2})
    t0 = time.monotonic()
    assert first.stop() == 0 and time.monotonic() - t0 < 30  # not hung (a liveness bound)

    (store / "manifests" / "broken.json").write_text("{not json")  # skipped with a warning
    second = Standin(LAUNCHER, store, tmp_path / "second.log")
    try:
        tags = httpx.get(f"{second.url}/api/tags").json()["models"]
        assert [m["model"] for m in tags] == ["smol:135m"]
        answer = _chat(second.url, options={"num_predict": 3, "temperature": 0})
        assert answer[-1]["eval_count"] == 3
    finally:
        assert second.stop() == 0
    assert "Listening on 127.0.0.1" in second.log()
    assert "skipping unreadable manifest broken.json" in second.log()


def test_the_tarball_runs_without_the_repository(tmp_path):
    sha = write_tarball(tmp_path / "ollama-linux-amd64.tgz")
    assert len(sha) == 64
    root = tmp_path / "usr"
    with tarfile.open(tmp_path / "ollama-linux-amd64.tgz") as tar:
        assert "bin/ollama" in tar.getnames()
        tar.extractall(root, filter="data")
    (tmp_path / "models").mkdir()
    server = Standin(root / "bin" / "ollama", tmp_path / "models", tmp_path / "ollama.log")
    try:
        server.import_gguf("smol:135m", bundled_gguf())
        answer = _chat(server.url, options={"num_predict": 3, "temperature": 0})
        assert answer[-1]["eval_count"] == 3
    finally:
        assert server.stop() == 0
