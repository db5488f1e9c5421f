"""The one check of a question (or a search query), wherever it comes from: the chat page, the
CLI, the API's /api/ask, /v1/chat/completions and /v1/search, and the pipeline itself.

Callers that have not opened the library yet (the API's routes, the CLI) check the text at
once, so a bad request fails before any work; the pipeline checks again with the length limit
(``OLYMPUS_MAX_QUERY_CHARS``), which every path goes through.

>>> check_question("  How  long\\nis it? ", 100)
'How long is it?'
"""

from __future__ import annotations

from shared_utils.errors import InvalidQuery

LIMIT_HINT = "Ask a shorter question (or raise OLYMPUS_MAX_QUERY_CHARS)."


def check_question(text: object, max_chars: int | None = None, *, what: str = "question") -> str:
    """``text`` with its whitespace collapsed. ``InvalidQuery`` when it is not text, is empty,
    or (with ``max_chars``) is longer than that."""
    if not isinstance(text, str):
        raise InvalidQuery(f"The {what} must be text.")
    question = " ".join(text.split())
    if not question:
        raise InvalidQuery(f"The {what} is empty.")
    if max_chars is not None and len(question) > max_chars:
        raise InvalidQuery(
            f"The {what} has {len(question):,} characters; the limit is {max_chars:,}.",
            hint=LIMIT_HINT,
        )
    return question
