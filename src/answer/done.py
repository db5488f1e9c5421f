"""The DoneEvent of an answer the backend chain wrote: citations resolved and checked (and
fixed where a model mis-cited), the extract behind a small model's answer, engine figures in
the timings, and the one log line per answer. ``src/answer/answerer.py`` streams; this closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from src.answer.answering import Answering, answered_by
from src.answer.caveat import with_caveat
from src.answer.citations import resolve
from src.answer.claims import (
    STRUCK_NOTE,
    FixedAnswer,
    claims_of,
    fix_citations,
    listed,
    supported_share,
)
from src.answer.steps import StreamState, back_with_extract, evidence_first
from src.events import DoneEvent
from src.models.backends import SAFETY_NET, BackendPlan

if TYPE_CHECKING:
    from shared_utils.generation.chain import ChainResult
    from src.answer.prompt import Prompt

logger = structlog.get_logger(__name__)


def done_event(
    run: StreamState,
    result: ChainResult,
    prompt: Prompt,
    timings: dict[str, float],
    plan: BackendPlan,
    labels: dict[str, str],
    models: dict[str, str],
    mode_reason: str,
    *,
    elapsed_ms: Callable[[], float],
    answering: Answering,
) -> DoneEvent:
    """The last event of an answer from what the chain streamed (``run``) and its result;
    opened by the caveat naming the words no source holds (``run.unmentioned``:
    ``src/answer/caveat.py``), which the checks of the answer's claims and citations do not see."""
    text = run.guard.kept_text() if run.guard.looping else "".join(run.parts)
    answer, _, removed = resolve(text, prompt.sources)
    model_wrote = result.backend != SAFETY_NET
    fixed = fix_citations(answer, prompt.sources) if model_wrote and answer else None
    mode = "model" if model_wrote else "extract"
    if run.evidence:  # a small model: what streamed (the evidence) stands, and may grow
        answer, mode, why = _after_evidence(run, result, answer, fixed)
        mode_reason = why or mode_reason
    elif fixed is not None:
        answer = fixed.text + (f"\n\n{STRUCK_NOTE}" if fixed.unsupported else "")
    if model_wrote and not result.interrupted and not run.evidence:
        answer, mode, why = back_with_extract(
            run.question,
            answer,
            fixed.checks if fixed else (),
            prompt,
            similarity=run.similarity,
            model=models.get(result.backend, "") or result.backend,
        )
        mode_reason = why or mode_reason
    _, citations, _ = resolve(answer, prompt.sources)
    shown = claims_of(answer, prompt.sources)  # the check the Chat page shows (in the event)
    inferred = set(fixed.inferred) if fixed is not None else set()
    citations = [replace(c, inferred=True) if c.number in inferred else c for c in citations]
    stats = result.stats
    timings["total_ms"] = elapsed_ms()
    _engine_figures(timings, stats, parts=len(run.parts) if model_wrote else None)
    engine_prompt = int(stats.get("prompt_tokens") or 0)
    timings["prompt_tokens_counted"] = float(prompt.prompt_tokens)
    done = DoneEvent(
        answer=with_caveat(answer, run.unmentioned),
        backend=labels.get(result.backend, result.backend),
        citations=citations,
        sources=prompt.sources,
        timings=timings,
        prompt_tokens=engine_prompt or prompt.prompt_tokens,
        dropped_sources=prompt.dropped_sources,
        removed_citations=removed,
        skipped=dict(result.skipped),
        interrupted=result.interrupted,
        error=run.error,
        backend_name=result.backend,
        model=models.get(result.backend, ""),
        fallback_note=fallback_note(plan, answering.note, result, labels, model_wrote=model_wrote),
        answered_by=answered_by(
            answering, backend_name=result.backend, mode=mode, model=models.get(result.backend, "")
        ),
        chain=plan.names,
        mode=mode,
        mode_reason=mode_reason,
        model_text=text if run.evidence and model_wrote else "",
        loop_stopped=run.guard.looping,
        # struck sentences of the answer: a small model's unsupported ones were never shown
        unsupported=list(fixed.unsupported) if fixed is not None and not run.evidence else [],
        supported_share=supported_share(fixed.checks) if fixed is not None else None,
        verified=[listed(c.sentence) for c in shown if c.status == "supported"],
        unverified=[listed(c.sentence) for c in shown if c.status == "unverified"],
        claims=shown,
        unmentioned=list(run.unmentioned),
    )
    logger.info(
        "answered",
        backend=result.backend,
        model=done.model,
        mode=done.mode,
        answered_by=done.answered_by,
        skipped=list(result.skipped),
        interrupted=result.interrupted,
        loop_stopped=done.loop_stopped,
        prompt_tokens=done.prompt_tokens,
        dropped_sources=prompt.dropped_sources,
        citations=len(citations),
        unsupported=len(done.unsupported),
        verified=len(done.verified),
        unverified=len(done.unverified),
        unmentioned=len(done.unmentioned),  # a count: the words are the user's question
        **{k: round(v, 1) for k, v in timings.items()},
    )
    return done


