"""Weighted reciprocal-rank fusion (RRF) of ranked id lists.

Each leg (dense, BM25, ...) contributes ``weight / (k + rank)`` for every id it ranks
(rank is 1-based). Ids missing from a leg get nothing from it. Pure functions, no I/O.

>>> fused = rrf({"dense": ["a", "b", "c"], "bm25": ["c", "a"]}, k=60)
>>> [cid for cid, _, _ in fused]
['a', 'c', 'b']
>>> fused[0][2]
{'dense': 1, 'bm25': 2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DEFAULT_K = 60

Fused = tuple[str, float, dict[str, int]]


def rrf(
    rankings: Mapping[str, Sequence[str]],
    *,
    k: int = DEFAULT_K,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[Fused]:
    """Fuse ranked id lists; returns ``(id, score, {leg: rank})`` best first.

    Ties are broken by the best single-leg rank, then by id, so the order is stable.
    A leg with weight 0 still records its ranks but adds nothing to the score.

    >>> rrf({"a": ["x", "y"], "b": ["y", "x"]}, weights={"a": 2.0, "b": 1.0})[0][0]
    'x'
    >>> rrf({"a": ["x"], "b": ["y"]})  # equal scores: id order decides
    [('x', 0.01639344262295082, {'a': 1}), ('y', 0.01639344262295082, {'b': 1})]
    >>> rrf({"a": ["x", "y", "z"]}, limit=2)
    [('x', 0.01639344262295082, {'a': 1}), ('y', 0.016129032258064516, {'a': 2})]
    >>> rrf({"a": ["x", "x"]})  # a duplicate keeps its first (best) rank
    [('x', 0.01639344262295082, {'a': 1})]
    >>> rrf({}, k=0)
    Traceback (most recent call last):
    ...
    ValueError: RRF k must be positive, got 0
    """
    if k <= 0:
        raise ValueError(f"RRF k must be positive, got {k}")
    weights = weights or {}
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for leg, ids in rankings.items():
        weight = float(weights.get(leg, 1.0))
        if weight < 0:
            raise ValueError(f"weight of leg {leg!r} must not be negative, got {weight}")
        for rank, cid in enumerate(ids, start=1):
            leg_ranks = ranks.setdefault(cid, {})
            if leg in leg_ranks:
                continue
            leg_ranks[leg] = rank
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    order = sorted(scores, key=lambda cid: (-scores[cid], min(ranks[cid].values()), cid))
    if limit is not None:
        order = order[:limit]
    return [(cid, scores[cid], ranks[cid]) for cid in order]
