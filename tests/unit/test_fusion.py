"""Weighted reciprocal-rank fusion: doctests plus the properties hybrid search relies on."""

from __future__ import annotations

import doctest

import pytest

from shared_utils.retrieval import fusion
from shared_utils.retrieval.fusion import rrf, rrf_score


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
    assert rrf_score({"a": 1}, k=1) / rrf_score({"a": 10}, k=1) > \
        rrf_score({"a": 1}, k=60) / rrf_score({"a": 10}, k=60)


def test_negative_weight_is_rejected():
    with pytest.raises(ValueError, match="must not be negative"):
        rrf({"a": ["x"]}, weights={"a": -1})


def test_scores_equal_rrf_score_of_the_ranks():
    for cid, score, ranks in rrf({"a": list("pqrs"), "b": list("srqp")}, k=10):
        assert score == pytest.approx(rrf_score(ranks, k=10))
