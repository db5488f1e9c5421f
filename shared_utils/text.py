"""The text toolkit: one sentence splitter, one stopword list, one stemmer, the word tokenizers
(``words`` for comparing terms, ``index_words`` for the keyword index).

Chunking (``documents/chunking.py``), locating passages on a page (``documents/locate.py``),
keyword search (``retrieval/bm25.py``), sentence relevance and the extract
(``generation/sentences.py``, ``generation/extractive.py``), citations, claims, abstention,
follow-ups and the highlighting of question words (``src/ui/render.py``) all take them from
here, so a word is a stopword, a stem or a sentence end in the same way everywhere.
(``documents/text.py`` is something else: it normalises extracted page text.)

>>> split_sentences("First one. Second, e.g. this one! Third?\\n\\nNew para\\nwraps here")
['First one.', 'Second, e.g. this one!', 'Third?', 'New para wraps here']
>>> split_sentences("Items: • one thing • another")
['Items:', 'one thing', 'another']
>>> split_sentences("Items: • one thing • another", at_bullets=False)
['Items: • one thing • another']
>>> [stem(w) for w in ("probes", "probe", "configured", "configuration")]
['probe', 'probe', 'configur', 'configur']
>>> sorted(question_terms("What is the default port of upsd?"))
['default', 'port', 'upsd']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

# A sentence ends after . ! ? (optionally followed by a closing quote or bracket) when the
# next one starts with a capital, a digit, a quote or a bracket. Paragraph breaks (a blank
# line) always end one; a bullet between spaces does unless the caller packs chunks (ending
# sentences at bullets there made retrieval worse: benchmarks.quality hybrid MRR@10 0.829 ->
# 0.811, as chunks then break inside lists; the extract and the prompt need them split).
SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]\u2019\u201d]))\s+(?=[\"'(\[\u2018\u201cA-Z0-9])"
)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
BULLET = re.compile(r"\s+\u2022\s+")
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "fig.", "no.", "dr.", "mr.", "approx.")

# English function words: they match most passages, so they neither find nor rank anything.
# (The keyword index stores chunks without them: a change here means rebuilding that index.)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)
# Words that phrase a question or an answer without naming its subject ("how do I use ...",
# "please tell me ..."): stopwords for the terms of a question (not for the keyword index).
QUESTION_STOPWORDS = STOPWORDS | frozenset(
    """also use used using get gets make makes want need way ways tell show give know please
    one two many much done happen happens anything something thing things via etc""".split()
)

_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*[A-Za-z0-9_]|[A-Za-z0-9]")
# The keyword index's words are runs of letters and digits in any script: ``upsd.conf`` is two
# words there, so a question naming ``upsd`` finds the file, and accented words are kept whole.
# (``words`` keeps such names whole instead, to compare the terms of a question and a sentence.)
# The index stores these tokens: changing the pattern means rebuilding it.
_INDEX_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_local = threading.local()  # a PyStemmer stemmer is not safe to share between threads
_stems: dict[str, str] = {}  # word -> stem, shared (dict reads and writes are atomic)
_MAX_CACHED_STEMS = 500_000


def split_sentences(
    text: str, *, max_words: int | None = None, at_bullets: bool = True
) -> list[str]:
    """Sentences of ``text``, whitespace collapsed; a period of a common abbreviation
    ("e.g.") ends none; a bullet ("•") starts a new one unless ``at_bullets`` is False. With
    ``max_words``, a sentence longer than 1.5 x ``max_words`` (a table row, text without
    punctuation) is cut into windows of ``max_words`` words."""
    sentences: list[str] = []
    paragraphs = PARAGRAPH_BREAK.split(text)
    if at_bullets:
        paragraphs = [item for p in paragraphs for item in BULLET.split(p)]
    for paragraph in paragraphs:
        merged: list[str] = []
        for piece in SENTENCE_END.split(paragraph.strip()):
            if not piece.strip():
                continue
            if merged and merged[-1].lower().endswith(ABBREVIATIONS):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences.extend(" ".join(s.split()) for s in merged)
    sentences = [s for s in sentences if s]
    return sentences if max_words is None else _windows(sentences, max_words)


def _windows(sentences: Sequence[str], max_words: int) -> list[str]:
    out: list[str] = []
    for sentence in sentences:
        parts = sentence.split()
        if len(parts) <= max_words * 3 // 2:
            out.append(sentence)
            continue
        out.extend(" ".join(parts[i : i + max_words]) for i in range(0, len(parts), max_words))
    return out


def words(text: str) -> list[str]:
    """Lower-cased word tokens (``upsd.conf`` and ``-P`` stay whole), trailing periods dropped."""
    return [w.lower().rstrip(".") for w in _WORD.findall(text)]


def index_words(text: str) -> list[str]:
    """Lower-cased words of the keyword index (stopwords kept).

    >>> index_words("Edit upsd.conf, then run upsd -P café_2")
    ['edit', 'upsd', 'conf', 'then', 'run', 'upsd', 'p', 'café', '2']
    """
    return _INDEX_WORD.findall(text.lower())


def question_terms(text: str) -> set[str]:
    """Content words of a question or a sentence (question stopwords removed)."""
    return {w for w in words(text) if w not in QUESTION_STOPWORDS and len(w) > 1}


def stems(tokens: Sequence[str]) -> list[str]:
    """Snowball English stems (PyStemmer) of lower-case ``tokens``, cached."""
    global _stems
    cache = _stems  # this call's reference: another thread may start a new cache meanwhile
    missing = [w for w in set(tokens) if w not in cache]
    if missing:
        if len(cache) > _MAX_CACHED_STEMS:
            cache = _stems = {}
            missing = list(set(tokens))
        cache.update(zip(missing, _stemmer().stemWords(missing), strict=True))
    return [cache[w] for w in tokens]


def _stemmer():
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer  # PyStemmer: C Snowball stemmers

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def stem(word: str) -> str:
    """The Snowball English stem of one lower-case word."""
    return stems([word])[0]
