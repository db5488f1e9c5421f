"""kill -9 of the whole app (supervisor, Streamlit, parse worker) during an ingest started
from the browser: after a restart every index agrees on every document and the interrupted
file can be uploaded again (a power cut must not leave half a document). The API kept the
accepted upload on disk and indexes it by itself after the restart, so uploading it again finds it
indexed (or indexes it)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_browser import REPO, _running_app, _wait_app, browser  # noqa: F401
from tests.fixtures.pdfs import make_text_pdf
from tests.supervisor.conftest import descendants

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ACTIVE = re.compile(
    r"pelicans\.pdf: (Starting|Checking|Reading pages|Cleaning text|Splitting"
    r"|Embedding passages|Saving)"
)
BIG = [
    f"Section {i}: the pelican feeding schedule, beak hygiene and pond maintenance. " * 18
    for i in range(120)
]


def _kill_everything(root_pid: int) -> None:
    family = {root_pid, *descendants(root_pid)}
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in family
    ):
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


CHECK = """
import json, sys
from src.library.library import Library
from src.settings import load_settings
lib = Library.open(load_settings(data_dir=sys.argv[1]))
docs = lib.documents()
searches = {d.name: sorted({h.chunk.doc_id == d.id for h in lib.search(
    "pelican feeding schedule beak hygiene", k=3, doc_ids=[d.id]).results}) for d in docs}
print(json.dumps({"names": sorted(d.name for d in docs), "chunks": sum(d.chunks for d in docs),
                  "vectors": lib.stores.vectors.count(), "keywords": lib.stores.keywords.count(),
                  "pending": lib.docstore.pending_documents(), "searches": searches}))
lib.close()
"""


def _consistent(data_dir: Path) -> list[str]:
    """Names of the ready documents, after checking every index agrees on each of them (in a
    separate process, as a restarted app would open the library: Milvus Lite allows one)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads(proc.stdout.strip().splitlines()[-1])
    assert state["pending"] == [], "recovery removed the interrupted ingest"
    assert state["vectors"] == state["chunks"], "vectors agree with the document store"
    assert state["keywords"] == state["chunks"], "keywords agree with the document store"
    assert all(found == [True] for found in state["searches"].values()), state["searches"]
    return state["names"]


@pytest.mark.timeout(1500)  # two app starts, two ingests of a 120-page PDF on a small machine
def test_kill_9_of_the_whole_app_mid_ingest_then_restart_and_upload_again(tmp_path, browser):
    pdf = tmp_path / "pelicans.pdf"
    pdf.write_bytes(make_text_pdf(BIG))
    small = tmp_path / "small.pdf"
    small.write_bytes(make_text_pdf(["The pelican feeding schedule: twice a day, fish only."]))
    data = tmp_path / "data"
    settings = {"OLYMPUS_BACKENDS": "extractive", "OLYMPUS_ENGINE": "none"}
    with _running_app(tmp_path, **settings) as url:
        page = browser.new_context().new_page()
        page.goto(f"{url}/documents")
        _wait_app(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
            str(small)
        )
        page.get_by_text("small.pdf: indexed").wait_for(timeout=600_000)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(pdf))
        # any stage of indexing on screen (a fast stage can pass between two polls)
        page.get_by_text(ACTIVE).first.wait_for(timeout=300_000)
        _kill_everything(_supervisor_pid(tmp_path))
    assert _consistent(data) == ["small.pdf"], "the interrupted file left nothing behind"
    with _running_app(tmp_path, **settings) as url:
        page = browser.new_context().new_page()
        page.goto(f"{url}/documents")
        _wait_app(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(pdf))
        # (a loaded 2-CPU machine needs minutes to load the embedder in a fresh process)
        page.get_by_text(re.compile(r"pelicans\.pdf: (indexed|already indexed)")).wait_for(
            timeout=600_000
        )
    assert _consistent(data) == ["pelicans.pdf", "small.pdf"]
    assert not list((data / "upload_spool").glob("*.pdf")), "the resumed upload left the spool"


def _supervisor_pid(tmp_path: Path) -> int:
    """The ``python startup.py`` process of this test (its command line and data dir)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(c.endswith(b"startup.py") for c in cmd) and str(tmp_path).encode() in env:
            return int(proc.name)
    raise AssertionError("the supervisor process was not found")
