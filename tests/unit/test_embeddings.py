"""Embedder: the real bundled MiniLM, normalised vectors, sensible neighbours, typed errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from shared_utils.embeddings import Embedder, get_embedder, resolve_model
from shared_utils.errors import EmbeddingModelUnavailable
from shared_utils.types import Progress

CORPUS = [
    "To resume a stopped job in the background, use the bg builtin command.",
    "The UPS driver reports the battery charge and the remaining runtime.",
    "SystemTap probes let you trace kernel functions such as vfs_read.",
    "The simplex method solves linear programming problems.",
    "Bake the bread at 220 degrees for thirty minutes.",
]


def test_vectors_are_float32_unit_length_in_input_order(embedder):
    vectors = embedder.encode(CORPUS)
    assert vectors.shape == (len(CORPUS), embedder.dimension) == (5, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # length-sorted batching must not reorder results
    assert np.allclose(embedder.encode(CORPUS[::-1])[::-1], vectors, atol=1e-5)
    one_by_one = np.stack([embedder.encode([t])[0] for t in CORPUS])
    assert (np.argmax(vectors @ one_by_one.T, axis=1) == np.arange(len(CORPUS))).all()
    # int8 activations are quantised per batch: alone or in a batch, nearly the same vector
    assert np.diag(vectors @ one_by_one.T).min() > 0.95


def test_int8_vectors_stay_close_to_fp32(embedder):
    assert embedder.precision == "int8"  # the CPU default (OLYMPUS_EMBEDDING_PRECISION=auto)
    fp32 = Embedder("all-MiniLM-L6-v2", precision="fp32")
    exact = fp32.encode(CORPUS)
    cosines = np.sum(exact * embedder.encode(CORPUS), axis=1)
    assert cosines.min() > 0.95, cosines
    # and it is really quantised: every linear layer holds int8 weights
    import torch

    linears = [m for m in embedder.model.modules() if isinstance(m, torch.nn.Linear)]
    quantised = [
        m for m in embedder.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)
    ]
    assert not linears and len(quantised) == 37  # 6 x (q, k, v, out, ffn up, ffn down) + pooler
    assert cosines.max() < 0.99999


def test_int8_is_cpu_only_and_precision_is_checked():
    with pytest.raises(ValueError, match="CPU only"):
        Embedder("all-MiniLM-L6-v2", device="cuda", precision="int8")
    with pytest.raises(ValueError, match="precision"):
        Embedder("all-MiniLM-L6-v2", precision="int4")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how do I continue a suspended process in the background?", 0),
        ("how much battery time is left on my power supply?", 1),
        ("tracing kernel calls", 2),
        ("optimisation of a linear objective with constraints", 3),
    ],
)
def test_nearest_neighbour_makes_sense(embedder, query, expected):
    vectors = embedder.encode(CORPUS)
    q = embedder.encode_query(query)
    assert q.shape == (384,) and q.dtype == np.float32
    assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-5
    assert int(np.argmax(vectors @ q)) == expected


def test_progress_reports_embed_stage(embedder):
    reports: list[Progress] = []
    texts = [f"text number {i}" for i in range(300)]
    small = Embedder("all-MiniLM-L6-v2", batch_size=16)
    small._model = embedder.model  # reuse the loaded weights; exercise batching of 16
    small.encode(texts, progress=reports.append)
    assert reports and all(r.stage == "embed" and r.total == 300 for r in reports)
    assert not any("loading" in r.message for r in reports)  # model already loaded
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].done == 300


def test_empty_input(embedder):
    assert embedder.encode([]).shape == (0, 384)


def test_token_counting_needs_no_model_weights():
    fresh = Embedder("sentence-transformers/all-MiniLM-L6-v2")
    assert fresh.count_tokens("Hello world") == 2
    assert fresh.count_tokens_batch(["Hello world", "unbelievably"]) == [
        2,
        fresh.count_tokens("unbelievably"),
    ]
    assert (fresh.max_tokens, fresh.max_text_tokens, fresh.dimension) == (256, 254, 384)
    assert fresh._model is None  # the torch model was never loaded


def test_token_count_matches_the_model_tokenizer_and_is_not_truncated(embedder):
    long_text = "word " * 1000
    assert embedder.count_tokens(long_text) == 1000
    ids = embedder.model.tokenizer(long_text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1000


def test_both_default_names_resolve_to_the_bundled_copy():
    assert resolve_model("all-MiniLM-L6-v2") == resolve_model(
        "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_get_embedder_is_a_process_wide_cache(embedder):
    assert get_embedder("sentence-transformers/all-MiniLM-L6-v2", "cpu", 8, "int8") is embedder
    assert get_embedder("sentence-transformers/all-MiniLM-L6-v2", "cpu", 8) is not embedder
    assert get_embedder("all-MiniLM-L6-v2", "cpu", 32, "int8") is not embedder


def test_unreachable_model_gives_a_typed_error_with_a_fix():
    # conftest sets HF_HUB_OFFLINE=1: like a machine without network
    missing = Embedder("olympus-tests/no-such-embedding-model")
    with pytest.raises(EmbeddingModelUnavailable) as info:
        missing.encode(["x"])
    assert "olympus-tests/no-such-embedding-model" in info.value.message
    assert "OLYMPUS_EMBEDDING_MODEL" in info.value.hint


def test_missing_local_directory_gives_a_typed_error(tmp_path):
    with pytest.raises(EmbeddingModelUnavailable):
        Embedder(str(tmp_path / "nowhere")).encode(["x"])


def test_concurrent_encode_from_threads(embedder):
    expected = embedder.encode(CORPUS)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work():
        try:
            results.append(embedder.encode(CORPUS))
            embedder.count_tokens_batch(CORPUS)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.allclose(r, expected, atol=1e-4) for r in results)


def test_queries_asked_together_share_model_calls_and_get_their_own_vectors(embedder):
    from shared_utils.query_batcher import QueryBatcher

    queries = [
        *CORPUS,
        "Which port does upsd listen on?",
        "How do I bake a loaf?",
        "What does the bg command do?",
        "trace vfs_read in the kernel",
        "linear programming with glpk",
        "battery runtime of the UPS",
    ]
    alone = {q: embedder.encode_query(q) for q in queries}
    calls: list[int] = []

    def counted(texts):
        calls.append(len(texts))
        return embedder._encode_queries(texts)

    batcher = QueryBatcher(counted, window_s=0.05)
    start = threading.Barrier(len(queries))
    got: dict[str, np.ndarray] = {}

    def ask(q: str) -> None:
        start.wait()
        got[q] = batcher.encode(q)

    threads = [threading.Thread(target=ask, args=(q,)) for q in queries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(calls) == len(queries) and len(calls) < len(queries)  # batched, none lost
    # each caller gets the vector of its own query: nearest to its own alone, far from the
    # others' (int8 scales activations per call, so a batch moves vectors a little: cos > 0.9)
    for q in queries:
        sims = {other: float(got[q] @ alone[other]) for other in queries}
        assert max(sims, key=sims.get) == q and sims[q] > 0.9, (q, sims[q])


def test_a_failing_query_batch_raises_in_every_caller():
    from shared_utils.query_batcher import QueryBatcher

    def broken(texts):
        raise RuntimeError("model gone")

    with pytest.raises(RuntimeError, match="model gone"):
        QueryBatcher(broken, window_s=0).encode("anything")
