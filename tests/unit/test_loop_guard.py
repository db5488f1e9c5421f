"""The loop guard stops an answer that repeats itself, and keeps one copy of what repeated."""

from __future__ import annotations

from src.answer.loop_guard import LoopGuard, repeated_run_count, repeats_itself


def _stream(guard: LoopGuard, text: str, size: int = 3) -> int | None:
    """Feed ``text`` in pieces of ``size`` characters; the offset where the guard fired."""
    for i in range(0, len(text), size):
        if guard.feed(text[i : i + size]):
            return i
    return None


def test_a_looping_sentence_is_stopped_at_its_third_copy_and_one_copy_is_kept():
    sentence = "The answer is: the globasciiranges shell option sets the default value. "
    text = sentence * 10
    guard = LoopGuard()
    stopped = _stream(guard, text)
    assert stopped is not None and stopped < len(sentence) * 3 + 5
    assert guard.kept_text() == sentence.strip()
    assert not repeats_itself(guard.kept_text())


def test_short_period_loops_such_as_bare_markers_are_caught():
    guard = LoopGuard()
    assert _stream(guard, "[1] " * 50) is not None
    assert guard.kept_text() == "[1]"


def test_a_loop_without_spaces_is_caught_too():
    guard = LoopGuard()
    assert _stream(guard, "The answer is 12." + "12." * 60) is not None
    assert guard.kept_text().startswith("The answer is 12.12.") and len(guard.kept_text()) < 30
    assert repeats_itself("The answer is " + "12." * 40)


def test_a_long_answer_that_does_not_repeat_is_left_alone():
    text = " ".join(f"step {i} runs command number {i * 7} on host {i % 5}." for i in range(60))
    guard = LoopGuard()
    assert _stream(guard, text + " ") is None
    assert guard.kept_text() == text


def test_benchmark_measure_counts_the_most_frequent_eight_word_run():
    run = "set the history size to five hundred lines now "
    assert repeated_run_count(run * 3) == 3 and not repeats_itself(run * 3)
    assert repeats_itself(run * 4)
    assert repeated_run_count("too short") == 0
