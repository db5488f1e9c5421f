"""The MCP server (official ``mcp`` SDK): tools ``search_documents``, ``ask``,
``list_documents``; each document as a resource ``olympus://documents/{doc_id}``.

Built over any object with the pipeline's methods: the API process's ``RAGPipeline`` (served
under ``/api/mcp`` with the API's keys) or, for ``python -m src mcp`` over stdio, the
running service's ``RemotePipeline`` (else an in-process pipeline).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

from src.events import DoneEvent
from src.wire import document_to_dict, search_to_dict

INSTRUCTIONS = ("Olympus answers questions over the user's PDF library, citing document and "
                "page. Use search_documents for passages, ask for a written answer with "
                "citations, list_documents to see what is in the library.")


def _answer(pipeline: Any, question: str, doc_ids: list[str] | None) -> dict[str, Any]:
    from src.api.chat import structured_citations

    done = None
    for event in pipeline.ask(question, doc_ids=doc_ids):
        if isinstance(event, DoneEvent):
            done = event
    if done is None:
        return {"answer": "", "citations": [], "error": "no answer"}
    return {"answer": done.answer, "citations": structured_citations(done),
            "backend": done.backend, "model": done.model, "error": done.error}


def _document_text(pipeline: Any, doc_id: str) -> str:
    parts, page = [], None
    for chunk in pipeline.passages(doc_id):
        if chunk.page_start != page:
            page = chunk.page_start
            parts.append(f"\n[page {page}]\n")
        parts.append(chunk.text)
    return "\n".join(parts).strip()


def build_mcp(pipeline: Any) -> MCPServer:
    server = MCPServer(name="olympus", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool()
    async def search_documents(query: str, k: int = 5,
                               doc_ids: list[str] | None = None) -> dict[str, Any]:
        """Find the passages of the library that best match a query (hybrid search), with
        document, pages and score. ``doc_ids`` limits the search to these documents."""
        result = await anyio.to_thread.run_sync(
            lambda: pipeline.search(query, k=k, doc_ids=doc_ids or None))
        return search_to_dict(result)

    @server.tool()
    async def ask(question: str, doc_ids: list[str] | None = None) -> dict[str, Any]:
        """Answer a question from the library: text with [n] citations and, for each, the
        document, pages and passage."""
        return await anyio.to_thread.run_sync(lambda: _answer(pipeline, question, doc_ids))

    @server.tool()
    async def list_documents() -> list[dict[str, Any]]:
        """The documents in the library: id, name, pages, passages, size, status."""
        docs = await anyio.to_thread.run_sync(pipeline.documents)
        return [document_to_dict(d) for d in docs]

    @server.resource("olympus://documents/{doc_id}", mime_type="text/plain",
                     description="The text of one document, with page markers")
    async def document(doc_id: str) -> str:
        return await anyio.to_thread.run_sync(lambda: _document_text(pipeline, doc_id))

    @server.resource("olympus://documents", mime_type="application/json",
                     description="The list of documents (ids for olympus://documents/{doc_id})")
    async def documents() -> str:
        docs = await anyio.to_thread.run_sync(pipeline.documents)
        return json.dumps([document_to_dict(d) for d in docs], ensure_ascii=False)

    return server
