"""The caveat: say first which weighty words of the question no source mentions.

A question can pass abstention on the rest of its words and still ask about something the
sources never mention: "How do I install SystemTap on Windows?" over manuals that only cover
Linux finds passages about installing SystemTap, and an answer built from them reads like an
answer about Windows. So when a word that carries the question is held by none of the retrieved
sources, the answer opens by saying so, in plain words, before whatever answers the rest.

A word carries the question when it is

- a name (``abstention.names``: capitalised, a capital inside or a digit: "Windows", "GLPK",
  "5.2") that no document goes by (its file name or its title's initials count as a mention);
- a word no chunk of the whole library holds ("venv": the library never mentions it at all);
- a compound ("lead-acid", "upsd.conf", "etc/nut") of which some part is missing from the
  sources as well.

Ordinary words the sources phrase otherwise ("survive", "captured", "colours") are held by a few
chunks elsewhere in the library and are not caveats: an answerable question often uses them.
Chosen on the dev split (benchmarks/README.md, "Caveat: what the sources do not mention"):
counting words held by at most one or two chunks of the library as well caveated more
answerable questions and no more unanswerable ones.

>>> caveat_line(["Windows"])
'None of the sources mentions “Windows”; what they say about the rest of the question follows.'
>>> strip_caveat(caveat_line(["A", "B"]) + "\\n\\nPort 3493 [1].")
'Port 3493 [1].'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared_utils.text import QUESTION_STOPWORDS, stem
from src.answer.abstention import coverage, document_names, names, weights

if TYPE_CHECKING:
    from shared_utils.retrieval.base import KeywordIndex
    from shared_utils.stores.base import DocumentStore
    from shared_utils.types import ScoredChunk

OPENING = "None of the sources mentions "
_CLOSING = "; what they say about the rest of the question follows."
_LINE = re.compile(rf"^{re.escape(OPENING)}[^\n]*{re.escape(_CLOSING)}\n*")


def unmentioned(
    question: str,
    sources: Sequence[ScoredChunk],
    keywords: KeywordIndex,
    docstore: DocumentStore,
) -> list[str]:
    """The words that carry ``question`` (see the module docstring) and that none of the
    retrieved ``sources`` holds, in the question's order and spelling."""
    if not sources:
        return []
    _, missing = coverage(weights(question), sources)
    if not missing:
        return []
    spelled = {n.lower(): n for n in names(question)}
    frequency = keywords.frequencies([stem(w) for w in missing]) or {}
    known = document_names(docstore) if any(w in spelled for w in missing) else set()
    out = []
    for word in missing:
        if word in spelled:
            if word not in known and word.replace("-", "").replace(".", "") not in known:
                out.append(spelled[word])
        elif re.search(r"[-./]", word):
            parts = [p for p in re.split(r"[-./]", word) if len(p) > 1]
            if any(p not in QUESTION_STOPWORDS for p in parts) and _part_missing(parts, sources):
                out.append(word)
        elif frequency.get(stem(word)) == 0:
            out.append(word)
    return out


def _part_missing(parts: list[str], sources: Sequence[ScoredChunk]) -> bool:
    """Whether some content part of a compound is held by no source."""
    content = {p: 1.0 for p in parts if p not in QUESTION_STOPWORDS}
    return bool(coverage(content, sources)[1])


def caveat_line(unmentioned_words: Sequence[str]) -> str:
    """The answer's first line for ``unmentioned_words`` ("" for none)."""
    if not unmentioned_words:
        return ""
    quoted = [f"“{w}”" for w in unmentioned_words]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"{OPENING}{listed}{_CLOSING}"


def with_caveat(answer: str, unmentioned_words: Sequence[str]) -> str:
    """``answer`` opened by the caveat (unchanged without unmentioned words)."""
    line = caveat_line(unmentioned_words)
    return f"{line}\n\n{answer}" if line else answer


def strip_caveat(answer: str) -> str:
    """``answer`` without its opening caveat (what answers the rest of the question)."""
    return _LINE.sub("", answer, count=1)
