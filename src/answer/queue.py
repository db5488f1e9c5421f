"""The line in front of the engine: a slot per answer being written, a bounded fair queue.

The engine writes ``slots`` answers at once (``Profile.parallel_answers``, the same number
the engine is started with). A question that finds every slot busy waits in line, and the
line is fair across owners (a chat session, an API key): each owner's first waiting question
comes before anyone's second, and among owners, the one served longest ago goes first, so
one person's five questions do not starve another's one. When ``max_waiting`` questions
already wait, a new one is refused at once (``AnswerQueueFull``, HTTP 429 on the API) with a
``Retry-After`` estimate.

A waiting question learns its place and an estimate ("2nd in line, about 20 s"): the
estimate is the number of answers ahead, divided over the slots, times the recent length of
an answer (a moving average of the time slots were held).

Questions granted slots at the same moment start the engine together (``start``): llama.cpp
reads the prompts that are waiting when a batch begins in that one batch, and a prompt that
arrives while a batch is being read waits for the whole batch. Four questions asked at once
finish their own preparation (evidence, prompt) a few hundred ms apart on 2 busy cores, so
without the gate the first prompt's reading (1-2 s) delayed the other three, whose prompts
were then read after it: the fourth first token came after two readings instead of one
batched reading (``benchmarks.concurrency``).

>>> q = AnswerQueue(slots=1, max_waiting=2, clock=lambda: 0.0)
>>> a, b, c = q.enter("ann"), q.enter("ann"), q.enter("bob")
>>> a.granted, [t.owner for t in q.waiting()]
(True, ['bob', 'ann'])
>>> q.place(b).message
'2nd in line, about 40 s'
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from shared_utils.errors import AnswerQueueFull
from src.events import AskEvent, QueueEvent

if TYPE_CHECKING:
    from src.models.profile import Profile
    from src.settings import Settings

logger = structlog.get_logger(__name__)

ENGINE_BACKENDS = frozenset({"llamacpp", "ollama"})  # the backends that take an engine slot
TYPICAL_ANSWER_S = 20.0  # the estimate before any answer was timed
# longest a prepared question waits for the questions granted a slot with it to be prepared
# too: alone, preparing takes 0.15-0.25 s; four at once on 2 cores 0.3-1.0 s
START_TOGETHER_S = 1.5
SMOOTHING = 0.3  # weight of the newest answer in the moving average


def ordinal(n: int) -> str:
    """``n`` as an ordinal.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 21, 22, 113)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '21st', '22nd', '113th']
    """
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a waiting question stands: ``position`` 1 is next; ``eta_s`` until its slot."""

    position: int
    eta_s: float
    slots: int

    @property
    def message(self) -> str:
        return f"{ordinal(self.position)} in line, about {_round_eta(self.eta_s)} s"


def _round_eta(seconds: float) -> int:
    step = 5 if seconds < 60 else 10
    return max(step, int(math.ceil(seconds / step) * step))


class Ticket:
    """One question's place; ``release()`` (idempotent) gives its slot or place back."""

    def __init__(self, queue: AnswerQueue, owner: str, seq: int) -> None:
        self.queue = queue
        self.owner = owner
        self.seq = seq
        self.granted = False
        self.released = False
        self.entered_at = queue.clock()
        self.granted_at: float | None = None

    @property
    def waited_s(self) -> float:
        end = self.granted_at if self.granted_at is not None else self.queue.clock()
        return max(0.0, end - self.entered_at)

    def wait(self, *, poll_s: float = 1.0) -> Iterator[Place]:
        """Block until this ticket has a slot, yielding its place whenever it changes (and
        every ``poll_s`` while it waits, so a caller can notice a stop)."""
        return self.queue.wait(self, poll_s=poll_s)

    def release(self) -> None:
        self.queue.release(self)


