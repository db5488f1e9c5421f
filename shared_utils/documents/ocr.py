"""OCR of one PDF page with Tesseract: text with page structure, and word boxes.

The page is rendered by PDFium at ``dpi`` (capped by a pixel budget, so a poster-sized page
stays bounded), piped as PNG into the ``tesseract`` CLI (no shell, no temp file) with a time
limit, and Tesseract's TSV output becomes the page text (lines and paragraphs kept) and
:class:`~shared_utils.documents.render.Word` boxes in fractions of the displayed page.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from dataclasses import dataclass

from shared_utils.documents.render import Box, Word

OCR_MAX_PIXELS = 12_000_000
_LANGUAGES_RE = re.compile(r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")


class OcrFailed(Exception):
    """Tesseract could not read one page (the page is reported, the document goes on)."""


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """How ingestion uses OCR: ``enabled`` (OLYMPUS_OCR=auto), Tesseract ``languages``
    (``eng``, ``eng+deu``), a time limit per page and the render resolution."""

    enabled: bool = True
    languages: str = "eng"
    page_timeout_s: float = 60.0
    dpi: int = 300
    binary: str = "tesseract"
    # leave the OCR of a document that also has text-layer pages for later (the pages are
    # listed in the report's ``ocr_pending``), so the text pages can be indexed at once
    defer: bool = False

    def available(self) -> bool:
        return self.enabled and shutil.which(self.binary) is not None


def valid_languages(value: str) -> bool:
    """
    >>> valid_languages("eng+deu"), valid_languages("eng; rm -rf /")
    (True, False)
    """
    return bool(_LANGUAGES_RE.match(value))


def tesseract_version(binary: str = "tesseract") -> str:
    """``"tesseract 5.3.0"``, or "" when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        return ""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = (out.stdout or out.stderr).decode(errors="replace").splitlines()
    return first[0].strip() if first else ""


def ocr_page(page, options: OcrOptions) -> tuple[str, list[Word]]:
    """Text and word boxes of a pypdfium2 page; OcrFailed when Tesseract fails or overruns."""
    width, height = page.get_size()
    scale = min(options.dpi / 72, math.sqrt(OCR_MAX_PIXELS / (width * height)))
    image = page.render(scale=scale, grayscale=True).to_pil()
    png = io.BytesIO()
    image.save(png, format="PNG")
    command = [
        shutil.which(options.binary) or options.binary,
        "stdin",
        "stdout",
        "-l",
        options.languages,
        "--dpi",
        str(round(scale * 72)),
        "tsv",
    ]
    try:
        done = subprocess.run(
            command,
            input=png.getvalue(),
            capture_output=True,
            timeout=options.page_timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"took longer than {options.page_timeout_s:g} s") from exc
    except OSError as exc:
        raise OcrFailed(f"tesseract could not start: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise OcrFailed(message[-1] if message else f"tesseract exit code {done.returncode}")
    return parse_tsv(done.stdout.decode("utf-8", errors="replace"), *image.size)


def parse_tsv(tsv: str, width: int, height: int) -> tuple[str, list[Word]]:
    """Page text (words of a line joined by spaces, lines by newlines, paragraphs by a blank
    line) and word boxes from Tesseract's TSV output.

    >>> tsv = ("level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\t"
    ...        "width\\theight\\tconf\\ttext\\n"
    ...        "5\\t1\\t1\\t1\\t1\\t1\\t10\\t20\\t30\\t10\\t96\\tHello\\n"
    ...        "5\\t1\\t1\\t1\\t1\\t2\\t50\\t20\\t30\\t10\\t95\\tworld.\\n"
    ...        "5\\t1\\t1\\t2\\t1\\t1\\t10\\t60\\t40\\t10\\t90\\tNext\\n")
    >>> text, words = parse_tsv(tsv, 100, 100)
    >>> text
    'Hello world.\\n\\nNext'
    >>> words[1]
    Word(text='world.', box=Box(x0=0.5, y0=0.2, x1=0.8, y1=0.3))
    """
    paragraphs: list[list[list[str]]] = []
    words: list[Word] = []
    last_par = last_line = None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        par = (cols[1], cols[2], cols[3])
        line = (*par, cols[4])
        left, top, w, h = (int(c) for c in cols[6:10])
        if par != last_par:
            paragraphs.append([])
        if line != last_line:
            paragraphs[-1].append([])
        last_par, last_line = par, line
        text = cols[11].strip()
        paragraphs[-1][-1].append(text)
        words.append(
            Word(
                text,
                Box(
                    round(left / width, 5),
                    round(top / height, 5),
                    round((left + w) / width, 5),
                    round((top + h) / height, 5),
                ),
            )
        )
    text = "\n\n".join("\n".join(" ".join(line) for line in par) for par in paragraphs)
    return text, words
