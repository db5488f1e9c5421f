"""Micro-batches of queries: callers asking at the same moment share one model call.

A search embeds one short query, and a model call costs nearly the same for one query as for
twenty, so queries that arrive within a few milliseconds of each other are encoded together
(:class:`shared_utils.embeddings.Embedder` for query vectors, the dense leg of
``shared_utils/retrieval/hybrid.py`` for query, depth and scope at once).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

QUERY_WINDOW_S = 0.003  # how long a query waits for others to share its model call


class QueryBatcher:
    """Micro-batches of queries: the first caller leads, waits ``window_s`` for others to
    join, encodes them all in one call and hands each its vector; callers arriving during
    that call form the next batch. Twenty searches at once cost a few model calls, not
    twenty calls one after the other behind a lock.

    >>> import numpy as np
    >>> calls = []
    >>> def encode(texts):
    ...     calls.append(list(texts))
    ...     return np.array([[float(len(t))] for t in texts])
    >>> QueryBatcher(encode, window_s=0).encode("four").tolist(), calls
    ([4.0], [['four']])
    """

    def __init__(self, encode_many: Any, *, window_s: float = QUERY_WINDOW_S) -> None:
        self._encode_many = encode_many
        self.window_s = window_s
        self._cond = threading.Condition()
        self._pending: list[_QueryJob] = []
        self._leading = False

    def encode(self, text: Any) -> Any:
        """The result of ``encode_many`` for ``text`` (any item ``encode_many`` takes: the
        dense leg batches (query, depth, scope) into one model call and one search)."""
        job = _QueryJob(text)
        with self._cond:
            self._pending.append(job)
            while not job.done and self._leading:
                self._cond.wait()
            if not job.done:
                self._leading = True
        if not job.done:
            self._lead()
        if job.error is not None:
            raise job.error
        return job.vector

    def _lead(self) -> None:
        try:
            if self.window_s > 0:
                time.sleep(self.window_s)  # let the queries asked at the same moment join
            with self._cond:
                batch, self._pending = self._pending, []
            try:
                vectors = self._encode_many([j.text for j in batch])
                for j, vector in zip(batch, vectors, strict=True):
                    j.vector = vector
            except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the error
                for j in batch:
                    j.error = exc
            for j in batch:
                j.done = True
            if len(batch) > 1:
                logger.debug("embeddings.query_batch", n=len(batch))
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()


class _QueryJob:
    __slots__ = ("done", "error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: Any = None
        self.error: BaseException | None = None
        self.done = False
