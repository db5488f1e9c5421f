"""The app as a person uses it, in Debian's headless Chromium through the real front
(``python startup.py``): chats that survive a reload and a restart, switching chats, the
model that answered named as ``doctor`` names it, the Stop button in view while the answer
streams, the phone sidebar closing after navigation, ``/chat`` as a URL, no request leaving
the machine. Screenshots of every page at 1280x800 and 390x844 go to tests/artifacts/.
(The deep link kept after sign-in: tests/e2e/test_browser.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.test_browser import (
    PAGES,
    QUESTION,
    REPO,
    _ask,
    _engine_ready,
    _free_port,
    _running_app,
    _shot,
    _wait_app,
    browser,  # noqa: F401 - the fixture
    pytestmark,  # noqa: F401 - the same markers (browser, chromium present)
)
from tests.fixtures.pdfs import make_text_pdf

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
FUSION = "What household waste does the Mr. Fusion reactor accept?"
EXTRACTIVE = {"OLYMPUS_BACKENDS": "extractive", "OLYMPUS_ENGINE": "none"}


def _upload(page, url: str, pdf: Path) -> None:
    """As test_browser's, with room for a loaded machine (the embedder loads first)."""
    page.goto(f"{url}/documents")
    _wait_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(pdf))
    page.get_by_text(f"{pdf.name}: indexed").wait_for(timeout=480_000)


def _questions(page) -> list[str]:
    users = page.locator('[data-testid="stChatMessage"]').filter(
        has=page.locator('[data-testid="stChatMessageAvatarUser"]')
    )
    content = '[data-testid="stChatMessageContent"]'
    # all at once: a rerun may remove a message between a count() and an inner_text() of it
    # (which then waits for it until its timeout)
    return [text.strip() for text in users.locator(content).all_inner_texts()]


