"""Scoring of the answer-quality benchmark (``benchmarks/answer_quality.py``): one answer against
its labels, and one split's answers summed up.

- keywords: every keyword group of the question is in the answer (a group is ``a|b``
  alternatives);
- own keywords: the same on the model's own text, before the extract Olympus appends after a
  small model's answer (what the model added);
- evidence recall: the evidence Olympus selects from the retrieved sources
  (``shared_utils/generation/evidence.py``) holds every keyword group - the ceiling of an
  answer written from that evidence;
- gold citation: the answer cites a page of the question's gold pages.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from typing import Any

from benchmarks import common

REFUSAL = re.compile(
    r"(?:excerpts?|documents?|sources?|manuals?|context|passages?) (?:do|does|did) not "
    r"(?:seem to )?(?:say|contain|mention|answer|provide|cover)|don'?t say|"
    r"not (?:mentioned|covered|found) in the (?:excerpts|documents|sources)|"
    r"(?:cannot|can't|could not|couldn't|unable to) (?:find|answer)|"
    r"none of the sources mentions|no (?:relevant )?information (?:about|on)",
    re.IGNORECASE,
)


def keyword_hits(answer: str, groups: list[str]) -> int:
    """Keyword groups found in ``answer``; struck-through sentences (``~~...~~``: no source
    says them) do not count."""
    text = re.sub(r"~~.*?~~", " ", answer, flags=re.S).lower()
    return sum(any(alt.lower() in text for alt in g.split("|")) for g in groups)


def cites_gold(done: Any, document: str, gold: list[int]) -> bool:
    return any(
        c.doc_name == document and any(c.page_start <= g <= c.page_end for g in gold)
        for c in done.citations
    )


def own_text(streamed: str) -> str:
    """The model's own text: what it streamed, without an extract that follows it."""
    from shared_utils.generation.extractive import split_extract

    return split_extract(streamed)[0].strip()


def evidence_text(question: str, sources: list, similarity: Any) -> str:
    """The evidence Olympus selects from ``sources`` for ``question``, as one text."""
    from shared_utils.generation.evidence import select_evidence

    picked = select_evidence(
        question, [(i + 1, s.chunk.text) for i, s in enumerate(sources)], similarity=similarity
    )
    return "\n".join(e.text for e in picked)


def score(row: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    from src.answer.caveat import strip_caveat

    groups = q["keywords"]
    hits = keyword_hits(strip_caveat(row["answer"]), groups)  # the caveat repeats the question
    row.update(
        keywords_all=hits == len(groups),
        keywords_share=hits / len(groups),
        own_keywords_all=keyword_hits(row["own_text"], groups) == len(groups),
        evidence_all=keyword_hits(row["evidence"], groups) == len(groups),
        gold=cites_gold(row["done"], q["document"], q["gold_pages"]),
    )
    return row


def share(rows: list[dict], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None


def _pct(values: list[float], pct: float) -> float | None:
    return round(common.percentile(values, pct), 2) if values else None


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def summarize(out: dict[str, list]) -> dict[str, Any]:
    ans, none = out["answerable"], out["unanswerable"]
    fus = [c["follow_up"] for c in out["conversations"]]
    unrel = [c["unrelated"] for c in out["conversations"]]
    every = [*ans, *none, *fus, *unrel]
    firsts = [r["first_after_sources_s"] for r in every if r["first_after_sources_s"] is not None]
    claims = sum(r["claims"] for r in every)
    wrote = [r for r in ans if r["backend"] not in ("extractive", "none")]
    return {
        "answerable": len(ans),
        "unanswerable": len(none),
        "conversations": len(fus),
        "keywords_all": share(ans, "keywords_all"),
        "keywords_mean": round(statistics.mean(r["keywords_share"] for r in ans), 3)
        if ans
        else None,
        # over the answers the model wrote (not abstained, not fallen back to the extract)
        "own_keywords_all": share(wrote, "own_keywords_all") if wrote else None,
        "model_wrote": len(wrote),
        "evidence_recall": share(ans, "evidence_all"),
        "gold_citation": share(ans, "gold"),
        "admitted": share(none, "refused"),
        "wrongly_refused": share(ans, "refused"),
        # the caveat (src/answer/caveat.py): answerable questions whose answer opens with one,
        # and, as its own figure, unanswerable questions refused or answered behind one
        "caveat_answerable": share(ans, "caveat"),
        "admitted_or_caveat": round(
            sum(r["refused"] or bool(r["caveat"]) for r in none) / len(none), 3
        )
        if none
        else None,
        "repeating": sum(r["repeating"] for r in every),
        "answers": len(every),
        "supported_citations": round(sum(r["supported"] for r in every) / claims, 3)
        if claims
        else None,
        "first_token_s_p50": _pct(firsts, 50),
        "first_token_s_p95": _pct(firsts, 95),
        "total_s_p50": _pct([r["total_s"] for r in every], 50),
        "follow_ups_detected": round(sum(r["query"] != r["question"] for r in fus) / len(fus), 3)
        if fus
        else None,
        "unrelated_rewritten": (
            round(sum(r["query"] != r["question"] for r in unrel) / len(unrel), 3)
            if unrel
            else None
        ),
        "follow_up_keywords_all": share(fus, "keywords_all"),
        "backends": dict(sorted(_count(r["backend"] for r in every).items())),
        "modes": dict(sorted(_count(r["mode"] or "-" for r in every).items())),
        "prompt_tokens_p50": _pct(
            [r["prompt_tokens"] for r in every if r.get("engine_prompt_ms")], 50
        ),
    }


FIGURES = [
    ("keywords (all groups)", "keywords_all"),
    ("keywords (mean share)", "keywords_mean"),
    ("model's own text: keywords", "own_keywords_all"),
    ("answers the model wrote", "model_wrote"),
    ("evidence holds the keywords", "evidence_recall"),
    ("citation on a gold page", "gold_citation"),
    ("unanswerable admitted", "admitted"),
    ("answerable refused", "wrongly_refused"),
    ("answerable with a caveat", "caveat_answerable"),
    ("unanswerable admitted or caveated", "admitted_or_caveat"),
    ("repeating answers", "repeating"),
    ("answers", "answers"),
    ("supporting-citation fraction", "supported_citations"),
    ("first token after sources p50 (s)", "first_token_s_p50"),
    ("first token after sources p95 (s)", "first_token_s_p95"),
    ("total p50 (s)", "total_s_p50"),
    ("follow-ups recognised", "follow_ups_detected"),
    ("unrelated questions rewritten", "unrelated_rewritten"),
    ("follow-up keywords (all)", "follow_up_keywords_all"),
    ("answered by", "backends"),
    ("how", "modes"),
    ("prompt tokens p50 (model answers)", "prompt_tokens_p50"),
]


def table(results: dict[str, Any]) -> str:
    """One row per figure, one column per (model, split)."""
    columns = [(m, split) for m, data in results["models"].items() for split in data["splits"]]
    rows = [
        [label, *[_cell(results["models"][m]["splits"][s]["summary"].get(key)) for m, s in columns]]
        for label, key in FIGURES
    ]
    return common.format_table(["figure", *[f"{m} {s}" for m, s in columns]], rows)


def _cell(value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return value
