"""Citation check: does the source a sentence cites actually say what the sentence says?

``check_claims(answer, sources)`` splits the answer into sentences and gives each one that
makes a claim (three content words or more) one of three verdicts against the sources it
cites. A source must first share ``SUPPORT_SHARE`` of its content words (stemmed) and hold
every specific it states (number, version, option, identifier). Then
``claim_alignment.verdict`` reads it against a few sentences of that source at a time: they
*state* it (the ✓, meant to be right at least 19 times in 20: every content word, in its
order, its specifics as whole tokens, its "only"/"before"), *contradict* it (all its words,
but its numbers swapped, another option value, a "not" dropped) or neither: a fair
paraphrase or a plausible invention, *not verified*, shown without a ✓ and not struck. A
sentence without a marker is covered by the marker of the next sentence on its line ("A. B
[1]." cites [1] for both). Each sentence gets a status:

- ``supported``: a cited source states it (the ✓);
- ``unverified``: a cited source shares its words and specifics, none states or contradicts it;
- ``contradicted``: a cited source says otherwise with its words (struck, like ``miscited``);
- ``miscited``: it cites sources, none of which supports it (``best`` names one that does, if any);
- ``uncited``: it cites nothing (``best`` names a source that supports it, if any);
- ``no_claim``: too short to check, or a lead-in ending with a colon ("The manual says:").

``best`` is a source that states the sentence if one does, else the one sharing most of its
words when that reaches ``SUPPORT_SHARE``. ``fix_citations`` then rewrites the answer so every
citation is there for a reason: a sentence whose citation does not back it cites ``best``
instead (an *inferred* citation; a contradicted one only a source that states it); a citation
that no source backs is removed, and the sentence is reported as unsupported and struck
through in the text (``~~...~~``), so nobody reads it as a fact. ``supported_share`` is the
benchmark's "supporting-citation fraction" (✓ claims only). The thresholds were chosen on the
dev pairs of ``benchmarks/data/claim_set.json`` (``python -m benchmarks.claim_check``).

>>> source = ["The default is 500 commands kept in the history list."]
>>> checks = check_claims("The default is 500 commands kept in the history [1].", source)
>>> checks[0].status, checks[0].cited
('supported', (1,))
>>> check_claims("Bash keeps 500 commands in history [1].", source)[0].status
'unverified'
>>> check_claims("Bash keeps 500 commands in history [1].", ["Use declare -A."])[0].status
'miscited'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared_utils.text import question_terms, stem
from shared_utils.types import ScoredChunk
from src.answer.citations import parse_markers, strip_markers
from src.answer.claim_alignment import Verdict, specifics, verdict
from src.events import ClaimCheck, ClaimStatus

SUPPORT_SHARE = 0.5
MIN_CLAIM_TERMS = 3
STRUCK = "~~{}~~"  # an unsupported sentence as the answer shows it
STRUCK_NOTE = "(struck through: not what the sources say)"  # under an answer with one
# what a reader sees on a claim: stated by its passage, not verified, not supported (struck)
MARKS = {
    "supported": "✓",
    "unverified": "?",
    "contradicted": "✗",
    "miscited": "✗",
    "uncited": "✗",
    "no_claim": "",
}

# a sentence ends at . ! ? (then any citation markers) before whitespace and a capital, digit,
# bracket, quote or bullet; a line break always ends one (answers are often bullet lists)
_BOUNDARY = re.compile(
    r"(?P<end>[.!?](?:~~)?(?:[ \t]?\[[^\]\n]{1,24}\])*)[ \t]+"
    r"(?=[A-Z0-9\"'(•*~-]|\[(?![\d,;\s-]+\]))|\n+"
)


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
        out[len(out) - len(pieces) :] = out[len(out) - len(pieces) :][::-1]
    return out


def check_claims(answer: str, sources: Sequence[str | ScoredChunk]) -> list[ClaimCheck]:
    """One ClaimCheck per sentence of ``answer``; ``sources[i]`` is source ``[i + 1]``."""
    return list(checked(answer, tuple(_source_text(s) for s in sources)))


@functools.lru_cache(maxsize=256)
def checked(answer: str, texts: tuple[str, ...]) -> tuple[ClaimCheck, ...]:
    """``check_claims`` on the sources' texts, remembered: the Chat page checks every answer
    of the conversation again on each rerun, and the Markdown download once more (clear it,
    ``checked.cache_clear()``, after changing a setting of the check)."""
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
        # a source can state or contradict a claim only if it shares enough of its words
        verdicts: list[Verdict] = [
            verdict(sentence, text) if share >= SUPPORT_SHARE else "neither"
            for share, text in zip(shares, texts, strict=True)
        ]
        checks.append(_status(sentence, cited, shares, verdicts))
    return tuple(checks)


def _status(
    sentence: str, cited: tuple[int, ...], shares: list[float], verdicts: list[Verdict]
) -> ClaimCheck:
    """The status of one claim from each source's word share and verdict."""
    cited_share = max((shares[n - 1] for n in cited), default=0.0)
    stating = [i + 1 for i, v in enumerate(verdicts) if v == "states"]
    best_n = max(range(len(shares)), key=lambda i: shares[i], default=None)
    if stating:
        best: int | None = stating[0]
    else:
        best = best_n + 1 if best_n is not None and shares[best_n] >= SUPPORT_SHARE else None
    if any(n in stating for n in cited):
        status: ClaimStatus = "supported"
    elif any(verdicts[n - 1] == "contradicts" for n in cited):
        status = "contradicted"
    elif cited and cited_share >= SUPPORT_SHARE:
        status = "unverified"
    else:
        status = "miscited" if cited else "uncited"
    return ClaimCheck(sentence, cited, status, cited_share, best, tuple(stating))


