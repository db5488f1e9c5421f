"""Answerer: from a question to a streamed, cited answer.

Order of work for one question (each step is an event the UI can show at once)::

    validate -> retrieve (a follow-up also with the previous question's terms, kept only when
    it matches markedly better) -> SourcesEvent -> abstain when no source is relevant enough
    -> decoding by model size (tiny model: the extract instead) -> prompt within budget
    -> a model <= 1B: the evidence as the first TokenEvent (evidence first) -> a slot in the
    engine's line -> StatusEvent(s) -> backend chain: TokenEvent* / BackendSwitchEvent (a loop
    guard stops a repeating answer; a small model's text is kept back,
    ``src/answer/chain_events.py``) -> citations checked and fixed (a small model: what it adds
    to the evidence, as the last TokenEvent) -> DoneEvent (mode and why)

``backend="NAME"`` forces that backend, with the extractive backend kept behind it as the
safety net: a user who picks a backend that is down still gets the source extracts, and the
DoneEvent says why the chosen backend was skipped. ``backend="extractive"`` is extractive only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.generation.base import Backend, GenerationOptions
from src.answer.abstention import answerability_for
from src.answer.abstention import decide as abstain_decision
from src.answer.answering import Answering, decide, extract_why
from src.answer.assembly import answerer_parts
from src.answer.backend_choice import BackendChoice, BackendFactory, Planner
from src.answer.caveat import caveat_line, strip_caveat
from src.answer.chain_events import on_chain_event
from src.answer.condense import Turn
from src.answer.decoding import Decoding, decoding_for
from src.answer.done import done_event
from src.answer.options import AskOptions
from src.answer.prompt import Prompt, TokenCounters, build_prompt
from src.answer.question import check_question
from src.answer.queue import (
    ENGINE_BACKENDS,
    AnswerQueue,
    QueuedEvents,
    Ticket,
    start_together,
    wait_turn,
)
from src.answer.steps import (
    StreamState,
    bind_sources,
    evidence_for,
    lead_evidence,
    retrieve,
    tiny_mode,
)
from src.events import (
    AskEvent,
    DoneEvent,
    SourcesEvent,
    StatusEvent,
    TokenEvent,
)
from src.models.backends import SAFETY_NET, BackendPlan
from src.settings import Settings

if TYPE_CHECKING:
    from src.library.library import Library
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

NO_DOCUMENTS = (
    "No document is indexed yet, so there is nothing to answer from. Add a PDF first: "
    "upload it on the Documents page, or run `python -m src ingest FILE.pdf`."
)
NO_MATCH = "No passage of the indexed documents matches this question; try other words."


class Answerer:
    """Streams answers for ``RAGPipeline.ask``. Thread-safe: no per-question state is kept.
    The plan, what answers and the backends' health: ``backend_choice``."""

    def __init__(
        self,
        settings: Settings,
        *,
        library: Library,
        planner: Planner,
        backend_factory: BackendFactory,
        context_tokens: int,
        top_k: int,
        options: GenerationOptions,
        clock: Callable[[], float] = time.perf_counter,
        chain_clock: Callable[[], float] = time.monotonic,
        queue: AnswerQueue | None = None,
    ) -> None:
        self.settings = settings
        self.library = library
        self.backend_choice = BackendChoice(settings, planner, backend_factory)
        self.context_tokens = context_tokens
        self.top_k = top_k
        self.options = options
        self._clock = clock
        self._chain_clock = chain_clock
        self.token_counters = TokenCounters(options.connect_timeout_s)
        self.queue = queue  # the line in front of the engine's slots (None: no line)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        library: Library,
        profile: Profile | None = None,
        **kwargs: Any,
    ) -> Answerer:
        """Context size, top-k and deadlines from the profile (explicit settings override it;
        without a profile: settings, then the defaults of a small CPU machine); the chain and
        its models from ``src/models/backends.py`` at every question (``assembly.py``)."""
        return cls(settings, library=library, **answerer_parts(settings, profile, kwargs))

    # --- public ------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        doc_ids: Sequence[str] | None = None,
        backend: str | None = None,
        options: AskOptions | None = None,
        owner: str = "",
    ) -> Iterator[AskEvent]:
        """Validate now (raises InvalidQuery, or ModelNotFound for a model the engine cannot
        answer with), take a place in the engine's line for ``owner`` (a chat session, an API
        key; raises AnswerQueueFull when the line is full), then stream the events."""
        question = check_question(question, self.settings.max_query_chars)
        options = options or AskOptions()
        plan = self.backend_choice.plan_for(backend or options.backend, options.model)
        engine = self.queue is not None and plan.names[0] in ENGINE_BACKENDS
        ticket = self.queue.enter(owner) if engine and self.queue is not None else None
        return QueuedEvents(
            self._events(
                question, list(history), doc_ids, plan, options.generation(self.options), ticket
            ),
            ticket,
        )

    # --- the stream --------------------------------------------------------------------------
    def _events(
        self,
        question: str,
        history: list[Turn],
        doc_ids: Sequence[str] | None,
        plan: BackendPlan,
        generation: GenerationOptions,
        ticket: Ticket | None = None,
    ) -> Iterator[AskEvent]:
        t0 = self._clock()
        timings: dict[str, float] = {}
        if not self._has_documents(doc_ids):
            yield SourcesEvent([], 0.0, question)
            yield TokenEvent(NO_DOCUMENTS)
            yield self._canned(NO_DOCUMENTS, timings, t0)
            return
        t1 = self._clock()
        query, sources, follow_up = retrieve(
            self.library,
            question,
            history,
            doc_ids,
            k=self.top_k,
            max_chars=self.settings.max_query_chars,
        )
        timings["retrieval_ms"] = _ms(t1, self._clock())
        timings["sources_ms"] = _ms(t0, self._clock())
        if follow_up:
            yield StatusEvent(f"follow-up: searching for “{query}” ({follow_up})")
        yield SourcesEvent(sources, timings["retrieval_ms"], query)
        if not sources:
            yield TokenEvent(NO_MATCH)
            yield self._canned(NO_MATCH, timings, t0)
            return
        threshold = answerability_for(
            self.settings.embedding_model, self.settings.abstain_answerability
        )
        verdict = abstain_decision(
            sources,
            query,
            threshold=threshold,
            absent=self.library.absent_names(query),
            weight=self.library.term_weights(query),
        )
        if verdict.abstain:
            yield TokenEvent(verdict.message)
            yield replace(
                self._canned(verdict.message, timings, t0),
                sources=sources,
                mode="abstained",
                mode_reason=verdict.message,
            )
            return
        unmentioned = self.library.unmentioned(question, sources)
        if unmentioned:  # said first, before whatever answers the rest of the question
            yield TokenEvent(f"{caveat_line(unmentioned)}\n\n")

        backends, skipped = self.backend_choice.build(plan)
        answering = self.backend_choice.decide(plan, backends)
        decoding = decoding_for(answering.model, generation.max_tokens, params=answering.params)
        backends, mode_reason = tiny_mode(backends, answering, decoding)
        if mode_reason:
            skipped = {}  # the extract was chosen, not fallen back to: no skip is news
            yield StatusEvent(mode_reason)
        if ticket is not None and (
            mode_reason or not backends or backends[0].name not in ENGINE_BACKENDS
        ):
            ticket.release()  # the engine is not asked: its slot goes to the next question
        t2 = self._clock()
        prompt = self._prepare(
            question, query, sources, history if follow_up else [], backends, decoding, generation
        )
        timings["prompt_ms"] = _ms(t2, self._clock())
        for note in prompt.notes:
            yield StatusEvent(note)
        backends = [
            bind_sources(b, query, prompt, self.library.similarities, why=extract_why(answering))
            for b in backends
        ]
        run = StreamState(query)
        run.similarity = self.library.similarities
        run.unmentioned = unmentioned
        if (
            decoding.small
            and self.settings.small_model_extract
            and _asks_model(backends)
            and prompt.sources  # (none fitted the context: there is no evidence to show)
        ):
            # evidence first: it is known before the engine is asked, so the reader gets it now
            run.small_model = backends[0].model_name or backends[0].label
            run.evidence = lead_evidence(query, prompt, run.similarity)
            timings["first_text_ms"] = _ms(t0, self._clock())
            yield TokenEvent(run.evidence)
        if ticket is not None and not ticket.released:
            yield from wait_turn(ticket, timings)  # the deadlines start once a slot is ours
        start_together(ticket, timings)
        yield from self._generate(
            prompt,
            backends,
            skipped,
            timings,
            t0,
            plan,
            decoding=decoding,
            mode_reason=mode_reason,
            run=run,
            generation=generation,
            answering=answering,
        )

    def _generate(
        self,
        prompt: Prompt,
        backends: list[Backend],
        skipped: dict[str, str],
        timings: dict[str, float],
        t0: float,
        plan: BackendPlan,
        *,
        decoding: Decoding,
        mode_reason: str = "",
        run: StreamState,
        generation: GenerationOptions | None = None,
        answering: Answering | None = None,
    ) -> Iterator[AskEvent]:
        from shared_utils.generation.chain import ChainResult, FallbackChain

        labels = {b.name: b.label for b in backends}
        models = {b.name: b.model_name for b in backends}
        writers = {b.name: b.model_name or b.label for b in backends}  # as an answer names them
        chain = FallbackChain(backends, clock=self._chain_clock, skipped=skipped)
        options = decoding.apply(generation or self.options)
        with closing(chain.stream(prompt.messages, options=options)) as stream:
            for event in stream:  # closing: a consumer that stops us stops the engine
                if isinstance(event, ChainResult):
                    run.result = event
                    continue
                yield from on_chain_event(
                    event,
                    run,
                    labels,
                    prompt,
                    timings,
                    lambda: _ms(t0, self._clock()),
                    writers,
                )
                if run.guard.looping:
                    who = f"what {run.small_model} wrote" if run.evidence else "the answer"
                    yield StatusEvent(f"{who} was repeating itself, so it was stopped there")
                    break  # closing the stream stops the engine
        result = run.result or ChainResult(run.backend, dict(skipped), {}, interrupted=False)
        done = done_event(
            run,
            result,
            prompt,
            timings,
            plan,
            labels,
            models,
            mode_reason,
            elapsed_ms=lambda: _ms(t0, self._clock()),
            answering=answering or decide(plan, self.settings, None),
        )
        shown = strip_caveat(done.answer)  # the caveat streamed first
        if run.evidence and shown != run.evidence:
            yield TokenEvent(shown[len(run.evidence) :])  # what the small model adds
        yield done

    # --- steps -------------------------------------------------------------------------------
    def _has_documents(self, doc_ids: Sequence[str] | None) -> bool:
        docs = [d for d in self.library.documents() if d.status == "ready"]
        if doc_ids is not None:
            wanted = set(doc_ids)
            docs = [d for d in docs if d.id in wanted]
        return bool(docs)

    def _prepare(
        self,
        question: str,
        query: str,
        sources: list,
        history: list[Turn],
        backends: list[Backend],
        decoding: Decoding,
        generation: GenerationOptions,
    ) -> Prompt:
        """The prompt for ``backends[0]``: a small model reads the evidence only, with fewer
        sentences per source unless the setting says how many."""
        explicit = "source_sentences" in self.settings.model_fields_set
        sentences = self.settings.source_sentences
        if decoding.source_sentences and not explicit:
            sentences = decoding.source_sentences
        evidence = (
            evidence_for(query, sources, self.library.similarities)
            if decoding.evidence_only and not explicit and _asks_model(backends)
            else []
        )
        return self._prompt(
            question, sources, history, backends, sentences, generation.max_tokens, evidence
        )

    def _prompt(
        self,
        question: str,
        sources: list,
        history: list[Turn],
        backends: list[Backend],
        sentences: int,
        answer_tokens: int,
        evidence: Sequence = (),
    ) -> Prompt:
        return build_prompt(
            question,
            sources,
            count_tokens=self.token_counters.for_backend(backends[0] if backends else None),
            context_tokens=self.context_tokens,
            answer_tokens=answer_tokens,
            margin_tokens=self.settings.prompt_margin_tokens,
            history=history,
            compress=self.settings.compress_sources,
            sentences_per_source=sentences,
            evidence=evidence,
        )

    def _canned(self, text: str, timings: dict[str, float], t0: float) -> DoneEvent:
        timings["total_ms"] = timings["first_text_ms"] = _ms(t0, self._clock())
        logger.info("answered_without_model", reason=text[:40], **timings)
        return DoneEvent(answer=text, backend="none", citations=[], sources=[], timings=timings)


def _asks_model(backends: list[Backend]) -> bool:
    return bool(backends) and backends[0].name != SAFETY_NET


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000
