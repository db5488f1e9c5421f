"""The Streamlit pages with the service running: the UI opens no store, it reaches the
library through the API (RemotePipeline), and keeps working while API clients use it."""

from __future__ import annotations

import os
import threading
import time

import openai
import pytest

from src.ui import state
from tests.api.conftest import QUESTION
from tests.fixtures.pdfs import make_text_pdf
from tests.ui.conftest import all_text, make_app, wait_for_ingest  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
# "a few minutes" of mixed use: 120 s in the suite on the 2-core CI machine; the soak run
# recorded in benchmarks/README.md sets OLYMPUS_TEST_CONCURRENT_S=300 (and --timeout=900)
CONCURRENT_S = float(os.environ.get("OLYMPUS_TEST_CONCURRENT_S", "120"))


@pytest.fixture
def ui(service, monkeypatch):
    """The UI as startup.py runs it: same data dir, told the API's URL and token."""
    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(service.data_dir))
    monkeypatch.setenv("OLYMPUS_SERVICE_URL", service.url)
    monkeypatch.setenv("OLYMPUS_SERVICE_TOKEN", service.token)
    state.reset()
    yield service
    state.reset()


def test_the_ui_answers_through_the_service_without_opening_a_store(ui, make_app):
    from src.service.client import RemotePipeline

    at = make_app()
    assert isinstance(state.pipeline(), RemotePipeline)
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception
    answer = at.session_state["chat_current"]["messages"][-1]
    assert "3493" in answer["content"] and answer["backend_name"] == "llamacpp", answer
    at.switch_page("src/ui/pages/documents.py").run()
    assert "1 document(s), 4 pages" in all_text(at)
    at.switch_page("src/ui/pages/system.py").run()
    assert not at.exception and "API keys" in all_text(at)


def test_an_admin_makes_a_key_on_the_system_page_and_it_works(ui, make_app):
    at = make_app("system")
    at.text_input(key="api_key_name").set_value("editor")
    at.selectbox(key="api_key_scope").set_value("write")
    form_submit = [b for b in at.button if "Create key" in str(b.label)]
    form_submit[0].click().run()
    secret = at.code[0].value
    assert secret.startswith("olk_") and "not shown again" in all_text(at)
    assert next(k for k in ui.keys.list() if k.name == "editor").scope == "write"
    assert "scope write" in all_text(at).replace("*", "")  # the list shows each key's scope
    client = openai.OpenAI(base_url=f"{ui.url}/v1", api_key=secret, max_retries=0)
    assert client.models.list().data[0].id == "olympus"
    at.selectbox(key="api_key_revoke_choice").set_value(
        next(k.id for k in ui.keys.list() if k.name == "editor")
    ).run()
    at.button(key="api_key_revoke").click().run()
    assert "revoked" in all_text(at)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_ui_and_api_clients_at_once_without_a_store_error(ui, make_app):
    """Chat and uploads in the UI while an OpenAI client streams answers and searches run:
    no locked or closed store, every answer and search succeeds."""
    errors: list[str] = []
    counts = {"api": 0, "ui": 0, "search": 0}
    stop = time.monotonic() + CONCURRENT_S

    def api_client() -> None:
        client = openai.OpenAI(base_url=f"{ui.url}/v1", api_key=ui.key, max_retries=0, timeout=300)
        while time.monotonic() < stop:
            try:
                text = "".join(
                    c.choices[0].delta.content or ""
                    for c in client.chat.completions.create(
                        model="olympus",
                        stream=True,
                        messages=[{"role": "user", "content": QUESTION}],
                    )
                )
                # the right port, or SmolLM2's invented one struck through by the claim check
                assert "3493" in text or "~~" in text, text
                counts["api"] += 1
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(f"api: {exc!r}")

    def searcher() -> None:
        remote = state.pipeline()
        while time.monotonic() < stop:
            try:
                top = remote.search("upsd port", k=3).results[0].chunk
                assert top.page_start <= 3 <= top.page_end
                counts["search"] += 1
            except Exception as exc:  # noqa: BLE001
                errors.append(f"search: {exc!r}")
            time.sleep(0.2)

    at = make_app()
    threads = [threading.Thread(target=api_client), threading.Thread(target=searcher)]
    for t in threads:
        t.start()
    n = 0
    while time.monotonic() < stop:
        n += 1
        docs = at.switch_page("src/ui/pages/documents.py").run()
        docs.file_uploader[0].set_value(
            (
                f"note-{n}.pdf",
                make_text_pdf([f"Note {n}: the spare battery is in cabinet {n}."]),
                "application/pdf",
            )
        ).run()
        wait_for_ingest(docs)
        assert f"note-{n}.pdf: indexed" in all_text(docs), all_text(docs)
        chat = at.switch_page("src/ui/pages/chat.py").run()
        chat.chat_input[0].set_value(f"Where is the spare battery of note {n}?").run()
        assert not chat.exception, chat.exception
        counts["ui"] += 1
        doc = next(d for d in state.pipeline().documents() if d.name == f"note-{n}.pdf")
        state.pipeline().delete_document(doc.id)
    for t in threads:
        t.join(600)
    print(f"concurrent use for {CONCURRENT_S:.0f} s: {counts}")
    assert not errors, errors[:5]
    assert counts["api"] >= 2 and counts["ui"] >= 2 and counts["search"] >= 10, counts
    assert [d.name for d in state.pipeline().documents()] == ["power-manual.pdf"]
