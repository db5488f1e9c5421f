"""The sources panel's entries: one per document and page span, the answer's numbers kept
(source n is still sources[n - 1]), and the repeat between overlapping passages dropped;
relevance on the absolute scale abstention uses."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.answer.abstention import relevance
from src.ui.sources import entries, merged_texts


def _source(
    ordinal: int, page: int, text: str = "text", doc: str = "d", similarity: float | None = 0.5
) -> ScoredChunk:
    chunk = Chunk(f"{doc}:{ordinal:06d}", doc, ordinal, text, page, page, f"{doc}.pdf")
    return ScoredChunk(chunk, 0.03, {}, similarity)


def test_passages_of_the_same_page_are_one_entry_and_keep_their_numbers():
    sources = [
        _source(5, 84),
        _source(9, 90),
        _source(4, 84),
        _source(1, 84, doc="other"),
        _source(6, 84),
    ]
    shown = entries(sources)
    assert [e.numbers for e in shown] == [(1, 3, 5), (2,), (4,)]
    for entry in shown:  # the mapping the answer's [n] links and the viewer rely on
        assert all(sources[n - 1] is p for n, p in zip(entry.numbers, entry.passages, strict=True))
    assert sorted(n for e in shown for n in e.numbers) == [1, 2, 3, 4, 5]


def test_overlapping_passages_read_once_in_page_order():
    first = _source(4, 84, "PS1 is the primary prompt string. The default value is '\\s-\\v\\$ '.")
    second = _source(5, 84, "The default value is '\\s-\\v\\$ '. PS2 is the secondary prompt.")
    (entry,) = entries([second, first])
    assert entry.numbers == (1, 2)
    assert merged_texts(entry) == [
        (2, "PS1 is the primary prompt string. The default value is '\\s-\\v\\$ '."),
        (1, "… PS2 is the secondary prompt."),
    ]


def test_the_entry_is_as_related_as_its_best_passage():
    (entry,) = entries(
        [
            _source(1, 3, similarity=0.31),
            _source(2, 3, similarity=0.66),
            _source(3, 3, similarity=None),
        ]
    )
    assert entry.similarity == 0.66


def test_relevance_is_absolute_and_loosely_related_is_never_a_full_bar():
    threshold = 0.43
    # the best of the answer's sources, still below the threshold: loosely related, 1-2 cells
    for similarity in (0.10, 0.30, 0.42):
        cells, words = relevance(similarity, threshold)
        assert words == "loosely related" and cells <= 2
    cells = [relevance(s, threshold)[0] for s in (0.2, 0.35, 0.45, 0.6, 0.75, 0.9)]
    assert cells == sorted(cells) and cells[-1] == 5 and cells[0] == 1
    assert relevance(0.5, threshold)[1] == "related"
    assert relevance(0.8, threshold)[1] == "closely related"
