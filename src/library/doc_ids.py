"""Document ids as people type them: the full id, or a unique prefix of it.

Every surface prints the first 12 characters of an id (``docs list``, ``ingest``, search
results), so every surface that takes an id takes such a prefix too: the CLI, the API and MCP
all resolve through ``resolve`` here. A prefix is at least ``MIN_PREFIX`` characters, so a
typo'd short string does not silently pick some document; one matching several documents is
refused with the matches named.

>>> from types import SimpleNamespace as D
>>> docs = [D(id="e4e41725d88d" + "0" * 52, name="FAQ.pdf"), D(id="e4e41725aaaa" + "1" * 52, name="b.pdf")]
>>> resolve(docs, "E4E41725D88D").name
'FAQ.pdf'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from shared_utils.errors import DocumentNotFound

MIN_PREFIX = 8  # hex characters: 4 billion values, so a prefix this long is rarely shared


class _Document(Protocol):
    id: str
    name: str


D = TypeVar("D", bound=_Document)


def resolve(documents: Sequence[D], given: str, *, hint: str | None = None) -> D:
    """The one document whose id is ``given`` or starts with it; DocumentNotFound (with
    ``hint``, else the CLI's) for an unknown id, a prefix under ``MIN_PREFIX`` characters, or
    a prefix several ids share (naming them)."""
    prefix = given.strip().lower()
    exact = [d for d in documents if d.id == prefix]
    if exact:
        return exact[0]
    if len(prefix) < MIN_PREFIX:
        raise DocumentNotFound(
            f"No document has the id {given!r} (give the full id or at least its first "
            f"{MIN_PREFIX} characters).",
            hint=hint,
        )
    matches = [d for d in documents if d.id.startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DocumentNotFound(f"No document id starts with {given!r}.", hint=hint)
    names = ", ".join(f"{d.id[:16]} ({d.name})" for d in matches[:5])
    raise DocumentNotFound(
        f"The id {given!r} is the start of {len(matches)} documents' ids: {names}.",
        hint="Give more characters of the id.",
    )


def resolve_all(
    documents: Sequence[_Document], given: Sequence[str] | None, *, hint: str | None = None
) -> list[str] | None:
    """The full ids of ``given`` (ids or prefixes) in order, each once; None for None."""
    if given is None:
        return None
    return list(dict.fromkeys(resolve(documents, g, hint=hint).id for g in given))
