"""End to end in a real browser: the real Streamlit app driven by Debian's headless Chromium.

Starts ``python startup.py`` (the supervisor, which starts Streamlit) on a free port with a
temp data dir and no engine, uploads a generated PDF whose answer is on page 2, waits until
it is indexed, asks a question, and checks the answer and that a citation names page 2.
A second test runs the real local llama.cpp engine on the bundled SmolLM2 and watches the
answer stream into the browser (a small model: the evidence first, kept while it writes).
Screenshots of every page (and a 390 px wide phone view) go to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.pdfs import make_text_pdf

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

PAGES = [
    "Flux Capacitor Service Manual\nChapter 1 introduces the time circuits and the display. "
    + "The display shows the destination time, the present time and the last time departed, "
    "in red, green and amber digits that the driver reads at a glance. " * 2,
    "Flux Capacitor Service Manual\nMaintenance: the flux capacitor calibration interval is "
    "88 days. Calibrate it with the plutonium chamber closed. "
    "Literal text <script>alert('x')</script> and [a link](http://example.invalid/guide). "
    + "Log every visit in the garage book with the odometer reading and the date. "
    * 2,
    "Flux Capacitor Service Manual\nChapter 3 covers the Mr. Fusion home energy reactor, "
    + "which converts household waste such as banana peels into power for the machine. " * 2,
]
QUESTION = "How often must the flux capacitor be calibrated?"


def _covers(label: str, page: int) -> bool:
    """Whether a page label ("p. 2", "pp. 1-2") includes ``page``."""
    numbers = [int(n) for n in re.findall(r"\d+", label)]
    return numbers[0] <= page <= numbers[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(
    url: str, proc: subprocess.Popen, timeout: float = 240.0
) -> None:  # ends when it answers
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("streamlit did not become healthy")


@contextmanager
def _running_app(tmp_path: Path, port: int | None = None, **settings: str):
    """``python startup.py`` (supervisor -> Streamlit, engine) on a free port (or ``port``: a
    restart keeps the address, so the browser keeps its cookie), temp data dir."""
    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(
        OLYMPUS_DATA_DIR=str(tmp_path / "data"),
        OLYMPUS_PORT=str(port),
        OLYMPUS_ADDRESS="127.0.0.1",
        OLYMPUS_LOG_FORMAT="json",
        HF_HUB_OFFLINE="1",
        OLYMPUS_CHUNK_TOKENS="64",
        OLYMPUS_CHUNK_OVERLAP_TOKENS="8",
        **settings,
    )
    log = (tmp_path / "olympus.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "startup.py"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()  # SIGTERM: the supervisor stops Streamlit and the engine, then exits
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        print((tmp_path / "olympus.log").read_text(errors="replace")[-3000:])


@pytest.fixture
def app_url(tmp_path: Path):
    """The real app with no engine: answers come from the extractive backend, so citations
    are deterministic."""
    with _running_app(tmp_path, OLYMPUS_BACKENDS="extractive", OLYMPUS_ENGINE="none") as url:
        yield url


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _wait_app(page) -> None:
    # waits, not speed targets: they end as soon as the page is there (a loaded 2-core
    # machine takes many times the quiet figure)
    page.wait_for_selector('[data-testid="stApp"]', timeout=120_000)
    page.wait_for_selector("h1", timeout=120_000)


def test_upload_ask_and_cite_in_a_real_browser(app_url, browser, tmp_path):
    pdf = tmp_path / "flux-manual.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    context = browser.new_context(viewport={"width": 1280, "height": 1500})
    page = context.new_page()
    page.set_default_timeout(60_000)

    # Chat with nothing indexed: it says how to add a document.
    page.goto(app_url)
    _wait_app(page)
    page.get_by_text("No document is indexed yet").wait_for()

    # Documents: upload, wait until indexed.
    _upload(page, app_url, pdf)
    page.locator('[data-testid="stDataFrame"]').wait_for()
    page.wait_for_timeout(1000)
    page.get_by_text("1 document(s), 3 pages").wait_for()
    _shot(page, "documents")

    # Chat: ask, watch the answer stream, check sources and the citation.
    answer = _ask(page, app_url, QUESTION)
    answer.get_by_text("88 days").first.wait_for(timeout=120_000)
    citation = answer.locator('a[href^="#src-1-"]').first
    citation.wait_for()
    sources = answer.locator('[data-testid="stExpander"]').first
    # collapsed while the answer streams; the finished answer's sources open by themselves
    sources.get_by_text("flux-manual.pdf").first.wait_for()
    sources_text = sources.inner_text().replace("\u2060", "")  # see render.escape_markdown
    assert "flux-manual.pdf" in sources_text and "p. 2" in sources_text
    number = citation.inner_text().strip("[] ")
    cited = re.search(rf"\[{number}\] flux-manual\.pdf · (pp?\. [0-9-]+)", sources_text)
    assert cited and _covers(cited.group(1), 2), f"citation [{number}] must name page 2: {cited}"
    # Document text is shown as text: no live link, no script element from the PDF.
    assert "<script>alert('x')</script>" in sources_text
    assert page.locator('a[href="http://example.invalid/guide"]').count() == 0
    assert "[a link](http://example.invalid/guide)" in sources_text
    page.get_by_text("Answered by").first.wait_for()
    page.wait_for_timeout(1500)  # let the final rerun settle before the screenshot
    _shot(page, "chat")
    citation.click()  # jumps to the source's anchor in the sources panel
    page.wait_for_timeout(500)
    assert page.evaluate("location.hash") == citation.get_attribute("href")

    for name in ("models", "system"):
        page.goto(f"{app_url}/{name}")
        _wait_app(page)
        page.wait_for_timeout(1500)
        _shot(page, name)

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    mobile = phone.new_page()
    phone_answer = _ask(mobile, app_url, "What does chapter 3 cover?")
    mobile.get_by_text("Answered by").first.wait_for(timeout=120_000)
    _scroll_to(mobile, phone_answer)
    mobile.wait_for_timeout(1000)
    _shot(mobile, "mobile-chat")
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the phone view scrolls sideways ({width}px wide)"
    phone.close()
    context.close()


def _scroll_to(page, locator, tries: int = 5) -> None:
    """Scroll ``locator`` into view; Streamlit's last rerun after an answer may replace the
    element between finding it and scrolling (not attached to the DOM): find it again."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(tries):
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            return
        except PlaywrightError:
            if attempt == tries - 1:
                raise
            page.wait_for_timeout(500)


