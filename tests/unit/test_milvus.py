"""MilvusVectorIndex against a real Milvus Lite database in a temp dir."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from shared_utils.errors import StoreUnavailable
from shared_utils.retrieval.milvus import MilvusVectorIndex
from shared_utils.types import Chunk

DIM = 16


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def make(doc_id: str, n: int, seed: int) -> tuple[list[Chunk], np.ndarray]:
    chunks = [
        Chunk(id=f"{doc_id}:{i:06d}", doc_id=doc_id, ordinal=i, text="t", page_start=1, page_end=1)
        for i in range(n)
    ]
    return chunks, unit(np.random.default_rng(seed).standard_normal((n, DIM)))


@pytest.fixture(scope="module")
def milvus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("milvus")


@pytest.fixture(scope="module")
def index(milvus_dir):
    """One Milvus Lite index for the module (opening one costs ~0.5 s)."""
    idx = MilvusVectorIndex(str(milvus_dir / "milvus.db"), DIM)
    a, va = make("docA", 20, 1)
    b, vb = make("docB", 10, 2)
    idx.add(a, va)
    idx.add(b, vb)
    idx.vectors_a = va  # type: ignore[attr-defined]
    yield idx
    idx.close()


def test_nearest_vector_comes_first_with_cosine_similarity(index):
    hits = index.search(index.vectors_a[3], 5)
    assert hits[0][0] == "docA:000003"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(hits) == 5


def test_doc_filter_limits_hits_and_survives_hostile_ids(index):
    hits = index.search(index.vectors_a[3], 30, frozenset({"docB"}))
    assert len(hits) == 10 and all(cid.startswith("docB:") for cid, _ in hits)
    assert index.search(index.vectors_a[3], 5, frozenset({'x") or (1==1', "a\\b'c"})) == []
    assert index.search(index.vectors_a[3], 5, frozenset()) == []


def test_count_and_delete_document(index):
    c, v = make("docC", 7, 3)
    index.add(c, v)
    assert index.count() == 37
    index.delete_document("docC")
    assert index.count() == 30
    assert all(not cid.startswith("docC") for cid, _ in index.search(v[0], 30))
    index.delete_document("never-added")  # deleting nothing is fine
    index.delete_document('") or (1==1')
    assert index.count() == 30


def test_re_adding_a_chunk_replaces_it_rather_than_duplicating(index):
    c, v = make("docD", 3, 4)
    index.add(c, v)
    index.add(c, v[::-1].copy())
    assert index.count() == 33
    assert index.search(v[2], 1)[0][0] == "docD:000000"
    index.delete_document("docD")


def test_mismatched_input_is_rejected(index):
    c, v = make("docE", 2, 5)
    with pytest.raises(ValueError):
        index.add(c, v[:1])
    with pytest.raises(ValueError):
        index.add(c, np.ones((2, DIM + 1), dtype=np.float32))


def test_vectors_persist_across_reopen_and_dimension_is_checked(tmp_path):
    path = str(tmp_path / "m.db")
    first = MilvusVectorIndex(path, DIM)
    c, v = make("doc", 5, 6)
    first.add(c, v)
    first.close()
    second = MilvusVectorIndex(path, DIM)
    assert second.count() == 5
    assert second.search(v[4], 1)[0][0] == "doc:000004"
    second.close()
    with pytest.raises(StoreUnavailable, match="embedding model changed"):
        MilvusVectorIndex(path, DIM * 2)


def test_a_second_process_gets_a_clear_error_not_a_crash(index, milvus_dir):
    code = (
        "from shared_utils.retrieval.milvus import MilvusVectorIndex\n"
        "from shared_utils.errors import StoreUnavailable\n"
        f"try:\n    MilvusVectorIndex({str(milvus_dir / 'milvus.db')!r}, {DIM})\n"
        "except StoreUnavailable as exc:\n    print('HINT', exc.hint)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert "HINT Another Olympus process holds this Milvus Lite database" in out.stdout, out.stderr


def test_unreachable_server_is_store_unavailable():
    with pytest.raises(StoreUnavailable, match="Milvus"):
        MilvusVectorIndex("http://127.0.0.1:9", DIM)


def test_several_queries_in_one_call_find_what_each_finds_alone(index):
    queries = [index.vectors_a[i] for i in (0, 3, 7)]
    together = index.search_many(queries, 5)
    alone = [index.search(q, 5) for q in queries]
    assert [[cid for cid, _ in hits] for hits in together] == [
        [cid for cid, _ in hits] for hits in alone
    ]
    assert np.allclose(
        [[s for _, s in h] for h in together], [[s for _, s in h] for h in alone], atol=1e-5
    )
    scoped = index.search_many(queries, 5, frozenset({"docB"}))
    assert all(cid.startswith("docB:") for hits in scoped for cid, _ in hits)
    assert index.search_many(queries, 5, frozenset()) == [[], [], []]
    assert index.search_many([], 5) == []
