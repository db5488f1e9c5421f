"""``shared_utils/atomic.py``: a crash mid-write never leaves a half file or a stray temp file."""

from __future__ import annotations

import os
import stat

import pytest

from shared_utils.atomic import atomic_write_bytes, atomic_write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    atomic_write_text(path, '{"old": 1}')

    def fail(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write_text(path, '{"new": 2}')
    assert path.read_text() == '{"old": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_secrets_are_written_owner_only_and_replace_a_wider_file(tmp_path):
    path = tmp_path / "service_token"
    path.write_text("old")
    path.chmod(0o644)
    atomic_write_bytes(path, b"ols_secret", mode=0o600, fsync=True)
    assert path.read_bytes() == b"ols_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_temp_file_prefix_is_kept_for_sweeps(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_bytes(tmp_path / "doc.pdf", b"%PDF", prefix=".tmp-")
    assert seen[0].startswith(".tmp-") and (tmp_path / "doc.pdf").read_bytes() == b"%PDF"
