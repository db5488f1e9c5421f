"""``DataDir`` names every file and folder of the data dir; DEPLOYMENT.md lists the same, and
no module joins a data dir name of its own."""

from __future__ import annotations

import re
from pathlib import Path

from src.data_dir import DataDir
from src.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_deployment_lists_every_file_of_the_data_dir_as_the_code_names_it():
    row = next(
        line
        for line in (ROOT / "DEPLOYMENT.md").read_text().splitlines()
        if line.startswith("| `/data` (`OLYMPUS_DATA_DIR`) |")
    )
    assert DataDir.described() in row, "DEPLOYMENT.md's /data row: paste DataDir.described()"


def test_every_entry_has_its_own_name_and_the_settings_use_them(tmp_path):
    names = [e.name for e in DataDir.entries()]
    assert len(names) == len(set(names))
    s = Settings(data_dir=tmp_path)
    assert s.status_path == tmp_path / "status.json" == s.data.status
    assert s.models_dir == s.data.models and s.resolved_milvus_uri == str(s.data.milvus)
    assert s.data.originals.name == "originals"  # a folder's path has no trailing slash


def test_no_module_joins_a_data_dir_name_of_its_own():
    names = {e.name.rstrip("/") for e in DataDir.entries()}
    joined = re.compile(r"""data_dir\)?(?:\.resolve\(\))?\s*/\s*["']([^"']+)["']""")
    found = [
        f"{path.relative_to(ROOT)}: {m.group(1)}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        if path.name != "data_dir.py"
        for m in joined.finditer(path.read_text())
        if m.group(1) in names
    ]
    assert found == []