class AnswerQueue:
    """``enter(owner)`` a ticket (a slot at once, or a place in line, or AnswerQueueFull)."""

    def __init__(
        self, slots: int, max_waiting: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.slots = max(1, int(slots))
        self.max_waiting = max(0, int(max_waiting))
        self.clock = clock
        self.answer_s = TYPICAL_ANSWER_S
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._served = itertools.count()
        self._last_served: dict[str, int] = {}
        self._busy: set[Ticket] = set()
        self._waiting: list[Ticket] = []
        self._preparing: set[Ticket] = set()  # holding a slot, prompt not yet sent

    # --- state -------------------------------------------------------------------------------
    def waiting(self) -> list[Ticket]:
        """The waiting tickets in the order they will get a slot."""
        with self._cond:
            return self._order()

    @property
    def busy(self) -> int:
        with self._cond:
            return len(self._busy)

    def place(self, ticket: Ticket) -> Place | None:
        """Where ``ticket`` stands (None once it has a slot or left)."""
        with self._cond:
            order = self._order()
            if ticket not in order:
                return None
            position = order.index(ticket) + 1
            return Place(position, self._eta(position), self.slots)

    def _eta(self, position: int) -> float:
        return math.ceil(position / self.slots) * self.answer_s

    def _order(self) -> list[Ticket]:
        rank: dict[str, int] = {}
        keyed = []
        for t in sorted(self._waiting, key=lambda t: t.seq):
            r = rank[t.owner] = rank.get(t.owner, -1) + 1
            keyed.append(((r, self._last_served.get(t.owner, -1), t.seq), t))
        return [t for _, t in sorted(keyed, key=lambda kt: kt[0])]

    # --- moves -------------------------------------------------------------------------------
    def enter(self, owner: str) -> Ticket:
        """A ticket for ``owner``: a slot when one is free, else a place in line; raises
        ``AnswerQueueFull`` (with a Retry-After estimate) when the line is full."""
        with self._cond:
            ticket = Ticket(self, owner or "anonymous", next(self._seq))
            if len(self._busy) < self.slots and not self._waiting:
                self._grant(ticket)
                return ticket
            if len(self._waiting) >= self.max_waiting:
                retry = self._eta(len(self._waiting) + 1)
                logger.info("answer_queue.full", waiting=len(self._waiting), slots=self.slots)
                raise AnswerQueueFull(
                    f"Too many questions at once: {len(self._busy)} answers are being written "
                    f"and {len(self._waiting)} questions wait for them.",
                    hint=f"Ask again in about {_round_eta(retry)} s.",
                    retry_after_s=retry,
                )
            self._waiting.append(ticket)
            return ticket

    def wait(self, ticket: Ticket, *, poll_s: float = 1.0) -> Iterator[Place]:
        last: Place | None = None
        while True:
            with self._cond:
                if ticket.granted or ticket.released:
                    return
                place = self.place(ticket)
                if place is None:
                    return
                if place != last:
                    last = place
                else:
                    self._cond.wait(poll_s)
                    continue
            yield place

    def release(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            if ticket in self._busy:
                self._busy.discard(ticket)
                granted_at = ticket.granted_at if ticket.granted_at is not None else self.clock()
                held = self.clock() - granted_at
                self.answer_s = (1 - SMOOTHING) * self.answer_s + SMOOTHING * max(held, 1.0)
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            self._preparing.discard(ticket)
            self._fill()
            self._cond.notify_all()

    def _fill(self) -> None:
        while len(self._busy) < self.slots and self._waiting:
            self._grant(self._order()[0])

    def _grant(self, ticket: Ticket) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        ticket.granted = True
        ticket.granted_at = self.clock()
        self._busy.add(ticket)
        self._preparing.add(ticket)
        self._last_served[ticket.owner] = next(self._served)

    def start(self, ticket: Ticket, *, max_wait_s: float = START_TOGETHER_S) -> float:
        """``ticket``'s prompt is ready: wait (at most ``max_wait_s``) until the questions that
        hold a slot and are still preparing their prompts are ready too, so the engine reads
        all of them in one batch. Questions granted later do not extend the wait. Returns the
        seconds waited."""
        with self._cond:
            self._preparing.discard(ticket)
            self._cond.notify_all()
            others = set(self._preparing)
            if not others:
                return 0.0
            start = time.monotonic()
            deadline = start + max_wait_s
            while others & self._preparing and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            waited = time.monotonic() - start
        logger.debug("answer_queue.started_together", waited_ms=round(waited * 1000))
        return waited


def queue_for(settings: Settings, profile: Profile | None) -> AnswerQueue:
    """The line in front of the engine, as wide as the engine's slots (the profile's number,
    the one the engine is started with; without a profile, the settings' or one slot)."""
    from src.models.profile import QUEUE_PER_SLOT

    slots = profile.parallel_answers if profile is not None else settings.parallel_answers or 1
    waiting = (
        profile.answer_queue
        if profile is not None
        else settings.answer_queue
        if settings.answer_queue is not None
        else QUEUE_PER_SLOT * slots
    )
    return AnswerQueue(slots, waiting)


# --- an answer's side ---------------------------------------------------------------------------
def wait_turn(
    ticket: Ticket, timings: dict[str, float], *, poll_s: float = 2.0
) -> Iterator[AskEvent]:
    """Wait for ``ticket``'s slot, telling the place every ``poll_s`` (a stopped answer can
    be closed between two); the wait goes into ``timings["queue_ms"]``."""
    for place in ticket.wait(poll_s=poll_s):
        yield QueueEvent(place.position, place.eta_s, place.message)
    timings["queue_ms"] = ticket.waited_s * 1000


def start_together(ticket: Ticket | None, timings: dict[str, float]) -> None:
    """Before the engine is asked: wait for the questions granted slots with this one
    (``AnswerQueue.start``); the wait goes into ``timings["start_wait_ms"]``."""
    if ticket is None or not ticket.granted or ticket.released:
        return  # not in the engine's line (the extract answers, or another backend)
    timings["start_wait_ms"] = ticket.queue.start(ticket) * 1000


class QueuedEvents:
    """An answer's events holding a ticket: the ticket goes back when the events end, fail
    or are closed (also when the consumer closes them before the first event)."""

    def __init__(self, events: Iterator[AskEvent], ticket: Ticket | None) -> None:
        self._events = events
        self.ticket = ticket

    def __iter__(self) -> QueuedEvents:
        return self

    def __next__(self) -> AskEvent:
        try:
            return next(self._events)
        except BaseException:
            self._release()
            raise

    def close(self) -> None:
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self._release()

    def _release(self) -> None:
        if self.ticket is not None:
            self.ticket.release()

    def __del__(self) -> None:  # an answer dropped unread still frees its slot
        self._release()
