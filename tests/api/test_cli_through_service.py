"""The CLI with the service running (the service owns the stores): real ``python -m src``
processes against the real API over the real pipeline. Through the service a command loads no
store, embedding or model module (that is what makes it fast), prints the same JSON as
in-process, and while startup.py is still starting its service the command waits for it instead
of opening the stores beside it.

Which modules a command imported is read from ``python -X importtime``."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from src.service.wire import search_to_dict
from src.status import StatusFile
from src.supervisor.lock import DataDirLock
from tests.api.conftest import QUESTION
from tests.fixtures.cli_imports import HEAVY, cli_command, split_stderr

REPO = Path(__file__).resolve().parents[2]
QUERY = "upsd port"


def _env(service) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(
        OLYMPUS_DATA_DIR=str(service.data_dir),
        OLYMPUS_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
    )
    return env


def _cli(service, *args: str) -> tuple[subprocess.CompletedProcess, set[str], list[str]]:
    proc = subprocess.run(
        cli_command(*args), cwd=REPO, env=_env(service), capture_output=True, text=True, timeout=120
    )
    imported, said = split_stderr(proc.stderr)
    assert proc.returncode == 0, said
    return proc, imported, said


@pytest.fixture
def published(service):
    """The service as startup.py publishes it in the data dir's status file."""
    status = StatusFile(service.settings.status_path)
    status.replace("api", state="ready", url=service.url)
    yield status
    status.replace("api", state="stopped", url="")


def test_search_through_the_service_loads_no_store_and_prints_the_same_json(service, published):
    proc, imported, _ = _cli(service, "search", QUERY, "--json")
    assert "src.service.client" in imported  # it did go through the service
    assert not imported & HEAVY, sorted(imported & HEAVY)
    body = json.loads(proc.stdout)
    expected = search_to_dict(service.pipeline.search(QUERY))
    assert body["query"] == QUERY and body["results"] == expected["results"]
    assert set(body["timings"]) == set(expected["timings"])
    top = body["results"][0]
    assert top["page_start"] <= 3 <= top["page_end"] and "3493" in top["text"]


def test_docs_list_through_the_service_loads_no_store(service, published):
    """``docs list --json`` prints the documents in the API's one shape (stored_bytes too)."""
    proc, imported, _ = _cli(service, "docs", "list", "--json")
    assert not imported & HEAVY, sorted(imported & HEAVY)
    listed = httpx.get(
        f"{service.url}/v1/documents",
        timeout=30,
        headers={"Authorization": f"Bearer {service.key}"},
    ).json()["data"]
    assert json.loads(proc.stdout) == listed
    assert listed and all(d["stored_bytes"] > 0 for d in listed)


def test_ask_through_the_service_loads_no_model(service, published):
    proc, imported, _ = _cli(service, "ask", QUESTION, "--backend", "extractive", "--json")
    assert not imported & HEAVY, sorted(imported & HEAVY)
    done = json.loads(proc.stdout)
    assert "3493" in done["answer"] and done["backend_name"] == "extractive"
    assert any(c["page_start"] <= 3 <= c["page_end"] for c in done["citations"])


def _lines_of(proc: subprocess.Popen, sink: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: sink.extend(proc.stderr), daemon=True)
    thread.start()
    return thread


def test_while_startup_py_starts_the_service_a_command_waits_for_it(service):
    """startup.py holds the data dir and its service is still opening the library: the
    command says it waits, opens nothing itself, and answers once the service is ready."""
    status = StatusFile(service.settings.status_path)
    lock = DataDirLock(service.data_dir).acquire()
    try:
        status.replace("supervisor", pid=os.getpid(), started=time.time(), state="starting")
        status.replace("api", state="starting", url=service.url)
        proc = subprocess.Popen(
            cli_command("search", QUERY, "--json"),
            cwd=REPO,
            env=_env(service),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr: list[str] = []
        reader = _lines_of(proc, stderr)
        deadline = time.monotonic() + 60
        while not any("waiting up to" in line for line in list(stderr)):
            assert proc.poll() is None, "the command did not wait for the starting service"
            assert time.monotonic() < deadline, "no waiting message"
            time.sleep(0.1)
        time.sleep(1.0)  # a few polls of the status file while the service is not ready
        assert proc.poll() is None
        status.update("api", state="ready")  # the library is open
        out, _ = proc.communicate(timeout=60)
        reader.join(10)
    finally:
        lock.release()
        status.replace("api", state="stopped", url="")
    imported, said = split_stderr("".join(stderr))
    assert proc.returncode == 0, said
    assert not imported & HEAVY, sorted(imported & HEAVY)  # never opened the stores itself
    assert len(said) == 1 and "Olympus is starting" in said[0], said
    assert json.loads(out)["results"][0]["page_start"] <= 3


def test_doctor_while_the_service_starts_reports_it_without_waiting(service):
    status = StatusFile(service.settings.status_path)
    lock = DataDirLock(service.data_dir).acquire()
    try:
        status.replace("supervisor", pid=os.getpid(), started=time.time(), state="starting")
        status.replace("api", state="starting", url=service.url)
        proc = subprocess.run(
            cli_command("doctor", "--json"),
            cwd=REPO,
            env=_env(service),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
        status.replace("api", state="stopped", url="")
    imported, _said = split_stderr(proc.stderr)
    report = json.loads(proc.stdout)
    pipeline = report["components"]["pipeline"]
    assert not pipeline["ok"] and "not ready yet" in pipeline["detail"], pipeline
    assert not imported & HEAVY, sorted(imported & HEAVY)