def listed(sentence: str) -> str:
    """A claim as the check lists it under its answer: no markers, bullet or strike-through.

    >>> listed("- ~~Bananas are yellow~~ [2]")
    'Bananas are yellow'
    """
    text = re.sub(r"^[-*•]\s+", "", strip_markers(sentence).strip())
    return text[2:-2].strip() if text.startswith("~~") and text.endswith("~~") else text


def summary(checks: Sequence[ClaimCheck]) -> str:
    """The check of an answer in words, as the Chat page, the downloaded Markdown and the logs
    put it ("" when it makes no claim).

    >>> summary(check_claims("The default port number is 3493 [1]. Bananas are yellow fruit [1].",
    ...                      ["The default port number is 3493."]))
    '1 of 2 claims supported by the cited passage (✓), 1 not supported (✗, struck through)'
    """
    claims = [c for c in checks if c.status != "no_claim"]
    if not claims:
        return ""
    counts = {mark: sum(MARKS[c.status] == mark for c in claims) for mark in ("✓", "?", "✗")}
    parts = [f"{counts['✓']} of {len(claims)} claims supported by the cited passage (✓)"]
    if counts["?"]:
        parts.append(f"{counts['?']} not verified (?)")
    if counts["✗"]:
        parts.append(f"{counts['✗']} not supported (✗, struck through)")
    return ", ".join(parts)


def claims_of(answer: str, sources: Sequence[str | ScoredChunk]) -> list[ClaimCheck]:
    """The checks of the sentences that claim something (what an answer's reader is shown)."""
    if not answer or not sources:
        return []
    return [c for c in check_claims(answer, sources) if c.status != "no_claim"]


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
        if check.status == "unverified" and not check.stating:
            continue  # no source says it better than the one it cites
        bare = strip_markers(check.sentence).rstrip()
        # a claim its passage contradicts moves only to a source that states it
        best = (
            check.stating[0]
            if check.stating
            else (None if check.status == "contradicted" else check.best)
        )
        if best is not None:
            new = _with_marker(bare, best)
            inferred.append(best)
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
