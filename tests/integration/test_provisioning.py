"""ensure_model against the Hub double (and the Ollama double for the Ollama engine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from src.models.active import read_active, write_active
from src.models.profile import detect
from src.models.provisioning import ensure_model
from src.settings import load_settings
from src.status import StatusFile
from tests.doubles.hub_server import HubServer
from tests.doubles.ollama_server import OllamaDouble
from tests.integration.test_ollama_import import write_gguf

REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture(autouse=True)
def _hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr("src.models.provisioning._offline_reported", False)


@pytest.fixture
def hub(tmp_path):
    with HubServer() as server:
        server.add_file(
            REPO, FILE, write_gguf(tmp_path / "src.gguf", chat_template="x").read_bytes()
        )
        yield server


def _settings(data_dir: Path, **kw):
    kw.setdefault("hf_hub_offline", False)
    kw.setdefault("model", "qwen2.5-0.5b-instruct")
    return load_settings(data_dir=data_dir, **kw)


def test_llamacpp_downloads_then_finds_it_present(hub, data_dir):
    s = _settings(data_dir, engine="llamacpp", hf_endpoint=hub.url)
    profile = detect(s)
    reports = []
    ready = ensure_model(s, profile, progress=reports.append)
    assert ready.source == "downloaded" and ready.path.name == FILE and ready.path.is_file()
    assert reports and reports[-1].done == reports[-1].total
    again = ensure_model(s, profile)
    assert again.source == "present" and again.path == ready.path


def test_offline_uses_the_bundled_model_and_says_so_once(data_dir, caplog):
    s = _settings(data_dir, engine="llamacpp", hf_hub_offline=True)
    status = StatusFile(s.status_path)
    ready = ensure_model(s, detect(s), status=status)
    assert ready.source == "offline-fallback"
    assert ready.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and ready.path.is_file()
    assert "Hub unreachable" in status.section("provisioning")["warning"]


def _deepest_parentheses(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        deepest = max(deepest, depth)
    return deepest


def test_the_offline_note_says_plainly_why_the_small_model_answers(data_dir):
    from src.models.backends import plan_backends

    s = _settings(data_dir, engine="llamacpp", hf_hub_offline=True)
    status = StatusFile(s.status_path)
    profile = detect(s)
    ready = ensure_model(s, profile, status=status)
    assert ready.notes  # why the recommended model is not the one answering
    status.update(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-offline",
        notes=list(ready.notes),
    )
    note = plan_backends(s, profile, status=status.read()).fallback_note
    assert note.startswith("Answering now: smollm2-135m-offline, because")
    assert "the Hugging Face Hub cannot be reached" in note and "models pull" in note
    assert _deepest_parentheses(note) <= 1, note


def test_offline_prefers_a_model_already_on_disk(data_dir):
    s = _settings(data_dir, engine="llamacpp", hf_hub_offline=True)
    other = s.models_dir / "acme--Other-GGUF" / "other-q8_0.gguf"
    other.parent.mkdir(parents=True)
    write_gguf(other, chat_template="x")
    ready = ensure_model(s, detect(s))
    assert ready.source == "offline-fallback" and ready.path == other


def test_gated_download_falls_back_and_reports_why(hub, data_dir):
    hub.gate(REPO, "hf_good")
    s = _settings(data_dir, engine="llamacpp", hf_endpoint=hub.url)
    status = StatusFile(s.status_path)
    ready = ensure_model(s, detect(s), status=status)
    assert ready.source == "offline-fallback"
    assert "gated" in status.section("provisioning")["warning"]


def test_active_model_record_wins(data_dir, tmp_path):
    s = load_settings(data_dir=data_dir, engine="llamacpp")
    mine = write_gguf(tmp_path / "mine.gguf", chat_template="x")
    write_active(s, name="mine", path=mine)
    assert read_active(s)["path"] == str(mine)
    ready = ensure_model(s, detect(s))
    assert ready.source == "present" and ready.path == mine


def test_ollama_engine_downloads_imports_and_warms(hub, data_dir):
    with OllamaDouble(models=[]) as ollama:
        s = _settings(data_dir, engine="ollama", hf_endpoint=hub.url, ollama_host=ollama.url)
        profile = detect(s)
        reports = []
        ready = ensure_model(s, profile, progress=reports.append)
        assert ready.source == "downloaded" and ready.ollama_model == "qwen2.5-0.5b-instruct:q4_k_m"
        stages = {p.stage for p in reports}
        assert {"download", "upload"} <= stages and "hash" not in stages
        assert ready.ollama_model in ollama.models and ready.ollama_model in ollama.loaded
        create = ollama.requests_to("/api/create")[-1].body
        assert create["parameters"] == {"num_ctx": profile.context_tokens}
        # the digest verified during the download is the blob's name: no second hashing pass
        assert list(create["files"].values()) == [
            f"sha256:{hashlib.sha256(ready.path.read_bytes()).hexdigest()}"
        ]
        again = ensure_model(s, profile)
        assert again.source == "present" and again.warm_up_s is not None


def test_ollama_offline_uses_an_installed_model(data_dir):
    with OllamaDouble(models=["existing:7b"]) as ollama:
        s = _settings(data_dir, engine="ollama", hf_hub_offline=True, ollama_host=ollama.url)
        ready = ensure_model(s, detect(s))
        assert ready.source == "offline-fallback" and ready.ollama_model == "existing:7b"


def test_ollama_active_model_is_used_while_it_exists(data_dir):
    with OllamaDouble(models=["mine:q8", "qwen2.5-0.5b-instruct:q4_k_m"]) as ollama:
        s = _settings(data_dir, engine="ollama", ollama_host=ollama.url, model="")
        write_active(s, name="mine", ollama_model="mine:q8")
        assert ensure_model(s, detect(s)).ollama_model == "mine:q8"
        del ollama.models["mine:q8"]
        ready = ensure_model(s, detect(s))
        assert ready.source == "present" and ready.ollama_model == "qwen2.5-0.5b-instruct:q4_k_m"


def test_a_gguf_baked_into_the_image_is_used_without_any_download(data_dir, tmp_path):
    baked = tmp_path / "opt-models"
    baked.mkdir()
    write_gguf(baked / FILE, chat_template="x")
    # No hub at all: the baked file must be found before anything is fetched.
    s = _settings(data_dir, engine="llamacpp", hf_hub_offline=True, model_dirs=str(baked))
    ready = ensure_model(s, detect(s))
    assert ready.source == "present" and ready.path == baked / FILE
