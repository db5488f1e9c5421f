"""How the extract ranks sentences: word overlap alone vs the embedding similarity plus a
weighted word overlap and a bonus for the sentence shape the question asks for
(``shared_utils/generation/evidence.py``), on the dev and test answer sets.

    .venv/bin/python -m benchmarks.extract_ranking

For every question the same retrieved sources (k=5, what a small context gets) are handed to
``extract`` with each ranking; printed per ranking: the share of questions whose extract cites a
gold page, and the share whose extract holds every keyword group. The weights are chosen on
dev; test only measures. No language model is involved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import common

TOP_K = 5
# (overlap weight, kind bonus): 0.3 was chosen on the answer set before; the bonus on dev
VARIANTS = ((0.3, 0.0), (0.3, 0.05), (0.3, 0.1), (0.3, 0.15), (0.3, 0.25), (0.5, 0.15))


def _gold(source: Any, question: dict[str, Any]) -> bool:
    chunk = source.chunk
    return chunk.doc_name == question["document"] and any(
        chunk.page_start <= page <= chunk.page_end for page in question["gold_pages"]
    )


def _holds_answer(text: str, question: dict[str, Any]) -> bool:
    lower = text.lower()
    if "keywords" in question:
        return all(
            any(alt.lower() in lower for alt in group.split("|")) for group in question["keywords"]
        )
    return question["answer_hint"].lower() in lower


def _rankings(library: Any) -> list[tuple[str, Callable[[str, list], str]]]:
    import shared_utils.generation.evidence as evidence
    import shared_utils.generation.extractive as ex

    def ranked(weight: float | None, bonus: float) -> Callable[[str, list], str]:
        def run(question: str, sources: list) -> str:
            prompt = [
                ex.PromptSource(i + 1, s.chunk.doc_name, s.chunk.text)
                for i, s in enumerate(sources)
            ]
            saved = evidence.LEXICAL_WEIGHT, evidence.KIND_BONUS
            evidence.LEXICAL_WEIGHT, evidence.KIND_BONUS = weight or 0.0, bonus
            try:
                return ex.extract(
                    question, prompt, similarity=None if weight is None else library.similarities
                )
            finally:
                evidence.LEXICAL_WEIGHT, evidence.KIND_BONUS = saved

        return run

    return [("word overlap only", ranked(None, 0.0))] + [
        (f"similarity + {w} x overlap, kind bonus {b}", ranked(w, b)) for w, b in VARIANTS
    ]


def measure(library: Any, questions: list[dict[str, Any]]) -> list[list[object]]:
    from src.answer.citations import parse_markers

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
    from benchmarks.answer_quality import _memo

    info = common.begin()
    results: dict[str, Any] = {"machine": info}
    splits = al.load_splits()
    with al.cached_library(al.all_documents(splits)) as library:
        library.similarities = _memo(library.similarities)
        for name, data in splits.items():
            results[name] = measure(library, data["questions"])
    headers = ["ranking"] + [
        f"{n}: {what}" for n in results if n != "machine" for what in ("gold page", "every keyword")
    ]
    rows = [
        [row[0]] + [v for n in results if n != "machine" for v in results[n][i][1:]]
        for i, row in enumerate(results["dev"])
    ]
    print(f"extract ranking, k={TOP_K} (choose on dev; test only measures)")
    print(common.format_table(headers, rows))
    print(f"wrote {common.write_json('extract_ranking', results)}")


if __name__ == "__main__":
    main()
