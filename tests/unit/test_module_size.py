"""Modules stay small and named for one thing: no module of ``src/`` or ``shared_utils/`` is
longer than 400 lines (as ``ruff format`` writes it; ``scripts/format.sh --check`` holds the
format). A module that grows past it is split along a seam, not squeezed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _too_long(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): n
        for package in ("src", "shared_utils")
        for path in sorted((root / package).rglob("*.py"))
        if (n := _lines(path)) > MAX_LINES
    }


def test_no_module_is_longer_than_400_lines():
    offenders = _too_long(ROOT)
    assert not offenders, "split these modules along a seam: " + ", ".join(
        f"{name} ({n} lines)" for name, n in offenders.items()
    )


def test_the_guard_names_a_module_that_grows(tmp_path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "shared_utils").mkdir()
    (tmp_path / "src" / "pkg" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "src" / "pkg" / "fine.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "shared_utils" / "small.py").write_text("x = 1\n")
    assert _too_long(tmp_path) == {"src/pkg/big.py": MAX_LINES + 1}
