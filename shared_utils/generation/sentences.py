"""Sentences and question terms: the cheap, model-free relevance used to compress sources
(``src/answer/prompt.py``) and by the extractive backend.

A sentence scores the summed IDF (over the candidate sentences) of the question terms it
contains, so a rare term such as "upsmon" outweighs a common one such as "configure".

Sentences, words, stopwords and stems come from ``shared_utils/text.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shared_utils.text import question_terms, split_sentences, stem, words

MAX_SENTENCE_WORDS = 60
COMPRESS_WINDOW_WORDS = 20  # finer pieces for prompt compression (see benchmarks/answer.py)


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
