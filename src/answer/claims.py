"""Citation check: does the source a sentence cites actually say what the sentence says?

``check_claims(answer, sources)`` splits the answer into sentences and, for each one that makes
a claim (three content words or more), measures how much of it the cited source supports: the
share of the sentence's content words (stemmed, markers removed) that occur in the source
text. A share of ``SUPPORT_SHARE`` or more supports it, provided every specific it states - a
number, a version, an option, an identifier - occurs in that source too (a small model's
invented "version 2.3.4-b1" shares most words with the passage that says "2.3.4-3+b1"). A
sentence without a marker is covered by the marker of the next sentence on its line ("A. B [1]."
cites [1] for both). Each sentence gets a status:

- ``supported``: a cited source supports it;
- ``miscited``: it cites sources, none of which supports it (``best`` names one that does, if any);
- ``uncited``: it cites nothing (``best`` names a source that supports it, if any);
- ``no_claim``: too short to check, or a lead-in ending with a colon ("The manual says:").

``fix_citations`` then rewrites the answer so every citation is there for a reason: a miscited
or uncited sentence that another source supports cites that source instead (an *inferred*
citation); a citation that no source backs is removed, and the sentence is reported as
unsupported and struck through in the text (``~~...~~``), so nobody reads it as a fact.
``supported_share`` is the benchmark's "supporting-citation fraction". The thresholds were chosen
on the dev pairs of ``benchmarks/data/claim_set.json`` (``python -m benchmarks.claim_check``).

>>> checks = check_claims("Bash keeps 500 commands in history [1].",
...                       ["The default is 500 commands kept in the history list."])
>>> checks[0].status, checks[0].cited, round(checks[0].support, 2)
('supported', (1,), 0.6)
>>> check_claims("Bash keeps 500 commands in history [1].", ["Use declare -A for arrays."])[0].status
'miscited'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shared_utils.text import question_terms, stem
from shared_utils.types import ScoredChunk
from src.answer.citations import parse_markers, strip_markers

SUPPORT_SHARE = 0.5
MIN_CLAIM_TERMS = 3
STRUCK = "~~{}~~"  # an unsupported sentence as the answer shows it
STRUCK_NOTE = "(struck through: not in the sources)"  # under an answer with one (no claim)
# specifics a claim must find in the source it cites: numbers and versions, options, identifiers
_SPECIFIC = re.compile(r"(?<![\w-])-{1,2}[A-Za-z][\w-]*|\b\w*\d[\w.+:~-]*\w|\b\d\b"
                       r"|\b[a-z]+[A-Z_]\w*|\b[A-Z]{2,}[A-Z0-9_]*\b")
_NAME = re.compile(r"(?<=[a-z,;(] )[A-Z][a-z]{2,}\b")  # a capitalised word after a lower-case one
Status = Literal["supported", "miscited", "uncited", "no_claim"]

# a sentence ends at . ! ? (then any citation markers) before whitespace and a capital, digit,
# bracket, quote or bullet; a line break always ends one (answers are often bullet lists)
_BOUNDARY = re.compile(
    r"(?P<end>[.!?](?:~~)?(?:[ \t]?\[[^\]\n]{1,24}\])*)[ \t]+"
    r"(?=[A-Z0-9\"'(•*~-]|\[(?![\d,;\s-]+\]))|\n+"
)


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    sentence: str  # as written in the answer, markers included
    cited: tuple[int, ...]  # the [n] numbers the sentence carries
    status: Status
    support: float  # share of its content words found in the best cited source (0 if none)
    best: int | None = None  # the source that supports it best, when one does


def split_claims(answer: str) -> list[str]:
    """The answer's sentences, each with the markers that follow its full stop.

    >>> split_claims("Use stap [1]. It runs.[2] Then:\\n- step one [3]")
    ['Use stap [1].', 'It runs.[2]', 'Then:', '- step one [3]']
    """
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(answer):
        stop = m.end("end") if m.group("end") else m.start()
        piece = answer[start:stop].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = answer[start:].strip()
    if tail:
        out.append(tail)
    return out


def _source_text(source: str | ScoredChunk) -> str:
    return source if isinstance(source, str) else source.chunk.text


def _terms(text: str) -> set[str]:
    return {stem(t) for t in question_terms(strip_markers(text))}


def specifics(sentence: str) -> set[str]:
    """The numbers, versions, options and identifiers a sentence states (lower case).

    >>> sorted(specifics("Use -r with version 2.3.4-b1 and HISTSIZE from the Bash manual [2]."))
    ['-r', '2.3.4-b1', 'bash', 'histsize']
    """
    text = strip_markers(sentence)
    found = {m if m.startswith("-") else m.lower().rstrip(".") for m in _SPECIFIC.findall(text)}
    # capitalised words inside the sentence are names ("Binary Name Matching Unit")
    found |= {w.lower() for w in _NAME.findall(text)}
    return found


def _share(terms: set[str], vocab: set[str], wanted: set[str], text: str) -> float:
    """Share of ``terms`` in ``vocab``; 0 when a specific of ``wanted`` is not in ``text``
    (an option such as ``-S`` with its case, the rest in lower case)."""
    lower = text.lower()
    if wanted and not all((w in text) if w.startswith("-") else (w in lower) for w in wanted):
        return 0.0
    return len(terms & vocab) / len(terms)


def _cited_by_line(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence, the markers that cite it): its own, else those of the next sentence of its
    line (a marker at a paragraph's end covers its sentences)."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for line in answer.split("\n"):
        pieces = split_claims(line)
        own = [tuple(parse_markers(p)) for p in pieces]
        carried: tuple[int, ...] = ()
        for i in range(len(pieces) - 1, -1, -1):
            carried = own[i] or carried
            out.append((pieces[i], carried))
        out[len(out) - len(pieces):] = out[len(out) - len(pieces):][::-1]
    return out


def check_claims(answer: str, sources: Sequence[str | ScoredChunk]) -> list[ClaimCheck]:
    """One ClaimCheck per sentence of ``answer``; ``sources[i]`` is source ``[i + 1]``."""
    texts = [_source_text(s) for s in sources]
    vocab = [_terms(t) for t in texts]
    lowered = [" ".join(t.split()) for t in texts]
    checks: list[ClaimCheck] = []
    for sentence, markers in _cited_by_line(answer):
        cited = tuple(n for n in markers if 1 <= n <= len(vocab))
        terms = _terms(sentence)
        if len(terms) < MIN_CLAIM_TERMS or sentence.rstrip().endswith(":"):  # a lead-in
            checks.append(ClaimCheck(sentence, cited, "no_claim", 0.0))
            continue
        wanted = specifics(sentence)
        shares = [_share(terms, v, wanted, t) for v, t in zip(vocab, lowered, strict=True)]
        cited_share = max((shares[n - 1] for n in cited), default=0.0)
        best_n = max(range(len(shares)), key=lambda i: shares[i], default=None)
        best = best_n + 1 if best_n is not None and shares[best_n] >= SUPPORT_SHARE else None
        if cited and cited_share >= SUPPORT_SHARE:
            status: Status = "supported"
        else:
            status = "miscited" if cited else "uncited"
        checks.append(ClaimCheck(sentence, cited, status, cited_share, best))
    return checks


def supported_share(checks: Sequence[ClaimCheck]) -> float:
    """Share of the claims (sentences with content) that carry a supporting citation."""
    claims = [c for c in checks if c.status != "no_claim"]
    return sum(c.status == "supported" for c in claims) / len(claims) if claims else 0.0


@dataclass(frozen=True, slots=True)
class FixedAnswer:
    text: str
    inferred: tuple[int, ...]  # source numbers Olympus cited on the model's behalf
    unsupported: tuple[str, ...]  # sentences no source supports (their citations removed)
    checks: tuple[ClaimCheck, ...]  # of the fixed text


def fix_citations(answer: str, sources: Sequence[str | ScoredChunk]) -> FixedAnswer:
    """Re-cite sentences to the source that supports them; drop citations nothing backs."""
    inferred: list[int] = []
    unsupported: list[str] = []
    text = answer
    for check in check_claims(answer, sources):
        if check.status in ("supported", "no_claim"):
            continue
        bare = strip_markers(check.sentence).rstrip()
        if check.best is not None:
            new = _with_marker(bare, check.best)
            inferred.append(check.best)
        else:
            new = STRUCK.format(bare.removeprefix("- ")) if bare.strip() else bare
            new = f"- {new}" if bare.startswith("- ") else new
            unsupported.append(bare)
        if new != check.sentence:
            text = text.replace(check.sentence, new, 1)
    return FixedAnswer(
        text, tuple(dict.fromkeys(inferred)), tuple(unsupported), tuple(check_claims(text, sources))
    )


def _with_marker(sentence: str, number: int) -> str:
    """``sentence`` with ``[number]`` before its closing punctuation (or at its end)."""
    m = re.search(r"([.!?:;]+)$", sentence)
    if m:
        return f"{sentence[: m.start()]} [{number}]{m.group(1)}"
    return f"{sentence} [{number}]"
