"""``src/model_ops.py``: the model operations the CLI and the Models page share (use, rm)."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from shared_utils.errors import ModelNotFound, OllamaNotRunning
from src.model_ops import remove_model, use_model
from src.profile import detect
from src.provisioning import read_active, write_active
from src.settings import load_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def profile(settings):
    return dataclasses.replace(detect(settings), engine="llamacpp")


def test_use_a_gguf_on_disk_records_its_path(settings, profile):
    folder = settings.models_dir / "owner--tiny-GGUF"
    folder.mkdir(parents=True)
    gguf = folder / "tiny-q4_k_m.gguf"
    gguf.write_bytes(b"GGUF")
    message = use_model(settings, profile, "tiny-q4_k_m.gguf")
    assert message == f"Active model: tiny-q4_k_m.gguf -> {gguf}"
    assert read_active(settings)["path"] == str(gguf)


def test_rm_deletes_every_part_of_a_split_gguf_and_forgets_the_active_model(settings, profile):
    folder = settings.models_dir / "owner--big-GGUF"
    folder.mkdir(parents=True)
    parts = [folder / f"big-q4_k_m-0000{i}-of-00002.gguf" for i in (1, 2)]
    for part in parts:
        part.write_bytes(b"GGUF")
    (folder / "unrelated.txt").write_text("kept")
    write_active(settings, name="big-q4_k_m-00001-of-00002.gguf", path=parts[0])
    removed = remove_model(settings, profile, "big-q4_k_m-00001-of-00002.gguf")
    assert set(removed.items) == {str(p) for p in parts}
    assert removed.was_active and read_active(settings) == {}
    assert not any(p.exists() for p in parts) and (folder / "unrelated.txt").exists()


def test_an_unknown_model_is_not_found_with_a_hint(settings, profile):
    with pytest.raises(ModelNotFound) as use_error:
        use_model(settings, profile, "no-such-model")
    assert "models pull" in (use_error.value.hint or "")
    with pytest.raises(ModelNotFound) as rm_error:
        remove_model(settings, profile, "no-such-model")
    assert "models list" in (rm_error.value.hint or "")


def test_ollama_down_is_reported_as_ollama_down_not_as_a_missing_model(data_dir):
    settings = load_settings(data_dir=data_dir, ollama_host=f"http://127.0.0.1:{_closed_port()}")
    profile = dataclasses.replace(detect(settings), engine="ollama")
    with pytest.raises(OllamaNotRunning) as error:
        use_model(settings, profile, "llama3:8b")
    assert "ollama serve" in (error.value.hint or "")
    with pytest.raises(OllamaNotRunning):
        remove_model(settings, profile, "llama3:8b")


def test_use_says_when_an_explicit_setting_still_chooses_the_model(settings, profile):
    """`models use` writes its record, but OLYMPUS_LLAMACPP_MODEL_PATH comes first: say so."""
    folder = settings.models_dir / "owner--tiny-GGUF"
    folder.mkdir(parents=True)
    (folder / "tiny-q4_k_m.gguf").write_bytes(b"GGUF")
    pinned = settings.model_copy(update={"llamacpp_model_path": str(folder / "other.gguf"),
                                         "backends": "llamacpp,extractive"})
    message = use_model(pinned, profile, "tiny-q4_k_m.gguf")
    assert "OLYMPUS_LLAMACPP_MODEL_PATH" in message and "takes precedence" in message
    plain = settings.model_copy(update={"backends": "llamacpp,extractive"})
    assert "precedence" not in use_model(plain, profile, "tiny-q4_k_m.gguf")
