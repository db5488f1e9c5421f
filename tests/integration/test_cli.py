"""The ingest, search and docs commands as a user runs them: real subprocesses, real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.pdfs import make_text_pdf

ROOT = Path(__file__).resolve().parents[2]
HERON = [
    "Heron nesting survey. The heron colony nests in tall alder trees near the lake. "
    "Volunteers count nests every April using binoculars and a tally sheet. " * 3,
    "Survey results are entered into the regional bird database by the end of May. " * 3,
]


def run(
    data: Path, *args: str, timeout: float = 300, **settings: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(
        {
            "OLYMPUS_DATA_DIR": str(data),
            "OLYMPUS_LOG_FORMAT": "console",
            "OLYMPUS_LOG_LEVEL": "WARNING",
            **settings,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "src", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A data dir after `ingest FOLDER` of one good and one bad PDF."""
    base = tmp_path_factory.mktemp("cli")
    folder = base / "pdfs"
    folder.mkdir()
    (folder / "heron.pdf").write_bytes(make_text_pdf(HERON))
    (folder / "broken.pdf").write_bytes(b"this is not a pdf")
    # JSON logs, as in a container without a terminal: no progress bar between the records
    proc = run(
        base / "data", "ingest", str(folder), OLYMPUS_LOG_FORMAT="json", OLYMPUS_LOG_LEVEL="INFO"
    )
    return base, proc


def test_ingest_reports_each_file_and_exits_1_when_one_failed(ingested):
    proc = ingested[1]
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    [added] = [line for line in lines if line.startswith("added")]
    assert "heron.pdf: 2 pages" in added and "chunks" in added and " s " in added
    [failed] = [line for line in lines if line.startswith("FAILED")]
    assert "broken.pdf" in failed and "not a PDF" in failed and "hint:" in failed
    assert "1 added, 0 already there, 1 failed" in proc.stderr
    assert "\r" not in proc.stderr and "%|" not in proc.stderr, "a progress bar among JSON logs"
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert records and all(isinstance(r, dict) and "event" in r for r in records)


def test_reingest_of_the_good_file_is_skipped_and_exits_0(ingested):
    base, _ = ingested
    proc = run(base / "data", "ingest", str(base / "pdfs" / "heron.pdf"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("skipped") and "already in the library" in proc.stdout


def test_docs_list_table_and_json(ingested):
    base, _ = ingested
    table = run(base / "data", "docs", "list")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "PAGES", "CHUNKS", "SIZE", "ADDED", "ID"]
    assert row.startswith("heron.pdf") and " 2 " in row
    listed = json.loads(run(base / "data", "docs", "list", "--json").stdout)
    assert len(listed) == 1
    doc = listed[0]
    assert set(doc) == {
        "id",
        "name",
        "pages",
        "chunks",
        "size_bytes",
        "added_at",
        "status",
        "stored_bytes",
        "parse_report",
    }
    assert doc["stored_bytes"] == doc["size_bytes"]  # the kept original, no OCR'd page
    assert doc["parse_report"]["text_pages"] == 2 and doc["parse_report"]["ocr_pages"] == []
    assert doc["name"] == "heron.pdf" and doc["pages"] == 2 and len(doc["id"]) == 64
    assert doc["status"] == "ready" and doc["added_at"] > 1.7e9  # Unix time, as in the API


def test_search_json_schema_and_doc_scope(ingested):
    base = ingested[0]
    doc_id = json.loads(run(base / "data", "docs", "list", "--json").stdout)[0]["id"]
    proc = run(
        base / "data",
        "search",
        "when are heron nests counted?",
        "--k",
        "2",
        "--json",
        "--doc",
        doc_id[:10],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"query", "timings", "results"}
    assert out["query"] == "when are heron nests counted?"
    assert set(out["timings"]) == {"embed_ms", "dense_ms", "bm25_ms", "fuse_ms", "total_ms"}
    assert 1 <= len(out["results"]) <= 2
    first = out["results"][0]
    # one passage schema for search --json, ask --json and the API (docs/api.md)
    assert set(first) == {
        "number",
        "document",
        "doc_id",
        "page_start",
        "page_end",
        "score",
        "ranks",
        "similarity",
        "chunk_id",
        "text",
    }
    assert first["number"] == 1 and first["document"] == "heron.pdf" and first["doc_id"] == doc_id
    assert first["page_start"] == 1 and first["page_start"] <= first["page_end"] <= 2
    assert "nests" in first["text"] and first["score"] > 0


def test_search_human_output(ingested):
    base, _ = ingested
    proc = run(base / "data", "search", "regional bird database")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1. heron.pdf, p")
    assert "result(s) in" in proc.stderr


@pytest.mark.parametrize("query,message", [("   ", "empty"), ("x" * 10_000, "10,000 characters")])
def test_bad_queries_exit_2_with_a_message_and_hint(ingested, query, message):
    base, _ = ingested
    proc = run(base / "data", "search", query)
    assert proc.returncode == 2
    assert message in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_another_embedding_precision_is_refused_with_a_hint_and_nothing_lost(ingested):
    base, _ = ingested
    proc = run(base / "data", "search", "heron nests", OLYMPUS_EMBEDDING_PRECISION="fp32")
    assert proc.returncode == 2, proc.stderr
    assert "embedded in int8" in proc.stderr and "OLYMPUS_EMBEDDING_PRECISION=auto" in proc.stderr
    assert "Traceback" not in proc.stderr
    listed = json.loads(run(base / "data", "docs", "list", "--json").stdout)
    assert [d["name"] for d in listed] == ["heron.pdf"]


def test_docs_rm_by_prefix_then_unknown_id(ingested):
    base, _ = ingested
    doc_id = json.loads(run(base / "data", "docs", "list", "--json").stdout)[0]["id"]
    proc = run(base / "data", "docs", "rm", doc_id[:8])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Removed heron.pdf")
    assert json.loads(run(base / "data", "docs", "list", "--json").stdout) == []
    gone = run(base / "data", "docs", "rm", doc_id[:8])
    assert gone.returncode == 2 and "No document id starts with" in gone.stderr
    assert "docs list" in gone.stderr  # the hint says how to find ids


def test_an_embedding_model_that_cannot_load_fails_the_file_with_a_hint_not_a_traceback(tmp_path):
    # the model loads in the background while the first PDF is read: its failure must still
    # reach the person once, as a clear error with the fix
    pdf = tmp_path / "heron.pdf"
    pdf.write_bytes(make_text_pdf(HERON))
    proc = run(
        tmp_path / "data",
        "ingest",
        str(pdf),
        OLYMPUS_EMBEDDING_MODEL="olympus-tests/no-such-embedding-model",
        HF_HUB_OFFLINE="1",
    )
    assert proc.returncode == 2, proc.stderr
    assert "cannot load embedding model" in proc.stderr and "hint:" in proc.stderr
    assert proc.stderr.count("cannot load embedding model") == 1
    assert "Traceback" not in proc.stderr and "Exception in thread" not in proc.stderr
    listed = run(tmp_path / "data", "docs", "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing half-stored
