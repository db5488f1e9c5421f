"""Document ids as people type them: the 12 characters the CLI prints, or any unique prefix of
8+ characters, pick the document; a short, unknown or shared prefix is refused in words."""

from __future__ import annotations

import pytest

from shared_utils.errors import DocumentNotFound
from shared_utils.types import DocumentRecord
from src.library.doc_ids import resolve, resolve_all

FAQ = DocumentRecord(
    id="e4e41725d88d" + "a" * 52, name="FAQ.pdf", pages=30, chunks=40, size_bytes=1, added_at=0.0
)
GRAPHS = DocumentRecord(
    id="e4e41725d0ff" + "b" * 52, name="graphs.pdf", pages=9, chunks=12, size_bytes=1, added_at=0.0
)
DOCS = [FAQ, GRAPHS]


@pytest.mark.parametrize("given", [FAQ.id, FAQ.id[:12], FAQ.id[:8] + "d8", " E4E41725D88D "])
def test_the_printed_short_id_or_any_unique_prefix_picks_the_document(given):
    assert resolve(DOCS, given) is FAQ
    assert resolve_all(DOCS, [given, FAQ.id]) == [FAQ.id]  # each document once


def test_a_prefix_two_ids_share_is_refused_naming_both():
    with pytest.raises(DocumentNotFound) as err:
        resolve(DOCS, "e4e41725d")
    assert "FAQ.pdf" in str(err.value) and "graphs.pdf" in str(err.value)
    assert "more characters" in err.value.hint


def test_a_short_or_unknown_id_is_refused_with_the_cli_command_to_list_ids():
    with pytest.raises(DocumentNotFound) as short:
        resolve(DOCS, "e4e4")
    assert "at least its first 8 characters" in str(short.value)
    with pytest.raises(DocumentNotFound) as unknown:
        resolve(DOCS, "0123456789ab")
    assert "python -m src docs list" in unknown.value.hint
    assert "GET /v1" not in unknown.value.hint


def test_the_api_names_its_own_way_to_list_ids():
    with pytest.raises(DocumentNotFound) as err:
        resolve_all(DOCS, ["0123456789ab"], hint="List the documents with GET /v1/documents.")
    assert "GET /v1/documents" in err.value.hint
