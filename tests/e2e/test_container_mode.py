"""The container path end to end: ``startup.py`` with Ollama, from download to cited answer.

The real supervisor runs the stand-in ``ollama`` (``tests/doubles/bin/ollama``: Ollama's
REST API answered by real llama.cpp) as its engine, and provisions the catalog's
``qwen2.5-0.5b-instruct`` from a local Hub double that serves the bundled SmolLM2 GGUF under
that repo's name: downloaded, imported into Ollama and warmed, with progress in
``status.json``. The model is the profile's choice for an HF Space's free tier (``CPU_CORES``
and ``MEMORY`` as a Space sets them), not ``OLYMPUS_MODEL``: that explicit setting would
outrank ``models use`` by design. The test process asks through ``RAGPipeline`` (what the
UI uses) over a PDF ingested into the same data dir (the app is a placeholder page, so Milvus
Lite has one process), switches models with ``python -m src models use``, kills the engine to
watch the supervisor restart it while answers fall back, and stops everything with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from src.models.model_files import bundled_gguf
from tests.doubles.hub_server import HubServer
from tests.doubles.ollama_standin import LAUNCHER
from tests.fixtures.pdfs import make_text_pdf
from tests.supervisor.conftest import PLACEHOLDER_APP, alive, descendants, free_port, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIRST = (
    "qwen2.5-0.5b-instruct",
    "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
    "qwen2.5-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-0.5b-instruct:q4_k_m",
)
SECOND = (
    "qwen2.5-1.5b-instruct",
    "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
    "qwen2.5-1.5b-instruct-q4_k_m.gguf",
    "qwen2.5-1.5b-instruct:q4_k_m",
)
BACKOFF_S = 6.0  # long enough to ask while the engine is down, even on a loaded machine
# SmolLM2-135M cites [1] reliably only on a short source it already agrees with (temperature 0):
# what is under test is the path, not the model's reading.
PAGES = ["The capital of France is Paris. Paris lies on the Seine."]
QUESTION = "What is the capital of France?"


class StatusRecorder(threading.Thread):
    """Reads ``status.json`` every 50 ms and keeps every distinct provisioning section."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: list[dict] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.05):
            try:
                section = json.loads(self.path.read_text()).get("provisioning", {})
            except (OSError, ValueError):
                continue
            if not self.seen or section != self.seen[-1]:
                self.seen.append(section)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubServer]:
    data = bundled_gguf().read_bytes()
    with HubServer() as server:
        for _, repo, filename, _ in (FIRST, SECOND):
            server.add_file(repo, filename, data)
        server.state.slow_s_per_mb = 0.02  # ~2 s for 98 MB: progress is seen, not just "ready"
        yield server


