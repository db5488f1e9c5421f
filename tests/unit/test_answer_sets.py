"""The dev and frozen test answer sets (benchmarks/data/answer_dev.json, answer_test.json).

Both files follow the schema of answer_set.json plus a ``kind`` on every item. Checked here: ids
are unique across the two files and the old set (the benchmark loads dev together with
answer_set.json), every conversation points at questions of its own split and of two different
documents, kinds are known, the test file is the one whose sha256 benchmarks/README.md records
(it is frozen), and - where the Debian package is installed - every keyword group is printed on
one of its gold pages and no 'absent' word occurs in any manual. Pages are read with pypdfium2
(1-based physical index, what Olympus cites), once per document.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path

import pytest

from shared_utils.documents.text import clean_characters, normalize_whitespace

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
README = Path(__file__).resolve().parents[2] / "benchmarks" / "README.md"
SPLITS = ("dev", "test")
KINDS = {"definition", "how-to", "value", "comparison", "which-option", "abbreviation"}


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sets() -> dict[str, dict]:
    return {split: _load(f"answer_{split}.json") for split in SPLITS}


def _norm(text: str) -> str:
    return normalize_whitespace(clean_characters(text)).replace("\n", " ").lower()


@cache
def _pages(path: str) -> tuple[str, ...] | None:
    if not Path(path).exists():
        return None
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        return tuple(_norm(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf)))
    finally:
        pdf.close()


def _follow_ups(data: dict) -> list[dict]:
    return [dict(c["follow_up"], id=c["id"]) for c in data["conversations"]]


def test_sets_have_the_size_and_kinds_the_benchmark_needs(sets: dict[str, dict]) -> None:
    for split, data in sets.items():
        assert set(data) == {
            "description",
            "documents",
            "questions",
            "unanswerable",
            "conversations",
        }
        assert all(q["kind"] in KINDS for q in data["questions"]), split
        assert all(q["kind"] == "unanswerable" and "absent" in q for q in data["unanswerable"])
        assert all(f["kind"] == "follow-up" for f in _follow_ups(data)), split
        for q in [*data["questions"], *data["unanswerable"], *_follow_ups(data)]:
            assert q["question"].rstrip().endswith("?"), q
    both = [q for data in sets.values() for q in [*data["questions"], *data["unanswerable"]]]
    assert len(both) >= 150
    assert len(sets["test"]["conversations"]) >= 30 and len(sets["dev"]["conversations"]) >= 12
    for kind in KINDS | {"unanswerable"}:  # every kind in both splits
        for split, data in sets.items():
            assert any(q["kind"] == kind for q in [*data["questions"], *data["unanswerable"]]), (
                split,
                kind,
            )
    # test is the larger part (~60 %), every document in both splits
    n = {s: len(d["questions"]) + len(d["unanswerable"]) for s, d in sets.items()}
    assert 0.5 < n["test"] / (n["dev"] + n["test"]) < 0.7
    for split, data in sets.items():
        files = {d["file"] for d in data["documents"]}
        assert {q["document"] for q in data["questions"]} == files, split


def test_no_keyword_group_is_satisfied_by_echoing_the_question(sets: dict[str, dict]) -> None:
    echoed = [
        (q["id"], group)
        for data in sets.values()
        for q in [*data["questions"], *_follow_ups(data)]
        for group in q["keywords"]
        if any(alt.lower() in q["question"].lower() for alt in group.split("|"))
    ]
    assert not echoed, f"an answer repeating the question would pass: {echoed}"


def test_ids_are_unique_and_conversations_stay_in_their_split(sets: dict[str, dict]) -> None:
    old = _load("answer_set.json")
    ids: list[str] = [
        i["id"]
        for data in [old, *sets.values()]
        for i in [*data["questions"], *data["unanswerable"], *data["conversations"]]
    ]
    assert len(ids) == len(set(ids)), "duplicate ids"
    texts = [
        q["question"].lower()
        for data in sets.values()
        for q in [*data["questions"], *data["unanswerable"]]
    ]
    assert len(texts) == len(set(texts)), "duplicate questions"
    for split, data in sets.items():
        by_id = {q["id"]: q for q in data["questions"]}
        for conv in data["conversations"]:
            assert conv["first"] in by_id and conv["unrelated"] in by_id, (split, conv["id"])
            first, unrelated = by_id[conv["first"]], by_id[conv["unrelated"]]
            assert conv["follow_up"]["document"] == first["document"], conv["id"]
            assert unrelated["document"] != first["document"], conv["id"]


def test_the_test_set_is_the_frozen_one(sets: dict[str, dict]) -> None:
    recorded = re.search(
        r"answer_test\.json[^\n]*?\b([0-9a-f]{64})\b", README.read_text(encoding="utf-8")
    )
    assert recorded, "benchmarks/README.md records no sha256 for answer_test.json"
    digest = hashlib.sha256((DATA / "answer_test.json").read_bytes()).hexdigest()
    assert digest == recorded.group(1), (
        "answer_test.json changed: the test split is frozen (choose thresholds on dev only)"
    )


@pytest.mark.parametrize("split", SPLITS)
def test_every_keyword_group_is_on_a_gold_page(sets: dict[str, dict], split: str) -> None:
    data = sets[split]
    paths = {d["file"]: d["path"] for d in data["documents"]}
    checked, problems = 0, []
    for q in [*data["questions"], *_follow_ups(data)]:
        pages = _pages(paths[q["document"]])
        if pages is None:
            continue
        assert q["keywords"] and 1 <= len(q["keywords"]) <= 3 and q["gold_pages"], q["id"]
        if any(p < 1 or p > len(pages) for p in q["gold_pages"]):
            problems.append(f"{q['id']}: a gold page beyond {len(pages)}")
            continue
        gold = " ".join(pages[p - 1] for p in q["gold_pages"])
        checked += 1
        for group in q["keywords"]:
            if not any(alt.lower() in gold for alt in group.split("|")):
                problems.append(f"{q['id']}: {group!r} not on pages {q['gold_pages']}")
    if not checked:
        pytest.skip("none of the manuals is installed: scripts/install.sh --test installs them")
    assert not problems, "\n".join(problems)


def test_absent_words_occur_in_no_manual(sets: dict[str, dict]) -> None:
    documents = {
        d["path"]: d
        for data in [_load("answer_set.json"), *sets.values()]
        for d in data["documents"]
    }
    texts = [_pages(path) for path in documents]
    if any(t is None for t in texts):
        missing = sorted({d["package"] for p, d in documents.items() if _pages(p) is None})
        pytest.skip(f"install the Debian packages {missing} to check the absent words")
    everything = " ".join(" ".join(pages) for pages in texts if pages)
    found = [
        (q["id"], word)
        for data in sets.values()
        for q in data["unanswerable"]
        for word in q["absent"]
        if re.search(rf"\b{re.escape(word.lower())}\b", everything)
    ]
    assert not found, f"words the manuals do contain: {found}"


# --- the claim-check labelled set ------------------------------------------------------------
CLAIM_KINDS = {"verbatim": True, "paraphrase": True, "plausible-wrong": False, "unrelated": False}


@pytest.fixture(scope="module")
def claim_set() -> dict:
    return _load("claim_set.json")


def test_claim_set_is_labelled_and_split(claim_set: dict) -> None:
    claims = claim_set["claims"]
    assert len(claims) >= 120
    assert len({c["id"] for c in claims}) == len(claims), "duplicate ids"
    files = {d["file"] for d in claim_set["documents"]}
    for c in claims:
        assert c["kind"] in CLAIM_KINDS and c["supported"] is CLAIM_KINDS[c["kind"]], c["id"]
        assert c["split"] in ("claim_dev", "claim_test") and c["document"] in files, c["id"]
        assert c["sentence"].strip() and len(c["passage"]) > len(c["sentence"]) / 2, c["id"]
        assert isinstance(c["page"], int) and c["page"] >= 1, c["id"]
    from_models = [c for c in claims if c["origin"] != "hand"]
    assert len(from_models) >= 40 and all(c.get("question") for c in from_models)
    assert sum(c["kind"] == "paraphrase" for c in claims) >= 20
    assert sum(c["kind"] == "plausible-wrong" for c in claims) >= 20
    dev = sum(c["split"] == "claim_dev" for c in claims)
    assert abs(dev - len(claims) / 2) <= len(claims) * 0.05
    for split in ("claim_dev", "claim_test"):
        labels = {c["supported"] for c in claims if c["split"] == split}
        assert labels == {True, False}, split


def test_verbatim_claims_are_in_their_passage(claim_set: dict) -> None:
    quotes = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
    for c in claim_set["claims"]:
        if c["kind"] == "verbatim":  # copied from the passage (quote style aside)
            sentence = _norm(c["sentence"]).translate(quotes).strip(".;\"' ")
            assert sentence in _norm(c["passage"]).translate(quotes), c["id"]


def test_claim_passages_come_from_the_cited_page(claim_set: dict) -> None:
    paths = {d["file"]: d["path"] for d in claim_set["documents"]}
    checked = 0
    for c in claim_set["claims"]:
        pages = _pages(paths[c["document"]])
        if pages is None:
            continue
        checked += 1
        near = " ".join(pages[max(0, c["page"] - 2) : c["page"] + 1])  # a chunk may span pages
        words = [w for w in re.findall(r"[a-z]{5,}", _norm(c["passage"]))][:40]
        found = sum(w in near for w in words)
        assert found >= 0.8 * len(words), (c["id"], c["page"])
    if not checked:
        pytest.skip("none of the manuals is installed: scripts/install.sh --test installs them")
