"""The real startup.py with a real Streamlit; a small script stands in for ``ollama serve``
so crashes, hangs and stubborn children can be staged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.supervisor.conftest import REPO, alive, descendants, direct_children, http_ok, wait_for


def _engine_starts(env: dict[str, str]) -> list[str]:
    path = Path(env["FAKE_ENGINE_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def test_ui_comes_up_status_is_published_and_sigterm_leaves_no_process(olympus):
    o = olympus(FAKE_ENGINE_MODE="spawn")  # the engine also starts a grandchild
    o.wait_healthy()
    st = o.wait_status(
        lambda s: (
            s.get("engine", {}).get("state") == "ready"
            and s.get("streamlit", {}).get("state") == "ready"
        ),
        20,
        "ready",
    )
    assert st["supervisor"]["pid"] == o.proc.pid and st["supervisor"]["state"] == "running"
    assert st["engine"]["url"] == o.env["OLYMPUS_OLLAMA_HOST"]
    assert st["streamlit"]["url"] == f"http://localhost:{o.port}"
    assert st["profile"]["engine"] == "ollama"
    # the engine's own output lands in the structured log, tagged with its name
    wait_for(
        lambda: any(
            r.get("child") == "engine" and "listening" in r.get("event", "")
            for r in o.log_records()
        ),
        10,
        "engine output in the log",
    )
    # the engine got its models dir under the data dir
    assert str(o.data_dir.resolve() / "ollama") in _engine_starts(o.env)[0]

    family = descendants(o.proc.pid)
    assert len(family) >= 3  # engine (sh->python), its grandchild, streamlit
    assert o.stop(signal.SIGTERM) == 143
    wait_for(lambda: not any(alive(p) for p in family), 30, "children to be gone")
    st = o.status()
    assert st["supervisor"]["state"] == "stopped" and st["supervisor"]["exit_code"] == 143
    assert st["engine"]["state"] == "stopped" and st["streamlit"]["state"] == "stopped"
    assert not http_ok(o.health_url)


def test_sigint_exits_130(olympus):
    o = olympus()
    o.wait_healthy()
    family = descendants(o.proc.pid)
    assert o.stop(signal.SIGINT) == 130
    wait_for(lambda: not any(alive(p) for p in family), 30, "children to be gone")


def test_engine_that_keeps_crashing_is_restarted_then_stays_down_and_the_ui_stays_up(olympus):
    o = olympus(FAKE_ENGINE_MODE="exit", OLYMPUS_RESTART_MAX="3")
    o.wait_healthy()
    st = o.wait_status(lambda s: s.get("engine", {}).get("state") == "down", 90, "engine down")
    assert st["engine"]["restarts"] == 2
    assert st["engine"]["last_error"] == "exited with code 3"
    assert len(_engine_starts(o.env)) == 3
    warnings = [
        r for r in o.log_records() if r.get("event") == "child failed, restarting after backoff"
    ]
    assert [r["delay_s"] for r in warnings] == [0.2, 0.4]
    time.sleep(0.5)
    assert len(_engine_starts(o.env)) == 3  # it stays down
    assert http_ok(o.health_url)  # and the UI keeps running
    assert o.stop() == 143


def test_engine_that_crashes_later_is_restarted_and_ready_again(olympus):
    o = olympus(FAKE_ENGINE_MODE="crash_after", FAKE_ENGINE_SECONDS="1.5")
    o.wait_healthy()
    st = o.wait_status(
        lambda s: s.get("engine", {}).get("restarts", 0) >= 1 and s["engine"]["state"] == "ready",
        90,
        "engine restarted and ready",
    )
    assert st["engine"]["last_error"] == "exited with code 4"
    assert o.stop() == 143


def test_engine_that_never_answers_does_not_hold_the_ui_and_hits_its_deadline(olympus):
    o = olympus(
        FAKE_ENGINE_MODE="never_ready", OLYMPUS_ENGINE_READY_TIMEOUT_S="6", OLYMPUS_RESTART_MAX="1"
    )
    o.wait_healthy()
    st = o.wait_status(lambda s: s.get("engine", {}).get("state") == "down", 90, "engine down")
    assert st["engine"]["last_error"] == "not ready within 6 s"
    events = [r.get("event") for r in o.log_records()]
    # the UI started after the engine's short head start, long before its deadline
    assert events.index(
        "engine still loading; starting the UI now, the engine keeps its deadline"
    ) < events.index("not ready in time")
    assert http_ok(o.health_url)
    assert o.stop() == 143


def test_engine_ignoring_sigterm_is_killed_after_the_grace_period(olympus):
    o = olympus(FAKE_ENGINE_MODE="ignore_term", OLYMPUS_GRACE_PERIOD_S="1")
    o.wait_healthy()
    o.wait_status(lambda s: s.get("engine", {}).get("state") == "ready", 90, "engine ready")
    family = descendants(o.proc.pid)
    t0 = time.monotonic()
    assert o.stop() == 143
    elapsed = time.monotonic() - t0
    assert 1 <= elapsed < 60  # waited the grace period, then killed: not hung (load-proof)
    assert any(
        r.get("event") == "child ignored SIGTERM, killing it" and r.get("child") == "engine"
        for r in o.log_records()
    )
    assert any("ignoring SIGTERM" in r.get("event", "") for r in o.log_records())
    wait_for(lambda: not any(alive(p) for p in family), 30, "children to be gone")


def test_sigkill_of_the_supervisor_takes_its_children_down(olympus):
    o = olympus()
    o.wait_healthy()
    o.wait_status(lambda s: s.get("engine", {}).get("state") == "ready", 90, "engine ready")
    children = descendants(o.proc.pid)
    assert children
    o.proc.send_signal(signal.SIGKILL)
    o.proc.wait(5)
    wait_for(lambda: not any(alive(p) for p in children), 30, "children to die with it")
    wait_for(lambda: not http_ok(o.health_url), 30, "Streamlit to be gone")


def test_a_second_instance_on_the_same_data_dir_is_refused(olympus):
    first = olympus()
    first.wait_healthy()
    env = {**first.env, "OLYMPUS_PORT": "1"}  # would fail loudly if it got that far
    second = subprocess.run(
        [sys.executable, str(REPO / "startup.py")],
        env=env,
        cwd=first.tmp,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    assert f"already running with data dir {first.data_dir}" in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr
    assert "hint: Another Olympus uses this data dir" in second.stderr
    assert http_ok(first.health_url)  # the first one is untouched
    assert first.status()["supervisor"]["pid"] == first.proc.pid
    assert first.stop() == 143


def test_a_busy_public_port_is_named_at_once_and_nothing_starts(olympus_env, tmp_path):
    import socket

    with socket.socket() as other:  # another program on the UI's port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {**olympus_env, "OLYMPUS_PORT": str(port)}
        done = subprocess.run(
            [sys.executable, str(REPO / "startup.py")],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert f"port {port} is already in use" in line and "OLYMPUS_PORT" in line
    assert "Traceback" not in done.stderr and "hint:" not in done.stderr
    assert _engine_starts(env) == [], "the engine was started before the port was checked"
    status = json.loads((Path(env["OLYMPUS_DATA_DIR"]) / "status.json").read_text())
    assert status["supervisor"]["state"] == "failed" and status["supervisor"]["exit_code"] == 2


def test_bad_settings_exit_2_with_the_variable_named(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env["OLYMPUS_RESTART_MAX"] = "many"
    done = subprocess.run(
        [sys.executable, str(REPO / "startup.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "OLYMPUS_RESTART_MAX" in done.stderr


def test_a_missing_engine_binary_is_reported_and_the_ui_still_comes_up(olympus, tmp_path):
    o = olympus(OLYMPUS_OLLAMA_BIN=str(tmp_path / "no-such-ollama"), OLYMPUS_RESTART_MAX="2")
    o.wait_healthy()
    st = o.wait_status(lambda s: s.get("engine", {}).get("state") == "down", 90, "engine down")
    assert "cannot run" in st["engine"]["last_error"]
    assert "No such file or directory" in st["engine"]["last_error"]
    assert o.stop() == 143


def test_as_pid_1_in_a_fresh_pid_namespace_children_start_and_stop(olympus_env, tmp_path):
    """In a container the supervisor is PID 1 (its children's parent pid is 1)."""
    import shutil

    import pytest

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a PID namespace")
    env = {**olympus_env, "FAKE_ENGINE_MODE": "ok"}
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(REPO / "startup.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = Path(env["OLYMPUS_DATA_DIR"]) / "status.json"

        def state() -> dict:
            try:
                return json.loads(status.read_text())
            except (OSError, ValueError):
                return {}

        wait_for(
            lambda: (
                state().get("engine", {}).get("state") == "ready"
                and state().get("streamlit", {}).get("state") == "ready"
            ),
            45,
            "all ready",
        )
        assert state()["supervisor"]["pid"] == 1
        (supervisor,) = direct_children(proc.pid)  # unshare's child: PID 1 inside
        os.kill(supervisor, signal.SIGTERM)
        assert proc.wait(30) == 143
        assert state()["engine"]["state"] == "stopped"
    finally:
        if proc.poll() is None:
            for pid in descendants(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait()


def test_arguments_are_refused_with_a_pointer_to_the_environment(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "startup.py"), "--port", "9000"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "takes no arguments" in done.stderr and "OLYMPUS_" in done.stderr
    helped = subprocess.run(
        [sys.executable, str(REPO / "startup.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert helped.returncode == 0 and "143 SIGTERM" in helped.stdout