@pytest.fixture
def env(tmp_path: Path, hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The container's settings, also set in this process (the pipeline reads the same)."""
    app = tmp_path / "placeholder_app.py"
    app.write_text(PLACEHOLDER_APP)
    olympus = dict(
        OLYMPUS_DATA_DIR=str(tmp_path / "data"),
        OLYMPUS_PORT=str(free_port()),
        OLYMPUS_ADDRESS="127.0.0.1",
        OLYMPUS_ENGINE="ollama",
        OLYMPUS_OLLAMA_BIN=str(LAUNCHER),
        OLYMPUS_OLLAMA_HOST=f"http://127.0.0.1:{free_port()}",
        CPU_CORES="2",
        MEMORY="16Gi",
        OLYMPUS_STREAMLIT_APP=str(app),
        OLYMPUS_LOG_FORMAT="json",
        OLYMPUS_RESTART_BACKOFF_S=str(BACKOFF_S),
        OLYMPUS_GRACE_PERIOD_S="5",
        OLYMPUS_MAX_ANSWER_TOKENS="24",
        OLYMPUS_TOP_K="3",
        OLYMPUS_TEMPERATURE="0",
        # the "qwen" files are SmolLM2-135M and Ollama reports that size: let it write (the
        # path is under test; tiny-model mode has its own tests)
        OLYMPUS_TINY_MODEL_ANSWERS="model",
        OLYMPUS_CHUNK_TOKENS="64",
        OLYMPUS_CHUNK_OVERLAP_TOKENS="8",
    )
    for key, value in olympus.items():
        monkeypatch.setenv(key, value)
    child = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    child.update(
        olympus,
        HF_ENDPOINT=hub.url,
        HF_HUB_OFFLINE="0",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    return child


def _ask(pipeline) -> tuple[list, object]:
    events = list(pipeline.ask(QUESTION))
    return events, events[-1]


def _engine(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / "status.json").read_text()).get("engine", {})
    except (OSError, ValueError):
        return {}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "src", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _provisioned(recorder: StatusRecorder, data_dir: Path, ollama: str) -> dict:
    """Provisioning ran with visible progress and warmed FIRST; the engine section."""
    wait_for(
        lambda: (recorder.seen or [{}])[-1].get("phase") in ("ready", "failed"),
        90,
        "provisioning to finish",
    )
    final = recorder.seen[-1]
    assert final["phase"] == "ready", final
    assert json.loads((data_dir / "status.json").read_text())["profile"]["model"] == FIRST[0], (
        "the profile of a 2 vCPU / 16 GB Space"
    )
    assert final["ollama_model"] == FIRST[3] and final["source"] == "downloaded"
    downloading = [s for s in recorder.seen if s.get("phase") == "download"]
    assert any(0 < s["bytes"] < s["total"] and 0 < s["percent"] < 100 for s in downloading), (
        recorder.seen
    )
    assert {"download", "upload"} <= {s.get("phase") for s in recorder.seen}
    assert final["warm_up_s"] is not None
    loaded = httpx.get(f"{ollama}/api/ps").json()["models"]
    assert [m["model"] for m in loaded] == [FIRST[3]], "warmed in the real engine"
    engine = _engine(data_dir)
    assert engine["engine"] == "ollama" and engine["state"] == "ready"
    return engine


def _killed_and_restarted(pipeline, data_dir: Path, ollama: str, pid: int) -> dict:
    """SIGKILL the engine: answers fall back saying why until it is back after the backoff."""
    from src.events import BackendSwitchEvent

    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    down = wait_for(
        lambda: _engine(data_dir).get("state") == "restarting" and _engine(data_dir),
        10,
        "the supervisor to notice",
    )
    assert down["restart_in_s"] == BACKOFF_S and down["last_error"] == "killed by SIGKILL"
    events, done = _ask(pipeline)  # while the engine is down: the fallback below says so
    assert done.backend_name == "extractive" and done.answer.strip() and not done.model
    switches = [e for e in events if isinstance(e, BackendSwitchEvent)]
    assert [(e.from_backend, e.to_backend) for e in switches] == [("ollama", "extractive")]
    assert f"not reachable at {ollama}" in switches[0].reason, "the fallback says why"
    assert done.skipped["ollama"] == switches[0].reason
    restarted = wait_for(
        lambda: _engine(data_dir).get("state") == "ready" and _engine(data_dir),
        30,
        "the engine to be back",
    )
    assert restarted["pid"] != pid and restarted["restarts"] == 1
    assert time.monotonic() - killed_at >= BACKOFF_S
    assert restarted["last_error"] == "killed by SIGKILL"
    return restarted


def test_container_mode_from_download_to_cited_answer_restart_and_stop(tmp_path, env, hub):
    from src.service.discovery import running_service
    from src.settings import load_settings

    data_dir = Path(env["OLYMPUS_DATA_DIR"])
    data_dir.mkdir()
    recorder = StatusRecorder(data_dir / "status.json")
    recorder.start()
    log = (tmp_path / "startup.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "startup.py"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ollama = env["OLYMPUS_OLLAMA_HOST"]
    try:
        # The pipeline the UI uses: the service API, which owns the stores (it opens them
        # while the supervisor provisions).
        settings = load_settings()
        pipeline = wait_for(lambda: running_service(settings), 180, "the service API to answer")
        with closing(pipeline):
            pdf = tmp_path / "france.pdf"
            pdf.write_bytes(make_text_pdf(PAGES))
            pipeline.ingest_bytes(pdf.read_bytes(), pdf.name)
            # 1. provisioning: download (bytes and percent seen), import, warm-up, ready
            engine = _provisioned(recorder, data_dir, ollama)

            # 2. a question through the pipeline the UI uses: Ollama answers, with citations
            _, done = _ask(pipeline)
            assert done.backend_name == "ollama" and done.model == FIRST[3], done
            # Ollama's small model wrote; its answer is shown, or weighed against the evidence
            # and set aside when it adds nothing (the evidence is then the answer)
            assert "Paris" in done.answer
            assert (
                done.mode.startswith("model")
                or done.mode == "extract+model"
                or (f"the answer of {FIRST[3]} was set aside" in done.answered_by)
            ), done
            assert {(c.doc_name, c.page_start) for c in done.citations} == {("france.pdf", 1)}
            assert "ollama" not in done.skipped and not done.interrupted

            # 3. `models use` of a second imported model: the next answer uses it, no restart
            _cli(env, "models", "pull", SECOND[0])
            tags = httpx.get(f"{ollama}/api/tags").json()["models"]
            assert SECOND[3] in {m["model"] for m in tags}
            _cli(env, "models", "use", SECOND[0])
            _, done = _ask(pipeline)
            assert done.backend_name == "ollama" and done.model == SECOND[3], done
            loaded = httpx.get(f"{ollama}/api/ps").json()["models"]
            assert [m["model"] for m in loaded] == [SECOND[3]]

            # 4. the engine is killed: restarted after the backoff; meanwhile answers fall back
            restarted = _killed_and_restarted(pipeline, data_dir, ollama, engine["pid"])
            _, done = _ask(pipeline)
            assert done.backend_name == "ollama" and done.model == SECOND[3], done

        # 5. SIGTERM: everything stops, nothing survives
        family = descendants(proc.pid)
        assert restarted["pid"] in family
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143
        wait_for(lambda: not any(alive(pid) for pid in family), 30, "no child to survive")
    finally:
        recorder.halt.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        print((tmp_path / "startup.log").read_text(errors="replace")[-4000:])
