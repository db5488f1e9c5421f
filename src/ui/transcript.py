"""The conversation as a Markdown file (the Chat page's download): questions, answers, the
model that answered, the claim check (as the Chat page shows it) and every cited passage
quoted under its answer. Source text (passages, the extract in an answer) is escaped with the
Chat page's helpers (``src/ui/render.py``), so it reads literally in any Markdown viewer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from src.answer.answering import credit
from src.ui.render import WORD_JOINER, escape_file_markdown, extract_markdown


def _source_lines(n: int, scored: Any, threshold: float) -> list[str]:
    """``- [n] name, p. 4 (related, similarity 0.52)`` and the passage as a quote block, shown
    literally (a source's ``*``, ``_``, ``#``, backticks or ``<`` are escaped, as on the Chat
    page)."""
    from src.answer.abstention import relevance

    chunk = scored.chunk
    name = escape_file_markdown(chunk.doc_name or chunk.doc_id[:12])
    quoted = [
        "> " + escape_file_markdown(line) if line.strip() else ">"
        for line in chunk.text.strip().splitlines()
    ]
    similarity = getattr(scored, "similarity", None)
    words = relevance(similarity, threshold)[1]
    how = ", ".join(
        x for x in (words, similarity is not None and f"similarity {similarity:.2f}") if x
    )
    return [f"- [{n}] {name}, {chunk.pages} ({how})", "", *("  " + q for q in quoted), ""]


def _answer(text: str) -> str:
    """The answer as written by the model (its own Markdown), the extract shown literally."""
    from shared_utils.generation.extractive import segments

    return "".join(
        extract_markdown(piece, for_file=True) if quoted else piece
        for piece, quoted in segments(text)
    )


def _claim_lines(msg: dict[str, Any]) -> list[str]:
    """The claim check as the Chat page shows it under the answer: the summary, then each claim
    with its mark (✓ stated by its passage, ? not verified, ✗ not supported and struck)."""
    from src.answer.claims import MARKS, listed, summary
    from src.ui.claims import claims_of_message

    sources = msg.get("sources") or []
    if msg.get("backend_name", msg.get("backend")) == "none" or not sources:
        return []
    checks = claims_of_message(msg)  # the checks the answer arrived with
    if not checks:
        return []
    lines = [f"Claims checked: {summary(checks)}", ""]
    for check in checks:
        text = escape_file_markdown(listed(check.sentence))
        mark = MARKS[check.status]
        lines.append(f"- {mark} ~~{text}~~" if mark == "✗" else f"- {mark} {text}")
    return [*lines, ""]


def to_markdown(
    messages: Sequence[dict[str, Any]],
    *,
    title: str = "Olympus conversation",
    threshold: float = 0.0,
) -> str:
    """Render chat messages (as kept in session state) as a Markdown document; sources say
    how related they are on the app's scale (``threshold``: see ``src/answer/abstention.py``).

    >>> print(to_markdown([{"role": "user", "content": "Hi?"},
    ...                    {"role": "assistant", "content": "Hello [1].", "backend": "extractive"}],
    ...                   title="T").split("\\n", 2)[2])
    ## Question 1
    <BLANKLINE>
    Hi?
    <BLANKLINE>
    ## Answer 1
    <BLANKLINE>
    Hello [1].
    <BLANKLINE>
    _Answered by extractive._
    <BLANKLINE>
    """
    lines = [f"# {title}", ""]
    turn = 0
    for msg in messages:
        if msg.get("role") == "user":
            turn += 1
            lines += [f"## Question {turn}", "", str(msg.get("content", "")), ""]
            continue
        lines += [f"## Answer {turn}", "", _answer(str(msg.get("content", ""))), ""]
        notes = []
        if msg.get("backend") == "none":
            notes.append("Not answered from the documents: no model was asked.")
        elif msg.get("backend"):
            who = credit(
                msg.get("answered_by") or "",
                backend=msg["backend"],
                model=msg.get("model") or "",
                mode=msg.get("mode") or "",
            )
            notes.append(f"Answered by {who}.")
        if msg.get("stopped"):
            notes.append("Stopped by the user.")
        if msg.get("error"):
            notes.append(f"Error: {msg['error']}")
        if notes:
            lines += ["_" + " ".join(notes) + "_", ""]
        lines += _claim_lines(msg)
        sources = msg.get("sources") or []
        if sources:
            lines += ["Sources:", ""]
            for n, scored in enumerate(sources, 1):
                lines += _source_lines(n, scored, threshold)
    # a downloaded file is read and copied outside the app: no invisible link breaker in it
    return "\n".join(lines).replace(WORD_JOINER, "")


def file_name(now: float | None = None) -> str:
    """``olympus-chat-YYYYmmdd-HHMM.md`` in UTC."""
    return time.strftime("olympus-chat-%Y%m%d-%H%M.md", time.gmtime(now or time.time()))
