"""Whether a passage states a claim closely enough to put a ✓ on it, or says otherwise.

Sharing most words with a passage is not saying what it says: "Setting sdorder to 0 keeps it
powered" shares every word but one with "set its sdorder to -1", and "& and | apply to vectors
of length one" uses the very words of the sentence that says it of && and ||. ``verdict``
therefore reads the claim against the passage's sentences (one, or two or three in a row, but
never joined to one that opens with a pronoun, and never the whole passage). A word-for-word
quote of the passage (an extract's line) is stated unless a "not" leads up to it; else some
sentences *state* the claim when

- they hold every content word of the claim (stemmed): nothing added, no invented expansion
  of an abbreviation, no other unit ("milliseconds" where they say "seconds"); one word the
  writer slipped in between two words that stand side by side there is allowed ("returns");
- they hold every specific of the claim (number, version, option, name) as a whole token: "10"
  is not found in "1000", "-S" not in "-s";
- the claim's words come in their order: a longest common subsequence of ``MIN_ORDER`` of
  them, no two words (each found once) turned round, and each two neighbouring words of the
  claim at most ``MAX_GAP`` words apart there, in that order (``MAX_BROKEN`` pairs excepted);
- the sentences that speak of it (share two of its words) have its "only", "all", "before",
  "odd" ... (``MEANING_WORDS``) too, and as many negations as the claim.

They *contradict* it when they hold all its words and specifics but only a different statement
explains how: its numbers and names in another order, another value after one of its options
("-m simple.ko" against "-m simple"), or more negations than the claim right where its
words are (a "not" dropped; ``SPAN_MARGIN``). Anything else is neither: a free paraphrase
may reorder words, so such a claim is not verified rather than wrong. The settings were
chosen on the dev pairs of ``benchmarks/data/claim_set.json`` and on wrong claims made from
them (``python -m benchmarks.claim_check --calibrate``).

>>> verdict("The default port number is 3493.", "Connect to it. The default port number is 3493.")
'states'
>>> verdict("The default port number is 349.", "Connect to it. The default port number is 3493.")
'neither'
>>> verdict("The -p option sets port 349.", "Connect to it. The -p option sets port 3493.")
'neither'
>>> verdict("upsd uses port 3493, not 3483.", "upsd uses port 3483, not 3493.")
'contradicts'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Literal

from shared_utils.text import QUESTION_STOPWORDS, split_sentences, stems, words
from src.answer.citations import strip_markers

Verdict = Literal["states", "contradicts", "neither"]
MIN_ORDER = 0.8  # share of the claim's content words in the passage's order
MAX_WINDOW = 3  # passage sentences in a row a claim may draw on
MAX_GAP = 3  # neighbouring words of a claim are at most this many content words apart there
MAX_BROKEN = 0  # pairs of neighbouring words of a claim that may be apart or turned round
SPAN_MARGIN = 2  # words either side of the claim's words in the passage where its "not" may be
# stopwords elsewhere, but they decide what a sentence means
MEANING_WORDS = frozenset(
    """not no nor never none cannot without only all any every each both before after more
    less most least fewer above below first last odd even same different unless except always
    higher lower earlier later""".split()
)
NEGATIONS = frozenset("not no nor never none cannot without".split())
_FOOTNOTED = re.compile(r"[a-z]{4,}\d")
# an option and the value after it ("-m simple.ko"): the passage must give that value
_OPTION_VALUE = re.compile(r"(?<![\w-])(-{1,2}[A-Za-z][\w-]*)[ =]+([^\s]+?)[.,;:)'\"`]*(?=\s|$)")
# what a claim states that a passage must give exactly: numbers and versions, options, identifiers
_SPECIFIC = re.compile(
    r"(?<![\w-])-{1,2}[A-Za-z][\w-]*|\b\w*\d[\w.+:~-]*\w|\b\d\b"
    r"|\b[a-z]+[A-Z_]\w*|\b[A-Z]{2,}[A-Z0-9_]*\b"
)
_NAME = re.compile(r"(?<=[a-z,;(] )[A-Z][a-z]{2,}\b")  # a capitalised word after a lower-case one
# a list item's number or bullet and Markdown emphasis are no part of what a sentence says
_LAYOUT = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+|\*\*|__|`")
# "The document states that ...": the writer's attribution, not part of the claim
_ATTRIBUTION = re.compile(
    r"^(?:(?:the|this|that) (?:document|documentation|manual|passage|source|text|guide)s? "
    r"(?:says|states|explains|mentions|notes|describes|shows)(?: that)?|according to "
    r"(?:the|this) (?:document|documentation|manual|passage|source|text|guide),?) ",
    re.IGNORECASE,
)
# a sentence that opens with a pronoun leans on the one before it ("They are used to ...")
_PRONOUN_START = re.compile(r"(?:it|they|this|these|those|he|she|such)\b", re.IGNORECASE)


def specifics(sentence: str) -> set[str]:
    """The numbers, versions, options and identifiers a sentence states (lower case).

    >>> sorted(specifics("Use -r with version 2.3.4-b1 and HISTSIZE from the Bash manual [2]."))
    ['-r', '2.3.4-b1', 'bash', 'histsize']
    """
    text = plain_claim(sentence)
    found = {m if m.startswith("-") else m.lower().rstrip(".") for m in _SPECIFIC.findall(text)}
    # capitalised words inside the sentence are names ("Binary Name Matching Unit")
    found |= {w.lower() for w in _NAME.findall(text)}
    return found


def plain_claim(sentence: str) -> str:
    """What a sentence of an answer claims: without its markers, a list item's number or bullet,
    Markdown emphasis and the writer's attribution ("The document states that ...").

    >>> plain_claim("2. **The document states that** upsd uses `port 3493` [1].")
    'upsd uses port 3493.'
    """
    return _ATTRIBUTION.sub("", _LAYOUT.sub("", strip_markers(sentence)).strip())


def _kept(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in QUESTION_STOPWORDS and len(t) > 1]


def _content(tokens: Iterable[str]) -> list[str]:
    return stems(_kept(tokens))


def _window_terms(tokens: Sequence[str]) -> list[str]:
    """Content stems of a passage's words; a footnote mark glued to a word ("limited3") is
    read both with and without it."""
    out: list[str] = []
    for token in _kept(tokens):
        out.append(token)
        if _FOOTNOTED.fullmatch(token):
            out.append(token[:-1])
    return stems(out)


def _inserted(claim_terms: list[str], window_terms: Sequence[str], anchors: set[str]) -> list[str]:
    """``claim_terms`` without the one word the passage lacks where the passage has the words
    on either side of it next to each other ("gettimeofday_s() returns the number" against
    "gettimeofday_s(): the number"): a word the writer added, not a fact. Unchanged otherwise."""
    vocab = set(window_terms)
    missing = [i for i, t in enumerate(claim_terms) if t not in vocab]
    if len(missing) != 1 or claim_terms[missing[0]] in anchors:
        return claim_terms
    i = missing[0]
    if i == 0 or i == len(claim_terms) - 1:
        return claim_terms
    pair = (claim_terms[i - 1], claim_terms[i + 1])
    if pair in pairwise(window_terms):
        return claim_terms[:i] + claim_terms[i + 1 :]
    return claim_terms


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _inverted(claim_terms: Sequence[str], window_terms: Sequence[str]) -> bool:
    """Whether two words that each occur once in the claim and once in the passage come in the
    opposite order ("S used Helmert, R treatment" against "R: Helmert, S: treatment" keeps
    most of the order but turns one pair round)."""
    where: dict[str, list[int]] = {}
    for i, t in enumerate(window_terms):
        where.setdefault(t, []).append(i)
    positions = [
        where[t][0] for t in claim_terms if len(where.get(t, ())) == 1 and claim_terms.count(t) == 1
    ]
    return any(b < a for a, b in pairwise(positions))


def _broken_pairs(claim_terms: Sequence[str], window_terms: Sequence[str]) -> int:
    """How many pairs of neighbouring content words of the claim do not come in that order
    within ``MAX_GAP`` words of each other in the passage ("the buffer kernel", a word put
    where the passage does not have it)."""
    where: dict[str, list[int]] = {}
    for i, t in enumerate(window_terms):
        where.setdefault(t, []).append(i)
    return sum(
        not any(0 < j - i <= MAX_GAP for i in where.get(a, ()) for j in where.get(b, ()))
        for a, b in pairwise(claim_terms)
    )


def _negations(tokens: Sequence[str]) -> int:
    """The negations among ``words()`` tokens ("isn't" is "isn", "t")."""
    return sum(
        t in NEGATIONS or (t == "t" and i > 0 and tokens[i - 1].endswith("n"))
        for i, t in enumerate(tokens)
    )


def _span(window_tokens: Sequence[str], claim_terms: Sequence[str]) -> list[str]:
    """The shortest run of ``window_tokens`` holding every content word of the claim, with
    ``SPAN_MARGIN`` tokens either side: where the claim's "not" or "only" must be (not in
    another clause of the same long sentence)."""
    terms = set(claim_terms)
    marks = [t if t in terms else "" for t in _stems_of(window_tokens)]
    count: dict[str, int] = {}
    best, start = (0, len(marks)), 0
    for end, term in enumerate(marks):
        if term:
            count[term] = count.get(term, 0) + 1
        while len(count) == len(terms):
            if end + 1 - start < best[1] - best[0]:
                best = (start, end + 1)
            gone = marks[start]
            if gone:
                count[gone] -= 1
                if not count[gone]:
                    del count[gone]
            start += 1
    return list(window_tokens[max(0, best[0] - SPAN_MARGIN) : best[1] + SPAN_MARGIN])


def _about(window: str, claim_terms: Sequence[str]) -> list[str]:
    """The tokens of the sentences of ``window`` that speak of the claim (share two of its
    words, or its one word): a ✓ wants its "not" and "only" there and no other "not"."""
    terms = set(claim_terms)
    need = min(2, len(terms))
    return [
        t
        for s in split_sentences(window)
        if len(terms.intersection(_content(words(s)))) >= need
        for t in words(s)
    ]


def _quoted(claim: str, passage: str) -> bool:
    """Whether ``claim`` is a quote of ``passage`` (word for word, case and punctuation aside),
    not preceded by a negation in its sentence ("it is not true that ...")."""
    said = re.findall(r"[A-Za-z0-9]+", claim)
    if not said:
        return False
    pattern = r"(?<![A-Za-z0-9])" + r"[^A-Za-z0-9]+".join(map(re.escape, said)) + r"(?![A-Za-z0-9])"
    found = re.search(pattern, passage, re.IGNORECASE)
    if found is None:
        return False
    before = re.split(r"[.!?:;]\s", passage[: found.start()])[-1]
    return not _negations(words(before)[-3:])


def _stems_of(tokens: Sequence[str]) -> list[str]:
    """Each token's stem where it is a content word, else "" (positions kept)."""
    kept = [t not in QUESTION_STOPWORDS and len(t) > 1 for t in tokens]
    stemmed = iter(stems([t for t, k in zip(tokens, kept, strict=True) if k]))
    out: list[str] = []
    for token, k in zip(tokens, kept, strict=True):
        out.append(next(stemmed) if k else "")
        if k and _FOOTNOTED.fullmatch(token):
            out[-1] = stems([token[:-1]])[0]
    return out


