"""The status file sections the UI and ``doctor`` read (progress, speed, ETA), fake clock."""

from __future__ import annotations

from shared_utils.types import Progress
from src.status import StatusFile
from src.supervisor.publisher import StatusPublisher
from tests.supervisor.conftest import REPO


def test_download_progress_has_percent_speed_and_eta(data_dir):
    now = [0.0]
    status = StatusFile(data_dir / "status.json")
    pub = StatusPublisher(status, clock=lambda: now[0])
    report = pub.progress("qwen2.5-0.5b-instruct")
    mb = 1_000_000
    for second in range(5):
        now[0] = float(second)
        report(Progress("download", second * 10 * mb, 100 * mb))
    prov = status.section("provisioning")
    assert prov["phase"] == "download" and prov["model"] == "qwen2.5-0.5b-instruct"
    assert prov["bytes"] == 40 * mb and prov["total"] == 100 * mb and prov["percent"] == 40.0
    assert prov["speed"] == 10 * mb  # bytes per second
    assert prov["eta_s"] == 6.0


def test_progress_writes_are_throttled_but_the_last_one_lands(data_dir):
    now = [0.0]
    status = StatusFile(data_dir / "status.json")
    report = StatusPublisher(status, clock=lambda: now[0]).progress(min_interval_s=1.0)
    report(Progress("download", 0, 1000))
    for done in range(1, 1000):
        now[0] += 0.0001
        report(Progress("download", done, 1000))
    assert status.section("provisioning")["bytes"] < 999  # not every report hits the disk
    report(Progress("download", 1000, 1000))
    assert status.section("provisioning")["percent"] == 100.0


def test_a_new_stage_is_published_at_once_with_unknown_total(data_dir):
    status = StatusFile(data_dir / "status.json")
    report = StatusPublisher(status, clock=lambda: 0.0).progress()
    report(Progress("download", 10, 10))
    report(Progress("create", 0, 0, "writing manifest"))
    prov = status.section("provisioning")
    assert prov["phase"] == "create" and prov["percent"] is None and prov["eta_s"] is None
    assert prov["message"] == "writing manifest"


def test_reset_drops_the_previous_runs_state(data_dir):
    status = StatusFile(data_dir / "status.json")
    status.update("engine", state="down", last_error="old crash")
    StatusPublisher(status).reset(pid=42, started=1.0)
    assert status.section("engine").get("last_error") is None
    assert status.section("engine")["state"] == "pending"
    assert status.section("supervisor")["pid"] == 42


def test_two_processes_writing_different_sections_lose_nothing(data_dir):
    """The supervisor and the UI process both write the status file."""
    import subprocess
    import sys

    script = (
        "import sys; from src.status import StatusFile\n"
        "s = StatusFile(sys.argv[1])\n"
        "for i in range(1, 151): s.update(sys.argv[2], n=i)\n"
    )
    path = str(data_dir / "status.json")
    procs = [
        subprocess.Popen([sys.executable, "-c", script, path, name], cwd=REPO)
        for name in ("engine", "provisioning")
    ]
    assert [p.wait(60) for p in procs] == [0, 0]
    status = StatusFile(data_dir / "status.json")
    assert status.section("engine")["n"] == 150
    assert status.section("provisioning")["n"] == 150
