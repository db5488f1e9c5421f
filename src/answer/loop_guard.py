"""Loop guard: notice that a streamed answer repeats itself, so it can be stopped.

Small models at low temperature fall into loops ("The answer is: ... The answer is: ...")
until the token cap. The guard watches the words of the stream: as soon as one run of
``run_words`` consecutive words has occurred ``max_repeats`` times, the answer is looping.
A loop with a period shorter than the run (``"[1] [1] [1] ..."``) is caught the same way,
since every window of it is the same run.

``repeated_run_count`` is the measure the benchmark uses (an answer "repeats itself" when some
8-word run occurs four times or more); the guard stops earlier, at the third occurrence, so an
answer that was cut never counts as repeating.

>>> guard = LoopGuard(run_words=3, max_repeats=3)
>>> [guard.feed(w + " ") for w in "a b c a b c a b c a".split()][-3:]
[False, True, True]
>>> guard.kept_text()
'a b c'
>>> repeated_run_count("one two three four five six seven eight " * 4)
4
"""

from __future__ import annotations

import re
from collections import Counter

RUN_WORDS = 8
MAX_REPEATS = 3  # the third occurrence of a run stops the answer
LOOPING_RUN_COUNT = 4  # the benchmark's definition of a repeating answer
_TOKEN = re.compile(r"\S+")
# a loop without spaces ("12.12.12.12..."): a piece of 1-30 characters ten times in a row
_CHAR_LOOP = re.compile(r"(\S{1,30}?)\1{9,}")
_TAIL_CHARS = 400
_LONG_WORD = re.compile(r"\S{20,}$")


def _norm(word: str) -> str:
    return word.lower().strip(".,;:!?\"'()")


class LoopGuard:
    """Feed the streamed text piece by piece; ``feed`` returns True once the answer loops."""

    def __init__(self, *, run_words: int = RUN_WORDS, max_repeats: int = MAX_REPEATS) -> None:
        self.run_words = run_words
        self.max_repeats = max_repeats
        self._text = ""
        self._scanned = 0  # characters of _text whose complete words were counted
        self._words: list[tuple[str, int]] = []  # (normalised word, start offset)
        self._runs: Counter[tuple[str, ...]] = Counter()
        self._first: dict[tuple[str, ...], int] = {}  # run -> index of its first word
        self.looping = False
        self._cut = -1  # offset where the first repeat of the looping run starts

    def feed(self, piece: str) -> bool:
        if self.looping:
            return True
        self._text += piece
        # a loop without spaces makes one long "word": only then look for a repeated piece
        long_word = _LONG_WORD.search(self._text, max(0, len(self._text) - _TAIL_CHARS))
        char_loop = _CHAR_LOOP.search(self._text, long_word.start()) if long_word else None
        if char_loop:
            self.looping = True
            self._cut = char_loop.start() + len(char_loop.group(1)) * 2  # two copies stay
            return True
        # only words followed by whitespace are complete; the last one may still grow
        for match in _TOKEN.finditer(self._text, self._scanned):
            if match.end() == len(self._text):
                break
            self._scanned = match.end()
            word = _norm(match.group())
            if word:
                self._words.append((word, match.start()))
                if self._add_run():
                    return True
        return False

    def _add_run(self) -> bool:
        n = self.run_words
        if len(self._words) < n:
            return False
        run = tuple(w for w, _ in self._words[-n:])
        self._runs[run] += 1
        start = len(self._words) - n
        first = self._first.setdefault(run, start)
        if self._runs[run] >= self.max_repeats:
            self.looping = True
            # keep the text up to the first repeat: one period of the loop stays
            period = self._second_start(run, first)
            self._cut = self._words[period][1] if period is not None else self._words[start][1]
        return self.looping

    def _second_start(self, run: tuple[str, ...], first: int) -> int | None:
        n = self.run_words
        words = [w for w, _ in self._words]
        for i in range(first + 1, len(words) - n + 1):
            if tuple(words[i : i + n]) == run:
                return i
        return None

    def kept_text(self) -> str:
        """The answer without its repeats (all of it when it did not loop)."""
        text = self._text if self._cut < 0 else self._text[: self._cut]
        return text.rstrip()


def repeated_run_count(text: str, run_words: int = RUN_WORDS) -> int:
    """How often the most frequent run of ``run_words`` consecutive words occurs in ``text``."""
    words = [w for w in (_norm(t) for t in _TOKEN.findall(text)) if w]
    if len(words) < run_words:
        return 0
    runs = Counter(tuple(words[i : i + run_words]) for i in range(len(words) - run_words + 1))
    return max(runs.values())


def repeats_itself(text: str) -> bool:
    """The benchmark's measure: some 8-word run occurs four times or more (or a piece of
    text repeats ten times in a row without spaces, "12.12.12...")."""
    return repeated_run_count(text) >= LOOPING_RUN_COUNT or bool(_CHAR_LOOP.search(text))
