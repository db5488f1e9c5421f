"""Per-page text triage at ingestion: keep a good text layer, OCR the pages that need it.

:class:`PageTriage` is called by the extraction loop for every page (while PDFium has the
page open). It keeps the text layer unless the page has no text but an image (a scan), or
its text fails a quality check (control characters, glyphs with no character map, gibberish
from a lying ToUnicode map); such pages are OCR'd with Tesseract when OCR is on, once every
page is read (``finish``), so OCR progress counts only the pages that need it. Everything it
decides goes into a :class:`ParseReport`, which is stored with the document and shown to the
user.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared_utils.documents.gibberish import looks_garbled
from shared_utils.documents.ocr import OcrFailed, OcrOptions, ocr_page
from shared_utils.documents.render import Word

MIN_ALNUM = 20  # fewer letters/digits than this: the page has no text layer worth the name
MAX_BAD_SHARE = 0.10  # control characters / unmapped glyphs among visible characters
MIN_IMAGE_SHARE = 0.10  # an image covering this much of the page makes it a scan candidate
_UNMAPPED_SAMPLE = 256  # characters per page checked for a missing character map
# Damage: control characters (but not TeX ligatures \x0b \x0c \x0e \x0f, PDFium's hyphen
# marks \x02 and U+FFFE, or line ends), C1 controls, U+FFFD and private-use characters.
_DAMAGED_RE = re.compile("[\x00\x01\x03-\x08\x10-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")
_ALNUM_RE = re.compile(r"[^\W_]")
_ALNUM_PREFIX = 2000  # enough text to see MIN_ALNUM letters on any page with text
_GARBLED_SAMPLE = 20_000  # a prefix sample misjudged an index page (its first lines)
MAX_UNMAPPED_SHARE = 0.30  # glpk's diagram pages: 8 % arrow glyphs without a mapping

Notify = Callable[[str, int, int, str], None]  # (kind, done, total, message)


@dataclass
class ParseReport:
    """What ingestion did with each page; stored with the document."""

    pages: int = 0
    text_pages: int = 0
    ocr_pages: list[int] = field(default_factory=list)
    flagged: dict[int, str] = field(default_factory=dict)  # page -> why its text was not used
    failed: dict[int, str] = field(default_factory=dict)  # page -> why OCR gave no text
    hidden_text_dropped: int = 0  # pieces of text a reader cannot see, left out
    ocr: str = ""  # "tesseract 5.3.0 (eng)", "off", "not installed"
    ocr_pending: list[int] = field(default_factory=list)  # pages whose OCR runs after indexing

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["flagged"] = {str(k): v for k, v in self.flagged.items()}
        data["failed"] = {str(k): v for k, v in self.failed.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ParseReport:
        data = dict(data or {})
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        report = cls(**known)
        report.flagged = {int(k): v for k, v in report.flagged.items()}
        report.failed = {int(k): v for k, v in report.failed.items()}
        report.ocr_pages = [int(p) for p in report.ocr_pages]
        report.ocr_pending = [int(p) for p in report.ocr_pending]
        return report

    def summary(self, *, pages: bool = True) -> str:
        """One line for people, e.g. ``"12 pages: 10 text layer, 2 OCR'd"`` (without the
        page count when ``pages`` is False: a table that has a Pages column).

        >>> ParseReport(3, 1, [2, 3], {3: "garbled"}, {}, 0, "tesseract").summary()
        "3 pages: 1 text layer, 2 OCR'd, 1 flagged (p. 3 garbled)"
        >>> ParseReport(3, 3).summary(pages=False)
        'all text layer'
        """
        if not self.pages:
            return ""
        plain = self.text_pages == self.pages and not self.hidden_text_dropped
        if plain and not pages:
            return "all text layer"
        parts = [f"{self.text_pages} text layer"]
        if self.ocr_pages:
            parts.append(f"{len(self.ocr_pages)} OCR'd")
        if self.flagged:
            why = ", ".join(f"p. {p} {r}" for p, r in sorted(self.flagged.items())[:3])
            parts.append(
                f"{len(self.flagged)} flagged ({why}{', ...' if len(self.flagged) > 3 else ''})"
            )
        if self.failed:
            parts.append(f"{len(self.failed)} unreadable")
        if self.ocr_pending:
            count = len(self.ocr_pending)
            parts.append(f"searchable; OCR of {count} page{'s' if count > 1 else ''} continues")
        if self.hidden_text_dropped:
            parts.append(f"{self.hidden_text_dropped} pieces of invisible text left out")
        return (f"{self.pages} pages: " if pages else "") + ", ".join(parts)

    @property
    def notable(self) -> bool:
        """Whether anything but the text layer was used or found (OCR, flags, hidden text)."""
        return bool(
            self.ocr_pages
            or self.flagged
            or self.failed
            or self.hidden_text_dropped
            or self.ocr_pending
        )


def text_problem(text: str) -> str | None:
    """Why a page's text layer is not usable, judged from the text alone (or None).

    >>> text_problem("The shell reads commands from a file or from the terminal.")
    >>> text_problem("12")
    'no text'
    >>> text_problem("\\x01\\x05\\x07\\x03 \\x01\\x05 \\x07\\x03\\x11 and some words in here, too")
    'control characters'
    """
    # C-speed counts (str.count, one regex search on clean pages): this runs on every page
    visible = len(text) - sum(text.count(c) for c in " \n\r\t")
    if (
        visible >= MIN_ALNUM
        and _DAMAGED_RE.search(text)
        and len(_DAMAGED_RE.findall(text)) > MAX_BAD_SHARE * visible
    ):
        return "control characters"
    if _ALNUM_RE.subn("", text[:_ALNUM_PREFIX])[1] < MIN_ALNUM:
        return "no text"
    if looks_garbled(text[:_GARBLED_SAMPLE]):  # a wrong map garbles the whole page
        return "garbled"
    return None


class PageTriage:
    """The per-page hook of the extraction loop: returns the text to keep for each page."""

    def __init__(
        self, options: OcrOptions | None, notify: Notify | None = None, ocr_label: str = ""
    ) -> None:
        self.options = options or OcrOptions(enabled=False)
        self.can_ocr = self.options.available()
        self.notify = notify or (lambda *_: None)
        self.report = ParseReport(ocr=ocr_label or self._label())
        self.words: dict[int, list[Word]] = {}
        self.pending: list[tuple[int, str, int]] = []  # (page number, problem, text length)

    def _label(self) -> str:
        if not self.options.enabled:
            return "off"
        return f"tesseract ({self.options.languages})" if self.can_ocr else "not installed"

    def __call__(self, index: int, total: int, page: Any, textpage: Any, text: str) -> str:
        number = index + 1
        self.report.pages = total
        problem = text_problem(text) or _unmapped(textpage, text)
        if problem == "no text" and not _has_image(page):
            problem = None  # a blank or drawing-only page: nothing to read
        if problem is None:
            self.report.text_pages += 1
            self.notify("parse", number, total, f"page {number} of {total}")
            return text
        self.report.flagged[number] = problem
        if not self.can_ocr:  # the text stays (flagged); OCR could not replace it
            self.report.failed[number] = f"{problem}; OCR {self.report.ocr}"
        else:
            self.pending.append((number, problem, len(text)))  # OCR'd once all are read
        self.notify("parse", number, total, f"page {number} of {total}")
        return text

    def finish(self, pdf: Any, pages: list[Any]) -> None:
        """OCR the pages picked while reading (``pages[i]`` is page i + 1), so progress counts
        only them: "ocr" 1..n of the n pages that need it."""
        if self.options.defer and self.report.text_pages and self.pending:
            self._defer(pages)
            return
        count = len(self.pending)
        for done, (number, problem, length) in enumerate(self.pending, 1):
            raw = pages[number - 1]
            page = pdf[number - 1]
            try:
                text = self._ocr(number, done, count, page, problem, raw.text[:length])
            finally:
                page.close()
            # a hidden-text marker after the text layer's text stays after the OCR text
            pages[number - 1] = replace(raw, text=text + raw.text[length:])
        self.pending.clear()

    def _defer(self, pages: list[Any]) -> None:
        """Leave the picked pages for :func:`ocr_pages` after the text pages are indexed:
        their text layer (none, or one that failed the checks) is not indexed meanwhile."""
        for number, _problem, length in self.pending:
            raw = pages[number - 1]
            pages[number - 1] = replace(raw, text=raw.text[length:].lstrip("\n"))
            self.report.ocr_pending.append(number)
        self.pending.clear()

    def _ocr(self, number: int, done: int, count: int, page: Any, problem: str, text: str) -> str:
        self.notify("more_time", number, count, str(self.options.page_timeout_s))
        self.notify("ocr", done, count, f"OCR of page {number} ({done} of {count} to read)")
        started = time.perf_counter()
        try:
            ocr_text, words = ocr_page(page, self.options)
        except OcrFailed as exc:
            self.report.failed[number] = f"OCR failed: {exc}"
            return text
        self.report.ocr_pages.append(number)
        self.words[number] = words
        if problem == "no text":
            del self.report.flagged[number]  # a scan, not a damaged text layer
        self.notify("ocr_done", number, count, f"{time.perf_counter() - started:.2f}")
        return ocr_text


def _unmapped(textpage: Any, text: str) -> str | None:
    """'unmapped glyphs' when many characters (a strided sample) have no Unicode mapping."""
    import pypdfium2.raw as raw

    count = len(text)
    if count == 0:
        return None
    step = max(1, count // _UNMAPPED_SAMPLE)
    sample = [i for i in range(0, count, step) if not text[i].isspace()]
    errors = sum(bool(raw.FPDFText_HasUnicodeMapError(textpage, i)) for i in sample)
    return "unmapped glyphs" if sample and errors > MAX_UNMAPPED_SHARE * len(sample) else None


def _has_image(page: Any) -> bool:
    """Whether images cover at least MIN_IMAGE_SHARE of the page (a scan, a photo)."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        area += max(0.0, right - left) * max(0.0, top - bottom)
    return area >= MIN_IMAGE_SHARE * width * height


