"""Steps of an answer that need no Answerer state: retrieval with follow-up detection,
tiny-model mode, and handing the extractive backend its sources (``src/answer/answerer.py`` wires them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.generation.base import Backend
from shared_utils.text import question_terms, stem, words
from src.answer.abstention import best_similarity
from src.answer.citations import strip_markers
from src.answer.claims import ClaimCheck
from src.answer.condense import Turn
from src.answer.decoding import Decoding
from src.answer.follow_up import decide, elliptic, expanded_query
from src.answer.loop_guard import LoopGuard
from src.models.backends import SAFETY_NET

if TYPE_CHECKING:
    from shared_utils.generation.evidence import Similarity
    from src.answer.answering import Answering
    from src.answer.prompt import Prompt

logger = structlog.get_logger(__name__)


class StreamState:
    """What one answer's stream has produced so far (text, backend, error, loop guard)."""

    def __init__(self, question: str = "") -> None:
        self.question = question
        # a model <= 1B parameters is asked: the evidence (its answer's start, and what the
        # reader has seen) streams before it is asked; its own text is kept back until checked
        self.small_model = ""
        self.evidence = ""
        self.similarity: Similarity | None = None  # ranks the extract's sentences
        self.unmentioned: list[str] = []  # words of the question no source holds (the caveat)
        self.parts: list[str] = []
        self.backend = ""
        self.error = ""
        self.result: Any = None
        self.guard = LoopGuard()

    def restart(self) -> None:
        """A new backend starts answering: watch its text for loops afresh."""
        self.guard = LoopGuard()


def retrieve(
    library: Any,
    question: str,
    history: Sequence[Turn],
    doc_ids: Sequence[str] | None,
    *,
    k: int,
    max_chars: int,
) -> tuple[str, list, str]:
    """(query, sources, why it is a follow-up or ""). With history the question is also
    searched with the previous question's terms; that search is used only when it matches
    markedly better (``src/answer/follow_up.py``), so an unrelated question is never rewritten."""
    sources = list(library.search(question, k=k, doc_ids=doc_ids).results)
    expanded = expanded_query(question, history) if history else None
    if not expanded:
        return question, sources, ""
    expanded = expanded[:max_chars]
    other = list(library.search(expanded, k=k, doc_ids=doc_ids).results)
    verdict = decide(best_similarity(sources), best_similarity(other), elliptic=elliptic(question))
    logger.info("follow_up", follow_up=verdict.follow_up, reason=verdict.reason)
    if verdict.follow_up:
        return expanded, other, verdict.reason
    return question, sources, ""


def tiny_mode(
    backends: list[Backend], answering: Answering, decoding: Decoding
) -> tuple[list[Backend], str]:
    """Tiny-model mode, as ``src/answer/answering.py`` decided it from the engine's report: a model
    too small to beat the extract is not asked; returns the backends to use and the reason
    shown to the user."""
    if not backends or backends[0].name == SAFETY_NET or answering.writer != "extract":
        return backends, ""
    head = backends[0]
    size = f"{decoding.params / 1e6:.0f}M parameters" if decoding.params else "tiny"
    reason = (
        f"{answering.model or head.label} ({size}) answers worse than the source extract on "
        "Olympus's answer benchmark, so the extract is shown instead "
        "(OLYMPUS_TINY_MODEL_ANSWERS=model lets it write)."
    )
    return [b for b in backends if b.name == SAFETY_NET], reason


def evidence_for(
    question: str, sources: Sequence[Any], similarity: Similarity | None = None
) -> list:
    """The evidence (``shared_utils/generation/evidence.py``) of the retrieved ``sources``."""
    from shared_utils.generation.evidence import select_evidence

    return select_evidence(
        question, [(i + 1, s.chunk.text) for i, s in enumerate(sources)], similarity=similarity
    )


def bind_sources(
    backend: Backend,
    question: str,
    prompt: Prompt,
    similarity: Similarity | None = None,
    *,
    why: str = "",
) -> Backend:
    """The extractive backend gets the question and the sources themselves (not the prompt),
    the embedding similarity to rank sentences with, and ``why`` it answers (its heading says
    it: ``src/answer/answering.py``, ``extract_why``)."""
    from shared_utils.generation.extractive import ExtractiveBackend, PromptSource

    if not isinstance(backend, ExtractiveBackend):
        return backend
    sources = [
        PromptSource(i + 1, s.chunk.doc_name, s.chunk.text) for i, s in enumerate(prompt.sources)
    ]
    return backend.with_sources(question, sources, similarity, why=why)


