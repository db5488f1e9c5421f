"""The labelled answer set (benchmarks/data/answer_set.json) is well-formed and true to the manuals.

Every keyword group of an answerable question must be printed on one of its gold pages (so a
typo cannot turn into a "wrong answer" in benchmarks/answer_quality.py), every unanswerable
question names a word that none of the manuals contains, and every conversation points at
questions of the set. Pages are read with pypdfium2 (1-based physical index, what Olympus cites)
and cleaned the way ingestion cleans them (ligatures, soft hyphens, whitespace).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared_utils.documents.text import clean_characters, normalize_whitespace

SET_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "answer_set.json"


def _norm(text: str) -> str:
    return normalize_whitespace(clean_characters(text)).replace("\n", " ").lower()


@pytest.fixture(scope="module")
def answer_set() -> dict:
    return json.loads(SET_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page_texts(answer_set: dict) -> dict[str, list[str]]:
    import pypdfium2 as pdfium

    texts: dict[str, list[str]] = {}
    for doc in answer_set["documents"]:
        path = Path(doc["path"])
        if not path.exists():
            pytest.skip(f"{path} missing: install the Debian package {doc['package']}")
        pdf = pdfium.PdfDocument(str(path))
        try:
            texts[doc["file"]] = [
                _norm(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))
            ]
        finally:
            pdf.close()
    return texts


def test_set_has_the_size_the_benchmark_needs(answer_set: dict) -> None:
    questions, none, convs = (
        answer_set["questions"],
        answer_set["unanswerable"],
        answer_set["conversations"],
    )
    assert len(questions) >= 36 and len(none) >= 12 and len(convs) >= 10
    ids = [q["id"] for q in [*questions, *none]]
    assert len(ids) == len(set(ids)), "duplicate ids"
    texts = [q["question"].lower() for q in [*questions, *none]]
    assert len(texts) == len(set(texts)), "duplicate questions"
    files = {d["file"] for d in answer_set["documents"]}
    assert all(sum(q["document"] == f for q in questions) >= 10 for f in files)
    for q in [*questions, *none, *(c["follow_up"] for c in convs)]:
        assert q["question"].rstrip().endswith("?"), q


def test_every_keyword_group_is_on_a_gold_page(
    answer_set: dict, page_texts: dict[str, list[str]]
) -> None:
    follow_ups = [dict(c["follow_up"], id=c["id"]) for c in answer_set["conversations"]]
    problems = []
    for q in [*answer_set["questions"], *follow_ups]:
        pages = page_texts[q["document"]]
        assert q["keywords"] and q["gold_pages"], q["id"]
        if any(p < 1 or p > len(pages) for p in q["gold_pages"]):
            problems.append(f"{q['id']}: a gold page beyond {len(pages)}")
            continue
        gold = " ".join(pages[p - 1] for p in q["gold_pages"])
        for group in q["keywords"]:
            if not any(alt.lower() in gold for alt in group.split("|")):
                problems.append(f"{q['id']}: {group!r} not on pages {q['gold_pages']}")
    assert not problems, "\n".join(problems)


def test_unanswerable_questions_are_about_what_no_manual_mentions(
    answer_set: dict, page_texts: dict[str, list[str]]
) -> None:
    everything = " ".join(" ".join(pages) for pages in page_texts.values())
    found = [
        (q["id"], word)
        for q in answer_set["unanswerable"]
        for word in q["absent"]
        if re.search(rf"\b{re.escape(word.lower())}\b", everything)
    ]
    assert all(q["absent"] for q in answer_set["unanswerable"])
    assert not found, f"words the manuals do contain: {found}"


def test_conversations_point_at_questions_of_other_documents(answer_set: dict) -> None:
    by_id = {q["id"]: q for q in answer_set["questions"]}
    for conv in answer_set["conversations"]:
        first, unrelated = by_id[conv["first"]], by_id[conv["unrelated"]]
        assert conv["follow_up"]["document"] == first["document"], conv["id"]
        assert unrelated["document"] != first["document"], conv["id"]
