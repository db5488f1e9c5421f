"""The official ``mcp`` SDK's client against Olympus: over streamable HTTP under the API
(with the API's keys) and over stdio (``python -m src mcp``, through the running service)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from src.status import StatusFile
from tests.api.conftest import QUESTION

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _http(service, key: str):
    client = httpx2.AsyncClient(
        headers={"authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(300, connect=10)
    )
    return streamable_http_client(f"{service.url}/api/mcp", http_client=client)


async def _session(server) -> dict:
    """Every tool and resource, the way an assistant uses them."""
    async with Client(server, read_timeout_seconds=300) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        docs = (await client.call_tool("list_documents", {})).structured_content
        found = await client.call_tool("search_documents", {"query": "upsd TCP port", "k": 3})
        answer = (await client.call_tool("ask", {"question": QUESTION})).structured_content
        doc_id = docs["result"][0]["id"]
        text = (await client.read_resource(f"olympus://documents/{doc_id}")).contents[0].text
        too_many = await client.call_tool("search_documents", {"query": "port", "k": 1000})
        unknown = await client.call_tool("ask", {"question": QUESTION, "doc_ids": ["nope"]})
        return {
            "tools": tools,
            "docs": docs["result"],
            "found": found.structured_content,
            "answer": answer,
            "text": text,
            "failed": [too_many, unknown],
        }


def _check(result: dict) -> None:
    assert result["tools"] == ["ask", "list_documents", "search_documents"]
    assert [d["name"] for d in result["docs"]] == ["power-manual.pdf"]
    top = result["found"]["results"][0]
    assert top["page_start"] <= 3 <= top["page_end"] and "3493" in top["text"]
    answer = result["answer"]
    assert "3493" in answer["answer"]
    assert any(c["page_start"] <= 3 <= c["page_end"] for c in answer["citations"])
    assert answer["sources"] and answer["sources"][0]["document"] == "power-manual.pdf"
    # what wrote it, as a chat completion's `model` says it
    assert answer["model"] == "smollm2-135m-offline" or answer["model"].startswith(
        "source extracts"
    ), answer["model"]
    pages = result["docs"][0]["pages"]
    assert [f"[page {n}]" in result["text"] for n in range(1, pages + 1)] == [True] * pages
    assert "3493" in result["text"]
    # a failing tool is an MCP tool error whose text says why (and how to fix it)
    too_many, unknown = result["failed"]
    assert too_many.is_error and "from 1 to 100" in too_many.content[0].text
    assert unknown.is_error and "No document has the id 'nope'" in unknown.content[0].text


def test_mcp_over_http_with_an_api_key(service):
    _check(asyncio.run(_session(_http(service, service.key))))


def test_mcp_over_http_refuses_a_wrong_key(service):
    """The SDK reports the refusal as an error response; nothing is listed or answered."""
    with pytest.raises(Exception) as err:
        asyncio.run(_session(_http(service, "olk_wrong")))
    assert "error response" in repr(err.value) or "401" in repr(err.value), repr(err.value)


def test_mcp_over_stdio_goes_through_the_running_service(service):
    status = StatusFile(service.settings.status_path)
    status.replace("api", state="ready", url=service.url)  # as the supervisor publishes it
    try:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "src", "mcp"],
            cwd=str(REPO),
            env={
                "OLYMPUS_DATA_DIR": str(service.data_dir),
                "PYTHONPATH": str(REPO),
                "HF_HUB_OFFLINE": "1",
                "OLYMPUS_LOG_LEVEL": "WARNING",
            },
        )
        _check(asyncio.run(_session(params)))
    finally:
        status.replace("api", state="stopped", url="")
