"""Weighted reciprocal-rank fusion: doctests plus the properties hybrid search relies on."""

from __future__ import annotations

import doctest

import pytest

from shared_utils.retrieval import fusion
from shared_utils.retrieval.fusion import rrf


def test_doctests():
    assert doctest.testmod(fusion).failed == 0


def test_agreement_between_legs_beats_a_single_first_place():
    fused = rrf({"dense": ["both", "dense_only"], "bm25": ["bm25_only", "both"]})
    assert fused[0][0] == "both"
    assert fused[0][2] == {"dense": 1, "bm25": 2}


def test_weights_shift_the_balance_between_legs():
    legs = {"dense": ["d", "b"], "bm25": ["b2", "k"]}
    assert rrf(legs, weights={"dense": 3.0, "bm25": 1.0})[0][0] == "d"
    assert rrf(legs, weights={"dense": 1.0, "bm25": 3.0})[0][0] == "b2"


def test_zero_weight_leg_records_ranks_but_adds_nothing():
    fused = {cid: (s, r) for cid, s, r in rrf({"a": ["x"], "b": ["x", "y"]}, weights={"b": 0.0})}
    assert fused["x"][0] == pytest.approx(1 / 61) and fused["x"][1] == {"a": 1, "b": 1}
    assert fused["y"][0] == 0.0


def test_k_controls_how_fast_ranks_decay():
    def ratio(k):  # first over tenth place
        scores = {cid: s for cid, s, _ in rrf({"a": list("abcdefghij")}, k=k)}
        return scores["a"] / scores["j"]

    assert ratio(1) > ratio(60)


def test_negative_weight_is_rejected():
    with pytest.raises(ValueError, match="must not be negative"):
        rrf({"a": ["x"]}, weights={"a": -1})


def test_scores_are_the_sum_over_legs_of_one_over_k_plus_rank():
    for _cid, score, ranks in rrf({"a": list("pqrs"), "b": list("srqp")}, k=10):
        assert score == pytest.approx(sum(1 / (10 + r) for r in ranks.values()))


def test_a_third_leg_joins_fusion_without_touching_the_retriever():
    """Fusion takes any list of weighted legs: a new leg is a short class, not an edit."""
    from shared_utils.retrieval.base import Leg, Query
    from shared_utils.retrieval.hybrid import FusionRetriever
    from shared_utils.types import Chunk

    class Fixed(Leg):
        def __init__(self, name, ids):
            self.name, self.ids, self.timing_keys = name, ids, (f"{name}_ms",)

        def rank(self, query, depth, timings):
            timings[f"{self.name}_ms"] = 1.0
            return [(cid, 1.0) for cid in self.ids[:depth]]

    class Store:
        def get_chunks(self, ids):
            return [Chunk(cid, "d", i, f"text {cid}", 1, 1, "d.pdf") for i, cid in enumerate(ids)]

    legs = [
        (Fixed("a", ["x", "y"]), 1.0),
        (Fixed("b", ["y", "z"]), 1.0),
        (Fixed("rerank", ["z", "y"]), 2.0),
    ]
    results, timings = FusionRetriever(legs, docstore=Store()).retrieve_with_timings(Query("q", 3))
    assert [r.chunk.id for r in results] == ["y", "z", "x"]
    assert results[0].ranks == {"a": 2, "b": 1, "rerank": 2}
    assert {"a_ms", "b_ms", "rerank_ms", "fuse_ms", "total_ms"} <= set(timings)
