"""The page viewer: the cited page of the original PDF, with the cited passage highlighted.

Opened by a click on a citation ``[n]`` in an answer (a tiny script component forwards the
click, the link still jumps to the source as before), by "Show page" under a source in the
sources panel, or by a checked claim. It shows the page as an image (rendering and
highlight: ``shared_utils/documents/render.py``), previous/next page, zoom on the highlight,
and a download of the original PDF (served as an attachment, never rendered by the browser).
What is open lives in ``st.session_state[TARGET]``; closing the dialog clears it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st
import structlog

from src.ui import render, state
from src.ui.errors import show_error

logger = structlog.get_logger(__name__)

TARGET = "viewer_target"
ZOOMS = {"Page": 1.0, "2×": 2.0, "3×": 3.0}
ZOOM_PIXELS = 6_000_000  # a zoomed page is rendered sharper (within this cap)
PAGE_BOX = "viewer_page"  # the scrollable box that holds the page picture
# The page fills the box's width at "Page" and zoom times that width at 2x/3x; the box scrolls
# both ways (drag or swipe to pan; a phone can pinch-zoom as well) and stays within the
# screen's height, so the buttons stay in view.
_PAGE_CSS = """<style>
.st-key-%(box)s { overflow: auto; max-height: max(260px, calc(100dvh - 300px));
  overscroll-behavior: contain; touch-action: pan-x pan-y pinch-zoom; display: block; }
.st-key-%(box)s > div { width: %(pct)d%% !important; max-width: none !important; }
.st-key-%(box)s [data-testid="stFullScreenFrame"] > div, .st-key-%(box)s [data-testid="stImage"],
.st-key-%(box)s [data-testid="stImageContainer"], .st-key-%(box)s img {
  width: 100%% !important; max-width: none !important; }
@media (max-width: 640px) {  /* a phone: the page gets the dialog's side margins */
  [data-testid="stDialog"] > div { max-width: calc(100%% - 8px) !important; }
  [data-testid="stDialog"] section > div { padding-left: 8px !important; padding-right: 8px !important; }
  .st-key-%(box)s { max-height: max(260px, calc(100dvh - 360px)); } }
</style>"""
# Scrolls the box to the highlight once the new picture is in place (``data``: where, in
# fractions of the picture, and the zoom the picture is shown at).
_SCROLL_JS = r"""
export default function (component) {
  const { data } = component;
  if (!data) return;
  let tries = 0;
  const go = () => {
    const box = document.querySelector(".st-key-" + data.box);
    const img = box && box.querySelector("img");
    const ready = img && img.complete && img.naturalWidth > 0
      && img.clientWidth > 0.9 * box.clientWidth * data.zoom;
    if (!ready) { if (tries++ < 100) setTimeout(go, 50); return; }
    box.scrollTop = Math.max(0, data.y * img.clientHeight - box.clientHeight * 0.2);
    box.scrollLeft = Math.max(0, data.x * img.clientWidth - box.clientWidth * 0.05);
    box.dataset.scrolledTo = data.token;
  };
  go();
}
"""
_scroller = None
_CITE_JS = r"""
export default function (component) {
  window.__olympusCite = component.setTriggerValue;
  if (window.__olympusCiteListening) return;
  window.__olympusCiteListening = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#src-"]');
    if (link && window.__olympusCite) {
      // the claim: the text before the link in its paragraph, back to the previous sentence
      const block = link.closest("p, li") || link.parentElement;
      const range = document.createRange();
      range.setStart(block, 0);
      range.setEndBefore(link);
      const before = range.toString().replace(/\[[0-9, ]+\]/g, " ");
      const claim = before.split(/(?<=[.!?])\s+(?=[A-Z0-9])/).filter((s) => s.trim()).pop() || "";
      window.__olympusCite("cite", link.getAttribute("href").slice(1) + "\n" + claim.slice(-400));
    }
  }, true);
}
"""
_citation_listener = None


def open_page(
    doc_id: str,
    doc_name: str,
    page: int | None,
    *,
    passage: str = "",
    first: int = 1,
    last: int = 1,
    claim: str = "",
) -> None:
    """Open the viewer on ``page`` (None: the page of ``first``..``last`` that best matches
    ``claim``, else the passage); ``passage`` is highlighted on pages ``first``..``last``."""
    st.session_state[TARGET] = {
        "doc_id": doc_id,
        "name": doc_name,
        "page": page,
        "passage": passage,
        "first": int(first),
        "last": int(max(first, last)),
        "claim": claim,
        "zoom": "Page",
    }


def open_source(scored: Any, claim: str = "") -> None:
    """Open the viewer on a retrieved chunk's page (the one that best matches ``claim``)."""
    chunk = scored.chunk
    open_page(
        chunk.doc_id,
        chunk.doc_name or chunk.doc_id[:12],
        None,
        passage=chunk.text,
        first=chunk.page_start,
        last=chunk.page_end,
        claim=claim,
    )


def source_button(scored: Any, *, key: str) -> None:
    """A "Show page" button for one source of the sources panel."""
    chunk = scored.chunk
    st.button(
        f"Show {chunk.pages}",
        key=key,
        icon=":material/visibility:",
        type="tertiary",
        on_click=open_source,
        args=(scored,),
        help="See the passage on the page",
    )


