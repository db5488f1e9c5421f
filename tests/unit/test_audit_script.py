"""scripts/audit.sh: refuses unpinned requirements, and says so when nothing could be audited."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "audit.sh"


def _run(*files: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDIT_PROBE_URL": "http://127.0.0.1:9/"}  # loopback: never reachable
    return subprocess.run(
        ["bash", str(SCRIPT), *map(str, files)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_shipped_requirement_is_pinned_and_an_offline_audit_says_it_did_not_run():
    proc = _run()
    assert "every requirement in requirements.txt requirements-nodeps.txt is pinned" in proc.stdout
    assert proc.returncode == 2, proc.stderr
    assert "nothing was audited" in proc.stderr


def test_an_unpinned_requirement_is_refused(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# comment\nstructlog==26.1.0\nrequests>=2.0  # floating\n")
    proc = _run(reqs)
    assert proc.returncode == 3
    assert "'requests>=2.0' is not pinned with ==" in proc.stderr
