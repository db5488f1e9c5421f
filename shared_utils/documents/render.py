"""Render a PDF page as an image with a passage highlighted (the page viewer's pictures).

Pages are rendered by PDFium (pypdfium2), which applies the page's /Rotate. The image size is
capped (``MAX_LONG_SIDE`` pixels on the long side and ``MAX_PIXELS`` in all), so an A0 poster
never becomes a 35-megapixel image; zooming renders a smaller window of the page (centred on
the highlight) at a higher scale, within the same caps.

Highlights are boxes in *page fractions* (0..1, origin top left of the page as displayed),
so they do not depend on the render scale. On a page with a text layer they come from the
characters' boxes (:func:`passage_boxes`); on an OCR'd page from Tesseract's word boxes.
"""

from __future__ import annotations

import ctypes
import io
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared_utils.documents.locate import locate
from shared_utils.errors import CorruptPdf, DocumentNotFound

MAX_LONG_SIDE = 2000
MAX_PIXELS = 4_000_000
MAX_TRIM = 0.2  # at most this share of the width (height) is trimmed from each side
_DEVICE = 100_000  # virtual device size for PDFium's page-to-device mapping (precision)
_FILL = (255, 214, 0, 96)
_EDGE = (230, 120, 0, 255)
# pypdfium2 is not thread-safe; the app renders from several Streamlit sessions.
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in fractions of the displayed page: x to the right, y downwards."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class Word:
    """An OCR'd word and its box (fractions of the displayed page)."""

    text: str
    box: Box


@dataclass(slots=True)
class RenderedPage:
    """A PNG of (a window of) one page, with the highlight drawn in."""

    png: bytes
    width: int
    height: int
    number: int
    pages: int
    boxes: list[Box] = field(default_factory=list)
    window: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # the page part shown

    def focus(self) -> tuple[float, float] | None:
        """Where the highlight starts, in fractions of this picture: (left edge, top edge of
        its boxes); None without a highlight."""
        if not self.boxes:
            return None
        wx0, wy0, wx1, wy1 = self.window
        x, y = min(b.x0 for b in self.boxes), min(b.y0 for b in self.boxes)
        return ((x - wx0) / (wx1 - wx0), (y - wy0) / (wy1 - wy0))


def page_count(data: bytes) -> int:
    with _LOCK, _open(data) as pdf:
        return len(pdf)


