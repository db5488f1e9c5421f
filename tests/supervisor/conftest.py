"""Helpers to run the real ``startup.py`` as a subprocess and inspect what it leaves behind."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
PLACEHOLDER_APP = 'import streamlit as st\nst.title("Olympus placeholder")\n'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(cond: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def direct_children(root: int) -> set[int]:
    return {pid for pid, ppid in _parents().items() if ppid == root}


def descendants(root: int) -> set[int]:
    """All live descendants of ``root`` (from /proc)."""
    parents = _parents()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    return parents


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


class Olympus:
    """A real ``python startup.py`` with its own data dir, ports and log file."""

    def __init__(
        self,
        tmp: Path,
        env: dict[str, str],
        preexec=None,
        script: Path | None = None,
        python: str = sys.executable,
    ):
        self.tmp = tmp
        self.env = env
        self.data_dir = Path(env["OLYMPUS_DATA_DIR"])
        self.port = int(env["OLYMPUS_PORT"])
        self.log_path = tmp / f"startup-{time.monotonic_ns()}.log"
        self.script = script or REPO / "startup.py"
        self.preexec = preexec
        self.python = python
        self.proc: subprocess.Popen | None = None

    def start(self) -> Olympus:
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [self.python, str(self.script)],
            env=self.env,
            cwd=self.tmp,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,
        )
        return self

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/_stcore/health"

    def wait_healthy(self, timeout: float = 180) -> None:  # ends as soon as it answers
        wait_for(
            lambda: self._check_running() and http_ok(self.health_url), timeout, "Streamlit health"
        )

    def _check_running(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"startup.py exited {self.proc.returncode}:\n{self.log()}")
        return True

    def status(self) -> dict:
        try:
            return json.loads((self.data_dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_status(self, pred: Callable[[dict], object], timeout: float, what: str) -> dict:
        wait_for(lambda: pred(self.status()), timeout, f"{what}; status: {self.status()}")
        return self.status()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict]:
        out = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            for pid in descendants(self.proc.pid):
                _kill(pid)
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def placeholder_app(tmp_path: Path) -> Path:
    app = tmp_path / "placeholder_app.py"
    app.write_text(PLACEHOLDER_APP)
    return app


@pytest.fixture
def fake_ollama(tmp_path: Path) -> Path:
    """An executable standing in for the ``ollama`` binary (it only needs ``serve``)."""
    exe = tmp_path / "fake-ollama"
    write_fake_ollama(exe, {})
    return exe


def write_fake_ollama(exe: Path, env: dict[str, str]) -> None:
    """The wrapper script, with the FAKE_ENGINE_* settings of ``env`` baked in: the engine
    gets a minimal environment from the supervisor (no test variables pass through)."""
    exports = "".join(
        f"export {k}={shlex.quote(v)}\n"
        for k, v in sorted(env.items())
        if k.startswith("FAKE_ENGINE")
    )
    exe.write_text(f'#!/bin/sh\n{exports}exec "{sys.executable}" "{FAKE_ENGINE}" "$@"\n')
    exe.chmod(0o755)


@pytest.fixture
def olympus_env(data_dir: Path, placeholder_app: Path, fake_ollama: Path, tmp_path: Path):
    """Environment for startup.py: fake engine, placeholder app, free ports, quick restarts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLYMPUS_", "FAKE_ENGINE"))}
    env.update(
        OLYMPUS_DATA_DIR=str(data_dir),
        OLYMPUS_PORT=str(free_port()),
        OLYMPUS_ADDRESS="127.0.0.1",
        OLYMPUS_ENGINE="ollama",
        OLYMPUS_OLLAMA_BIN=str(fake_ollama),
        OLYMPUS_OLLAMA_HOST=f"http://127.0.0.1:{free_port()}",
        OLYMPUS_STREAMLIT_APP=str(placeholder_app),
        OLYMPUS_AUTO_PROVISION="false",
        OLYMPUS_LOG_FORMAT="json",
        OLYMPUS_RESTART_BACKOFF_S="0.2",
        OLYMPUS_GRACE_PERIOD_S="2",
        OLYMPUS_ENGINE_READY_TIMEOUT_S="30",
        FAKE_ENGINE_LOG=str(tmp_path / "engine-starts.log"),
    )
    return env


@pytest.fixture
def olympus(tmp_path: Path, olympus_env: dict[str, str]):
    """Factory: ``olympus(**env_overrides)`` starts a real startup.py; all are killed after."""
    started: list[Olympus] = []

    def _start(**overrides: str) -> Olympus:
        env = {**olympus_env, **overrides}
        if Path(env["OLYMPUS_OLLAMA_BIN"]).exists():  # the fake, not a test's missing binary
            write_fake_ollama(Path(env["OLYMPUS_OLLAMA_BIN"]), env)
        o = Olympus(tmp_path, env).start()
        started.append(o)
        return o

    yield _start
    for o in started:
        o.close()