def _ask(page, app_url: str, question: str):
    """Open the chat, send ``question``; the locator of the answer's message."""
    page.goto(app_url)
    _wait_app(page)
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(question)
    box.press("Enter")
    return page.locator('[data-testid="stChatMessage"]').nth(1)


def _upload(page, app_url: str, pdf: Path) -> None:
    page.goto(f"{app_url}/documents")
    _wait_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(pdf))
    page.get_by_text(f"{pdf.name}: indexed").wait_for(timeout=180_000)


def _engine_ready(data_dir: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads((data_dir / "status.json").read_text())
        except (OSError, ValueError):
            status = {}
        if status.get("engine", {}).get("state") == "ready":
            return
        time.sleep(0.3)
    raise AssertionError(f"the engine did not become ready: {status.get('engine')}")


@pytest.mark.timeout(900)  # a real model writing 160 tokens: minutes on a loaded 2-core machine
def test_answer_from_the_real_local_model_streams_into_the_page(tmp_path, browser):
    from src.models.model_files import bundled_gguf

    with _running_app(
        tmp_path,
        OLYMPUS_ENGINE="llamacpp",
        OLYMPUS_BACKENDS="llamacpp,extractive",
        OLYMPUS_LLAMACPP_MODEL_PATH=str(bundled_gguf()),
        OLYMPUS_LLAMACPP_PORT=str(_free_port()),
        OLYMPUS_MAX_ANSWER_TOKENS="160",
        OLYMPUS_TINY_MODEL_ANSWERS="model",
    ) as app_url:  # let the 135M write
        pdf = tmp_path / "flux-manual.pdf"
        pdf.write_bytes(make_text_pdf(PAGES))
        page = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
        page.set_default_timeout(60_000)
        _upload(page, app_url, pdf)
        _engine_ready(tmp_path / "data")
        answer = _ask(page, app_url, QUESTION)
        answer.wait_for()
        texts: list[str] = []
        deadline = time.monotonic() + 400  # ends when the answer is done (~30 s when quiet)
        while time.monotonic() < deadline and not page.get_by_text("Answered by").count():
            text = answer.inner_text() if answer.count() else ""
            if not texts or text != texts[-1]:
                texts.append(text)
            page.wait_for_timeout(40)
        final = page.get_by_text("Answered by").first
        final.wait_for(timeout=60_000)
        credit = final.inner_text()
        # The local model answered (not a fallback): credited, or its answer weighed against
        # the evidence and set aside (a small model's answer that adds nothing is not shown).
        assert "llama.cpp" in credit or "the answer of smollm2" in credit, credit
        # Evidence first: a small model's answer starts with the source sentences, on the page
        # while the model is still being asked, and they stay there (nothing shown vanishes).
        heading = "The most relevant sentences of the sources"
        shown = next((i for i, t in enumerate(texts) if heading in t), None)
        assert shown is not None, f"the evidence never showed while the answer was written: {texts}"
        assert any("checking what" in t for t in texts[shown:]), texts
        assert all(heading in t for t in texts[shown:]) and heading in answer.inner_text()
        sources = answer.locator('[data-testid="stExpander"]').first
        sources.get_by_text("flux-manual.pdf").first.wait_for()  # opens once the answer is done
        sources_text = sources.inner_text()
        assert "flux-manual.pdf" in sources_text and "p. 2" in sources_text
        _shot(page, "chat-local-model")


def test_sign_in_keeps_the_deep_link_and_survives_a_reload(tmp_path, browser):
    """Through the front: /documents asks for the password on the front's page, lands on
    /documents, a reload does not ask again, and a reader is refused admin actions."""
    with _running_app(
        tmp_path,
        OLYMPUS_BACKENDS="extractive",
        OLYMPUS_ENGINE="none",
        OLYMPUS_PASSWORD="correct horse",
        OLYMPUS_ADMIN_PASSWORD="staple battery",
    ) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/documents")
        page.get_by_label("Password").fill("wrong horse")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong password.").wait_for()
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/documents")
        _wait_app(page)
        page.get_by_role("heading", name="Documents").wait_for()
        _shot(page, "signed-in-documents")
        page.reload()
        _wait_app(page)
        page.get_by_role("heading", name="Documents").wait_for()
        assert "/_olympus/login" not in page.url
        page.goto(f"{url}/system")
        _wait_app(page)
        page.get_by_text("This browser: reader").wait_for()
        page.get_by_text("Sign in as administrator at /_olympus/login").first.wait_for()
        # the sidebar's sign-out link opens in this tab and locks the app again
        page.locator("a.olympus-account-link", has_text="Sign out").click()
        page.wait_for_url(re.compile(r".*/_olympus/login.*"))
        context.close()
