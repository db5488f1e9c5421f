"""Calibration of abstention and follow-up detection (``answer_quality --calibrate``).

Abstention (src/answer/abstention.py): the best dense similarity among the retrieved sources, for the
answerable and the unanswerable questions of the dev split (test never chooses a threshold),
at several thresholds, and the names found absent.

Follow-ups (src/answer/follow_up.py): for each conversation, the best similarity of the follow-up and
of the unrelated next question searched alone and expanded with the previous question's terms.
"""

from __future__ import annotations

from typing import Any

from benchmarks import common

THRESHOLDS = (0.38, 0.40, 0.42, 0.43, 0.44, 0.45)
TOP_K = 5  # what the answerer retrieves for a small context (profile.top_k_for)


def _best(library: Any, text: str) -> float:
    from src.answer.abstention import best_similarity

    return best_similarity(library.search(text, k=TOP_K).results) or 0.0


def calibrate(library: Any, answer_set: dict[str, Any]) -> dict[str, Any]:

    answerable = _searched(library, answer_set["questions"])
    unanswerable = _searched(library, answer_set["unanswerable"])
    rows = []
    for t in THRESHOLDS:
        rows.append([t, _refused(unanswerable, t), _refused(answerable, t)])
    print("abstention (src/abstention.decide: similarity below the threshold, no source with "
          "every question word; or a name no document mentions, similarity below "
          "NAME_CEILING)")
    for kind, group in (("unanswerable", unanswerable), ("answerable", answerable)):
        for question, _, absent in group:
            if absent:
                print(f"  {kind}: names no document mentions {absent}: {question}")
    print(common.format_table(
        ["threshold", "unanswerable admitted", "answerable refused"],
        rows))
    def best(rows: list) -> list[float]:
        from src.answer.abstention import best_similarity

        return [best_similarity(sources) or 0.0 for _, sources, _ in rows]

    return {"answerable": best(answerable), "unanswerable": best(unanswerable),
            "follow_ups": follow_ups(library, answer_set)}


def _searched(library: Any, questions: list[dict[str, Any]]) -> list[tuple[str, list, list]]:
    """(question, sources, the names it holds that no document mentions) per question."""
    from src.answer.abstention import absent_names

    stores = library.stores
    return [(q["question"], library.search(q["question"], k=TOP_K).results,
             absent_names(q["question"], stores.keywords, stores.docstore)) for q in questions]


def _refused(rows: list[tuple[str, list, list]], threshold: float) -> str:
    from src.answer.abstention import decide

    n = sum(decide(sources, question, threshold=threshold, absent=absent).abstain
            for question, sources, absent in rows)
    return f"{n}/{len(rows)}"


def follow_ups(library: Any, answer_set: dict[str, Any]) -> list[dict[str, Any]]:
    from src.answer.follow_up import decide, elliptic, expanded_query

    by_id = {q["id"]: q for q in answer_set["questions"]}

    def text(ref: Any) -> str:
        return ref["question"] if isinstance(ref, dict) else by_id[ref]["question"]

    out, rows = [], []
    for conv in answer_set["conversations"]:
        first = text(conv["first"])
        follow = conv["follow_up"]["question"]
        pairs = (("follow-up", follow, [(first, "")]),
                 ("unrelated", text(conv["unrelated"]), [(first, ""), (follow, "")]))
        for kind, question, history in pairs:
            alone = _best(library, question)
            expanded = _best(library, expanded_query(question, history) or question)
            ell = elliptic(question)
            verdict = decide(alone, expanded, elliptic=ell)
            out.append({"id": conv["id"], "kind": kind, "alone": alone, "expanded": expanded,
                        "elliptic": ell, "follow_up": verdict.follow_up})
            rows.append([conv["id"], kind, ell, round(alone, 3), round(expanded, 3),
                         f"{(expanded - alone) / alone:+.2f}", verdict.follow_up])
    print("follow-ups: best source similarity alone vs expanded with the previous question")
    print(common.format_table(["conversation", "question", "elliptic", "alone", "expanded",
                               "relative gain", "treated as follow-up"], rows))
    return out
