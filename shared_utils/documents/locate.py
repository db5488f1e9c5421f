"""Find a passage (a chunk's normalised text) in the raw text of one page.

A chunk's text went through :mod:`shared_utils.documents.text` (NFKC, joined hyphens, headers
dropped, whitespace collapsed), so it is not a substring of the raw page text. Both are
reduced to a *key*: lower-case letters and digits only, each key character remembering the
raw index it came from. The passage's sentences are then found in the page's key, in order;
a sentence that runs onto another page is matched by its longest prefix or suffix on this
page. The result is a list of raw ``(start, end)`` spans, ready to be mapped to character or
word boxes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from shared_utils.text import split_sentences

# TeX's OT1 ligature glyphs come out of some PDFs as control characters (see text.py).
_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0e": "ffi", "\x0f": "ffl"}
MIN_PARTIAL = 12  # key characters a partial (page-spanning) sentence match needs


def text_key(text: str) -> tuple[str, list[int]]:
    """Lower-case alphanumerics of ``text`` and, for each, its index in ``text``.

    >>> text_key("An exam-\\nple \\ufb01le")
    ('anexamplefile', [0, 1, 3, 4, 5, 6, 9, 10, 11, 13, 13, 14, 15])
    """
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        expanded = _LIGATURES.get(ch) or unicodedata.normalize("NFKC", ch)
        for c in expanded.lower():
            if c.isalnum():
                chars.append(c)
                where.append(i)
    return "".join(chars), where


def locate(passage: str, page_text: str) -> list[tuple[int, int]]:
    """Raw ``(start, end)`` spans of ``page_text`` that hold the sentences of ``passage``.

    >>> page = "Header\\nThe flux capa-\\ncitor needs 88 days.\\nOther text here."
    >>> [page[a:b] for a, b in locate("The flux capacitor needs 88 days.", page)]
    ['The flux capa-\\ncitor needs 88 days']
    >>> locate("Nothing of this is on the page.", page)
    []
    """
    key, where = text_key(page_text)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in split_sentences(passage, at_bullets=False):
        skey, _ = text_key(sentence)
        if len(skey) < 3:
            continue
        for start, end in _pieces(key, skey, cursor):
            spans.append((where[start], where[end - 1] + 1))
            cursor = max(cursor, end)
    return _merge(spans)


def _pieces(key: str, skey: str, cursor: int) -> list[tuple[int, int]]:
    """Key spans that hold ``skey``: whole when it is there, else its pieces of at least
    MIN_PARTIAL characters (a sentence that runs onto the next page, or whose lines PDFium
    orders differently), each looked for after ``cursor`` first."""
    out: list[tuple[int, int]] = []
    i = 0
    while len(skey) - i >= (3 if i == 0 else MIN_PARTIAL):
        rest = skey[i:]
        at = _find(key, rest, cursor)
        if at >= 0:
            out.append((at, at + len(rest)))
            break
        n = _longest(lambda k, rest=rest: key.find(rest[:k]) >= 0, len(rest))
        if n >= MIN_PARTIAL:
            at = _find(key, rest[:n], cursor)
            out.append((at, at + n))
            i += n
        else:
            i += 1
    return out


def _find(key: str, part: str, cursor: int) -> int:
    at = key.find(part, cursor)
    return at if at >= 0 else key.find(part)


def _longest(found, upper: int) -> int:
    """Largest k in [0, upper] with found(k) (found is monotone: true up to some k)."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if found(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + 3:  # a sentence end between
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
