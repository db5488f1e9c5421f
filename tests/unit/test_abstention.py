"""Retrieval-score abstention: refuse below the calibrated similarity, naming what was searched."""

from __future__ import annotations

from shared_utils.types import Chunk, ScoredChunk
from src.abstention import decide, threshold_for


def _source(similarity: float | None, page: int = 7, text: str = "text") -> ScoredChunk:
    return ScoredChunk(Chunk(f"d:{page}", "d", page, text, page, page, "bashref.pdf"), 0.03, {},
                       similarity)


def test_sources_below_the_threshold_give_a_refusal_that_names_the_search():
    verdict = decide([_source(0.21, 3), _source(0.35, 9)], "nginx reverse proxy", threshold=0.43)
    assert verdict.abstain and verdict.best == 0.35
    assert "nginx reverse proxy" in verdict.message and "bashref.pdf p. 9" in verdict.message


def test_one_relevant_source_is_enough_to_answer():
    assert not decide([_source(0.21), _source(0.44)], "q", threshold=0.43).abstain


def test_without_a_calibrated_threshold_or_dense_scores_retrieval_never_refuses():
    assert threshold_for("some/other-embedder") == 0.0
    assert not decide([_source(0.01)], "q", threshold=0.0).abstain
    assert not decide([_source(None)], "q", threshold=0.43).abstain
    assert threshold_for("sentence-transformers/all-MiniLM-L6-v2") == 0.43
    assert threshold_for("sentence-transformers/all-MiniLM-L6-v2", 0.5) == 0.5


def test_a_vague_question_whose_words_are_all_in_a_source_is_not_refused():
    source = _source(0.38, 3, "Chapter 3 covers the Mr. Fusion home energy reactor.")
    assert not decide([source], "What does chapter 3 cover?", threshold=0.43).abstain
    assert decide([source], "What does chapter 3 say about plutonium?", threshold=0.43).abstain