@dataclass
class Extraction:
    """Pages (``pdf_worker.RawPage``, index 0 = page 1), the parse report and OCR word boxes
    by page number."""

    pages: list[Any]
    report: ParseReport
    words: dict[int, list[Word]] = field(default_factory=dict)


@dataclass
class OcrPass:
    """The OCR of a document's deferred pages: text and word boxes by page number, and why
    a page gave no text."""

    texts: dict[int, str] = field(default_factory=dict)
    words: dict[int, list[Word]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


def ocr_pages(
    data: bytes, numbers: list[int], options: OcrOptions, notify: Notify | None = None
) -> OcrPass:
    """OCR ``numbers`` (1-based pages) of a PDF; a page Tesseract cannot read is reported in
    ``failed`` and the others go on. ``notify``: "more_time" and "ocr" per page."""
    import pypdfium2 as pdfium

    notify = notify or (lambda *_: None)
    out = OcrPass()
    pdf = pdfium.PdfDocument(data)
    try:
        for done, number in enumerate(numbers, 1):
            notify("more_time", number, len(numbers), str(options.page_timeout_s))
            notify(
                "ocr",
                done,
                len(numbers),
                f"OCR of page {number} ({done} of {len(numbers)} to read)",
            )
            page = pdf[number - 1]
            try:
                out.texts[number], out.words[number] = ocr_page(page, options)
            except OcrFailed as exc:
                out.failed[number] = f"OCR failed: {exc}"
            finally:
                page.close()
    finally:
        pdf.close()
    return out