_REFUSED = re.compile(
    r"do(?:es)? not say|don'?t say|do not (?:contain|answer)|not in the excerpts", re.IGNORECASE
)


def lead_evidence(question: str, prompt: Prompt, similarity: Similarity | None = None) -> str:
    """The evidence a small model's answer starts with, under its heading: known before the
    engine is asked, so it is streamed at once (``evidence_first`` only appends to it)."""
    return _extract(question, prompt, similarity, following=True)


def back_with_extract(
    question: str,
    answer: str,
    checks: Sequence[ClaimCheck],
    prompt: Prompt,
    *,
    similarity: Similarity | None = None,
    model: str = "",
) -> tuple[str, str, str]:
    """The better of the two for a model > 1B parameters: (answer, mode, why). A model answer of
    which no sentence is backed by a source is followed by the extract (mode "model+extract");
    one that makes no claim at all ("[2]") is replaced by it ("extract"); a refusal is kept.
    A smaller model's answer comes after the evidence instead (``evidence_first``)."""
    claims = [c for c in checks if c.status != "no_claim"]
    if _REFUSED.search(answer) or any(c.backed for c in claims):
        return answer, "model", ""
    if not claims and question_terms(strip_markers(answer)):
        return answer, "model", ""  # short ("Port 3493 [1]."): too short to check, kept
    if not claims:
        shown = " ".join(answer.split())[:60] or "nothing"
        return (
            _extract(question, prompt, similarity, model=model),
            "extract",
            (
                f"the model's answer (“{shown}”) says nothing that can be checked against the "
                "sources, so the extract is shown instead"
            ),
        )
    following = _extract(question, prompt, similarity, following=True)
    return (
        f"{answer.rstrip()}\n\n{following}",
        "model+extract",
        "no sentence of the model's answer is backed by a source, so the most relevant "
        "source sentences follow it",
    )


def evidence_first(
    question: str,
    answer: str,
    checks: Sequence[ClaimCheck],
    *,
    shown: str,
    small_model: str,
) -> tuple[str, str, str]:
    """A small model's answer as the reader gets it: the evidence ``shown`` (streamed before
    the model was asked) and then only the model's sentences that a source supports and that
    add words the evidence does not have (mode "extract+model"); with none such, the evidence
    alone (mode "extract"). A small model's own text mostly restates the evidence or invents,
    so it never comes first. The answer always starts with ``shown``: what streamed stands."""
    from shared_utils.generation.extractive import model_adds

    if _REFUSED.search(answer) and len(answer.split()) <= 30:
        # retrieval passed abstention, so the sources are relevant; a small model's refusal is
        # then wrong more often than not (7 of 39 answerable questions with a 0.5B model)
        return (
            shown,
            "extract",
            (
                f"{small_model} said the documents do not say, but the search found relevant "
                "passages: the most relevant source sentences are shown"
            ),
        )
    known = {stem(w) for w in words(f"{shown} {question}")}
    added = []
    for c in checks:  # each must add to the evidence and to the sentences added before it
        new = {stem(t) for t in question_terms(strip_markers(c.sentence))} - known
        if c.status == "supported" and len(new) >= 2:
            added.append(c.sentence.strip())
            known |= new
    if not added:
        return (
            shown,
            "extract",
            (
                f"{small_model} is a small model, and its answer added nothing that the sources "
                "support beyond these sentences, so only they are shown "
                "(OLYMPUS_SMALL_MODEL_EXTRACT=false shows its answer)"
            ),
        )
    return (
        f"{shown}\n\n{model_adds(small_model)}\n\n{' '.join(added)}",
        "extract+model",
        f"{small_model} is a small model: the most relevant source sentences come first, "
        "then only what it adds that the sources support "
        "(OLYMPUS_SMALL_MODEL_EXTRACT=false shows its answer as written)",
    )


def _extract(
    question: str,
    prompt: Prompt,
    similarity: Similarity | None = None,
    *,
    following: bool = False,
    model: str = "",
) -> str:
    """The extract: ``following`` a model's answer under its own heading, else in place of the
    answer of ``model``, under a heading saying that answer was set aside."""
    from shared_utils.generation.extractive import FOLLOWING_HEADING, PromptSource, extract, heading
    from src.answer.answering import set_aside

    sources = [
        PromptSource(i + 1, s.chunk.doc_name, s.chunk.text) for i, s in enumerate(prompt.sources)
    ]
    title = FOLLOWING_HEADING if following else heading(set_aside(model or "the model"))
    return extract(
        question, sources, heading=title, similarity=similarity, evidence=prompt.evidence or None
    )
