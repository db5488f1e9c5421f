"""The line in front of the engine: slots, a fair order across askers, a bounded length, the
place and estimate each waiting question is told (a fake clock; no threads needed)."""

from __future__ import annotations

import threading
import time

import pytest

from shared_utils.errors import AnswerQueueFull
from src.answer.queue import AnswerQueue, QueuedEvents, wait_turn
from src.events import QueueEvent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_askers_five_questions_do_not_starve_anothers_one():
    q = AnswerQueue(slots=1, max_waiting=10, clock=Clock())
    first = q.enter("ann")
    ann = [q.enter("ann") for _ in range(4)]
    bob = q.enter("bob")
    assert first.granted and not bob.granted
    assert q.waiting()[0] is bob  # bob's only question is next, before ann's second
    served = []
    holder = first
    for _ in range(5):
        holder.release()
        holder = next(t for t in [*ann, bob] if t.granted and not t.released)
        served.append(holder.owner)
    assert served == ["bob", "ann", "ann", "ann", "ann"]


def test_owners_take_turns_in_round_robin():
    q = AnswerQueue(slots=1, max_waiting=10, clock=Clock())
    holder = q.enter("x")
    for owner in ("a", "a", "b", "b", "c"):
        q.enter(owner)
    assert [t.owner for t in q.waiting()] == ["a", "b", "c", "a", "b"]
    holder.release()  # a's first gets the slot; a was served last, so b's second beats a's
    assert [t.owner for t in q.waiting()] == ["b", "c", "a", "b"]


def test_a_full_line_refuses_at_once_with_an_estimate():
    clock = Clock()
    q = AnswerQueue(slots=2, max_waiting=2, clock=clock)
    held = [q.enter(f"u{i}") for i in range(4)]
    assert [t.granted for t in held] == [True, True, False, False]
    with pytest.raises(AnswerQueueFull) as refused:
        q.enter("late")
    assert refused.value.retry_after_s > 0
    assert "2 questions wait" in refused.value.message and "Ask again" in refused.value.hint
    held[2].release()  # a waiting question gives up: room for one more
    assert not q.enter("late").granted


def test_waiting_questions_are_told_their_place_and_an_estimate_from_recent_answers():
    clock = Clock()
    q = AnswerQueue(slots=1, max_waiting=5, clock=clock)
    first = q.enter("a")
    clock.now = 30.0
    first.release()  # that answer held its slot 30 s: the estimate moves toward it
    assert 20.0 < q.answer_s < 30.0
    holder, second, third = q.enter("a"), q.enter("b"), q.enter("c")
    assert q.place(second).position == 1 and q.place(third).position == 2
    assert q.place(third).eta_s == pytest.approx(2 * q.answer_s)
    assert q.place(third).message.startswith("2nd in line, about ")
    assert q.place(holder) is None  # it has its slot


def test_wait_turn_tells_the_place_until_the_slot_comes_and_times_the_wait():
    clock = Clock()
    q = AnswerQueue(slots=1, max_waiting=5, clock=clock)
    holder = q.enter("a")
    ticket = q.enter("b")
    timings: dict[str, float] = {}
    events = wait_turn(ticket, timings, poll_s=0.01)
    told = next(events)
    assert isinstance(told, QueueEvent) and told.position == 1 and "1st in line" in told.message
    clock.now = 12.0
    threading.Timer(0.05, holder.release).start()
    rest = list(events)  # returns once the slot is ours
    assert all(isinstance(e, QueueEvent) for e in rest)
    assert ticket.granted and timings["queue_ms"] == pytest.approx(12_000)


def test_closing_an_answer_unread_gives_its_slot_to_the_next():
    q = AnswerQueue(slots=1, max_waiting=5, clock=Clock())

    def answer():
        yield QueueEvent(1, 1.0, "")

    first = q.enter("a")
    waiting = q.enter("b")
    QueuedEvents(answer(), first).close()  # closed before its first event
    assert waiting.granted and q.busy == 1
    events = QueuedEvents(answer(), waiting)
    assert len(list(events)) == 1 and q.busy == 0  # exhausted: released


def test_questions_granted_together_start_the_engine_together():
    # the engine reads the prompts waiting when a batch begins in that batch: a question whose
    # prompt is ready waits for the others granted with it, so none waits a whole batch
    q = AnswerQueue(slots=4, max_waiting=4)
    a, b, c = q.enter("ann"), q.enter("bob"), q.enter("cy")
    started: dict[str, float] = {}
    ready: dict[str, float] = {}

    def prepare(ticket, name: str, prep_s: float) -> None:
        threading.Event().wait(prep_s)  # building the prompt
        ready[name] = time.monotonic()
        q.start(ticket, max_wait_s=60.0)
        started[name] = time.monotonic()

    threads = [
        threading.Thread(target=prepare, args=(t, n, s))
        for t, n, s in ((a, "ann", 0.0), (b, "bob", 0.3), (c, "cy", 0.6))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # all three go once the last is ready: none starts while another still prepares
    assert min(started.values()) >= max(ready.values())
    # a question granted after the others started does not wait for anyone
    d = q.enter("dee")
    assert q.start(d) == 0.0


def test_a_question_that_leaves_or_is_slow_does_not_hold_the_others_for_long():
    q = AnswerQueue(slots=3, max_waiting=3)
    a, b, c = q.enter("ann"), q.enter("bob"), q.enter("cy")
    threading.Timer(0.2, b.release).start()  # bob's answer is closed while preparing
    waited = q.start(a, max_wait_s=0.6)  # cy never gets ready: the wait ends at its limit
    assert waited >= 0.6 and not c.released  # ann went at her limit, cy still preparing
    c.release()
    assert q.start(q.enter("dee"), max_wait_s=5.0) == 0.0  # nobody else prepares now
