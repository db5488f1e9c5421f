"""Calibration of abstention and follow-up detection (``answer_quality --calibrate``).

Abstention (src/answer/abstention.py): the answerability (best dense similarity among the
retrieved sources x the rarity-weighted share of the question they hold) of the answerable and
the unanswerable questions of the dev split (test never chooses a threshold), refused at several
thresholds, the names found absent and the lowest-scored questions.

The caveat (src/answer/caveat.py): for each question abstention lets through, the words no
source holds with how many chunks of the library hold them (the data the rule was chosen on),
and the words the caveat names.

Follow-ups (src/answer/follow_up.py): for each conversation, the best similarity of the follow-up and
of the unrelated next question searched alone and expanded with the previous question's terms.
"""

from __future__ import annotations

from typing import Any

from benchmarks import common

THRESHOLDS = (0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26)  # answerability
TOP_K = 5  # what the answerer retrieves for a small context (profile.top_k_for)


def _best(library: Any, text: str) -> float:
    from src.answer.abstention import best_similarity

    return best_similarity(library.search(text, k=TOP_K).results) or 0.0


def calibrate(library: Any, answer_set: dict[str, Any]) -> dict[str, Any]:
    answerable = _searched(library, answer_set["questions"])
    unanswerable = _searched(library, answer_set["unanswerable"])
    rows = [[t, _refused(unanswerable, t), _refused(answerable, t)] for t in THRESHOLDS]
    print(
        "abstention (src/answer/abstention.decide: answerability = best similarity x share of "
        "the question the sources hold, under the threshold; or a name no document mentions; "
        "never at similarity >= STRONG_MATCH)"
    )
    for kind, group in (("unanswerable", unanswerable), ("answerable", answerable)):
        for row in group:
            if row["absent"]:
                print(f"  {kind}: names no document mentions {row['absent']}: {row['question']}")
    print(common.format_table(["threshold", "unanswerable admitted", "answerable refused"], rows))
    scored = sorted(
        [
            (r["verdict"].answerability or 0.0, kind, r)
            for kind, group in (("answerable", answerable), ("unanswerable", unanswerable))
            for r in group
        ],
        key=lambda x: x[0],
    )
    print("lowest answerability (refused at the default when under it):")
    print(
        common.format_table(
            ["answerability", "kind", "similarity", "by name", "question"],
            [
                [
                    round(a, 3),
                    kind,
                    round(r["verdict"].best or 0.0, 3),
                    bool(r["absent"]),
                    r["question"][:70],
                ]
                for a, kind, r in scored[:40]
            ],
        )
    )

    def values(group: list, key: str) -> list[float]:
        return [getattr(r["verdict"], key) or 0.0 for r in group]

    return {
        "answerable": values(answerable, "answerability"),
        "unanswerable": values(unanswerable, "answerability"),
        "similarity": {
            "answerable": values(answerable, "best"),
            "unanswerable": values(unanswerable, "best"),
        },
        "refused": {str(t): {"unanswerable": u, "answerable": a} for t, u, a in rows},
        "caveats": caveats(library, answerable, unanswerable),
        "follow_ups": follow_ups(library, answer_set),
    }


def _searched(library: Any, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per question: its sources, the names no document mentions, its word weights and the
    verdict at the default threshold (for its answerability)."""
    from src.answer.abstention import answerability_for, decide

    default = answerability_for(library.settings.embedding_model)
    out = []
    for q in questions:
        text = q["question"]
        row = {
            "question": text,
            "sources": library.search(text, k=TOP_K).results,
            "absent": library.absent_names(text),
            "weight": library.term_weights(text),
        }
        row["verdict"] = decide(
            row["sources"], text, threshold=default, absent=row["absent"], weight=row["weight"]
        )
        out.append(row)
    return out


def _refused(rows: list[dict[str, Any]], threshold: float) -> str:
    from src.answer.abstention import decide

    n = sum(
        decide(
            r["sources"], r["question"], threshold=threshold, absent=r["absent"], weight=r["weight"]
        ).abstain
        for r in rows
    )
    return f"{n}/{len(rows)}"


def caveats(library: Any, answerable: list, unanswerable: list) -> dict[str, Any]:
    """The caveat of each question abstention lets through, with every word no source holds."""
    from shared_utils.text import stem
    from src.answer.abstention import coverage, weights

    out: dict[str, Any] = {}
    table = []
    for kind, group in (("answerable", answerable), ("unanswerable", unanswerable)):
        admitted = [r for r in group if not r["verdict"].abstain]
        named = 0
        for r in admitted:
            _, missing = coverage(weights(r["question"]), r["sources"])
            said = library.unmentioned(r["question"], r["sources"])
            named += bool(said)
            if missing:
                freq = library.stores.keywords.frequencies([stem(w) for w in missing]) or {}
                held = ", ".join(f"{w} ({freq.get(stem(w))})" for w in missing)
                table.append([kind, held, ", ".join(said) or "-", r["question"][:60]])
        out[kind] = {"with_caveat": named, "not_refused": len(admitted), "of": len(group)}
    print("caveat: words no source holds (chunks of the library holding them), words named")
    print(common.format_table(["kind", "no source holds", "caveat names", "question"], table))
    print(out)
    return out


def follow_ups(library: Any, answer_set: dict[str, Any]) -> list[dict[str, Any]]:
    from src.answer.follow_up import decide, elliptic, expanded_query

    by_id = {q["id"]: q for q in answer_set["questions"]}

    def text(ref: Any) -> str:
        return ref["question"] if isinstance(ref, dict) else by_id[ref]["question"]

    out, rows = [], []
    for conv in answer_set["conversations"]:
        first = text(conv["first"])
        follow = conv["follow_up"]["question"]
        pairs = (
            ("follow-up", follow, [(first, "")]),
            ("unrelated", text(conv["unrelated"]), [(first, ""), (follow, "")]),
        )
        for kind, question, history in pairs:
            alone = _best(library, question)
            expanded = _best(library, expanded_query(question, history) or question)
            ell = elliptic(question)
            verdict = decide(alone, expanded, elliptic=ell)
            out.append(
                {
                    "id": conv["id"],
                    "kind": kind,
                    "alone": alone,
                    "expanded": expanded,
                    "elliptic": ell,
                    "follow_up": verdict.follow_up,
                }
            )
            rows.append(
                [
                    conv["id"],
                    kind,
                    ell,
                    round(alone, 3),
                    round(expanded, 3),
                    f"{(expanded - alone) / alone:+.2f}",
                    verdict.follow_up,
                ]
            )
    print("follow-ups: best source similarity alone vs expanded with the previous question")
    print(
        common.format_table(
            [
                "conversation",
                "question",
                "elliptic",
                "alone",
                "expanded",
                "relative gain",
                "treated as follow-up",
            ],
            rows,
        )
    )
    return out
