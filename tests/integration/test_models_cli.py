"""``python -m src models ...`` as a real subprocess, pulling from the local Hub double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doubles.hub_server import HubServer
from tests.doubles.ollama_server import OllamaDouble
from tests.integration.test_ollama_import import write_gguf

ROOT = Path(__file__).resolve().parents[2]
REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    src = tmp_path_factory.mktemp("gguf")
    with HubServer() as server:
        server.add_file(
            REPO, FILE, write_gguf(src / "a.gguf", chat_template="x", rows=4096).read_bytes()
        )
        server.add_file(
            "acme/Tiny-GGUF",
            "tiny-Q8_0.gguf",
            write_gguf(src / "b.gguf", chat_template="x").read_bytes(),
        )
        server.add_file("acme/Tiny-GGUF", "tiny-Q4_K_M.gguf", b"not used")
        server.add_file("meta/Gated-GGUF", "gated-Q4_K_M.gguf", b"secret")
        server.gate("meta/Gated-GGUF", "hf_granted")
        yield server


def cli(data_dir: Path, hub: HubServer, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OLYMPUS_", "HF_")) and k not in ("TRANSFORMERS_OFFLINE",)
    }
    env.update(
        OLYMPUS_DATA_DIR=str(data_dir),
        HF_ENDPOINT=hub.url,
        OLYMPUS_ENGINE="llamacpp",
        OLYMPUS_LOG_FORMAT="console",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "src", "models", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pull_use_list_rm(hub, data_dir):
    pulled = cli(data_dir, hub, "pull", "qwen2.5-0.5b-instruct")
    assert pulled.returncode == 0, pulled.stderr
    target = data_dir / "models" / "Qwen--Qwen2.5-0.5B-Instruct-GGUF" / FILE
    assert target.is_file() and str(target) in pulled.stdout
    assert "download" in pulled.stderr and "B/s" in pulled.stderr  # the tqdm bar

    listed = json.loads(cli(data_dir, hub, "list", "--json").stdout)
    entry = next(e for e in listed["catalog"] if e["id"] == "qwen2.5-0.5b-instruct")
    assert entry["on_disk"] and listed["files"][0]["path"] == str(target)
    assert listed["recommended"] and listed["engine"] == "llamacpp"

    # a repo outside the catalog, by quantization (listed through the Hub's tree API)
    other = cli(data_dir, hub, "pull", "acme/Tiny-GGUF:Q8_0", "--use")
    assert other.returncode == 0, other.stderr
    tiny = data_dir / "models" / "acme--Tiny-GGUF" / "tiny-Q8_0.gguf"
    assert tiny.is_file() and not (tiny.parent / "tiny-Q4_K_M.gguf").exists()
    assert json.loads((data_dir / "active_model.json").read_text())["path"] == str(tiny)

    used = cli(data_dir, hub, "use", "qwen2.5-0.5b-instruct")
    assert used.returncode == 0 and "Active model: qwen2.5-0.5b-instruct" in used.stdout
    text = cli(data_dir, hub, "list").stdout
    assert "Active model: qwen2.5-0.5b-instruct" in text and "on disk" in text

    removed = cli(data_dir, hub, "rm", "qwen2.5-0.5b-instruct")
    assert removed.returncode == 0 and not target.exists()
    assert "active model was removed" in removed.stdout
    missing = cli(data_dir, hub, "rm", "qwen2.5-0.5b-instruct")
    assert missing.returncode == 2 and "hint:" in missing.stderr


def test_gated_and_missing_repos_exit_2_with_a_hint(hub, data_dir):
    gated = cli(data_dir, hub, "pull", "meta/Gated-GGUF:Q4_K_M")
    assert gated.returncode == 2
    assert "HF_TOKEN" in gated.stderr
    missing = cli(data_dir, hub, "pull", "acme/Tiny-GGUF:Q2_K")
    assert missing.returncode == 2 and "tiny-Q8_0.gguf" in missing.stderr
    unknown = cli(data_dir, hub, "use", "no-such-model")
    assert unknown.returncode == 2 and "models pull" in unknown.stderr


def test_ollama_engine_pull_imports_and_rm_deletes(hub, data_dir):
    with OllamaDouble(models=[]) as ollama:
        env = {"OLYMPUS_ENGINE": "ollama", "OLYMPUS_OLLAMA_HOST": ollama.url}
        pulled = cli(data_dir, hub, "pull", "qwen2.5-0.5b-instruct", "--use", **env)
        assert pulled.returncode == 0, pulled.stderr
        assert "Imported into Ollama as qwen2.5-0.5b-instruct:q4_k_m" in pulled.stdout
        assert "ollama: success" in pulled.stdout and "upload" in pulled.stderr
        listed = json.loads(cli(data_dir, hub, "list", "--json", **env).stdout)
        assert [m["name"] for m in listed["ollama"]] == ["qwen2.5-0.5b-instruct:q4_k_m"]
        assert next(e for e in listed["catalog"] if e["id"] == "qwen2.5-0.5b-instruct")["in_ollama"]
        removed = cli(data_dir, hub, "rm", "qwen2.5-0.5b-instruct", **env)
        assert removed.returncode == 0 and "ollama:qwen2.5-0.5b-instruct:q4_k_m" in removed.stdout
        assert ollama.models == {}


def test_ollama_pulls_hf_co_reference_itself(hub, data_dir):
    ref = "hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"
    with OllamaDouble(models=[], pullable={ref: 3_000_000}) as ollama:
        env = {"OLYMPUS_ENGINE": "ollama", "OLYMPUS_OLLAMA_HOST": ollama.url}
        pulled = cli(
            data_dir, hub, "pull", "qwen2.5-0.5b-instruct", "--ollama-pull", "--use", **env
        )
        assert pulled.returncode == 0, pulled.stderr
        assert f"Ollama pulled {ref}" in pulled.stdout
        assert f"{ref}:latest" in ollama.models or ref in ollama.models
        assert json.loads((data_dir / "active_model.json").read_text())["ollama_model"] == ref