def _after_evidence(
    run: StreamState, result: ChainResult, answer: str, fixed: FixedAnswer | None
) -> tuple[str, str, str]:
    """(answer, mode, why) of a small model's answer, whose evidence (``run.evidence``) was
    streamed before the model was asked: the evidence, then what the model adds that a source
    supports (``evidence_first``). A model that failed (the extract's fallback answered, or it
    broke off mid-answer) adds nothing: its text was never shown."""
    if result.backend == SAFETY_NET:
        return run.evidence, "extract", ""
    if result.interrupted:
        return run.evidence, "extract", f"{run.error}; only the source sentences are shown"
    return evidence_first(
        run.question,
        answer,
        fixed.checks if fixed else (),
        shown=run.evidence,
        small_model=run.small_model,
    )


def fallback_line(who: str, reason: str) -> str:
    """The answer's first line when the extract stands in for a model that failed."""
    return (
        f"({who} did not answer: {reason.rstrip('.')}. These are the most relevant "
        "passages instead.)\n\n"
    )


def fallback_after_evidence(who: str, reason: str) -> str:
    """The line after a small model's evidence (already shown) when the model did not answer."""
    return f"\n\n({who} did not answer: {reason.rstrip('.')}. Nothing is added to these sentences.)"


def fallback_note(
    plan: BackendPlan, note: str, result: ChainResult, labels: dict[str, str], *, model_wrote: bool
) -> str:
    """Why a fallback answered: the backends skipped before it (and why), and the plan's own
    ``note`` (what decided the answering model) when a smaller fallback model wrote it. Empty
    when the first choice answered."""
    order = list(plan.names)
    rank = order.index(result.backend) if result.backend in order else len(order)
    skipped = [
        f"{labels.get(name, name)}: {why}"
        for name, why in result.skipped.items()
        if name in order and order.index(name) < rank
    ]
    parts = [note] if model_wrote and note else []
    if skipped:
        who = labels.get(result.backend, result.backend) if model_wrote else "the extract"
        parts.append(f"Answered by {who} because " + "; ".join(skipped))
    return " ".join(parts)


def _engine_figures(timings: dict[str, float], stats: dict, *, parts: int | None) -> None:
    """The engine's own figures into ``timings``; tokens/s estimated from the streamed parts
    of a model's answer (``parts``) when the engine gave none."""
    for key in (
        "tokens_per_s",
        "completion_tokens",
        "cached_prompt_tokens",
        "prompt_ms",
        "generation_ms",
        "length_cut",
    ):
        if key in stats:
            timings[f"engine_{key}" if key.endswith("_ms") else key] = float(stats[key])
    if "tokens_per_s" not in timings and parts is not None and "first_token_ms" in timings:
        gen_s = (timings["total_ms"] - timings["first_token_ms"]) / 1000
        timings["tokens_per_s"] = parts / gen_s if gen_s > 0 else 0.0
