"""Sentences and question terms: the cheap, model-free relevance used to compress sources
(``src/prompt.py``) and by the extractive backend.

A sentence scores the summed IDF (over the candidate sentences) of the question terms it
contains, so a rare term such as "upsmon" outweighs a common one such as "configure".

>>> split_sentences("First one. Second one! A third? yes")
['First one.', 'Second one!', 'A third? yes']
>>> sorted(question_terms("What is the default port of upsd?"))
['default', 'port', 'upsd']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# Split after . ! ? (optionally closing quote/bracket) when the next sentence starts with an
# upper-case letter, a digit or a quote; also at blank lines and bullets.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[•])|\n\s*\n|\s+•\s+")
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*[A-Za-z0-9_]|[A-Za-z0-9]")
MAX_SENTENCE_WORDS = 60
COMPRESS_WINDOW_WORDS = 20  # finer pieces for prompt compression (see benchmarks/answer.py)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves also use used
    using get gets make makes want need way ways tell show give know please one two many much
    does did doing done happen happens anything something thing things via etc""".split()
)


def split_sentences(text: str, *, max_words: int = MAX_SENTENCE_WORDS) -> list[str]:
    """Sentences of ``text`` (whitespace-normalised); one longer than 1.5 x ``max_words``
    (a table row, text without punctuation) is cut into windows of ``max_words`` words."""
    out: list[str] = []
    for part in SENTENCE_END.split(text):
        words = part.split()
        if len(words) <= max_words * 3 // 2:
            if words:
                out.append(" ".join(words))
            continue
        for i in range(0, len(words), max_words):
            piece = " ".join(words[i : i + max_words])
            if piece:
                out.append(piece)
    return out


def words(text: str) -> list[str]:
    """Lower-cased word tokens, trailing punctuation dropped."""
    return [w.lower().rstrip(".") for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A tiny plural/verb-ending stemmer, enough to match "probes" with "probe"."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def question_terms(question: str) -> set[str]:
    """Content words of a question (stopwords removed)."""
    return {w for w in words(question) if w not in STOPWORDS and len(w) > 1}


def score_sentences(question: str, sentences: Sequence[str]) -> list[float]:
    """Relevance of each sentence to the question: summed IDF of the shared stemmed terms."""
    terms = {stem(t) for t in question_terms(question)}
    if not terms or not sentences:
        return [0.0] * len(sentences)
    stems = [{stem(w) for w in words(s)} for s in sentences]
    n = len(sentences)
    idf = {t: math.log(1 + n / (1 + sum(t in s for s in stems))) for t in terms}
    return [sum(idf[t] for t in terms if t in s) for s in stems]


def top_sentences(
    question: str,
    texts: Sequence[str],
    keep: int,
    *,
    max_words: int = COMPRESS_WINDOW_WORDS,
    follow: bool = True,
) -> list[list[str]]:
    """For each text, its ``keep`` sentences (windows of at most ``max_words`` words) most
    relevant to ``question`` - each with the sentence that follows it when ``follow``, since an
    answer often continues the sentence that names the topic - in their original order; at
    least the best one (the first one when nothing matches). IDF is computed over the sentences
    of all texts, so a term found in every source counts little.

    >>> top_sentences("port of upsd", ["Intro here. Upsd uses a port. It is 3493. Other."], 1)
    [['Upsd uses a port.', 'It is 3493.']]
    """
    split = [split_sentences(t, max_words=max_words) for t in texts]
    flat = [s for sents in split for s in sents]
    scores = score_sentences(question, flat)
    out: list[list[str]] = []
    pos = 0
    for sents in split:
        own = scores[pos : pos + len(sents)]
        pos += len(sents)
        order = sorted(range(len(sents)), key=lambda i: (-own[i], i))
        top = [i for i in order[:keep] if own[i] > 0] or order[:1]
        chosen = set(top)
        if follow:
            chosen.update(i + 1 for i in top if i + 1 < len(sents))
        out.append([sents[i] for i in sorted(chosen)])
    return out
