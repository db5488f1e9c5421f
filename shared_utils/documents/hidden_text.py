"""Text a reader cannot see: found on PDFium page objects, left out of the index by default.

A PDF can carry text no viewer shows: render mode 3 (invisible, as OCR layers and prompt
injections use), white or fully transparent glyphs on a white page, glyphs under 1 pt, or text
placed outside the page box. Indexing it would let a document answer with words its reader
never saw. :func:`find_hidden` walks the page's objects once (a few microseconds each; the
text page is built afterwards from what is left), and :func:`remove` drops them so PDFium's
text extraction never sees them.

White text counts as hidden only when no filled shape or image lies under it (white on a dark
box is a normal design).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

MIN_FONT_PT = 1.0
_WHITE = 0xF0  # every channel at or above this is "white"
_MAX_DEPTH = 4  # form XObjects nested deeper are not searched
_INVISIBLE_MODES = (3, 7)  # FPDF_TEXTRENDERMODE_INVISIBLE, _CLIP
_STROKE_ONLY = (1, 5)  # stroke, stroke + clip: the stroke colour is what shows


@dataclass
class HiddenText:
    """Page objects (with their container) holding hidden text, and why."""

    page_raw: Any = None
    objects: list[tuple[Any, Any, str]] = field(default_factory=list)  # (container, obj, why)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(sorted({why for _, _, why in self.objects}))

    def __bool__(self) -> bool:
        return bool(self.objects)


class _Probe:
    """Reusable ctypes out-parameters (allocating them per object would double the cost)."""

    def __init__(self) -> None:
        self.rgba = [ctypes.c_uint() for _ in range(4)]
        self.box = [ctypes.c_float() for _ in range(4)]
        self.size = ctypes.c_float()
        self._rgba = [ctypes.byref(v) for v in self.rgba]
        self._box = [ctypes.byref(v) for v in self.box]
        self._size = ctypes.byref(self.size)

    def colour(self, raw: Any, obj: Any, stroke: bool) -> tuple[int, int, int, int] | None:
        get = raw.FPDFPageObj_GetStrokeColor if stroke else raw.FPDFPageObj_GetFillColor
        if not get(obj, *self._rgba):
            return None
        return tuple(v.value for v in self.rgba)  # type: ignore[return-value]

    def bounds(self, raw: Any, obj: Any) -> tuple[float, float, float, float] | None:
        if not raw.FPDFPageObj_GetBounds(obj, *self._box):
            return None
        return tuple(v.value for v in self.box)  # type: ignore[return-value]

    def font_size(self, raw: Any, obj: Any) -> float | None:
        return self.size.value if raw.FPDFTextObj_GetFontSize(obj, self._size) else None


def find_hidden(page: Any, page_box: tuple[float, float, float, float]) -> HiddenText:
    """Hidden text objects of a ``pypdfium2.PdfPage`` whose visible area is ``page_box``
    (left, bottom, right, top)."""
    import pypdfium2.raw as raw

    probe, found = _Probe(), HiddenText(page_raw=page.raw)
    backdrops: list[tuple[float, float, float, float]] = []
    white: list[tuple[Any, Any, tuple[float, float, float, float] | None]] = []
    _scan(raw, probe, page.raw, None, page_box, 0, found, backdrops, white)
    for container, obj, box in white:
        if box is None or not any(_inside(box, back) for back in backdrops):
            found.objects.append((container, obj, "white on white"))
    return found


def _scan(raw, probe, page_raw, form, page_box, depth, found, backdrops, white) -> None:
    count = raw.FPDFFormObj_CountObjects(form) if form else raw.FPDFPage_CountObjects(page_raw)
    for i in range(count):
        obj = raw.FPDFFormObj_GetObject(form, i) if form else raw.FPDFPage_GetObject(page_raw, i)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind == raw.FPDF_PAGEOBJ_TEXT:
            why = _text_reason(raw, probe, obj, page_box if form is None else None)
            if why == "white":
                white.append((form, obj, probe.bounds(raw, obj) if form is None else None))
            elif why:
                found.objects.append((form, obj, why))
        elif kind in (raw.FPDF_PAGEOBJ_IMAGE, raw.FPDF_PAGEOBJ_SHADING) or (
                kind == raw.FPDF_PAGEOBJ_PATH and _dark_fill(raw, probe, obj)):
            box = probe.bounds(raw, obj) if form is None else None
            backdrops.append(box or page_box)  # inside a form: assume it may cover anything
        elif kind == raw.FPDF_PAGEOBJ_FORM and depth < _MAX_DEPTH:
            _scan(raw, probe, page_raw, obj, page_box, depth + 1, found, backdrops, white)


def _text_reason(raw, probe: _Probe, obj, page_box) -> str:
    """Why text object ``obj`` is not visible ("" when it is; "white" for the caller)."""
    mode = raw.FPDFTextObj_GetTextRenderMode(obj)
    if mode in _INVISIBLE_MODES:
        return "invisible render mode"
    colour = probe.colour(raw, obj, stroke=mode in _STROKE_ONLY)
    if colour is not None:
        if colour[3] == 0:
            return "transparent"
        if min(colour[:3]) >= _WHITE:
            return "white"
    size = probe.font_size(raw, obj)
    if size is not None and 0 <= size < MIN_FONT_PT:
        return "under 1 pt"
    if page_box is not None:
        box = probe.bounds(raw, obj)
        if box is not None and not _overlaps(box, page_box):
            return "outside the page"
    return ""


def _dark_fill(raw, probe: _Probe, obj) -> bool:
    """A filled shape that is not white (a backdrop white text can be read on)."""
    colour = probe.colour(raw, obj, stroke=False)
    return colour is not None and colour[3] > 0 and min(colour[:3]) < _WHITE


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]


def _inside(inner, outer) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def hidden_strings(hidden: HiddenText, textpage: Any) -> list[str]:
    """The text of each hidden object (for ``keep_hidden``: indexed, but marked)."""
    import pypdfium2.raw as raw

    out = []
    for _, obj, _ in hidden.objects:
        n = raw.FPDFTextObj_GetText(obj, textpage.raw, None, 0)
        if n <= 2:
            continue
        buf = (ctypes.c_ushort * (n // 2))()
        raw.FPDFTextObj_GetText(obj, textpage.raw, buf, n)
        text = bytes(buf)[: n - 2].decode("utf-16-le", errors="replace").strip()
        if text:
            out.append(text)
    return out


def remove(hidden: HiddenText) -> None:
    """Take the hidden objects off their page or form (the text page built next skips them)."""
    import pypdfium2.raw as raw

    for container, obj, _ in hidden.objects:
        if container is None:
            removed = raw.FPDFPage_RemoveObject(hidden.page_raw, obj)
        else:
            removed = raw.FPDFFormObj_RemoveObject(container, obj)
        if removed:
            raw.FPDFPageObj_Destroy(obj)

