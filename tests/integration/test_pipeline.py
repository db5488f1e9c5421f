"""The pipeline facade the UI and CLI use."""

from __future__ import annotations

from src.pipeline import RAGPipeline
from tests.fixtures.pdfs import make_text_pdf


def test_warm_up_in_background_opens_what_the_first_question_needs(settings, embedder):
    pipeline = RAGPipeline.from_settings(settings)
    try:
        assert not pipeline.library.stores.vectors.opened  # opening the app stays cheap
        pipeline.warm_up_in_background().join(timeout=120)
        assert pipeline.library.stores.vectors.opened
        pipeline.ingest_bytes(make_text_pdf(["Intro.", "The pump runs at 42 rpm."]), "pump.pdf")
        result = pipeline.search("how fast does the pump run")
        assert result.results[0].chunk.doc_name == "pump.pdf"
        assert set(pipeline.health()) >= {"milvus", "docstore", "extractive"}
    finally:
        pipeline.close()
