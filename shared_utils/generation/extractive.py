"""The extractive backend: no language model, always available, the last link of every chain.

It answers with the evidence for the question (``evidence.select_evidence``: the source
sentences that best match the question, by what it asks), each with its ``[n]`` citation,
under a heading that says plainly that this is an extract. The
answerer hands it the question and the sources directly (``with_sources``); only a bare call
with messages falls back to reading the ``<excerpt n="N">`` blocks and the ``Question:`` line
of the prompt built by ``src/answer/prompt.py``.

>>> from shared_utils.generation.base import GenerationOptions, Message
>>> backend = ExtractiveBackend().with_sources(
...     "What does stap run?", [PromptSource(1, "g.pdf", "Probes fire on events. Stap runs scripts.")])
>>> print(backend.generate([Message("user", "ignored")], options=GenerationOptions()))
Extract from the sources (no language model was used):
- Stap runs scripts. [1]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shared_utils.generation.base import Backend, Delta, GenerationOptions, Message
from shared_utils.generation.evidence import Evidence, Similarity, select_evidence
from shared_utils.generation.sentences import MAX_SENTENCE_WORDS
from shared_utils.text import split_sentences

EXTRACT_TITLE = "Extract from the sources"
NO_MODEL = "no language model was used"  # a bare extractive backend: nothing else was asked


def heading(why: str = NO_MODEL) -> str:
    """The extract's first line, saying why no model's text is shown (the answer's
    ``answered_by`` reason: "model X is too small to write", "X's answer was set aside")."""
    return f"{EXTRACT_TITLE} ({why}):" if why else f"{EXTRACT_TITLE}:"


HEADING = heading()
# the same extract when it goes with a model's answer (the model did write the text with it)
FOLLOWING_HEADING = "The most relevant sentences of the sources:"
_HEADING_LINE = re.compile(
    rf"^(?:{re.escape(EXTRACT_TITLE)}(?: \(.*\))?|"
    rf"{re.escape(FOLLOWING_HEADING[:-1])}):$",
    re.MULTILINE,
)
NO_SOURCES = (
    "No source passage was found for this question, and no language model is available "
    "to answer it."
)
NO_MATCH = "None of the sources mentions the words of the question; the closest passage is:"
_BLOCK = re.compile(r'<excerpt n="(\d+)">\n(.*?)\n</excerpt>', re.DOTALL)


@dataclass(frozen=True, slots=True)
class PromptSource:
    number: int
    label: str
    text: str


def parse_prompt(messages: Sequence[Message]) -> tuple[str, list[PromptSource]]:
    """(question, numbered sources) from the last user message of a ``src/answer/prompt.py`` prompt.

    Text that is not in that format yields its whole content as the question and no sources.
    """
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    sources = [PromptSource(int(n), "", text) for n, text in _BLOCK.findall(user)]
    question = user.strip()
    for line in user.splitlines():
        if line.startswith("Question: "):
            question = line[len("Question: ") :].strip()
    return question, sources


def split_extract(text: str) -> tuple[str, str]:
    """(what a model wrote, the extract: source sentences under their heading, to the end).
    The extract is quoted source text, so it is shown literally (``src/ui/render.py``).

    >>> split_extract("Port 3493 [1]." + chr(10) + FOLLOWING_HEADING + chr(10) + "- It *is* [1]")[1]
    'The most relevant sentences of the sources:\\n- It *is* [1]'
    >>> split_extract("Intro." + chr(10) + heading("set aside") + chr(10) + "- x")[0]
    'Intro.\\n'
    >>> split_extract("No extract here.")
    ('No extract here.', '')
    """
    found = _HEADING_LINE.search(text)
    if not found:
        return text, ""
    return text[: found.start()], text[found.start() :]


def model_adds(model: str) -> str:
    """The line before a small model's sentences that follow the evidence."""
    return f"What {model} adds, where a source supports it:"


