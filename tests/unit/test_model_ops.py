"""``src/models/operations.py``: the model operations the CLI and the Models page share (use, rm)."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from shared_utils.errors import ModelNotFound, OllamaNotRunning
from src.models.active import read_active, write_active
from src.models.operations import remove_model, use_model
from src.models.profile import detect
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
    pinned = settings.model_copy(
        update={
            "llamacpp_model_path": str(folder / "other.gguf"),
            "backends": "llamacpp,extractive",
        }
    )
    message = use_model(pinned, profile, "tiny-q4_k_m.gguf")
    assert "OLYMPUS_LLAMACPP_MODEL_PATH" in message and "takes precedence" in message
    plain = settings.model_copy(update={"backends": "llamacpp,extractive"})
    assert "precedence" not in use_model(plain, profile, "tiny-q4_k_m.gguf")


# --- `models use PATH.gguf`: a file anywhere ----------------------------------------------------
def _gguf(path, size=4096):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + bytes(size - 4))
    return path


def test_use_a_gguf_from_any_folder_links_it_into_the_models_folder(settings, profile, tmp_path):
    source = _gguf(tmp_path / "downloads" / "My-Model-0.5B.Q4_K_M.gguf")
    message = use_model(settings, profile, str(source))
    kept = settings.models_dir / "local" / source.name
    assert message == f"Active model: {source.name} -> {kept}"
    assert read_active(settings)["path"] == str(kept)
    assert kept.stat().st_ino == source.stat().st_ino  # a hard link: no second copy on disk
    from src.models.model_files import local_ggufs

    assert kept in local_ggufs(settings.models_dir)  # listed, usable and removable by name
    again = use_model(settings, profile, str(source))  # the same file again: nothing to do
    assert again == message


def test_use_a_gguf_on_another_file_system_copies_it_with_progress(data_dir, profile):
    import os
    import tempfile
    from pathlib import Path

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(data_dir).st_dev:
        pytest.skip("no second file system to copy from")
    settings = load_settings(data_dir=data_dir)
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        source = _gguf(Path(folder) / "other-135M.gguf", size=20 << 20)
        seen = []
        use_model(settings, profile, str(source), progress=seen.append)
        kept = settings.models_dir / "local" / source.name
        assert (
            kept.read_bytes() == source.read_bytes() and kept.stat().st_ino != source.stat().st_ino
        )
    assert seen and seen[-1].done == seen[-1].total == 20 << 20 and seen[-1].stage == "copy"
    assert not list(kept.parent.glob("*.incomplete"))


def test_use_refuses_a_file_that_is_not_gguf_and_records_nothing(settings, profile, tmp_path):
    from shared_utils.errors import NotAGguf

    fake = tmp_path / "notes.gguf"
    fake.write_bytes(b"%PDF-1.7 not a model")
    with pytest.raises(NotAGguf) as error:
        use_model(settings, profile, str(fake))
    assert "not a GGUF model file" in error.value.message and ".gguf" in (error.value.hint or "")
    assert read_active(settings) == {} and not (settings.models_dir / "local").exists()
    with pytest.raises(ModelNotFound) as missing:
        use_model(settings, profile, str(tmp_path / "nowhere" / "m.gguf"))
    assert "No file" in missing.value.message and "path" in (missing.value.hint or "")


def test_use_a_gguf_file_with_the_ollama_engine_imports_it(data_dir, tmp_path):
    from tests.doubles.ollama_server import OllamaDouble
    from tests.fixtures.tiny_gguf import write_tiny_gguf

    (tmp_path / "elsewhere").mkdir()
    source = write_tiny_gguf(tmp_path / "elsewhere" / "Tiny-Test.gguf")
    with OllamaDouble() as ollama:
        settings = load_settings(data_dir=data_dir, ollama_host=ollama.url)
        profile = dataclasses.replace(detect(settings), engine="ollama")
        message = use_model(settings, profile, str(source))
        assert "tiny-test" in ollama.models or "tiny-test:latest" in ollama.models
    assert message.startswith("Active model: tiny-test (Ollama, imported from ")
    assert read_active(settings)["ollama_model"] == "tiny-test"
