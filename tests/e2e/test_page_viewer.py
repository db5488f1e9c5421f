"""The page viewer in a real browser: a click on a citation opens the cited page with the
passage highlighted and in view; next/previous, zoom (a page that pans) and the PDF download
work; on a phone too.

Screenshots: tests/artifacts/viewer-desktop.png (1280x800), viewer-phone.png (390x844).
"""

from __future__ import annotations

import base64
import io

import pytest

from tests.e2e.test_browser import (  # noqa: F401 - fixtures
    PAGES,
    QUESTION,
    _ask,
    _shot,
    _upload,
    app_url,
    browser,
)
from tests.fixtures.pdfs import make_text_pdf

pytestmark = [pytest.mark.browser]

# page 2 holds the answer in its lower part, below the fold of the viewer
_BAYS = [
    f"Bay {n} of the garage keeps the {thing} on a shelf by the door."
    for n, thing in enumerate(
        [
            "spare tyres",
            "jacks",
            "ladders",
            "paint tins",
            "ropes",
            "lamps",
            "brooms",
            "buckets",
            "hoses",
            "crates",
        ]
        * 3,
        1,
    )
]
VIEWER_PAGES = [
    PAGES[0],
    PAGES[1].replace("\nMaintenance:", "\n" + "\n".join(_BAYS) + "\nMaintenance:"),
    PAGES[2],
]


def _image_bytes(page, img) -> bytes:
    """The bytes of an <img> as the browser loaded them."""
    src = img.get_attribute("src")
    b64 = page.evaluate(
        """async (src) => {
            const r = await fetch(src); const b = new Uint8Array(await r.arrayBuffer());
            let s = ""; for (const x of b) s += String.fromCharCode(x); return btoa(s);
        }""",
        src,
    )
    return base64.b64decode(b64)


def _next_image(page, dialog, old_src: str):
    """The dialog's <img> once its picture has changed from ``old_src``."""
    page.wait_for_function(
        """(old) => { const i = document.querySelector('[data-testid="stDialog"] img');
                      return i && i.complete && i.getAttribute('src') !== old; }""",
        arg=old_src,
    )
    return dialog.locator("img").first


def _highlight_rows(png: bytes) -> tuple[int, list[int]]:
    """(pixels of the highlight colour, the image rows that hold them)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    px = image.load()
    rows = set()
    count = 0
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            r, g, b = px[x, y]
            if r > 220 and 200 < g < 250 and b < 190:  # the translucent yellow fill
                count += 1
                rows.add(y / height)
    return count, sorted(rows)


BOX_JS = """(z) => { const box = document.querySelector('.st-key-viewer_page');
    const img = box && box.querySelector('img'); const b = img && {box, img}; """


def _highlight_in_view(page, zoom: float = 1.0) -> bool:
    """Whether the page box shows highlight pixels once it is scrolled to the highlight at
    ``zoom``: the picture's visible part is read back from a canvas."""
    page.wait_for_function(
        BOX_JS + "return b && b.img.complete && "
        "(b.box.dataset.scrolledTo || '').split('-')[1] === z; }",
        arg=str(zoom),
    )
    return page.evaluate(
        BOX_JS
        + """
        const c = document.createElement('canvas'); const r = b.img.naturalWidth / b.img.clientWidth;
        c.width = b.box.clientWidth; c.height = b.box.clientHeight;
        c.getContext('2d').drawImage(b.img, b.box.scrollLeft * r, b.box.scrollTop * r,
            c.width * r, c.height * r, 0, 0, c.width, c.height);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 16)
            if (d[i] > 220 && d[i + 1] > 200 && d[i + 1] < 250 && d[i + 2] < 190) n++;
        return n > 50; }"""
    )


def _open_viewer_from_citation(page, app_url_: str):
    answer = _ask(page, app_url_, QUESTION)
    answer.get_by_text("88 days").first.wait_for(timeout=120_000)
    page.get_by_text("Answered by").first.wait_for()
    page.wait_for_function("() => !!window.__olympusCite")  # the click listener is in place
    page.wait_for_timeout(500)
    citation = answer.locator('a[href^="#src-1-"]').first
    citation.click()
    dialog = page.locator('[data-testid="stDialog"]')
    dialog.wait_for(timeout=30_000)
    dialog.get_by_text("The cited passage is highlighted").wait_for(timeout=30_000)
    return dialog


def test_a_citation_opens_the_page_with_the_passage_highlighted(app_url, browser, tmp_path):
    (pdf := tmp_path / "flux-manual.pdf").write_bytes(make_text_pdf(VIEWER_PAGES))
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # desktop shot size
    (page := context.new_page()).set_default_timeout(60_000)
    _upload(page, app_url, pdf)

    dialog = _open_viewer_from_citation(page, app_url)
    assert "flux-manual.pdf" in dialog.inner_text() and "page 2 of 3" in dialog.inner_text()
    img = dialog.locator("img").first
    png = _image_bytes(page, img)
    count, rows = _highlight_rows(png)
    assert count > 200, "no highlight drawn on the page"
    assert rows[0] > 0.5, "the passage is low on page 2; the highlight is elsewhere"
    page.wait_for_timeout(500)
    _shot(page, "viewer-desktop")

    assert _highlight_in_view(page), "the viewer opens scrolled to the highlight"

    # Zoom: the whole page, three times as wide, in a box that pans both ways; it opens on
    # the highlight and every line can be read to both ends by scrolling.
    dialog.get_by_text("3×", exact=True).click()
    img = _next_image(page, dialog, img.get_attribute("src"))
    page.wait_for_function(BOX_JS + "return b && b.img.clientWidth > 2.5 * b.box.clientWidth; }")
    assert _highlight_in_view(page, 3.0), "the zoomed page opens on the highlight"
    box = page.evaluate(BOX_JS + "return {w: b.box.scrollWidth, cw: b.box.clientWidth}; }")
    assert box["w"] > 2.5 * box["cw"], "3x is three times as wide, and pans"
    page.evaluate(BOX_JS + "b.box.scrollLeft = b.box.scrollWidth; }")
    end = page.evaluate(BOX_JS + "return b.box.scrollLeft + b.box.clientWidth; }")
    assert end >= box["w"] - 2, "the right end of the lines can be reached"

    # Next page: page 3 is not part of the cited passage, nothing highlighted there.
    old = img.get_attribute("src")
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_text("page 3 of 3").wait_for()
    dialog.get_by_text("not part of the cited passage").wait_for()
    assert _highlight_rows(_image_bytes(page, _next_image(page, dialog, old)))[0] == 0
    assert dialog.get_by_role("button", name="Next").is_disabled()

    # The original downloads as a PDF file (an attachment, not a page).
    with page.expect_download() as download:
        dialog.get_by_role("button", name="PDF").click()
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "flux-manual.pdf"
    assert saved.read_bytes() == pdf.read_bytes()
    context.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    mobile = phone.new_page()
    mobile.set_default_timeout(60_000)
    dialog = _open_viewer_from_citation(mobile, app_url)
    assert _highlight_rows(_image_bytes(mobile, dialog.locator("img").first))[0] > 100
    assert _highlight_in_view(mobile)
    mobile.wait_for_timeout(800)
    _shot(mobile, "viewer-phone")
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the phone view scrolls sideways ({width}px wide)"
    phone.close()