def segments(text: str) -> list[tuple[str, bool]]:
    """``text`` in order as (piece, quoted) pairs: the extract (its heading and its "- "
    lines) is quoted source text, shown literally; the rest is what a model wrote, before the
    extract (a model's answer followed by it) or after it (a small model's additions).

    >>> segments("Model text." + chr(10) + FOLLOWING_HEADING + chr(10) + "- a *b* [1]")
    [('Model text.\\n', False), ('The most relevant sentences of the sources:\\n- a *b* [1]', True)]
    >>> [q for _, q in segments(HEADING + chr(10) + "- s [1]" + chr(10) * 2 + model_adds("m"))]
    [True, False]
    """
    found = _HEADING_LINE.search(text)
    if not found:
        return [(text, False)] if text else []
    lines = text[found.end() :].split("\n")
    block = 1
    while block < len(lines) and (lines[block].startswith("- ") or lines[block] == NO_MATCH):
        block += 1
    end = found.end() + len("\n".join(lines[:block]))
    pieces = [
        (text[: found.start()], False),
        (text[found.start() : end], True),
        (text[end:], False),
    ]
    return [(piece, quoted) for piece, quoted in pieces if piece]


def extract(
    question: str,
    sources: Sequence[PromptSource],
    *,
    max_sentences: int = 3,
    heading: str = HEADING,
    similarity: Similarity | None = None,
    evidence: Sequence[Evidence] | None = None,
) -> str:
    """The answer text: the evidence (``evidence.select_evidence``, or the ``evidence``
    already selected), best first, cited."""
    if not sources or not any(src.text.strip() for src in sources):
        return NO_SOURCES
    picked = (
        list(evidence)
        if evidence
        else select_evidence(
            question,
            [(src.number, src.text) for src in sources],
            similarity=similarity,
            max_sentences=max_sentences,
        )
    )
    lines = [heading]
    if not picked:
        lines.append(NO_MATCH)
        first = next(src for src in sources if src.text.strip())
        picked = [
            Evidence(
                first.number, split_sentences(first.text, max_words=MAX_SENTENCE_WORDS)[0], 0.0
            )
        ]
    for item in picked:
        lines.append(f"- {item.text} [{item.number}]")
    return "\n".join(lines)


class ExtractiveBackend(Backend):
    """Answers with the most relevant source sentences and their citations."""

    name = "extractive"
    deadlines = False  # in-process and instant: the safety net must always answer
    label = "Extractive (no language model)"

    def __init__(self, *, max_sentences: int = 3) -> None:
        self.max_sentences = max_sentences
        self._bound: tuple[str, list[PromptSource]] | None = None
        self._similarity: Similarity | None = None
        self._heading = HEADING

    def with_sources(
        self,
        question: str,
        sources: Sequence[PromptSource],
        similarity: Similarity | None = None,
        *,
        why: str = NO_MODEL,
    ) -> ExtractiveBackend:
        """A copy that answers ``question`` from ``sources`` (the messages are then ignored),
        ranking sentences with ``similarity`` when given, under a heading saying ``why`` no
        model's text is shown."""
        bound = ExtractiveBackend(max_sentences=self.max_sentences)
        bound._bound = (question, list(sources))
        bound._similarity = similarity
        bound._heading = heading(why)
        return bound

    def stream(self, messages: Sequence[Message], *, options: GenerationOptions) -> Iterator[Delta]:
        question, sources = self._bound or parse_prompt(messages)
        text = extract(
            question,
            sources,
            max_sentences=self.max_sentences,
            heading=self._heading,
            similarity=self._similarity,
        )
        pieces = re.findall(r"\S+\s*|\s+", text)
        for piece in pieces:
            yield Delta(piece)
        yield Delta(
            "", done=True, stats={"completion_tokens": float(len(pieces)), "prompt_tokens": 0.0}
        )

    def health(self) -> dict[str, object]:
        return {"ok": True, "detail": "always available (answers with source extracts)"}