def has_token(specific: str, text: str) -> bool:
    """``specific`` occurs in ``text`` as a whole token (an option with its case), perhaps in
    the plural ("UPSes")."""
    flags = 0 if specific.startswith("-") else re.IGNORECASE
    pattern = rf"(?<![\w.]){re.escape(specific)}(?:e?s)?(?![\w+-]|\.\w)"
    return re.search(pattern, text, flags) is not None


def windows(passage: str) -> list[str]:
    """The passage's sentences, alone and up to ``MAX_WINDOW`` in a row; never a row in which
    a later sentence opens with a pronoun (joining them would decide what it refers to)."""
    sentences = split_sentences(passage)
    out = list(sentences)
    for i in range(len(sentences)):
        for n in range(2, MAX_WINDOW + 1):
            if i + n > len(sentences) or _PRONOUN_START.match(sentences[i + n - 1]):
                break
            out.append(" ".join(sentences[i : i + n]))
    return out


def _option_values(text: str) -> set[tuple[str, str]]:
    return {(m.group(1), m.group(2)) for m in _OPTION_VALUE.finditer(text)}


def judge(claim: str, window: str, wanted: Sequence[str] = ()) -> Verdict:
    """Whether ``window`` (a few sentences) states ``claim`` (markers removed), contradicts it
    (holds every content word of it, and its specifics, but in another order, without its
    "not"/"only"/..., or with another value for its option), or neither. ``wanted``: the
    claim's specifics."""
    claim_tokens, window_tokens = words(claim), words(window)
    kept = _kept(claim_tokens)
    claim_terms = stems(kept)
    window_terms = _window_terms(window_tokens)
    lowered = {w.lower() for w in wanted}
    anchors = [t for t, w in zip(claim_terms, kept, strict=True) if w in lowered]
    claim_terms = _inserted(claim_terms, window_terms, set(anchors))
    if not claim_terms or not set(claim_terms) <= set(window_terms):
        return "neither"
    if not all(has_token(s, window) for s in wanted):
        return "neither"
    span, about = _span(window_tokens, claim_terms), _about(window, claim_terms)
    negations = _negations(claim_tokens)
    # what only a different statement explains: its numbers and names in another order ("68
    # RGB" is not "140 RGB ... 68 CMYK"), another value for an option, a negation dropped
    if (
        _lcs(anchors, window_terms) < len(anchors)
        or not _option_values(claim) <= _option_values(window)
        or _negations(span) > negations
    ):
        return "contradicts"
    # what a free paraphrase may also do: reorder its words, add an "only" or a "not"
    agrees = (
        _lcs(claim_terms, window_terms) >= MIN_ORDER * len(claim_terms)
        and not _inverted(claim_terms, window_terms)
        and _broken_pairs(claim_terms, window_terms) <= MAX_BROKEN
        and MEANING_WORDS.intersection(claim_tokens) <= set(about)
        and _negations(about) == negations
    )
    return "states" if agrees else "neither"


def verdict(claim: str, passage: str) -> Verdict:
    """ "states" if some sentences of ``passage`` state ``claim`` (a sentence of an answer),
    else "contradicts" if some hold all its words but say something else, else "neither"."""
    text, wanted = plain_claim(claim), tuple(specifics(claim))
    if _quoted(text, passage):
        return "states"
    found = {judge(text, w, wanted) for w in windows(passage)}
    return next((v for v in ("states", "contradicts") if v in found), "neither")
