"""The MCP document resource has a ``[page N]`` marker for every page: also for a page inside
a passage that runs over several pages and for a page without text (the two reasons a 74-page
document had 69 markers)."""

from __future__ import annotations

from shared_utils.types import Chunk, DocumentRecord
from src.api.mcp_server import _document_text


class Passages:
    """A library's read side for one document: its record and its passages."""

    def __init__(self, pages: int, spans: list[tuple[int, int]]) -> None:
        self.doc = DocumentRecord(
            id="d1",
            name="a.pdf",
            pages=pages,
            chunks=len(spans),
            size_bytes=1,
            added_at=0.0,
            status="ready",
        )
        self.chunks = [
            Chunk(
                id=f"d1:{i:06d}", doc_id="d1", ordinal=i, text=f"text {i}", page_start=a, page_end=b
            )
            for i, (a, b) in enumerate(spans)
        ]

    def documents(self) -> list[DocumentRecord]:
        return [self.doc]

    def passages(self, doc_id: str) -> list[Chunk]:
        return self.chunks


def test_every_page_has_its_marker():
    # page 3 lies inside a passage over pages 2-4; pages 6 and 7 have no text at all
    text = _document_text(Passages(7, [(1, 1), (2, 4), (4, 5)]), "d1")
    for page in range(1, 8):
        assert text.count(f"[page {page}]") == 1, (page, text)
    assert "[page 3] (its text is in the passage above" in text
    assert "[page 7] (no text was extracted" in text
    assert text.index("[page 4]") < text.index("text 2")  # page 4 starts before passage 2
