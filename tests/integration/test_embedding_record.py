"""A library keeps the embedding its vectors were made with (model and precision)."""

from __future__ import annotations

import json

import pytest

from shared_utils.embeddings import resolve_model
from shared_utils.errors import EmbeddingMismatch
from shared_utils.retrieval.base import Query
from src.data_dir import DataDir
from src.library.library import Library
from src.settings import load_settings
from tests.fixtures.pdfs import make_text_pdf

PDF = make_text_pdf(
    [
        "The walrus tusk polishing guide recommends beeswax twice a year. " * 4,
        "Narwhal horn storage needs a dry cabinet away from sunlight. " * 4,
    ]
)


def build(data, **settings) -> str:
    library = Library.open(load_settings(data_dir=data, **settings))
    try:
        return library.ingest_bytes(PDF, "tusks.pdf").doc.id
    finally:
        library.close()


def record(data) -> dict:
    return json.loads(DataDir(data).embedding_record.read_text())


def test_an_fp32_library_stays_fp32_under_auto_and_still_answers(tmp_path, embedder):
    data = tmp_path / "data"
    doc_id = build(data, embedding_precision="fp32")
    assert record(data)["precision"] == "fp32"
    library = Library.open(load_settings(data_dir=data))  # auto would pick int8 on this CPU
    try:
        assert library.embedder.precision == "fp32"
        chunk = library.retriever.keyword(Query("walrus tusk", k=1))[0].chunk
        assert chunk.doc_id == doc_id
        # the chunk's own text as the query: the same vector (cosine 1) only when the query is
        # embedded exactly as the stored vectors were (an int8 query scores ~0.98)
        top = library.retriever.dense(Query(chunk.text, k=1))[0]
        assert top.chunk.id == chunk.id and top.score > 0.9999
    finally:
        library.close()


def test_an_explicit_other_precision_is_refused_and_nothing_is_lost(tmp_path, embedder):
    data = tmp_path / "data"
    doc_id = build(data)  # auto: int8 here
    assert record(data) == {"model": "sentence-transformers/all-MiniLM-L6-v2", "precision": "int8"}
    with pytest.raises(EmbeddingMismatch) as info:
        Library.open(load_settings(data_dir=data, embedding_precision="fp32"))
    assert "int8" in info.value.message and "OLYMPUS_EMBEDDING_PRECISION" in info.value.hint
    library = Library.open(load_settings(data_dir=data))
    try:
        assert [d.id for d in library.documents()] == [doc_id]
    finally:
        library.close()


def test_another_model_is_refused_with_both_names(tmp_path, embedder):
    data = tmp_path / "data"
    build(data)
    copy = tmp_path / "my-minilm"
    copy.symlink_to(resolve_model("all-MiniLM-L6-v2"), target_is_directory=True)
    with pytest.raises(EmbeddingMismatch) as info:
        Library.open(load_settings(data_dir=data, embedding_model=str(copy)))
    assert "sentence-transformers/all-MiniLM-L6-v2" in info.value.message
    assert str(copy) in info.value.message and "OLYMPUS_EMBEDDING_MODEL" in info.value.hint
    # the two spellings of the bundled model are the same model
    Library.open(load_settings(data_dir=data, embedding_model="all-MiniLM-L6-v2")).close()


def test_an_empty_library_takes_the_configured_embedding(tmp_path, embedder):
    data = tmp_path / "data"
    doc_id = build(data, embedding_precision="fp32")
    library = Library.open(load_settings(data_dir=data, embedding_precision="fp32"))
    library.remove_everywhere(doc_id)
    library.close()
    library = Library.open(load_settings(data_dir=data))
    try:
        assert library.embedder.precision == "int8" and record(data)["precision"] == "int8"
    finally:
        library.close()


def test_a_library_from_before_the_record_is_taken_as_fp32(tmp_path, embedder):
    data = tmp_path / "data"
    build(data, embedding_precision="fp32")
    DataDir(data).embedding_record.unlink()
    library = Library.open(load_settings(data_dir=data))
    try:
        assert library.embedder.precision == "fp32" and record(data)["precision"] == "fp32"
    finally:
        library.close()


def test_an_unreadable_record_is_a_clear_error_and_the_documents_stay(tmp_path, embedder):
    data = tmp_path / "data"
    doc_id = build(data)
    DataDir(data).embedding_record.write_text("{not json")
    with pytest.raises(EmbeddingMismatch) as info:
        Library.open(load_settings(data_dir=data))
    assert DataDir.embedding_record.name in info.value.message and "precision" in info.value.hint
    DataDir(data).embedding_record.write_text(
        json.dumps({"model": "all-MiniLM-L6-v2", "precision": "int8"})
    )
    library = Library.open(load_settings(data_dir=data))
    try:
        assert [d.id for d in library.documents()] == [doc_id]
        assert library.embedder.precision == "int8"
    finally:
        library.close()