def render_scale(
    width_pt: float,
    height_pt: float,
    zoom: float = 1.0,
    *,
    max_long_side: int = MAX_LONG_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> float:
    """Pixels per point for a window of ``width_pt`` x ``height_pt`` points, capped.

    ``zoom`` is the wish (1.0 = the page's long side at ``max_long_side`` px); the caps win.

    >>> round(render_scale(612, 792) * 792)  # US Letter: 2000 px high
    2000
    >>> w, h = 2384, 3370  # A0 in points
    >>> s = render_scale(w, h); round(w * s) * round(h * s) <= MAX_PIXELS
    True
    """
    scale = zoom * max_long_side / max(width_pt, height_pt)
    scale = min(
        scale,
        max_long_side / max(width_pt, height_pt),
        math.sqrt(max_pixels / (width_pt * height_pt)),
    )
    return max(scale, 0.01)


def render_page(
    data: bytes,
    number: int,
    *,
    boxes: Sequence[Box] = (),
    zoom: float = 1.0,
    max_long_side: int = MAX_LONG_SIDE,
    max_pixels: int = MAX_PIXELS,
    trim: bool = False,
) -> RenderedPage:
    """Page ``number`` (1-based) as a PNG with ``boxes`` highlighted.

    ``zoom`` > 1 shows a 1/zoom window of the page around the boxes (or the page centre).
    ``trim`` cuts the blank margins (within ``MAX_TRIM`` of each side), so the text fills
    the width it is shown in (a phone).
    """
    from PIL import Image, ImageDraw

    with _LOCK, _open(data) as pdf:
        page = _page(pdf, number)
        try:
            width, height = page.get_size()
            window = _window(boxes, zoom)
            wx0, wy0, wx1, wy1 = window
            crop = (wx0 * width, (1 - wy1) * height, (1 - wx1) * width, wy0 * height)
            scale = render_scale(
                width * (wx1 - wx0),
                height * (wy1 - wy0),
                max_long_side=max_long_side,
                max_pixels=max_pixels,
            )
            image = page.render(scale=scale, crop=crop, may_draw_forms=True).to_pil()
        finally:
            page.close()
        pages = len(pdf)
    image = image.convert("RGBA")
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w, h = image.size
    for box in boxes:
        rect = (
            (box.x0 - wx0) / (wx1 - wx0) * w,
            (box.y0 - wy0) / (wy1 - wy0) * h,
            (box.x1 - wx0) / (wx1 - wx0) * w,
            (box.y1 - wy0) / (wy1 - wy0) * h,
        )
        pad = max(1.0, h * 0.002)
        draw.rectangle(
            (rect[0] - pad, rect[1] - pad, rect[2] + pad, rect[3] + pad),
            fill=_FILL,
            outline=_EDGE,
            width=max(1, round(pad)),
        )
    picture = Image.alpha_composite(image, overlay).convert("RGB")
    if trim:
        picture, window = _trimmed(picture, window)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return RenderedPage(
        out.getvalue(), picture.width, picture.height, number, pages, list(boxes), window
    )


def _trimmed(image, window: tuple[float, float, float, float]):  # PIL image
    """``image`` without its blank margins (a little paper kept), and the window it shows."""
    w, h = image.size
    ink = image.convert("L").point(lambda v: 255 if v < 235 else 0).getbbox()
    if ink is None:
        return image, window
    pad = round(0.02 * w)
    left = min(max(0, ink[0] - pad), round(MAX_TRIM * w))
    right = max(min(w, ink[2] + pad), round((1 - MAX_TRIM) * w))
    top = min(max(0, ink[1] - pad), round(MAX_TRIM * h))
    bottom = max(min(h, ink[3] + pad), round((1 - MAX_TRIM) * h))
    wx0, wy0, wx1, wy1 = window
    sx, sy = (wx1 - wx0) / w, (wy1 - wy0) / h
    return (
        image.crop((left, top, right, bottom)),
        (wx0 + left * sx, wy0 + top * sy, wx0 + right * sx, wy0 + bottom * sy),
    )


def _window(boxes: Sequence[Box], zoom: float) -> tuple[float, float, float, float]:
    """The visible part of the page (fractions) for ``zoom``, centred on the boxes."""
    if zoom <= 1.0:
        return 0.0, 0.0, 1.0, 1.0
    size = 1.0 / zoom
    if boxes:
        cx = (min(b.x0 for b in boxes) + max(b.x1 for b in boxes)) / 2
        cy = (min(b.y0 for b in boxes) + max(b.y1 for b in boxes)) / 2
    else:
        cx = cy = 0.5
    x0 = min(max(cx - size / 2, 0.0), 1.0 - size)
    y0 = min(max(cy - size / 2, 0.0), 1.0 - size)
    return x0, y0, x0 + size, y0 + size


def passage_boxes(
    data: bytes, number: int, passage: str, words: Sequence[Word] | None = None
) -> list[Box]:
    """Boxes of ``passage`` on page ``number``: OCR word boxes when ``words`` is given
    (an OCR'd page), else the boxes of the text layer's characters, merged into lines."""
    if words is not None:
        return word_boxes(words, passage)
    with _LOCK, _open(data) as pdf:
        page = _page(pdf, number)
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
            spans = locate(passage, text)
            return _char_boxes(page, textpage, text, spans)
        finally:
            textpage.close()
            page.close()


def best_page(
    data: bytes, first: int, last: int, text: str, words: Mapping[int, Sequence[Word]] | None = None
) -> int:
    """The page of ``first``..``last`` that shares the most words (3+ letters) with ``text``
    (a cited claim, or the passage); ``first`` on a tie. Pages in ``words`` were OCR'd."""
    import re

    def terms(s: str) -> set[str]:
        return set(re.findall(r"\w{3,}", s.lower()))

    wanted = terms(text)
    if first >= last or not wanted:
        return first
    words = words or {}
    best, best_score = first, -1
    with _LOCK, _open(data) as pdf:
        for number in range(first, min(last, len(pdf)) + 1):
            if number in words:
                page_text = " ".join(w.text for w in words[number])
            else:
                page = pdf[number - 1]
                textpage = page.get_textpage()
                page_text = textpage.get_text_range()
                textpage.close()
                page.close()
            score = len(wanted & terms(page_text))
            if score > best_score:
                best, best_score = number, score
    return best


def word_boxes(words: Sequence[Word], passage: str) -> list[Box]:
    """Boxes of the OCR'd words that hold ``passage``.

    >>> ws = [Word(t, Box(i / 10, 0.1, i / 10 + 0.08, 0.12)) for i, t in
    ...       enumerate("the unit needs 88 days of rest".split())]
    >>> [round(b.x0, 1) for b in word_boxes(ws, "Needs 88 days.")]
    [0.2, 0.3, 0.4]
    """
    text, owner = "", []
    for i, word in enumerate(words):
        text += word.text + " "
        owner += [i] * (len(word.text) + 1)
    hit: set[int] = set()
    for start, end in locate(passage, text):
        hit.update(owner[start:end])
    return [words[i].box for i in sorted(hit) if words[i].text.strip()]


def _char_boxes(page, textpage, text: str, spans: Sequence[tuple[int, int]]) -> list[Box]:
    """Line-merged boxes of the non-space characters in ``spans``."""
    import pypdfium2.raw as raw

    lines: list[list[float]] = []
    previous: list[float] | None = None
    for start, end in spans:
        for index in range(start, min(end, len(text))):
            if text[index].isspace() or not raw.FPDFText_GetUnicode(textpage, index):
                continue
            left, bottom, right, top = textpage.get_charbox(index)
            x0, y0 = _to_device(page, left, top)
            x1, y1 = _to_device(page, right, bottom)
            box: list[float] = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
            if lines and previous is not None and _follows(previous, box):
                last = lines[-1]
                lines[-1] = [
                    min(last[0], box[0]),
                    min(last[1], box[1]),
                    max(last[2], box[2]),
                    max(last[3], box[3]),
                ]
            else:
                lines.append(box)
            previous = box
        previous = None
    return [Box(*(v / _DEVICE for v in line)) for line in lines]


def _follows(prev: list[float], box: list[float]) -> bool:
    """Whether character ``box`` comes next on the line of character ``prev`` (along x, or
    along y on a page turned by /Rotate)."""
    size = max(prev[2] - prev[0], prev[3] - prev[1], box[2] - box[0], box[3] - box[1], 1)
    overlap_y = min(prev[3], box[3]) - max(prev[1], box[1])
    overlap_x = min(prev[2], box[2]) - max(prev[0], box[0])
    if overlap_y > 0 and -size < box[0] - prev[2] < 3 * size:
        return True
    return overlap_x > 0 and (
        -size < box[1] - prev[3] < 3 * size or -size < prev[1] - box[3] < 3 * size
    )


def _to_device(page, x: float, y: float) -> tuple[int, int]:
    import pypdfium2.raw as raw

    dx, dy = ctypes.c_int(), ctypes.c_int()
    raw.FPDF_PageToDevice(page, 0, 0, _DEVICE, _DEVICE, 0, x, y, dx, dy)
    return dx.value, dy.value


class _open:
    """``with _open(data) as pdf``: a PdfDocument, closed afterwards; typed errors."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __enter__(self):
        import pypdfium2 as pdfium

        try:
            self.pdf = pdfium.PdfDocument(self.data)
        except pdfium.PdfiumError as exc:
            raise CorruptPdf(f"The stored PDF cannot be opened: {exc}") from exc
        return self.pdf

    def __exit__(self, *exc: object) -> None:
        self.pdf.close()


def _page(pdf, number: int):
    if not 1 <= number <= len(pdf):
        raise DocumentNotFound(
            f"The document has {len(pdf)} page(s); there is no page {number}",
            hint="Pick a page between 1 and the last page.",
        )
    return pdf[number - 1]
