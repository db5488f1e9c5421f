"""Normalise extracted PDF page text: pure functions, no I/O.

The steps, in the order :func:`normalize_pages` applies them:

1. :func:`clean_characters`: Unicode NFKC (``ﬁ`` -> ``fi``), TeX ligature artefacts that some
   extractors emit as control characters (``"\\x0crst"`` -> ``"first"``), soft hyphens, stray
   control characters, ``\\r\\n`` line ends.
2. :func:`strip_repeated_lines`: running headers/footers (lines repeated at the top or bottom of
   many pages, with digits ignored) and bare page-number lines.
3. :func:`join_hyphenated`: ``"exam-\\nple"`` -> ``"example"``, keeping real hyphens
   (``"non-\\nzero"`` stays ``"non-zero"`` when the document spells it so elsewhere).
4. :func:`normalize_whitespace`: one space between words, at most one blank line.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

# Control characters that TeX's OT1 fonts use for ligatures; pypdf passes them through.
_TEX_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}
# \x0b, \x0c, \x0e, \x0f next to a letter; \r only inside a word (a lone \r is a line end).
_LIGATURE_RE = re.compile(
    r"(?<=[A-Za-z])[\x0b\x0c\x0e\x0f]|[\x0b\x0c\x0e\x0f](?=[a-z])|(?<=[A-Za-z])\x0d(?=[a-z])"
    r"|(?<![^\s(\"'])\x0d(?=[a-z]{2})"
)
# pdfium marks a hyphen it removed at a line end with U+FFFE (or \x02); U+00AD is a soft hyphen.
_SOFT_HYPHEN_RE = re.compile(r"[\ufffe\x02\u00ad]\s*\n?\s*")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_HYPHEN_BREAK_RE = re.compile(r"(?<=\w)-[ \t]*\n[ \t]*([a-z]\w*)")
_HEAD_WORD_RE = re.compile(r"\w+\Z")
_PAGE_NUMBER_RE = re.compile(
    r"^(?:page\s+)?(?:[-–—]\s*)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*[-–—])?(?:\s*(?:/|of)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_LEADER_RE = re.compile(r"\.(?:[ \t]*\.){3,}")  # table-of-contents dot leaders
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]")
# Prefixes that keep their hyphen when a line break falls after them.
_HYPHEN_PREFIXES = frozenset(
    "non self multi well pre post anti co cross semi sub super inter intra meta ex re "
    "built long short high low user read write run time".split()
)


def clean_characters(text: str) -> str:
    """Fix ligatures, soft hyphens and control characters; NFKC; ``\\n`` line ends.

    >>> clean_characters("\\ufb01rst \\ufb02ow e\\ufb00ort")
    'first flow effort'
    >>> clean_characters("the \\x0crst \\x0cle, o\\x0bset and \\x0dag")
    'the first file, offset and flag'
    >>> clean_characters("line one\\r\\nline two\\x07")
    'line one\\nline two'
    >>> clean_characters("accord\\ufffeingly and soft\\u00adware")
    'accordingly and software'
    """
    text = text.replace("\r\n", "\n")
    if any(ch in text for ch in _TEX_LIGATURES):  # the lookbehind regex is slow: skip it
        text = _LIGATURE_RE.sub(lambda m: _TEX_LIGATURES[m.group(0)], text)
    text = text.replace("\r", "\n")
    text = _SOFT_HYPHEN_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\t", " ").replace("\f", "\n")
    return _CONTROL_RE.sub("", text)


def join_hyphenated(text: str, vocabulary: set[str] | None = None) -> str:
    """Join words hyphenated across a line break, keeping genuine compound hyphens.

    ``vocabulary`` (lower-case words seen in the document) decides ambiguous cases: the
    hyphen stays when the document spells the hyphenated form, or when the first part is
    a common prefix (non-, self-, multi-) and the joined word is not in the vocabulary.

    >>> join_hyphenated("an exam-\\nple of it")
    'an example of it'
    >>> join_hyphenated("a non-\\nzero value")
    'a non-zero value'
    >>> join_hyphenated("a time-\\nout", {"time-out"})
    'a time-out'
    >>> join_hyphenated("the X-\\nWindow system")
    'the X-\\nWindow system'
    """
    vocab = vocabulary or set()

    if "-" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        # the word before the hyphen (a bounded look back: lookbehinds cannot capture)
        head_match = _HEAD_WORD_RE.search(text, max(0, m.start() - 80), m.start())
        head, tail = (head_match.group(0) if head_match else ""), m.group(1)
        joined = (head + tail).lower()
        hyphenated = f"{head}-{tail}".lower()
        if hyphenated in vocab and joined not in vocab:
            return f"-{tail}"
        if head.lower() in _HYPHEN_PREFIXES and joined not in vocab:
            return f"-{tail}"
        return tail

    return _HYPHEN_BREAK_RE.sub(repl, text)


def normalize_whitespace(text: str) -> str:
    """One space between words, no trailing spaces, at most one blank line, short leaders.

    >>> normalize_whitespace("  a   b \\n\\n\\n\\n c\\t d  ")
    'a b\\n\\nc d'
    >>> normalize_whitespace("1.2 Intro . . . . . . . . 7 and wait... done")
    '1.2 Intro ... 7 and wait... done'
    """
    text = _LEADER_RE.sub(" ...", text)
    text = re.sub(r"[ \t\u00a0\u2000-\u200b\u3000]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def is_page_number_line(line: str) -> bool:
    """True for lines that hold only a page number.

    >>> [is_page_number_line(s) for s in ["12", "Page 3 of 40", "- iv -", "12 / 115", "12 cats"]]
    [True, True, True, True, False]
    """
    return bool(_PAGE_NUMBER_RE.match(line.strip()))


def _line_key(line: str) -> str:
    """Header identity: lower case, digits and leading/trailing roman numerals ignored."""
    key = re.sub(r"\d+", "#", re.sub(r"\s+", " ", line.strip().lower()))
    return re.sub(r"(^[ivxlcdm]+\b|\b[ivxlcdm]+$)", "#", key)


def strip_repeated_lines(
    pages: Sequence[str], *, min_share: float = 0.05, min_pages: int = 3
) -> list[str]:
    """Drop running headers/footers and page-number lines from each page's text.

    Page-number lines at the top or bottom of a page always go. Then the first and the last
    remaining line of a page go when the same line (digits and roman numerals ignored) is
    the first (or last) line of at least ``max(min_pages, min_share * len(pages))`` pages.

    >>> bodies = ["Alpha.\\nBeta.", "Gamma.\\nDelta.", "Epsilon.", "Zeta.\\nEta."]
    >>> pages = [f"Guide to X {i}\\n{body}\\n{i}" for i, body in enumerate(bodies, 1)]
    >>> strip_repeated_lines(pages)
    ['Alpha.\\nBeta.', 'Gamma.\\nDelta.', 'Epsilon.', 'Zeta.\\nEta.']
    >>> strip_repeated_lines(["one\\nbody\\n- 7 -", "two"])
    ['one\\nbody', 'two']
    """
    split = [page.split("\n") for page in pages]
    for lines in split:
        while lines and (not lines[0].strip() or is_page_number_line(lines[0])):
            lines.pop(0)
        while lines and (not lines[-1].strip() or is_page_number_line(lines[-1])):
            lines.pop()
    tops = Counter(_line_key(lines[0]) for lines in split if len(lines) > 1)
    bottoms = Counter(_line_key(lines[-1]) for lines in split if len(lines) > 1)
    threshold = max(min_pages, min_share * len(pages))
    out: list[str] = []
    for lines in split:
        if len(lines) > 1 and tops[_line_key(lines[0])] >= threshold:
            lines = lines[1:]
        if len(lines) > 1 and bottoms[_line_key(lines[-1])] >= threshold:
            lines = lines[:-1]
        out.append("\n".join(lines).strip())
    return out


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Lower-case words (and hyphenated compounds) that appear in ``texts``.

    >>> sorted(vocabulary(["A non-zero Example", "example"]))
    ['example', 'non-zero']
    """
    words: set[str] = set()
    for text in texts:
        words.update(w.lower() for w in _WORD_RE.findall(text))
    return words


def normalize_pages(pages: Sequence[str], *, strip_headers: bool = True) -> list[str]:
    """Normalise the texts of all pages of one document (see the module docstring).

    >>> normalize_pages(["Manual\\nAn exam-\\nple \\ufb01le.\\n1", "Manual\\nMore text.\\n2",
    ...                  "Manual\\nAn example.\\n3"])
    ['An example file.', 'More text.', 'An example.']
    """
    cleaned = [clean_characters(p) for p in pages]
    if strip_headers:
        cleaned = strip_repeated_lines(cleaned)
    vocab = vocabulary(cleaned)
    return [normalize_whitespace(join_hyphenated(p, vocab)) for p in cleaned]
