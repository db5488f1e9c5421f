"""The pipeline facade the UI and CLI use."""

from __future__ import annotations

import time

from src.pipeline import RAGPipeline
from tests.fixtures.pdfs import make_text_pdf


def test_warm_up_in_background_makes_the_first_question_fast(settings, embedder):
    pipeline = RAGPipeline.from_settings(settings)
    try:
        assert not pipeline.library.stores.vectors.opened  # opening the app stays cheap
        pipeline.warm_up_in_background().join(timeout=120)
        assert pipeline.library.stores.vectors.opened
        pipeline.ingest_bytes(make_text_pdf(["Intro.", "The pump runs at 42 rpm."]), "pump.pdf")
        started = time.perf_counter()
        result = pipeline.search("how fast does the pump run")
        elapsed = time.perf_counter() - started
        assert result.results[0].chunk.doc_name == "pump.pdf"
        assert elapsed < 2.0, f"first search after warm-up took {elapsed:.1f} s"
        assert set(pipeline.health()) >= {"milvus", "docstore", "extractive"}
    finally:
        pipeline.close()
