"""The service API for real: a Library with the power manual ingested, the real SmolLM2 on
llama.cpp (xllamacpp), the API app under uvicorn on a loopback port, real clients."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.settings import load_settings
from tests.fixtures.pdfs import make_text_pdf
from tests.integration.test_answer import PAGES, _free_port

QUESTION = "Which TCP port does the upsd daemon listen on?"


@dataclass
class Service:
    url: str
    token: str  # the service token (what the UI and the CLI use)
    key: str  # an API key made by an admin
    keys: object
    pipeline: object
    data_dir: Path
    settings: object


class ThreadedServer:
    """uvicorn in a thread, stopped at the end."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="package")
def smollm2():
    """The real SmolLM2-135M (the offline fallback GGUF) served by llama.cpp."""
    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.models.model_files import bundled_gguf

    with LlamaCppEngine(bundled_gguf(), port=0, ctx=2048) as engine:
        engine.wait_ready(120)
        yield engine


@pytest.fixture(scope="package")
def service(tmp_path_factory, embedder, smollm2):
    from src.access.keys import KeyStore, new_service_token
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from src.pipeline import RAGPipeline

    data = tmp_path_factory.mktemp("api-data")
    pdf = tmp_path_factory.mktemp("api-pdf") / "power-manual.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    settings = load_settings(
        data_dir=data,
        llamacpp_port=smollm2.port,
        backends="llamacpp,extractive",
        context_tokens=2048,
        max_answer_tokens=40,
        first_token_timeout_s=120.0,
        # SmolLM2 writes (the engine path is under test) from whole
        # sources, at temperature 0, with no extract after its answer
        # (its text is checked): not the settings of a 135M model
        tiny_model_answers="model",
        source_sentences=4,
        temperature=0.0,
        small_model_extract=False,
    )
    pipeline = RAGPipeline.from_settings(settings)
    pipeline.ingest_file(pdf)
    keys = KeyStore(data)
    _, key = keys.create("tests", "write")
    token = new_service_token(data)
    app = build_app(
        pipeline,
        keys=keys,
        service_token=token,
        queue=IngestQueue.from_settings(settings),
        max_upload_mb=10,
    )
    port = _free_port()
    with ThreadedServer(app, port):
        yield Service(
            url=f"http://127.0.0.1:{port}",
            token=token,
            key=key,
            keys=keys,
            pipeline=pipeline,
            data_dir=data,
            settings=settings,
        )
    pipeline.close()
