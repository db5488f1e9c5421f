"""Shared fixtures. Every test gets its own data dir; no test touches the network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# No test may reach the Hugging Face Hub: models load from packages or local files.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REAL_PDFS = {
    "systemtap_beginners": Path("/usr/share/doc/systemtap-doc/SystemTap_Beginners_Guide.pdf"),
    "systemtap_tutorial": Path("/usr/share/doc/systemtap-doc/tutorial.pdf"),
    "nut_faq": Path("/usr/share/doc/nut-doc/pdf/FAQ.pdf"),
    "nut_user_manual": Path("/usr/share/doc/nut-doc/pdf/user-manual.pdf"),
    "bashref": Path("/usr/share/doc/bash-doc/bashref.pdf"),
    "glpk": Path("/usr/share/doc/glpk-doc/glpk.pdf"),
    "debmake": Path("/usr/share/doc/debmake-doc/debmake-doc.en.pdf"),
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Drop OLYMPUS_* and engine variables from the caller's shell, and run from tmp."""
    for key in list(os.environ):
        if key.startswith("OLYMPUS_") or key in {"SPACE_ID", "SPACE_HOST", "HF_TOKEN"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # a stray .env in the repo must not leak into tests


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path):
    from src.settings import load_settings

    return load_settings(data_dir=data_dir)


def real_pdf(name: str) -> Path:
    """Path of a real manual shipped by a Debian package; skips when it is not installed."""
    path = REAL_PDFS[name]
    if not path.exists():
        pytest.skip(f"{path} missing: run `bash scripts/install.sh --test`")
    return path


@pytest.fixture
def copy_pdf(tmp_path: Path):
    """Copy a real manual into tmp (tests may damage their copy)."""

    def _copy(name: str) -> Path:
        dst = tmp_path / "pdfs" / real_pdf(name).name
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(real_pdf(name), dst)
        return dst

    return _copy


@pytest.fixture(scope="session")
def embedder():
    """The real default embedding model (bundled all-MiniLM-L6-v2), loaded once per session.

    It is the object ``Library.open`` gets from ``get_embedder()`` with the default settings
    (int8 on the CPU, batch 8), so code under test reuses the loaded model.
    """
    from shared_utils.embeddings import get_embedder
    from src.settings import Settings

    defaults = Settings(_env_file=None)
    return get_embedder(
        defaults.embedding_model,
        defaults.embedding_device,
        defaults.resolved_embedding_batch_size,
        defaults.resolved_embedding_precision,
    )


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight llama GGUF with SmolLM2's real tokenizer and chat template."""
    from tests.fixtures.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def llamacpp_server(tiny_gguf: Path):
    """A real llama.cpp server (xllamacpp, in-process) on the tiny model; stopped at the end."""
    from shared_utils.llamacpp_engine import LlamaCppEngine

    engine = LlamaCppEngine(tiny_gguf, port=0, ctx=2048).start()
    engine.wait_ready(30)
    yield engine
    engine.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``-n 2`` (pytest-xdist, ``--dist loadgroup``; what .ci/run runs) each test file
    runs whole on one worker, so its module fixtures (a started app, an ingested library) are
    built once; the end-to-end files (a real ``startup.py``, Chromium, a model) form one group
    and run one after another, beside the rest on the other worker. A test's own
    ``xdist_group`` mark wins."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = (
                "e2e"
                if item.path.parent.name == "e2e"
                else str(item.path.relative_to(config.rootpath))
            )
            item.add_marker(pytest.mark.xdist_group(group))
