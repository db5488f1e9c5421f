"""FallbackChain: try backends in order, with deadlines that hold even when a backend blocks.

Each backend's ``stream`` runs in a worker thread that feeds a queue; the consumer waits on
the queue against three deadlines taken from ``GenerationOptions``:

- connect (``connect_timeout_s``): for backends with a ``connect(timeout=...)`` hook (a cheap
  reachability check such as ``GET /api/version``), measured until that hook returns;
- first token (``first_token_timeout_s``): from "connected" to the first non-empty text;
- stall (``stall_timeout_s``): between two pieces of text once the answer has started.

A backend that fails or misses a deadline *before* its first token hands over to the next
(``Switch`` with the reason). One that fails *after* it has streamed text stops the chain with
``Interrupted``: what was streamed stands, and the caller offers a retry. The last event is
always ``ChainResult`` (which backend answered, why the others were skipped, stats).

Closing the generator (the user pressed stop) cancels the worker: its ``CancelScope`` runs the
closers the backend registered (closing the HTTP response), which unblocks a pending read.

>>> from shared_utils.generation.base import Backend, Delta, GenerationOptions
>>> class Echo(Backend):
...     name = "echo"
...     def stream(self, messages, *, options):
...         yield Delta("hi")
...         yield Delta("", done=True, stats={"completion_tokens": 1})
>>> events = list(FallbackChain([Echo()]).stream([], options=GenerationOptions()))
>>> [type(e).__name__ for e in events]
['Attempt', 'Delta', 'Delta', 'ChainResult']
>>> events[-1].backend
'echo'
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import structlog

from shared_utils.errors import (
    BackendTimeout,
    BackendUnavailable,
    FirstTokenTimeout,
    OlympusError,
    StallTimeout,
)
from shared_utils.generation.base import Backend, Delta, GenerationOptions, Message

logger = structlog.get_logger(__name__)

Clock = Callable[[], float]


# --- events ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Attempt:
    """The chain starts asking this backend."""

    backend: str


@dataclass(frozen=True, slots=True)
class Switch:
    """``from_backend`` failed before its first token; the chain moves on to ``to_backend``."""

    from_backend: str
    to_backend: str
    reason: str


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The backend failed mid-answer. The text streamed so far is kept; offer a retry."""

    backend: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChainResult:
    """Last event: who answered (``""`` if nobody), why others were skipped, and stats."""

    backend: str
    skipped: dict[str, str] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False


ChainEvent = Delta | Attempt | Switch | Interrupted | ChainResult