def _shows(page, expected: list[str], timeout_s: float = 60.0) -> list[str]:
    """The questions on the page once they equal ``expected`` (or when the time is up)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        shown = _questions(page)
        if shown == expected or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(300)


def _sidebar_chat(page, title: str):
    return page.locator('[data-testid="stSidebar"] button').filter(has_text=title).first


def _offline_guard(page, url: str) -> list[str]:
    """Record every request to another host (there must be none: offline means offline)."""
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(url) or r.url.startswith("data:") or r.url.startswith("blob:")
            else foreign.append(r.url)
        ),
    )
    return foreign


@pytest.mark.timeout(900)
def test_chats_survive_a_reload_and_a_restart_and_can_be_switched(tmp_path, browser):
    pdf = tmp_path / "flux-manual.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    port = _free_port()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    with _running_app(tmp_path, port=port, **EXTRACTIVE) as url:
        foreign = _offline_guard(page, url)
        _upload(page, url, pdf)
        _ask(page, url, QUESTION)
        page.get_by_text("Answered by").first.wait_for(timeout=120_000)
        page.reload()
        _wait_app(page)
        page.get_by_text("Answered by").first.wait_for()
        assert _shows(page, [QUESTION]) == [QUESTION], "the chat survived the reload"
        page.locator('[data-testid="stSidebar"] button').filter(has_text="New chat").first.click()
        assert _shows(page, []) == []
        box = page.locator('[data-testid="stChatInputTextArea"]')
        box.fill(FUSION)
        box.press("Enter")
        page.get_by_text("Answered by").first.wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        _sidebar_chat(page, QUESTION[:30]).click()
        assert _shows(page, [QUESTION]) == [QUESTION], "switching shows the other chat"
        assert not foreign, f"requests left the machine: {foreign}"
    with _running_app(tmp_path, port=port, **EXTRACTIVE) as url:  # a restart, same browser
        page.goto(url)
        _wait_app(page)
        _sidebar_chat(page, FUSION[:30]).wait_for()
        _sidebar_chat(page, QUESTION[:30]).click()
        assert _shows(page, [QUESTION]) == [QUESTION], "the chat survived the restart"
        page.goto(f"{url}/chat")  # /chat is the Chat page's own address
        _wait_app(page)
        page.get_by_role("heading", name="Chat").wait_for()
        assert page.get_by_text("Page not found").count() == 0
        _screenshots(browser, url, context)
        _phone_sidebar_closes(browser, url)
    context.close()


def _screenshots(browser, url: str, desktop) -> None:
    """Every page at both sizes (the phone in a fresh context shares no cookie: new chat)."""
    phone = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    for name, context in (("desktop", desktop), ("phone", phone)):
        page = context.new_page()
        page.set_default_timeout(60_000)
        for path in ("chat", "documents", "models", "system"):
            page.goto(f"{url}/{path}")
            _wait_app(page)
            page.wait_for_timeout(2000)
            _shot(page, f"{path}-{name}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], f"{path} scrolls sideways ({width}px)"
        page.close()
    phone.close()


def _doctor_model(tmp_path: Path, env: dict[str, str]) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    full.update(env, OLYMPUS_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-m", "src", "doctor", "--json"],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return json.loads(out.stdout)["profile"]["chosen"]["answering_model"]


@pytest.mark.timeout(900)
def test_the_model_is_named_and_stop_stays_in_view_while_streaming(tmp_path, browser):
    from src.models.model_files import bundled_gguf

    env = {
        "OLYMPUS_ENGINE": "llamacpp",
        "OLYMPUS_BACKENDS": "llamacpp,extractive",
        "OLYMPUS_LLAMACPP_MODEL_PATH": str(bundled_gguf()),
        "OLYMPUS_LLAMACPP_PORT": str(_free_port()),
        "OLYMPUS_MAX_ANSWER_TOKENS": "96",
        "OLYMPUS_TINY_MODEL_ANSWERS": "model",
    }
    with _running_app(tmp_path, **env) as url:
        pdf = tmp_path / "flux-manual.pdf"
        pdf.write_bytes(make_text_pdf(PAGES))
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(60_000)
        _upload(page, url, pdf)
        _engine_ready(tmp_path / "data")
        _ask(page, url, QUESTION)
        stop = page.get_by_role("button", name="Stop")
        stop.wait_for(timeout=60_000)
        seen = []
        while page.get_by_text("Answered by").count() == 0 and stop.count():
            try:  # the answer may end (and Stop go) between the count and the box
                box = stop.bounding_box(timeout=1000)
            except PlaywrightTimeout:
                break
            inside = bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"]
            if box and (seen or inside):  # from when the page has scrolled to the new answer
                seen.append(box)  # (on a loaded machine the scroll comes a moment later)
                assert inside, f"the Stop button left the viewport while streaming: {box}"
            page.wait_for_timeout(100)
        assert seen, "the Stop button was in view while the answer streamed"
        footer = page.get_by_text("Answered by").first
        footer.wait_for(timeout=120_000)
        expected = _doctor_model(tmp_path, env)
        assert expected and expected in footer.inner_text().replace("\\", ""), (
            footer.inner_text(),
            expected,
        )
        _shot(page, "chat-model-named-desktop")


def _sidebar_open(page) -> bool:
    """Whether the sidebar covers part of the screen (collapsed, it is moved off-screen)."""
    box = page.locator('[data-testid="stSidebar"]').bounding_box()
    return bool(box) and box["x"] + box["width"] > 50


def _phone_sidebar_closes(browser, url: str) -> None:
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    _wait_app(page)
    page.locator('[data-testid="stExpandSidebarButton"]').first.click()
    page.wait_for_timeout(800)
    assert _sidebar_open(page), "the sidebar opened"
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Documents").click()
    page.get_by_role("heading", name="Documents").wait_for()
    for _ in range(20):
        if not _sidebar_open(page):
            break
        page.wait_for_timeout(250)
    assert not _sidebar_open(page), "the sidebar closed after choosing a page"
    _shot(page, "documents-after-navigation-phone")
    phone.close()
