"""The fallback chain's events (``shared_utils/generation/chain.py``) as an answer's events.

A model's text streams as it writes (``TokenEvent``), after a status naming what is asked.
A small model's answer started with the evidence, already shown (``StreamState.evidence``):
its own text is kept back for the check at the end (``src/answer/done.py``), and the status
says what is being asked and how far it got. ``src/answer/answerer.py`` runs the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from src.answer.done import fallback_after_evidence, fallback_line
from src.events import AskEvent, BackendSwitchEvent, StatusEvent, TokenEvent
from src.models.backends import SAFETY_NET

if TYPE_CHECKING:
    from src.answer.prompt import Prompt
    from src.answer.steps import StreamState

# while a small model's hidden text is written, a status this often (in streamed pieces, about
# a token each): the reader sees progress, and a stream with no text for seconds stays alive
PROGRESS_EVERY = 16


def on_chain_event(
    event: Any,
    run: StreamState,
    labels: dict[str, str],
    prompt: Prompt,
    timings: dict[str, float],
    elapsed_ms: Callable[[], float],
    writers: dict[str, str] | None = None,
) -> Iterator[AskEvent]:
    """The answer's events for one chain ``event``; ``run`` and ``timings`` record it
    (``first_token_ms``: the engine's first token; ``first_text_ms``: the first text shown).
    ``writers``: each backend's model as the answer names it."""
    from shared_utils.generation.chain import Attempt, Interrupted, Switch

    writers = writers or {}

    if isinstance(event, Attempt):
        run.backend = event.backend
        run.restart()
        if run.evidence and event.backend != SAFETY_NET and writers.get(event.backend):
            run.small_model = writers[event.backend]  # a next backend's model adds, if any
        yield from _asking(event.backend, run, labels, prompt)
    elif isinstance(event, Switch):
        yield BackendSwitchEvent(event.from_backend, event.to_backend, event.reason)
        who = labels.get(event.from_backend, event.from_backend)
        if event.to_backend == SAFETY_NET and run.evidence:  # shown: the answer says why
            note = fallback_after_evidence(who, event.reason)
            run.evidence += note  # nothing else comes: the extract would repeat it
            yield TokenEvent(note)
        elif event.to_backend == SAFETY_NET and not run.parts:  # the answer says why
            note = fallback_line(who, event.reason)
            run.parts.append(note)
            timings.setdefault("first_text_ms", elapsed_ms())
            yield TokenEvent(note)
    elif isinstance(event, Interrupted):
        who = labels.get(event.backend, event.backend)
        run.error = f"{who} failed mid-answer: {event.reason}"
        kept = "the source sentences are kept" if run.evidence else "the text so far is kept"
        yield StatusEvent(f"{run.error}; {kept} - ask again to retry.")
    elif event.text:
        yield from _text(event.text, run, timings, elapsed_ms)


def _asking(
    backend: str, run: StreamState, labels: dict[str, str], prompt: Prompt
) -> Iterator[AskEvent]:
    label = labels.get(backend, backend)
    if not run.evidence and backend == SAFETY_NET:  # no model, no prompt: sentences are picked
        yield StatusEvent("picking the source sentences that answer it...")
    elif not run.evidence:
        yield StatusEvent(
            f"waiting for first token from {label} (prompt: {prompt.prompt_tokens} tokens)"
        )
    elif backend != SAFETY_NET:  # the evidence is shown: the model may add to it
        via = f" on {label}" if label != run.small_model else ""
        yield StatusEvent(
            f"checking what {run.small_model}{via} adds to these sentences"
            f" (prompt: {prompt.prompt_tokens} tokens)..."
        )


def _text(
    text: str, run: StreamState, timings: dict[str, float], elapsed_ms: Callable[[], float]
) -> Iterator[AskEvent]:
    if not run.parts and not (run.evidence and run.backend == SAFETY_NET):
        timings["first_token_ms"] = elapsed_ms()  # the engine's first token
    run.parts.append(text)
    run.guard.feed(text)
    if run.evidence:  # a small model's text shows only where it adds (at the end)
        if len(run.parts) % PROGRESS_EVERY == 0 and run.backend != SAFETY_NET:
            yield StatusEvent(
                f"checking what {run.small_model} adds: about {len(run.parts)} tokens written..."
            )
        return
    if "first_text_ms" not in timings:
        timings["first_text_ms"] = timings.get("first_token_ms") or elapsed_ms()
    yield TokenEvent(text)
