"""Evidence: the few source sentences that answer a question, chosen by what it asks.

Retrieval finds the right passage; the answer is then built from sentences of it. A sentence
scores its relevance (the embedding similarity of question and sentence plus a weighted word
overlap, or the overlap alone) plus a bonus for the shape the question's
kind asks for (``question_kind``):

- ``definition`` ("what is X", "what does X mean"): a sentence that says "X is/are/means ...";
- ``howto`` ("how do I ..."): a sentence naming a command, an option or a setting;
- ``comparison`` ("difference between A and B", "A vs B"): the best sentence for each side
  (one that names both sides wins);
- ``value`` ("how many", "default", "which port"): a sentence with a number or a default;
- ``option`` ("which option/variable/command ..."): a sentence naming an option or identifier.

A chosen sentence that is cut off from its context gets its neighbour: one starting with a
pronoun ("It", "This", "They") gets the sentence before it; one ending with ":" the one after.
A sentence scoring under ``MIN_SHARE_OF_BEST`` of the best one is not evidence (no padding),
nor is a sentence that asks a question (a FAQ heading repeats the user's words but does not
answer them): the sentence after it is scored together with it, since it answers it.

>>> ev = select_evidence("What is upsd?", [(1, "Intro. The upsd daemon serves UPS data. It listens on 3493.")])
>>> [e.text for e in ev][0]
'The upsd daemon serves UPS data.'
>>> question_kind("What is the difference between $* and $@?")
'comparison'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared_utils.generation.sentences import MAX_SENTENCE_WORDS, score_sentences
from shared_utils.text import question_terms, split_sentences, stem, words

Similarity = Callable[[str, Sequence[str]], Sequence[float]]
LEXICAL_WEIGHT = 0.3  # the word overlap's weight next to the similarity (chosen on dev)
KIND_BONUS = 0.15  # a sentence of the shape the question asks for (chosen on dev)
MAX_EVIDENCE = 3
MIN_SHARE_OF_BEST = 0.5  # a further sentence scores at least this share of the best one

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "comparison",
        re.compile(
            r"\b(?:difference|differences|differ|compare[ds]?|comparison|versus|vs\.?)\b"
            r"|\bbetween\b.+\band\b",
            re.I,
        ),
    ),
    (
        "option",
        re.compile(
            r"^(?:which|what)\s+(?:\w+\s+){0,2}(?:option|options|flag|switch|variable|command|"
            r"setting|directive|keyword|parameter|builtin|function|file|field|statement)s?\b",
            re.I,
        ),
    ),
    (
        "value",
        re.compile(
            r"\bhow (?:many|much|long|large|big|often)\b|\bdefault\b|\bmaximum\b|\bminimum\b"
            r"|\blimit\b|\bwhat (?:port|version|size|number|value|range)\b|\bwhich (?:port|version)\b",
            re.I,
        ),
    ),
    ("howto", re.compile(r"^(?:how (?:do|can|should|would) (?:i|you|we|one)|how to)\b", re.I)),
    (
        "definition",
        re.compile(
            r"^(?:what|who)\s+(?:is|are)\s+(?:an?\s+|the\s+)?\S|\bwhat does\b.+\bmean\b"
            r"|\bwhat is meant by\b|^define\b|\bstands? for\b",
            re.I,
        ),
    ),
)
_OPTION = re.compile(
    r"(?<![\w-])--?[A-Za-z][\w-]*|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b\w+=\S*"
    r"|\b[\w-]+\.(?:conf|cfg|ini|rc|d|sh)\b|`[^`]+`|\$\{?\w"
)
# a sentence that tells what to run ("run upsdrvctl start myups", "type stap -v", "$ make")
_COMMAND = re.compile(
    r"\b(?:run|type|enter|execute|invoke|issue)\s+(?:the\s+)?[a-z][\w.-]*\s+\S"
    r"|(?:^|\s)[$#]\s+[a-z]",
    re.I,
)
_NUMBER = re.compile(r"\d")
_DEFINES = re.compile(
    r"\b(?:is|are|means|refers to|stands for|is called|denotes|"
    r"is defined as|is used to|provides?)\b",
    re.I,
)
_CUT_START = re.compile(
    r"^(?:it|its|this|that|these|those|they|them|their|such|he|she|"
    r"the latter|the former|here|there|then|also|however|otherwise)\b",
    re.I,
)
# page debris the PDF text carries between sentences: table-of-contents entries ("7 2.12.4
# upsset ... 7 2.13 Version Numbering ..."), index entries ("local variables, 47, 51 @avg"), a
# lone page number or running header ("Chapter 2.")
_TOC_ENTRY = re.compile(r"(?:^|\s)\d+(?:\.\d+)*\s+[^.\s][^.]{0,60}?\s\.\.\.(?=\s|$)")
_INDEX_ENTRY = re.compile(r"[A-Za-z)\]],\s+\d+(?:,\s+\d+)*(?=\s+[^\d\s,]|$)")
_SCRAP = re.compile(
    r"^(?:(?:chapter|section|part|appendix|page|table|figure)\s+\S+|[\W\d_]*)$", re.I
)
# where a page break glued the next page's number and heading to a sentence ("quote{}); 17
# Acknowledgments Financial support ..."): a candidate is cut there
_PAGE_BREAK = re.compile(r"(?<=[.;:!?)])\s+(?=\d{1,4}\s+[A-Z])")
_BETWEEN = re.compile(r"\bbetween\s+(.+?)\s+and\s+(.+?)[?.]*$", re.I)
_VERSUS = re.compile(
    r"^(?:.*?\b(?:of|is|are)\s+)?(.+?)\s+(?:vs\.?|versus|or|and)\s+(.+?)[?.]*$", re.I
)


@dataclass(frozen=True, slots=True)
class Evidence:
    number: int  # the source's [n]
    text: str  # the sentence, with its neighbour where it alone is cut off
    score: float


def question_kind(question: str) -> str:
    """definition, howto, comparison, value, option or other (first pattern that matches).

    >>> [question_kind(q) for q in ("How do I list jobs?", "Which option prints the version?",
    ...  "What is the default port?", "What is a coprocess?", "Why?")]
    ['howto', 'option', 'value', 'definition', 'other']
    """
    q = " ".join(question.split())
    for kind, pattern in _KINDS:
        if pattern.search(q):
            return kind
    return "other"


def sides(question: str) -> tuple[set[str], set[str]] | None:
    """The stemmed terms of the two things a comparison compares, or None.

    >>> sides("What is the difference between a login shell and an interactive shell?")
    ({'login'}, {'interact'})
    """
    q = " ".join(question.split())
    m = _BETWEEN.search(q) or _VERSUS.search(
        re.sub(r"^what(?:'s| is) the difference\s*", "", q, flags=re.I)
    )
    if not m:
        return None
    a = {stem(w) for w in _side_terms(m.group(1))}
    b = {stem(w) for w in _side_terms(m.group(2))}
    common = a & b
    a, b = a - common, b - common
    return (a, b) if a and b else None


def _side_terms(text: str) -> list[str]:
    raw = [w for w in words(text) if w in question_terms(text) or not w.isalpha()]
    return [w for w in raw if w not in {"difference", "differences", "compare"}]


def is_debris(sentence: str) -> bool:
    """A table-of-contents entry, an index line or a scrap too short to say anything: never
    evidence.

    >>> [is_debris(s) for s in ("7 2.12.4 upsset ... 7 2.13 Version Numbering ... 8 2.14",
    ...  "history list, 12, 139 ignoreeof, 95, 102", "Chapter 2.", "timer.ms(milliseconds)",
    ...  "If c(3,4,2) is the dimension vector, 3 x 4 x 2 = 24 entries, 2.6.18, 1.4 and 2.0 ...")]
    [True, True, True, False, False]
    """
    toc = _TOC_ENTRY.findall(sentence)
    if len(toc) >= 2 or (toc and len(sentence) <= 80):
        return True
    return len(_INDEX_ENTRY.findall(sentence)) >= 2 or bool(_SCRAP.match(sentence.strip()))


def is_question(sentence: str) -> bool:
    """A sentence that asks rather than tells (a FAQ heading, a rhetorical question): it names
    the question's words without answering it, so it is never evidence; the sentences after it
    are.

    >>> [is_question(s) for s in ("27 How do you make upsd reload the config file?",
    ...  "Send it a SIGHUP (see kill(1)).", "Is it running? Check with ps.")]
    [True, False, False]
    """
    return sentence.rstrip().rstrip("\"')\u201d").endswith("?")


def candidates(text: str) -> list[str]:
    """The sentences of a source that can be evidence: split where a page break glued the next
    page to a sentence, without debris (``is_debris``) and without questions (``is_question``)."""
    return [sentence for sentence, _ in _pieces(text)]


def _pieces(text: str) -> list[tuple[str, str]]:
    """``candidates`` each with the text it is scored by: the sentence, or, right after a
    question (a FAQ heading), the question and the sentence, since that sentence answers it."""
    out: list[tuple[str, str]] = []
    asked = ""
    for sentence in split_sentences(text, max_words=MAX_SENTENCE_WORDS):
        for piece in _PAGE_BREAK.split(sentence):
            if is_question(piece):
                asked = piece
            elif not is_debris(piece):
                out.append((piece, f"{asked} {piece}" if asked else piece))
                asked = ""
    return out


def _kind_bonus(kind: str, sentence: str, subject: set[str]) -> float:
    if kind == "definition":  # "X is ...": the subject within the few words before the verb
        verb = _DEFINES.search(sentence)
        head = words(sentence[: verb.start()])[-6:] if verb else []
        return KIND_BONUS if any(stem(w) in subject for w in head) else 0.0
    if kind == "howto":
        return KIND_BONUS if _OPTION.search(sentence) or _COMMAND.search(sentence) else 0.0
    if kind == "option":
        return KIND_BONUS if _OPTION.search(sentence) else 0.0
    if kind == "value":
        return KIND_BONUS if _NUMBER.search(sentence) or "default" in sentence.lower() else 0.0
    return 0.0


def _scores(question: str, sentences: Sequence[str], similarity: Similarity | None) -> list[float]:
    lexical = score_sentences(question, sentences)
    if similarity is None:
        return list(lexical)
    top = max(lexical) or 1.0
    return [
        float(s) + LEXICAL_WEIGHT * lex / top
        for s, lex in zip(similarity(question, sentences), lexical, strict=True)
    ]


def select_evidence(
    question: str,
    sources: Sequence[tuple[int, str]],
    *,
    similarity: Similarity | None = None,
    max_sentences: int = MAX_EVIDENCE,
) -> list[Evidence]:
    """The best sentences of ``sources`` ((number, text) pairs) for ``question``, best first,
    each with its neighbour where it alone is cut off; [] when no sentence shares a word with
    the question and no ``similarity`` is given."""
    per_source = [(n, _pieces(t)) for n, t in sources]
    cands = [(n, i) for n, pieces in per_source for i in range(len(pieces))]
    if not cands:
        return []
    texts = {n: [sentence for sentence, _ in pieces] for n, pieces in per_source}
    flat = [texts[n][i] for n, i in cands]
    scored = [pieces[i][1] for n, pieces in per_source for i in range(len(pieces))]
    lexical = score_sentences(question, scored)
    base = _scores(question, scored, similarity)
    kind = question_kind(question)
    subject = {stem(t) for t in question_terms(question)} - {"mean", "differ"}
    scores = [b + _kind_bonus(kind, s, subject) for b, s in zip(base, flat, strict=True)]
    order = sorted(range(len(cands)), key=lambda j: (-scores[j], j))
    order = [j for j in order if lexical[j] > 0 or similarity is not None]
    if order:  # no padding: a sentence far below the best is not evidence
        floor = MIN_SHARE_OF_BEST * scores[order[0]]
        order = [j for j in order if scores[j] >= floor]
    if kind == "comparison" and (two := sides(question)):
        order = _both_sides(order, flat, two)
    picked: list[int] = []
    seen: set[str] = set()
    for j in order:
        if flat[j] in seen:
            continue  # overlapping chunks repeat sentences: quote each once
        seen.add(flat[j])
        picked.append(j)
        if len(picked) == max_sentences:
            break
    out: list[Evidence] = []
    for j in picked:
        text = _with_context(texts[cands[j][0]], cands[j][1])
        if not any(text in e.text or e.text in text for e in out):
            out.append(Evidence(cands[j][0], text, scores[j]))
    return out


def _both_sides(order: list[int], flat: Sequence[str], two: tuple[set[str], set[str]]) -> list[int]:
    """``order`` with a sentence naming both sides first, else the best for each side first."""
    a, b = two
    stems_of = [{stem(w) for w in words(s)} for s in flat]
    both = [j for j in order if stems_of[j] & a and stems_of[j] & b]
    first_a = next((j for j in order if stems_of[j] & a), None)
    first_b = next((j for j in order if stems_of[j] & b), None)
    head = both[:1] + [j for j in (first_a, first_b) if j is not None and j not in both[:1]]
    return list(dict.fromkeys(head + order))


def _with_context(sentences: Sequence[str], i: int) -> str:
    """Sentence ``i`` with the one before it when it opens with a pronoun, and the one after it
    when it ends with a colon."""
    text = sentences[i]
    if i > 0 and _CUT_START.match(text):
        text = f"{sentences[i - 1]} {text}"
    if text.rstrip().endswith(":") and i + 1 < len(sentences):
        text = f"{text} {sentences[i + 1]}"
    return text
