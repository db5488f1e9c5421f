"""The labelled retrieval set (benchmarks/data/labelled_set.json) is well-formed.

Each gold page must exist in the real manual and contain the question's ``answer_hint``, so a
typo in a page number cannot silently turn into a "retrieval miss" in benchmarks/quality.py.
Pages are read with pypdfium2 (1-based physical index, what Olympus reports).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SET_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "labelled_set.json"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def labelled() -> dict:
    return json.loads(SET_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page_texts(labelled: dict) -> dict[str, list[str]]:
    import pypdfium2 as pdfium

    texts: dict[str, list[str]] = {}
    for doc in labelled["documents"]:
        path = Path(doc["path"])
        if not path.exists():
            pytest.skip(f"{path} missing: install the Debian package {doc['package']}")
        pdf = pdfium.PdfDocument(str(path))
        try:
            texts[doc["file"]] = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        finally:
            pdf.close()
    return texts


def test_set_has_enough_unique_questions_spread_over_documents(labelled: dict) -> None:
    questions = labelled["questions"]
    assert len(questions) >= 40
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate question ids"
    texts = [_norm(q["question"]) for q in questions]
    assert len(texts) == len(set(texts)), "duplicate question texts"
    files = {d["file"] for d in labelled["documents"]}
    per_doc = {f: sum(q["document"] == f for q in questions) for f in files}
    assert all(n >= 5 for n in per_doc.values()), per_doc
    for q in questions:
        assert q["document"] in files, q["id"]
        assert q["gold_pages"] and all(isinstance(p, int) and p >= 1 for p in q["gold_pages"])
        assert q["answer_hint"].strip(), q["id"]
        assert q["question"].rstrip().endswith("?"), q["id"]
        for extra in q.get("also_gold", []):
            assert extra["document"] in files and extra["document"] != q["document"], q["id"]
            assert extra["pages"] and all(isinstance(p, int) and p >= 1 for p in extra["pages"])


def test_every_hint_is_on_a_gold_page(labelled: dict, page_texts: dict[str, list[str]]) -> None:
    problems = []
    for q in labelled["questions"]:
        pages = page_texts[q["document"]]
        missing = [p for p in q["gold_pages"] if p > len(pages)]
        if missing:
            problems.append(f"{q['id']}: pages {missing} beyond {len(pages)}")
            continue
        hint = _norm(q["answer_hint"])
        if not any(hint in _norm(pages[p - 1]) for p in q["gold_pages"]):
            problems.append(f"{q['id']}: {q['answer_hint']!r} not on pages {q['gold_pages']}")
        for extra in q.get("also_gold", []):
            beyond = [p for p in extra["pages"] if p > len(page_texts[extra["document"]])]
            if beyond:
                problems.append(f"{q['id']}: also_gold pages {beyond} beyond {extra['document']}")
    assert not problems, "\n".join(problems)


def test_questions_are_paraphrased_not_copied(
    labelled: dict, page_texts: dict[str, list[str]]
) -> None:
    """No question may contain a long verbatim run (8+ words) of its gold page."""
    copied = []
    for q in labelled["questions"]:
        words = re.findall(r"[a-z0-9']+", q["question"].lower())
        gold = " ".join(
            re.findall(
                r"[a-z0-9']+",
                " ".join(page_texts[q["document"]][p - 1] for p in q["gold_pages"]).lower(),
            )
        )
        for i in range(len(words) - 7):
            if " ".join(words[i : i + 8]) in gold:
                copied.append(q["id"])
                break
    assert not copied, f"questions copied from their page: {copied}"
