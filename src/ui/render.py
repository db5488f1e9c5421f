"""Safe rendering of untrusted text (document passages, model answers, file names).

Document text is never rendered as raw HTML or live Markdown: every character Markdown (or
Streamlit's own extensions) could interpret is backslash-escaped, so a PDF containing
``<script>`` or ``[a link](http://x)`` shows exactly that text. Model answers keep harmless
emphasis and lists, nothing else. Only the markup added here is live: query-term highlights
and ``[n]`` citation links.

>>> escape_markdown("<script>alert(1)</script> [a](http://x) *b* $x$").replace("\u2060", "")
'\\\\<script\\\\>alert\\\\(1\\\\)\\\\</script\\\\> \\\\[a\\\\]\\\\(http\\\\://x\\\\) \\\\*b\\\\* \\\\$x\\\\$'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared_utils.text import QUESTION_STOPWORDS

# Every ASCII punctuation character CommonMark allows to be backslash-escaped, minus the
# harmless ones that appear constantly in prose (, . ' " ; ? / @ % &): escaping those is
# legal too but makes copied text noisy. ':' is escaped for Streamlit's :color[...] and
# :material/icon: directives, '$' for LaTeX, '~' for strikethrough, '|' for tables.
_SPECIAL = set("\\`*_{}[]()#+-!<>$:~|=^&")
_ESCAPE_RE = re.compile("[" + re.escape("".join(sorted(_SPECIAL))) + "]")
# Model answers keep harmless formatting (emphasis, lists, headings, code): only what could
# link, load, run or restyle is escaped.
_ANSWER_SPECIAL = set("\\[]<>&!$:{}^=|")
# A file (the Markdown download) is read by Markdown viewers, not Streamlit, and copied from:
# only what CommonMark / GFM would turn into formatting is escaped (no ':' '-' '(' '=' '!'),
# '#', '+', '-' and '>' only where they start a line, '$' only on a line with a pair of them
# (GFM math), and URLs stay as they are.
_FILE_SPECIAL = set("\\`*_[]<>~|")
_FILE_ESCAPE_RE = re.compile("[" + re.escape("".join(sorted(_FILE_SPECIAL))) + "]")
_FILE_LINE_START_RE = re.compile(r"^(\s*)([#+>-])", re.MULTILINE)
_ANSWER_ESCAPE_RE = re.compile("[" + re.escape("".join(sorted(_ANSWER_SPECIAL))) + "]")
# GFM turns bare URLs, www. names and e-mail addresses into live links even when escaped
# (remark links the text after escapes and entities are decoded); an invisible WORD JOINER
# (U+2060) after the scheme / "www" / "@" is the one thing that keeps them plain text. It is
# put only where a link would form: an "@" with an address part before it and a dotted domain
# after it, never in "@hist_linear" (no link: a copied name must not carry a hidden character).
_AUTOLINK_RE = re.compile(
    r"(?i)\b(https?|ftp|mailto)(?=\\?:)|\b(www)(?=\.)"
    r"|(?<=[\w.+-])(@)(?=[\w\\.-]*\.\w)"
)
WORD_JOINER = "\u2060"

_WORD_RE = re.compile(r"[A-Za-z0-9][\w'-]*")
_ORDERED_LIST_RE = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_CITATION_RE = re.compile(r"\\\[(\d{1,3})\\\]")


def escape_markdown(text: str, *, keep_formatting: bool = False) -> str:
    """Backslash-escape Markdown/HTML/Streamlit syntax so ``text`` renders literally.

    Newlines are kept as Markdown hard line breaks, so a passage keeps its lines. With
    ``keep_formatting`` (model answers) emphasis, lists and code stay live, but links,
    images, HTML, LaTeX and Streamlit directives are still escaped.

    >>> escape_markdown("a_b")
    'a\\\\_b'
    >>> escape_markdown("**88 days** [x](http://y)", keep_formatting=True)
    '**88 days** \\\\[x\\\\](http\u2060\\\\://y)'
    """
    pattern = _ANSWER_ESCAPE_RE if keep_formatting else _ESCAPE_RE
    escaped = pattern.sub(lambda m: "\\" + m.group(0), text.replace("\r", ""))
    escaped = _AUTOLINK_RE.sub(lambda m: m.group(0) + WORD_JOINER, escaped)
    if keep_formatting:
        return escaped
    escaped = _ORDERED_LIST_RE.sub(r"\1\\.", escaped)  # "2. x" at a line start is no list
    return escaped.replace("\n", "  \n")


def query_terms(question: str) -> list[str]:
    """Words of ``question`` worth highlighting (no stopwords, 3+ characters), unique.

    >>> query_terms("How do I configure the UPS shutdown timer?")
    ['configure', 'UPS', 'shutdown', 'timer']
    """
    seen: dict[str, str] = {}
    for word in _WORD_RE.findall(question):
        word = word.strip("'-")
        if len(word) >= 3 and word.lower() not in QUESTION_STOPWORDS:
            seen.setdefault(word.lower(), word)
    return list(seen.values())


def highlight(text: str, terms: Iterable[str]) -> str:
    """Escaped ``text`` as Markdown with every whole-word occurrence of ``terms`` highlighted.

    >>> highlight("The UPS <b>shuts</b> down", ["ups"])
    'The :orange-background[UPS] \\\\<b\\\\>shuts\\\\</b\\\\> down'
    """
    words = sorted({t.lower() for t in terms if t}, key=len, reverse=True)
    if not words:
        return escape_markdown(text)
    alternatives = "|".join(re.escape(w) for w in words)
    pattern = re.compile(r"(?<!\w)(" + alternatives + r")(?!\w)", re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(escape_markdown(text[pos : match.start()]))
        out.append(f":orange-background[{escape_markdown(match.group(0))}]")
        pos = match.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def source_anchor(turn: int, number: int) -> str:
    """HTML id of source ``number`` of answer ``turn`` in the sources panel."""
    return f"src-{turn}-{number}"


def escape_file_markdown(text: str) -> str:
    """``text`` escaped for a Markdown file: shown literally by a viewer, with little noise
    when read or copied as plain text (commands, paths and URLs stay usable).

    >>> escape_file_markdown("type: chmod +x a.engine; see http://x.org/a_b")
    'type: chmod +x a.engine; see http://x.org/a\\\\_b'
    >>> escape_file_markdown("# not a heading: $(dirname $1) *b*")
    '\\\\# not a heading: \\\\$(dirname \\\\$1) \\\\*b\\\\*'
    """
    escaped = _FILE_ESCAPE_RE.sub(lambda m: "\\" + m.group(0), text.replace("\r", ""))
    escaped = _FILE_LINE_START_RE.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    escaped = "\n".join(
        line.replace("$", "\\$") if line.count("$") >= 2 else line for line in escaped.split("\n")
    )
    escaped = _ORDERED_LIST_RE.sub(r"\1\\.", escaped)  # "2. x" at a line start is no list
    return escaped.replace("\n", "  \n")


def extract_markdown(text: str, *, for_file: bool = False) -> str:
    """Source sentences (an extract) as Markdown that shows them literally: each "- " line
    stays a list item, everything else is escaped (a source's "two adjacent '*'s" is no
    emphasis). The Chat page and the Markdown download both use it.

    >>> print(extract_markdown("Sentences:\\n- two adjacent '*'s [1]"))
    Sentences\\:
    - two adjacent '\\*'s \\[1\\]
    """
    escape = escape_file_markdown if for_file else escape_markdown
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith("- "):
            out.append("\n- " + escape(line[2:]))
        else:
            out.append(("  \n" if out else "") + escape(line))
    return "".join(out).lstrip("\n")


def answer_text_markdown(text: str) -> str:
    """An answer as Markdown: what a model wrote keeps its harmless formatting; the extract
    (quoted source sentences) is literal, wherever it stands."""
    from shared_utils.generation.extractive import segments

    return "".join(
        extract_markdown(piece) if quoted else escape_markdown(piece, keep_formatting=True)
        for piece, quoted in segments(text)
    )


def answer_markdown(text: str, *, turn: int, n_sources: int) -> str:
    """Escaped answer text whose ``[n]`` citations link to the sources panel.

    Only numbers that name a source become links; anything else stays literal text.

    >>> answer_markdown("Use upsmon [1]. See [9].", turn=2, n_sources=3)
    'Use upsmon [\\\\[1\\\\]](#src-2-1). See \\\\[9\\\\].'
    """
    escaped = answer_text_markdown(text)

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if 1 <= n <= n_sources:
            return f"[\\[{n}\\]](#{source_anchor(turn, n)})"
        return m.group(0)

    return _CITATION_RE.sub(link, escaped)


def relevance_html(similarity: float | None, threshold: float) -> str:
    """A 5-cell relevance bar and its words, on the absolute scale abstention uses
    (``src/answer/abstention.py``): a passage the app calls "loosely related" never shows a full
    bar, whatever the other sources score. The similarity shows on hover.

    >>> relevance_html(0.30, 0.43)
    '<span class="olympus-relevance" title="similarity 0.30; answers need 0.43">▰▱▱▱▱ loosely related</span>'
    """
    from src.answer.abstention import relevance

    cells, words = relevance(similarity, threshold)
    if similarity is None:
        return f'<span class="olympus-relevance" title="found by its words only">{words}</span>'
    hover = f"similarity {float(similarity):.2f}"
    if threshold > 0:
        hover += f"; answers need {threshold:.2f}"
    bar = "▰" * cells + "▱" * (5 - cells)
    return f'<span class="olympus-relevance" title="{hover}">{bar}{" " + words if words else ""}</span>'


def anchor_html(turn: int, number: int) -> str:
    """An empty element carrying the anchor id (our own markup, no user text)."""
    return f'<div id="{source_anchor(int(turn), int(number))}"></div>'


def human_bytes(n: float) -> str:
    """
    >>> human_bytes(1536)
    '1.5 KB'
    >>> human_bytes(0)
    '0 B'
    """
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def human_duration(seconds: float | None) -> str:
    """
    >>> human_duration(75)
    '1 min 15 s'
    >>> human_duration(None)
    '-'
    """
    if seconds is None or seconds < 0:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
