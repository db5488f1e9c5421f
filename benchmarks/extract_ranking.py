"""How the extract ranks sentences: word overlap alone vs the embedding similarity plus a
weighted word overlap (``shared_utils/generation/extractive.py``), on two labelled sets.

    .venv/bin/python -m benchmarks.extract_ranking

For every question the same retrieved sources (k=5, what a small context gets) are handed to
``extract`` with each ranking; printed per ranking: the share of questions whose extract cites a
gold page, and the share whose extract holds the answer (answer set: every keyword group;
held-out retrieval set over the systemtap-doc and nut-doc manuals: its answer hint). The weight
is chosen on the answer set; the held-out set checks it. No language model is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import common

TOP_K = 5
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)


def _gold(source: Any, question: dict[str, Any]) -> bool:
    chunk = source.chunk
    return chunk.doc_name == question["document"] and any(
        chunk.page_start <= page <= chunk.page_end for page in question["gold_pages"])


def _holds_answer(text: str, question: dict[str, Any]) -> bool:
    lower = text.lower()
    if "keywords" in question:
        return all(any(alt.lower() in lower for alt in group.split("|"))
                   for group in question["keywords"])
    return question["answer_hint"].lower() in lower


def _rankings(library: Any) -> list[tuple[str, Callable[[str, list], str]]]:
    import shared_utils.generation.evidence as evidence
    import shared_utils.generation.extractive as ex

    def ranked(weight: float | None) -> Callable[[str, list], str]:
        def run(question: str, sources: list) -> str:
            prompt = [ex.PromptSource(i + 1, s.chunk.doc_name, s.chunk.text)
                      for i, s in enumerate(sources)]
            if weight is None:
                return ex.extract(question, prompt)
            saved, evidence.LEXICAL_WEIGHT = evidence.LEXICAL_WEIGHT, weight
            try:
                return ex.extract(question, prompt, similarity=library.similarities)
            finally:
                evidence.LEXICAL_WEIGHT = saved
        return run

    return [("word overlap only", ranked(None))] + [
        (f"similarity + {w} x overlap", ranked(w)) for w in WEIGHTS]


def measure(library: Any, questions: list[dict[str, Any]]) -> list[list[object]]:
    from src.citations import parse_markers

    retrieved = {q["id"]: library.search(q["question"], k=TOP_K).results for q in questions}
    rows = []
    for name, run in _rankings(library):
        cited = held = 0
        for q in questions:
            sources = retrieved[q["id"]]
            text = run(q["question"], sources)
            numbers = [n for n in parse_markers(text) if 0 < n <= len(sources)]
            cited += any(_gold(sources[n - 1], q) for n in numbers)
            held += _holds_answer(text, q)
        rows.append([name, round(cited / len(questions), 3), round(held / len(questions), 3)])
    return rows


def main() -> None:
    import benchmarks.answer_library as al

    info = common.begin()
    results: dict[str, Any] = {"machine": info}
    answer_set = al.load_answer_set()
    with al.cached_library(answer_set) as library:
        results["answer_set"] = measure(library, answer_set["questions"])
    print(f"answer set ({len(answer_set['questions'])} questions, k={TOP_K})")
    print(common.format_table(["ranking", "cites a gold page", "every keyword"],
                              results["answer_set"]))
    heldout = common.load_labelled_set()
    al.LIBRARY_DIR = al.CACHE / "answer_quality" / "heldout_library"
    with al.cached_library(heldout) as library:
        results["heldout"] = measure(library, heldout["questions"])
    print(f"held-out retrieval set ({len(heldout['questions'])} questions, k={TOP_K})")
    print(common.format_table(["ranking", "cites a gold page", "answer hint"],
                              results["heldout"]))
    print(f"wrote {common.write_json('extract_ranking', results)}")


if __name__ == "__main__":
    main()