# --- cancellation -----------------------------------------------------------------------------
class CancelScope:
    """Closers registered by a backend while it streams; ``cancel()`` runs them (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closers: list[Callable[[], object]] = []
        self.cancelled = threading.Event()

    def on_cancel(self, closer: Callable[[], object]) -> None:
        with self._lock:
            if not self.cancelled.is_set():
                self._closers.append(closer)
                return
        _run_closer(closer)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            closers, self._closers = self._closers, []
        for closer in reversed(closers):  # last opened, first closed (like ExitStack)
            _run_closer(closer)


def _run_closer(closer: Callable[[], object]) -> None:
    try:
        closer()
    except Exception as exc:  # noqa: BLE001 - a failing closer must not hide why we cancelled
        logger.debug("cancel closer failed", error=repr(exc))


_local = threading.local()


def current_cancel_scope() -> CancelScope | None:
    """The scope of the chain worker running on this thread (None outside a chain)."""
    return getattr(_local, "scope", None)


def register_closer(closer: Callable[[], object]) -> None:
    """Let the chain close this resource (e.g. an HTTP response) when the user stops."""
    scope = current_cancel_scope()
    if scope is not None:
        scope.on_cancel(closer)


def register_response(response: object) -> None:
    """httpx response hook: on cancel, shut the socket down so a blocked read returns at once.

    (Closing a response from another thread does not wake a thread blocked in ``recv``;
    ``shutdown`` does, and the server sees the disconnect and stops generating.)
    """
    if current_cancel_scope() is None:
        return
    extensions = getattr(response, "extensions", None) or {}
    stream = extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        register_closer(lambda: _shutdown(sock))


def _shutdown(sock) -> None:
    import socket

    if sock.fileno() != -1:  # not closed yet by the worker itself
        sock.shutdown(socket.SHUT_RDWR)


# --- the chain --------------------------------------------------------------------------------
_CONNECTED, _DELTA, _ERROR, _END = "connected", "delta", "error", "end"
# a server that answered a connect check this recently is not asked again (``connect``)
REACHED_RECENTLY_S = 30.0


def _without_deadlines(options: GenerationOptions) -> GenerationOptions:
    """The options without deadlines (a day each), for backends that cannot hang."""
    day = 86_400.0
    return replace(options, connect_timeout_s=day, first_token_timeout_s=day, stall_timeout_s=day)


class FallbackChain:
    """Ordered backends with deadlines. ``skipped`` names backends left out up front (why)."""

    def __init__(
        self,
        backends: Sequence[Backend],
        *,
        clock: Clock = time.monotonic,
        skipped: Mapping[str, str] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.backends = list(backends)
        self._clock = clock
        self._skipped = dict(skipped or {})
        self._poll_s = poll_s

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.backends]

    def stream(
        self, messages: Sequence[Message], *, options: GenerationOptions
    ) -> Generator[ChainEvent, None, None]:
        skipped = dict(self._skipped)
        start = self._clock()
        for i, backend in enumerate(self.backends):
            yield Attempt(backend.name)
            opts = options if backend.deadlines else _without_deadlines(options)
            worker = _Worker(backend, messages, opts)
            attempt_start = self._clock()
            stats: dict[str, float] = {}
            started = False
            try:
                for item in self._drain(worker, opts, attempt_start, stats):
                    if not started and item.text:
                        started = True
                        now = self._clock()
                        stats["first_token_ms"] = (now - start) * 1000
                        stats["backend_first_token_ms"] = (now - attempt_start) * 1000
                    if item.done:
                        stats.update(item.stats)
                    yield item
            except Exception as exc:  # noqa: BLE001 - reported as Switch/Interrupted
                reason = _describe(exc)
                worker.cancel()
                if started:
                    logger.warning("backend failed mid-answer", backend=backend.name, reason=reason)
                    stats["total_ms"] = (self._clock() - start) * 1000
                    yield Interrupted(backend.name, reason)
                    yield ChainResult(backend.name, skipped, stats, interrupted=True)
                    return
                logger.warning(
                    "backend failed before its first token", backend=backend.name, reason=reason
                )
                skipped[backend.name] = reason
                if i + 1 < len(self.backends):
                    yield Switch(backend.name, self.backends[i + 1].name, reason)
                continue
            finally:
                worker.cancel()  # also runs when the consumer closes us (GeneratorExit)
            stats["total_ms"] = (self._clock() - start) * 1000
            _add_rates(stats)
            yield ChainResult(backend.name, skipped, stats)
            return
        details = "; ".join(f"{name}: {why}" for name, why in skipped.items()) or "none configured"
        raise BackendUnavailable(f"No generation backend could answer ({details}).")

    def _drain(
        self, worker: _Worker, options: GenerationOptions, attempt_start: float, stats: dict
    ) -> Iterator[Delta]:
        """Yield the worker's deltas, raising a ``BackendTimeout`` (its hint says which setting
        to raise) when a deadline passes, or the worker's error."""
        worker.start()
        first_token: tuple[type[BackendTimeout], str] = (
            FirstTokenTimeout,
            f"no first token within {options.first_token_timeout_s:g} s",
        )
        connected = not worker.has_connect
        if connected:
            deadline = attempt_start + options.first_token_timeout_s
            missed = first_token
        else:
            deadline = attempt_start + options.connect_timeout_s
            missed = (BackendTimeout, f"could not connect within {options.connect_timeout_s:g} s")
        started = False
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                error, phase = missed
                raise error(phase)
            try:
                kind, payload = worker.queue.get(timeout=min(remaining, self._poll_s))
            except queue.Empty:
                continue
            if kind == _CONNECTED:
                stats["connect_ms"] = (self._clock() - attempt_start) * 1000
                deadline = self._clock() + options.first_token_timeout_s
                missed = first_token
            elif kind == _ERROR:
                raise payload
            elif kind == _END:
                if not started:
                    raise BackendUnavailable("the backend ended without an answer")
                return
            else:
                delta: Delta = payload
                if delta.text:
                    started = True
                elif delta.done and not started:
                    raise BackendUnavailable("the backend ended without an answer")
                if started:
                    deadline = self._clock() + options.stall_timeout_s
                    missed = (
                        StallTimeout,
                        f"no token for {options.stall_timeout_s:g} s (stalled mid-answer)",
                    )
                yield delta
                if delta.done:
                    return


class _Worker:
    """Runs one backend's stream in a daemon thread, feeding ``queue``."""

    def __init__(self, backend: Backend, messages: Sequence[Message], options: GenerationOptions):
        self.backend = backend
        self.messages = list(messages)
        self.options = options
        self.queue: queue.Queue = queue.Queue()
        self.scope = CancelScope()
        self.has_connect = callable(getattr(backend, "connect", None))
        self._thread = threading.Thread(
            target=self._run, name=f"olympus-gen-{backend.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.scope.cancel()

    def _run(self) -> None:
        _local.scope = self.scope
        gen = None
        try:
            if self.has_connect:
                self.backend.connect(  # type: ignore[attr-defined]
                    timeout=self.options.connect_timeout_s, recent_s=REACHED_RECENTLY_S
                )
                self.queue.put((_CONNECTED, None))
            gen = self.backend.stream(self.messages, options=self.options)
            for delta in gen:
                if self.scope.cancelled.is_set():
                    break
                self.queue.put((_DELTA, delta))
            self.queue.put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer (switch/interrupt)
            if not self.scope.cancelled.is_set():
                self.queue.put((_ERROR, exc))
        finally:
            if gen is not None and hasattr(gen, "close"):
                try:
                    gen.close()  # closes the HTTP response held by the backend's generator
                except Exception as exc:  # noqa: BLE001 - closing after the answer/error
                    logger.debug("closing backend stream failed", error=repr(exc))
            _local.scope = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BackendTimeout):  # a missed deadline: say which setting to raise
        return str(exc)
    if isinstance(exc, OlympusError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _add_rates(stats: dict[str, float]) -> None:
    tokens, ms = stats.get("completion_tokens"), stats.get("generation_ms")
    if tokens and ms:
        stats["tokens_per_s"] = tokens / (ms / 1000)
