"""BM25Index: ranking, stemming, incremental add/delete, persistence, hostile query text."""

from __future__ import annotations

import threading

import pytest

from shared_utils.retrieval.bm25 import MAX_SEGMENTS, BM25Index, Tokenizer
from shared_utils.types import Chunk

TEXTS = {
    "a": [
        "The export builtin marks variables for automatic export to child processes.",
        "Aliases are not expanded when the shell is not interactive.",
        "Redirecting standard error to a file uses 2> followed by the file name.",
    ],
    "b": [
        "The simplex method solves linear programming problems.",
        "Branch and bound is used for mixed integer programming.",
        "Use glp_set_obj_dir to set the optimization direction.",
    ],
}


def chunks(doc_id: str, texts: list[str] | None = None) -> list[Chunk]:
    texts = TEXTS[doc_id] if texts is None else texts
    return [
        Chunk(
            id=f"{doc_id}:{i:06d}",
            doc_id=doc_id,
            ordinal=i,
            text=t,
            page_start=i + 1,
            page_end=i + 1,
        )
        for i, t in enumerate(texts)
    ]


@pytest.fixture
def index(tmp_path):
    idx = BM25Index(tmp_path / "keywords.sqlite3")
    idx.add(chunks("a"))
    idx.add(chunks("b"))
    yield idx
    idx.close()


def ids(hits):
    return [cid for cid, _ in hits]


def test_finds_the_chunk_with_the_query_words_despite_other_word_forms(index):
    hits = index.search("How do I export a variable to a child process?", 3)
    assert ids(hits)[0] == "a:000000"
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_rare_terms_outweigh_common_ones(index):
    index.add(chunks("c", ["programming programming programming tips", "integer overflow"]))
    assert ids(index.search("mixed integer programming branch", 5))[0] == "b:000001"


def test_identifiers_with_underscores_are_searchable(index):
    assert ids(index.search("glp_set_obj_dir", 1)) == ["b:000002"]


def test_doc_filter_limits_results(index):
    assert set(ids(index.search("programming file", 10, frozenset({"b"})))) <= {
        "b:000000",
        "b:000001",
    }
    assert index.search("programming", 10, frozenset()) == []
    assert index.search("programming", 10, frozenset({"unknown"})) == []


@pytest.mark.parametrize(
    "query",
    [
        'export" OR NEAR(a b) --',
        "'; DROP TABLE kw_chunks; --",
        "*",
        "NOT AND OR",
        "(((",
        "\x00\x01",
        "é" * 50,
        "x" * 10_000,
        " ".join(f"w{i}" for i in range(5000)),
    ],
)
def test_hostile_or_odd_query_text_never_errors_and_leaves_the_index_intact(index, query):
    index.search(query, 5)
    assert index.count() == 6
    assert ids(index.search("simplex method", 1)) == ["b:000000"]


def test_no_match_and_stopword_only_queries(index):
    assert index.search("zebra quokka", 5) == []
    assert index.search("", 5) == []
    assert index.search("the", 5) == []  # every chunk dropped 'the' when indexed
    assert index.search("simplex", 0) == []


def test_delete_document_removes_it_from_results_and_count(index):
    index.delete_document("a")
    assert index.count() == 3
    assert index.search("export variables child processes", 5) == []
    assert index.doc_ids() == {"b"}
    index.add(chunks("a"))  # re-ingest after delete
    assert ids(index.search("export variables", 1)) == ["a:000000"]


def test_re_adding_a_chunk_id_replaces_its_text(index):
    index.add(chunks("a", ["completely different words about penguins"]))
    assert index.count() == 6
    assert ids(index.search("penguins", 5)) == ["a:000000"]
    assert "a:000000" not in ids(index.search("export builtin marks", 5))


def test_persists_across_reopen_including_deletes(tmp_path):
    path = tmp_path / "kw.sqlite3"
    first = BM25Index(path)
    first.add(chunks("a"))
    first.add(chunks("b"))
    first.delete_document("a")
    before = first.search("linear programming problems", 3)
    first.close()
    second = BM25Index(path)
    assert second.count() == 3
    assert second.search("linear programming problems", 3) == pytest.approx(before)
    assert second.search("export", 3) == []
    second.add(chunks("c", ["simplex simplex simplex"]))  # new terms get fresh ids after reopen
    assert ids(second.search("simplex", 1)) == ["c:000000"]
    second.close()


def test_many_small_adds_merge_segments_and_keep_scores(tmp_path):
    one = BM25Index(tmp_path / "one.sqlite3")
    many = BM25Index(tmp_path / "many.sqlite3")
    docs = {f"d{i}": [f"word{i} shared text number {i}", f"other{i} shared"] for i in range(30)}
    one.add([c for d, t in docs.items() for c in chunks(d, t)])
    for d, t in docs.items():
        many.add(chunks(d, t))
        if d == "d5":
            many.delete_document("d3")
            one.delete_document("d3")
    assert len(many._segments) <= MAX_SEGMENTS + 1
    for q in ("shared text", "word7 number", "other29"):
        assert many.search(q, 10) == pytest.approx(one.search(q, 10))


def test_concurrent_adds_and_searches(tmp_path):
    idx = BM25Index(tmp_path / "kw.sqlite3")
    errors = []

    def work(i: int) -> None:
        try:
            idx.add(chunks(f"t{i}", [f"thread {i} text", "common words here"]))
            idx.search("common words", 5)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and idx.count() == 16


def test_tokenizer_stems_and_drops_stopwords():
    tok = Tokenizer()
    assert tok("The Processes were RUNNING") == ["process", "run"]
    assert tok.query("the of") == ["the", "of"]
    assert len(tok.query(" ".join(f"w{i}" for i in range(100)))) == 32