def listen_for_citations(sources_by_turn: dict[int, list[Any]]) -> None:
    """Open the viewer when a ``[n]`` citation link (``#src-<turn>-<n>``) is clicked."""
    global _citation_listener
    if _citation_listener is None:
        _citation_listener = st.components.v2.component("olympus_citations", js=_CITE_JS)
    result = _citation_listener(key="viewer_citations", on_cite_change=lambda: None)
    clicked = getattr(result, "cite", None)
    if not clicked:
        return
    try:
        anchor, _, claim = str(clicked).partition("\n")
        _, turn, number = anchor.split("-")
        sources = sources_by_turn[int(turn)]
        open_source(sources[int(number) - 1], claim=claim[:400])
    except (ValueError, KeyError, IndexError):
        logger.info("ui.viewer.unknown_citation", target=str(clicked)[:40])


def render_open_viewer() -> None:
    """Show the viewer dialog when something is open (call once per page run)."""
    target = st.session_state.get(TARGET)
    if target:
        _dialog(target)


def _close() -> None:
    st.session_state.pop(TARGET, None)


@st.dialog("Cited page", width="large", on_dismiss=_close)
def _dialog(target: dict[str, Any]) -> None:
    try:
        originals = state.pipeline().originals
        doc_id = target["doc_id"]
        if not originals.has(doc_id):
            originals.read(doc_id)  # raises DocumentNotFound with how to fix it
        words = originals.words(doc_id)
        if target.get("page") is None:
            from shared_utils.documents.render import best_page

            target["page"] = best_page(
                originals.read(doc_id),
                target["first"],
                target["last"],
                target.get("claim") or target["passage"],
                words,
            )
        picture = _rendered(target, lambda: originals.read(doc_id), words)
    except Exception as exc:  # noqa: BLE001 - entry point of the dialog
        show_error(exc, doing="show the page")
        return
    page, pages = picture.number, picture.pages
    st.markdown(f"**{render.escape_markdown(target['name'])}** · page {page} of {pages}")
    cited = target["first"] <= page <= target["last"] and target["passage"]
    st.caption(_caption(bool(cited), len(picture.boxes), page in words))
    _controls(target, page, pages, lambda: originals.read(doc_id))
    _show(picture, ZOOMS.get(target.get("zoom") or "Page", 1.0))


def _show(picture: Any, zoom: float) -> None:
    """The picture in a box that pans, scrolled to the highlight (else to the top)."""
    global _scroller
    st.html(_PAGE_CSS % {"box": PAGE_BOX, "pct": round(zoom * 100)})
    with st.container(key=PAGE_BOX):
        st.image(picture.png, width="stretch")
    if _scroller is None:
        _scroller = st.components.v2.component(
            "olympus_page_scroll", js=_SCROLL_JS, isolate_styles=False
        )
    x, y = picture.focus() or (0.0, 0.0)
    token = f"{picture.number}-{zoom}-{x:.4f}-{y:.4f}"
    _scroller(
        key="viewer_scroll", data={"box": PAGE_BOX, "x": x, "y": y, "zoom": zoom, "token": token}
    )


def _caption(cited: bool, boxes: int, ocr: bool) -> str:
    source = " (read by OCR)" if ocr else ""
    if not cited:
        return f"This page is not part of the cited passage{source}."
    if boxes:
        return f"The cited passage is highlighted{source}."
    return f"The cited passage could not be located on this page{source}."


def _controls(target: dict[str, Any], page: int, pages: int, data: Callable[[], bytes]) -> None:
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        if st.button(
            "Previous", icon=":material/chevron_left:", disabled=page <= 1, key="viewer_prev"
        ):
            target["page"] = page - 1
            st.rerun(scope="fragment")
        if st.button(
            "Next",
            icon=":material/chevron_right:",
            disabled=page >= pages,
            key="viewer_next",
            icon_position="right",
        ):
            target["page"] = page + 1
            st.rerun(scope="fragment")
        zoom = st.segmented_control(
            "Zoom",
            list(ZOOMS),
            default=target.get("zoom", "Page"),
            key=f"viewer_zoom_{page}",
            label_visibility="collapsed",
        )
        if zoom and zoom != target.get("zoom"):
            target["zoom"] = zoom
            st.rerun(scope="fragment")
        st.download_button(
            "PDF",
            data=data,
            file_name=_pdf_name(target["name"]),
            mime="application/pdf",
            icon=":material/download:",
            on_click="ignore",
            key="viewer_download",
            help="Download the original PDF",
        )


def _pdf_name(name: str) -> str:
    """A download file name that ends in .pdf."""
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


# --- rendering, with a few recent pictures kept (next/previous and zoom come back often) ---
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 12


def _rendered(target: dict[str, Any], load: Callable[[], bytes], words: dict) -> Any:
    from shared_utils.documents.render import MAX_LONG_SIDE, passage_boxes, render_page

    page = int(target["page"])
    cited = target["first"] <= page <= target["last"] and target["passage"]
    sharp = ZOOMS.get(target.get("zoom") or "Page", 1.0) > 1.0  # 2x and 3x: one sharper picture
    digest = hashlib.sha256(target["passage"].encode()).hexdigest()[:16] if cited else ""
    key = (target["doc_id"], page, digest, sharp)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    data = load()
    boxes = passage_boxes(data, page, target["passage"], words.get(page)) if cited else []
    caps = {"max_long_side": 3 * MAX_LONG_SIDE, "max_pixels": ZOOM_PIXELS} if sharp else {}
    picture = render_page(data, page, boxes=boxes, trim=True, **caps)
    logger.info(
        "ui.viewer.rendered",
        doc_id=target["doc_id"][:12],
        page=page,
        sharp=sharp,
        boxes=len(boxes),
        px=f"{picture.width}x{picture.height}",
    )
    with _CACHE_LOCK:
        _CACHE[key] = picture
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return picture
