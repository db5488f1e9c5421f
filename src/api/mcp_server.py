"""The MCP server (official ``mcp`` SDK): tools ``search_documents``, ``ask``,
``list_documents``; each document as a resource ``olympus://documents/{doc_id}``.

Built over any object with the pipeline's methods: the API process's ``RAGPipeline`` (served
under ``/api/mcp`` with the API's keys) or, for ``python -m src mcp`` over stdio, the
running service's ``RemotePipeline`` (else an in-process pipeline).

A typed Olympus error reaches the client as an MCP tool error (``isError`` with the message
and its fix), not as the SDK's bare "Error executing tool": ``_tool_errors``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from shared_utils.errors import OlympusError
from src.events import DoneEvent
from src.protocols import Pipeline
from src.schema.requests import check_k
from src.service.wire import documents_to_dicts, search_to_dict, tool_answer_to_dict

INSTRUCTIONS = (
    "Olympus answers questions over the user's PDF library, citing document and "
    "page. Use search_documents for passages, ask for a written answer with "
    "citations, list_documents to see what is in the library."
)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _tool_errors(error: type[Exception]) -> Callable[[F], F]:
    """Re-raise an ``OlympusError`` as the SDK's anticipated ``error`` (its text reaches the
    client: the message and how to fix it)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        async def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except OlympusError as exc:
                from src.api.errors import error_dict

                said = error_dict(exc)[1]["error"]  # as the API says it (no internal path)
                hint = f" ({said['hint']})" if said["hint"] else ""
                raise error(said["message"] + hint) from exc

        return run  # type: ignore[return-value]

    return wrap


def _answer(pipeline: Pipeline, question: str, doc_ids: list[str] | None) -> dict[str, Any]:
    from src.api.chat import named
    from src.api.library_routes import known_doc_ids

    done = None
    for event in pipeline.ask(question, doc_ids=known_doc_ids(pipeline, doc_ids)):
        if isinstance(event, DoneEvent):
            done = event
    if done is None:
        raise OlympusError("The answer ended without a result.", hint="Ask again.")
    return tool_answer_to_dict(done, named(done))


def _documents(pipeline: Pipeline) -> list[dict[str, Any]]:
    return documents_to_dicts(pipeline.documents(), pipeline.originals)


def _document_text(pipeline: Pipeline, doc_id: str) -> str:
    """The document's passages with a ``[page N]`` marker for every page: before the first
    passage that starts on it; a page inside a passage that spans several pages, or one with
    no text, gets its marker with a note where its text is."""
    chunks = pipeline.passages(doc_id)  # DocumentNotFound for an unknown id
    pages = next((d.pages for d in pipeline.documents() if d.id == doc_id), 0)
    parts: list[str] = []
    marked = spanned = 0  # the last page with a marker; the last page passages so far cover

    def mark_up_to(last: int) -> None:
        nonlocal marked
        for page in range(marked + 1, last + 1):
            note = (
                "(its text is in the passage above, which runs over several pages)"
                if page <= spanned
                else "(no text was extracted from this page)"
            )
            parts.append(f"\n[page {page}] {note}\n")
        marked = max(marked, last)

    for chunk in chunks:
        if chunk.page_start > marked:
            mark_up_to(chunk.page_start - 1)
            parts.append(f"\n[page {chunk.page_start}]\n")
            marked = chunk.page_start
        parts.append(chunk.text)
        spanned = max(spanned, chunk.page_end)
    mark_up_to(max(pages, spanned))
    return "\n".join(parts).strip()


def build_mcp(pipeline: Pipeline) -> MCPServer:
    server = MCPServer(name="olympus", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    @_tool_errors(ToolError)
    async def search_documents(
        query: str, k: int = 5, doc_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """Find the passages of the library that best match a query (hybrid search), with
        document, pages and score. ``k``: how many (1 to 100). ``doc_ids`` limits the search
        to these documents."""
        from src.api.library_routes import known_doc_ids

        top_k = check_k(k)

        def search() -> Any:
            return pipeline.search(query, k=top_k, doc_ids=known_doc_ids(pipeline, doc_ids) or None)

        return search_to_dict(await anyio.to_thread.run_sync(search))

    @server.tool()
    @_tool_errors(ToolError)
    async def ask(question: str, doc_ids: list[str] | None = None) -> dict[str, Any]:
        """Answer a question from the library: text with [n] citations; for each citation the
        document, pages and passage; the sources; and the model that wrote the answer."""
        return await anyio.to_thread.run_sync(lambda: _answer(pipeline, question, doc_ids))

    @server.tool()
    @_tool_errors(ToolError)
    async def list_documents() -> list[dict[str, Any]]:
        """The documents in the library: id, name, pages, passages, size, status."""
        return await anyio.to_thread.run_sync(_documents, pipeline)

    @server.resource(
        "olympus://documents/{doc_id}",
        mime_type="text/plain",
        description="The text of one document, with a [page N] marker per page",
    )
    @_tool_errors(ResourceError)
    async def document(doc_id: str) -> str:
        return await anyio.to_thread.run_sync(lambda: _document_text(pipeline, doc_id))

    @server.resource(
        "olympus://documents",
        mime_type="application/json",
        description="The list of documents (ids for olympus://documents/{doc_id})",
    )
    @_tool_errors(ResourceError)
    async def documents() -> str:
        docs = await anyio.to_thread.run_sync(_documents, pipeline)
        return json.dumps(docs, ensure_ascii=False)

    return server
