"""startup.py as uid 1000 with a read-only code dir and a read-only HOME, as on HF Spaces:
only the data dir is writable."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from tests.supervisor.conftest import FAKE_ENGINE, PLACEHOLDER_APP, REPO, Olympus, free_port

UID = 1000
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to uid 1000")

CODE_PARTS = ("startup.py", "streamlit_app.py", "src", "shared_utils", "models")


def _python_for_uid_1000() -> tuple[str, dict[str, str]]:
    """An interpreter uid 1000 may run, plus env to find the venv's packages.

    Here the venv's interpreter lives under /root (mode 0700), so fall back to the system
    python of the same minor version with the venv's site-packages on PYTHONPATH.
    """
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    for python, extra in (
        (sys.executable, {}),
        (system, {"PYTHONPATH": sysconfig.get_paths()["purelib"]}),
    ):
        if _runs_as_uid_1000(python, extra.get("PYTHONPATH", "")):
            return python, extra
    pytest.skip("no Python interpreter with the dependencies is readable by uid 1000")


@functools.cache
def _runs_as_uid_1000(python: str, pythonpath: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import streamlit, structlog, pydantic_settings"],
            preexec_fn=_as_uid_1000,
            env={"PYTHONPATH": pythonpath} if pythonpath else None,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except OSError:
        return False  # e.g. the interpreter sits in a directory uid 1000 cannot enter
    return done.returncode == 0


def _as_uid_1000() -> None:
    os.setgroups([])
    os.setgid(UID)
    os.setuid(UID)


def _read_only(root: Path) -> None:
    """Readable by everyone and writable by no one, whatever the umask of the checkout."""
    for path in [root, *root.rglob("*")]:
        executable = path.is_dir() or path.stat().st_mode & stat.S_IXUSR
        path.chmod(0o555 if executable else 0o444)


@pytest.fixture
def space_like(tmp_path: Path):
    base = Path(tempfile.mkdtemp(prefix="olympus-nonroot-", dir="/tmp"))
    base.chmod(0o755)
    code = base / "app"
    code.mkdir()
    for part in CODE_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, code / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, code / part)
    if not (code / "streamlit_app.py").exists():  # the UI is not written yet
        (code / "streamlit_app.py").write_text(PLACEHOLDER_APP)
    shutil.copy2(FAKE_ENGINE, base / "fake_engine.py")
    (base / "fake_engine.py").chmod(0o644)
    fake = base / "fake-ollama"
    python, _ = _python_for_uid_1000()
    fake.write_text(f'#!/bin/sh\nexec "{python}" "{base / "fake_engine.py"}" "$@"\n')
    fake.chmod(0o755)
    home = base / "home"
    home.mkdir(mode=0o555)
    data = base / "data"
    data.mkdir()
    os.chown(data, UID, UID)
    _read_only(code)
    yield base
    for path in [base, *base.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_runs_as_uid_1000_with_only_the_data_dir_writable(space_like: Path, tmp_path: Path):
    base = space_like
    data = base / "data"
    python, extra_env = _python_for_uid_1000()
    env = {
        **extra_env,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base / "home"),  # read-only, like a HOME the image did not prepare
        "LANG": "C.UTF-8",
        "HF_HUB_OFFLINE": "1",
        "OLYMPUS_DATA_DIR": str(data),
        "OLYMPUS_PORT": str(free_port()),
        "OLYMPUS_ADDRESS": "127.0.0.1",
        "OLYMPUS_ENGINE": "ollama",
        "OLYMPUS_OLLAMA_BIN": str(base / "fake-ollama"),
        "OLYMPUS_OLLAMA_HOST": f"http://127.0.0.1:{free_port()}",
        "OLYMPUS_AUTO_PROVISION": "false",
        "OLYMPUS_LOG_FORMAT": "json",
        "OLYMPUS_GRACE_PERIOD_S": "3",
    }
    o = Olympus(
        tmp_path, env, preexec=_as_uid_1000, script=base / "app" / "startup.py", python=python
    )
    o.tmp = base / "app"  # run from the read-only code dir, as the image's WORKDIR
    o.start()
    try:
        o.wait_healthy(timeout=60)
        st = o.wait_status(
            lambda s: (
                s.get("engine", {}).get("state") == "ready"
                and s.get("streamlit", {}).get("state") == "ready"
            ),
            20,
            "all ready",
        )
        assert st["supervisor"]["pid"] == o.proc.pid
        assert (data / "status.json").stat().st_uid == UID
        assert (data / ".lock").stat().st_uid == UID
        assert (data / "home").is_dir()  # children got a writable HOME in the data dir
        assert not any((base / "app").rglob("__pycache__"))  # nothing written to the code
        assert o.stop(signal.SIGTERM) == 143
    finally:
        o.close()
