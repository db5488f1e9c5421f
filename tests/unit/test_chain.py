"""FallbackChain: hand-over paths, deadlines (with an injected clock, no sleeping), stop.

Backends here are small in-process scripts; the same paths run against the Ollama double
and the real llama.cpp server in tests/integration.
"""

from __future__ import annotations

import threading
import time

import pytest

from shared_utils.errors import BackendNotConfigured, BackendUnavailable, UnknownBackend
from shared_utils.generation.base import (
    Backend,
    Delta,
    GenerationOptions,
    Message,
    StreamingBackend,
)
from shared_utils.generation.chain import (
    Attempt,
    ChainResult,
    FallbackChain,
    Interrupted,
    Switch,
    register_closer,
)

MESSAGES = [Message("user", "What is stap?")]
OPTIONS = GenerationOptions(connect_timeout_s=3, first_token_timeout_s=30, stall_timeout_s=15)


class FakeClock:
    """Advances ``step`` seconds every time it is read: deadlines expire without sleeping."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Scripted(Backend):
    """Yields ``tokens``; may fail or block (forever, until released) at a given point."""

    def __init__(
        self,
        name,
        tokens=("Stap ", "runs ", "scripts."),
        *,
        fail_at=None,
        block_at=None,
        error=None,
        connect_blocks=False,
    ):
        self.name = self.label = name
        self.tokens = tokens
        self.fail_at, self.block_at = fail_at, block_at
        self.error = error or BackendUnavailable(f"{name} is down")
        self.release = threading.Event()
        self.closed = threading.Event()
        self.finished = threading.Event()
        if connect_blocks:
            self.connect = lambda **_: self.release.wait()

    def stream(self, messages, *, options):
        register_closer(self.closed.set)
        try:
            for i, tok in enumerate(self.tokens):
                if i == self.fail_at:
                    raise self.error
                if i == self.block_at:
                    self.release.wait()
                yield Delta(tok)
            yield Delta("", done=True, stats={"completion_tokens": 3, "generation_ms": 30})
        finally:
            self.finished.set()


def run(chain, options=OPTIONS):
    events = list(chain.stream(MESSAGES, options=options))
    text = "".join(e.text for e in events if isinstance(e, Delta))
    return events, text


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, Delta)]


def test_first_backend_answers_and_result_says_so():
    events, text = run(FallbackChain([Scripted("a"), Scripted("b")]))
    assert text == "Stap runs scripts."
    assert kinds(events) == ["Attempt", "ChainResult"]
    result = events[-1]
    assert result.backend == "a" and not result.interrupted and result.skipped == {}
    assert result.stats["completion_tokens"] == 3 and result.stats["tokens_per_s"] == 100
    assert "first_token_ms" in result.stats and "total_ms" in result.stats


def test_failure_before_first_token_hands_over_with_reason():
    events, text = run(FallbackChain([Scripted("a", fail_at=0), Scripted("b")]))
    assert text == "Stap runs scripts."
    assert kinds(events) == ["Attempt", "Switch", "Attempt", "ChainResult"]
    switch = next(e for e in events if isinstance(e, Switch))
    assert (switch.from_backend, switch.to_backend) == ("a", "b")
    assert "a is down" in switch.reason
    assert events[-1].backend == "b" and "a is down" in events[-1].skipped["a"]


def test_unexpected_exception_before_first_token_also_hands_over():
    broken = Scripted("a", fail_at=0, error=RuntimeError("boom"))
    events, _ = run(FallbackChain([broken, Scripted("b")]))
    assert events[-1].backend == "b"
    assert events[-1].skipped["a"] == "RuntimeError: boom"


def test_first_token_deadline_enforced_while_backend_blocks_without_sleeping():
    slow = Scripted("slow", block_at=0)
    chain = FallbackChain([slow, Scripted("b")], clock=FakeClock(step=5.0), poll_s=0.001)
    t0 = time.monotonic()
    events, text = run(chain)
    assert time.monotonic() - t0 < 20, "the 30 s deadline must come from the injected clock"
    switch = next(e for e in events if isinstance(e, Switch))
    assert switch.reason == (
        "no first token within 30 s (Raise OLYMPUS_FIRST_TOKEN_TIMEOUT_S or use a smaller model.)"
    )
    assert text == "Stap runs scripts." and events[-1].backend == "b"
    assert slow.closed.is_set(), "the blocked worker was cancelled"
    slow.release.set()


def test_connect_deadline_enforced():
    hung = Scripted("hung", connect_blocks=True)
    chain = FallbackChain([hung, Scripted("b")], clock=FakeClock(step=1.0), poll_s=0.001)
    events, _ = run(chain)
    assert next(e for e in events if isinstance(e, Switch)).reason.startswith(
        "could not connect within 3 s ("
    )
    hung.release.set()


def test_stall_mid_answer_keeps_text_and_stops_the_chain():
    stalls = Scripted("a", block_at=2)
    fallback = Scripted("b")
    chain = FallbackChain([stalls, fallback], clock=FakeClock(step=1.0), poll_s=0.001)
    events, text = run(chain)
    assert text == "Stap runs "  # what was streamed stands
    assert kinds(events) == ["Attempt", "Interrupted", "ChainResult"]
    interrupted = next(e for e in events if isinstance(e, Interrupted))
    assert interrupted.backend == "a" and "stalled" in interrupted.reason
    assert events[-1].interrupted and events[-1].backend == "a"
    assert not fallback.finished.is_set(), "no switch after the answer has started"
    stalls.release.set()


def test_error_mid_answer_is_interrupted_not_switched():
    events, text = run(FallbackChain([Scripted("a", fail_at=1), Scripted("b")]))
    assert text == "Stap "
    assert kinds(events) == ["Attempt", "Interrupted", "ChainResult"]
    assert "a is down" in events[-2].reason


def test_backend_that_ends_without_text_hands_over():
    events, _ = run(FallbackChain([Scripted("empty", tokens=()), Scripted("b")]))
    assert events[-1].backend == "b"
    assert "without an answer" in events[-1].skipped["empty"]


def test_all_backends_failing_raises_with_every_reason():
    chain = FallbackChain(
        [Scripted("a", fail_at=0), Scripted("b", fail_at=0)],
        skipped={"hf_inference": "not configured: HF_TOKEN"},
    )
    with pytest.raises(BackendUnavailable) as info:
        run(chain)
    assert "a is down" in str(info.value) and "b is down" in str(info.value)
    assert "HF_TOKEN" in str(info.value)


def test_skipped_up_front_are_reported_in_the_result():
    chain = FallbackChain([Scripted("b")], skipped={"hf_inference": "not configured"})
    events, _ = run(chain)
    assert events[-1].skipped == {"hf_inference": "not configured"}


def test_closing_the_stream_cancels_the_worker():
    slow = Scripted("a", block_at=1)
    gen = FallbackChain([slow]).stream(MESSAGES, options=OPTIONS)
    assert isinstance(next(gen), Attempt)
    assert next(gen).text == "Stap "
    gen.close()  # the user pressed stop while the backend is blocked
    assert slow.closed.wait(1), "closers registered by the backend ran"
    slow.release.set()
    assert slow.finished.wait(2), "the worker ended"


def test_events_are_typed_and_in_order():
    events, _ = run(FallbackChain([Scripted("a", fail_at=0), Scripted("b")]))
    assert isinstance(events[0], Attempt) and isinstance(events[-1], ChainResult)


# --- registry ---------------------------------------------------------------------------------
def test_unknown_backend_lists_valid_names(settings):
    from shared_utils.generation.registry import get_backend

    with pytest.raises(UnknownBackend) as info:
        get_backend("gpt", settings)
    for name in ("ollama", "llamacpp", "hf_inference", "extractive"):
        assert name in str(info.value)


def test_unconfigured_backends_are_reported_as_skipped(settings):
    from shared_utils.generation.registry import get_backend

    with pytest.raises(BackendNotConfigured) as info:
        get_backend("hf_inference", settings)
    assert "HF_TOKEN" in str(info.value)
    with pytest.raises(BackendNotConfigured) as info:
        get_backend("ollama", settings)  # no model chosen: the hint says how to choose one
    assert "models use" in info.value.hint


def test_registry_builds_each_backend(data_dir):
    from shared_utils.generation.registry import get_backend
    from src.settings import load_settings

    s = load_settings(data_dir=data_dir, hf_token="hf_x", llamacpp_port=9999)
    assert get_backend("ollama", s, model="qwen2.5:1.5b").model == "qwen2.5:1.5b"
    llama = get_backend("llamacpp", s)
    assert llama.base_url == "http://127.0.0.1:9999/v1" and llama.label == "llama.cpp (local)"
    assert get_backend("hf_inference", s).name == "hf_inference"


def test_the_in_process_safety_net_answers_whatever_the_deadlines():
    """Under a fast clock every deadline expires at once; a no-deadline backend still answers."""
    safety_net = Scripted("extractive", block_at=0)  # takes 0.2 s = minutes of fake time
    safety_net.deadlines = False
    threading.Timer(0.2, safety_net.release.set).start()
    chain = FallbackChain(
        [Scripted("slow", block_at=0), safety_net], clock=FakeClock(step=5.0), poll_s=0.001
    )
    events, text = run(chain)
    assert text == "Stap runs scripts." and events[-1].backend == "extractive"


class Pinged(StreamingBackend):
    """A server whose reachability check is counted, and can be made to fail."""

    name = label = "pinged"

    def __init__(self, base_url: str) -> None:
        self.base_url, self.pings, self.down = base_url, 0, False

    def _ping(self, timeout):
        self.pings += 1
        if self.down:
            raise ConnectionError("refused")
        return "up"

    def _map_error(self, exc, *, started):
        return BackendUnavailable(f"{self.name}: {exc}")

    def _open(self, options):
        return None

    def _deltas(self, client, messages, options):
        yield Delta("", done=True)

    def _close(self, client):
        pass


def test_a_server_that_answered_recently_is_not_asked_again_before_a_question():
    # an engine busy with other answers can be slow to answer even the cheap check; a question
    # must not fall back for that while the engine answered moments ago
    engine = Pinged("http://127.0.0.1:1/recent")
    engine.connect(timeout=3, recent_s=30)
    engine.connect(timeout=3, recent_s=30)
    assert engine.pings == 1
    assert engine.connect(timeout=3) == "up" and engine.pings == 2  # health always asks
    engine.down = True
    with pytest.raises(BackendUnavailable):
        engine.connect(timeout=3)
    with pytest.raises(BackendUnavailable):  # once it failed, the next question asks again
        engine.connect(timeout=3, recent_s=30)
    assert engine.pings == 4
