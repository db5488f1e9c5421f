"""A CLI command run while a real ``startup.py`` is still starting: it must not
open the stores beside the service that is about to own them; it says it waits, then goes
through the service once that is ready.

The engine never answers (``FAKE_ENGINE_MODE=never_ready``), so the supervisor holds the data
dir for its head start (3 s) before it even starts the service API, and the API then opens the
library before it answers: the command starts inside that window."""

from __future__ import annotations

import json
import subprocess

import pytest

from src.supervisor.lock import held
from tests.fixtures.cli_imports import HEAVY, cli_command, split_stderr
from tests.supervisor.conftest import (  # noqa: F401 - fixtures
    REPO,
    fake_ollama,
    olympus,
    olympus_env,
    placeholder_app,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_a_command_during_start_up_waits_for_the_service_and_opens_no_store(olympus):
    o = olympus(FAKE_ENGINE_MODE="never_ready")
    wait_for(lambda: held(o.data_dir), 60, "startup.py to lock the data dir")
    assert o.status().get("api", {}).get("state") != "ready"
    env = {**o.env, "OLYMPUS_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        cli_command("search", "upsd port", "--json"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    imported, said = split_stderr(done.stderr)
    assert done.returncode == 0, (said, o.log()[-3000:])
    assert not imported & HEAVY, sorted(imported & HEAVY)  # it opened nothing itself
    assert [line for line in said if "waiting up to" in line] == said and len(said) == 1, said
    body = json.loads(done.stdout)
    assert body["query"] == "upsd port" and body["results"] == []  # the new, empty library
    assert o.status()["api"]["state"] == "ready"
    assert "Another Olympus process holds" not in o.log()
