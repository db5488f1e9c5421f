"""[n] markers map to document and page; markers pointing at no source are removed."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.answer.citations import parse_markers, resolve


def _sources() -> list[ScoredChunk]:
    return [
        ScoredChunk(Chunk("a:000001", "a", 1, "x", 12, 12, "guide.pdf"), 0.9),
        ScoredChunk(Chunk("b:000004", "b", 4, "y", 30, 31, "faq.pdf"), 0.8),
    ]


def test_markers_map_to_document_and_page():
    text, cites, removed = resolve("Install debuginfo [1]. Then run stap [2].", _sources())
    assert text == "Install debuginfo [1]. Then run stap [2]."
    assert [(c.number, c.doc_name, c.page_start, c.page_end) for c in cites] == [
        (1, "guide.pdf", 12, 12),
        (2, "faq.pdf", 30, 31),
    ]
    assert cites[1].doc_id == "b" and removed == []


def test_grouped_and_adjacent_markers():
    assert parse_markers("x [1, 2] y [2][1] z [1;2] w [1-2] v [Source 2]") == [1, 2]
    _, cites, _ = resolve("Both say so [2][1].", _sources())
    assert [c.number for c in cites] == [2, 1]  # order of first use, no duplicates


def test_markers_pointing_at_no_source_are_removed_and_reported():
    text, cites, removed = resolve("Fact [3]. Other [1, 5]. More [0][2].", _sources())
    assert text == "Fact. Other [1]. More [2]."
    assert [c.number for c in cites] == [1, 2]
    assert removed == [3, 5, 0]


def test_no_markers_no_citations_and_other_brackets_untouched():
    text, cites, removed = resolve("Use the array [x] syntax, see list[0] and [note].", _sources())
    assert text == "Use the array [x] syntax, see list[0] and [note]."
    assert cites == [] and removed == []
