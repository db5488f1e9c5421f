"""Text a reader cannot see: found on PDFium page objects, left out of the index by default.

A PDF can carry text no viewer shows: render mode 3 (invisible, as OCR layers and prompt
injections use), white or fully transparent glyphs on a white page, glyphs under 1 pt, or text
placed outside the page box (beyond a 1 inch margin: lines of real manuals overflow a little).
Indexing it would let a document answer with words its reader never saw. :func:`find_hidden`
walks the page's objects once (a few microseconds each; the text page is built afterwards from
what is left), and :func:`remove` drops them so PDFium's
text extraction never sees them.

White text counts as hidden only when no filled shape or image lies under it (white on a dark
box is a normal design).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

MIN_FONT_PT = 1.0
# a line running a little past the page edge (real manuals have some) is not "hidden text";
# text placed wholly beyond an inch outside the page is
OFF_PAGE_MARGIN_PT = 72.0
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


class _Scanner:
    """One page's scan. The PDFium functions and the ctypes out-parameters are bound once:
    allocating them per object would double the cost of a scan (~100 objects per page)."""

    def __init__(self, raw: Any, page_raw: Any, page_box: tuple[float, float, float, float]):
        self.raw, self.page_raw, self.page_box = raw, page_raw, page_box
        self.found = HiddenText(page_raw=page_raw)
        self.white: list[tuple[Any, Any, tuple[float, float, float, float] | None]] = []
        self.shapes: list[tuple[Any, Any]] = []  # (container, path/image/shading object)
        self._rgba = [ctypes.c_uint() for _ in range(4)]
        self._box = [ctypes.c_float() for _ in range(4)]
        self._size = ctypes.c_float()
        self._rgba_p = [ctypes.byref(v) for v in self._rgba]
        self._box_p = [ctypes.byref(v) for v in self._box]
        self._size_p = ctypes.byref(self._size)
        self._matrix = raw.FS_MATRIX()
        self._matrix_p = ctypes.byref(self._matrix)

    def colour(self, obj: Any, stroke: bool = False) -> tuple[int, int, int, int] | None:
        get = self.raw.FPDFPageObj_GetStrokeColor if stroke else self.raw.FPDFPageObj_GetFillColor
        if not get(obj, *self._rgba_p):
            return None
        r, g, b, a = self._rgba
        return r.value, g.value, b.value, a.value

    def bounds(self, obj: Any) -> tuple[float, float, float, float] | None:
        if not self.raw.FPDFPageObj_GetBounds(obj, *self._box_p):
            return None
        left, bottom, right, top = self._box
        return left.value, bottom.value, right.value, top.value

    def font_size(self, obj: Any) -> float:
        """The text's size on the page: its font size times its matrix's scale."""
        if not self.raw.FPDFTextObj_GetFontSize(obj, self._size_p):
            return MIN_FONT_PT
        if not self.raw.FPDFPageObj_GetMatrix(obj, self._matrix_p):
            return self._size.value
        m = self._matrix
        return self._size.value * abs(m.a * m.d - m.b * m.c) ** 0.5

    def scan(self, form: Any = None, depth: int = 0) -> None:
        raw = self.raw
        if form is None:
            count, get = raw.FPDFPage_CountObjects(self.page_raw), raw.FPDFPage_GetObject
            parent = self.page_raw
        else:
            count, get, parent = raw.FPDFFormObj_CountObjects(form), raw.FPDFFormObj_GetObject, form
        get_type, text_kind, form_kind = (
            raw.FPDFPageObj_GetType,
            raw.FPDF_PAGEOBJ_TEXT,
            raw.FPDF_PAGEOBJ_FORM,
        )
        shape_kinds = (raw.FPDF_PAGEOBJ_IMAGE, raw.FPDF_PAGEOBJ_SHADING, raw.FPDF_PAGEOBJ_PATH)
        for i in range(count):
            obj = get(parent, i)
            kind = get_type(obj)
            if kind == text_kind:
                self.text(form, obj)
            elif kind in shape_kinds:
                self.shapes.append((form, obj))
            elif kind == form_kind and depth < _MAX_DEPTH:
                self.scan(obj, depth + 1)

    def text(self, form: Any, obj: Any) -> None:
        """Record text object ``obj`` if a reader cannot see it."""
        raw = self.raw
        mode = raw.FPDFTextObj_GetTextRenderMode(obj)
        if mode in _INVISIBLE_MODES:
            self.found.objects.append((form, obj, "invisible render mode"))
            return
        colour = self.colour(obj, stroke=mode in _STROKE_ONLY)
        if colour is not None and colour[3] == 0:
            self.found.objects.append((form, obj, "transparent"))
            return
        box = self.bounds(obj) if form is None else None  # a form's objects: form space
        # the ink box is tight (a hyphen is 0.5 pt high), so it only rules tiny text out
        if (box is None or box[3] - box[1] < MIN_FONT_PT) and self.font_size(obj) < MIN_FONT_PT:
            self.found.objects.append((form, obj, "under 1 pt"))
        elif box is not None and not _overlaps(box, self.page_box, OFF_PAGE_MARGIN_PT):
            self.found.objects.append((form, obj, "outside the page"))
        elif colour is not None and min(colour[:3]) >= _WHITE:
            self.white.append((form, obj, box))

    def backdrops(self) -> list[tuple[float, float, float, float]]:
        """Areas white text can be read on: images, shadings and non-white filled shapes
        (inside a form: the whole page, as their coordinates are the form's)."""
        out = []
        for form, obj in self.shapes:
            if self.raw.FPDFPageObj_GetType(obj) == self.raw.FPDF_PAGEOBJ_PATH:
                colour = self.colour(obj)
                if colour is None or colour[3] == 0 or min(colour[:3]) >= _WHITE:
                    continue
            out.append((self.bounds(obj) if form is None else None) or self.page_box)
        return out


def find_hidden(page: Any, page_box: tuple[float, float, float, float]) -> HiddenText:
    """Hidden text objects of a ``pypdfium2.PdfPage`` whose visible area is ``page_box``
    (left, bottom, right, top)."""
    import pypdfium2.raw as raw

    scanner = _Scanner(raw, page.raw, page_box)
    scanner.scan()
    if scanner.white:  # only then are the shapes under the text looked at
        backdrops = scanner.backdrops()
        for form, obj, box in scanner.white:
            if box is None or not any(_inside(box, back) for back in backdrops):
                scanner.found.objects.append((form, obj, "white on white"))
    return scanner.found


def _overlaps(a, b, margin: float = 0.0) -> bool:
    return (
        a[0] < b[2] + margin
        and a[2] > b[0] - margin
        and a[1] < b[3] + margin
        and a[3] > b[1] - margin
    )


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
