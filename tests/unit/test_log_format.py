"""OLYMPUS_LOG_FORMAT=auto: a readable console for a person at a terminal, JSON lines for a
log collector in a container or Space (a terminal inside a container, where /.dockerenv
exists, still gets JSON: its output goes to a collector)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from src.settings import in_container

ROOT = Path(__file__).resolve().parents[2]
PRINT_FORMAT = "from src.settings import load_settings; print(load_settings().log_format_resolved)"


def _format(tmp_path: Path, *, terminal: bool, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    base.update(OLYMPUS_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT), **env)
    leader, follower = pty.openpty() if terminal else (None, subprocess.PIPE)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PRINT_FORMAT],
            cwd=tmp_path,
            env=base,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        if terminal:
            os.close(leader)
            os.close(follower)
    return proc.stdout.strip()


def test_a_terminal_gets_the_console_even_in_a_container(tmp_path):
    assert _format(tmp_path, terminal=True) == "console"
    assert _format(tmp_path, terminal=True, SPACE_ID="o/s") == "console"


def test_without_a_terminal_a_container_or_space_gets_json(tmp_path):
    assert _format(tmp_path, terminal=False, SPACE_ID="o/s") == "json"
    assert _format(tmp_path, terminal=False) == ("json" if in_container() else "console")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_an_explicit_format_wins(tmp_path, fmt):
    assert _format(tmp_path, terminal=True, OLYMPUS_LOG_FORMAT=fmt) == fmt
    assert _format(tmp_path, terminal=False, OLYMPUS_LOG_FORMAT=fmt) == fmt
