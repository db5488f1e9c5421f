"""OCR quality and speed, and proof that OCR never runs where the text layer is good.

1. Pages of the Bash reference manual are rendered to an image-only PDF (a "scan") at 150 and
   300 dpi and ingested the way Olympus parses them (per-page triage, Tesseract at 300 dpi);
   the OCR text is compared with the manual's own text layer (both normalised the same way,
   whitespace collapsed, typographic quotes and dashes folded): character error rate (CER,
   Levenshtein distance / reference length) and pages/s. Goal: CER <= 2 % at 300 dpi.
2. Two whole manuals (bashref, glpk: text layer everywhere, glpk with diagram pages) are parsed
   with OCR on and off, interleaved rounds, plus the parser without triage as the baseline:
   pages OCR'd must be 0 and the time the same within noise.

Run: ``.venv/bin/python -m benchmarks.ocr [--pages 20-23] [--rounds 3]`` (needs tesseract-ocr
and bash-doc: ``bash scripts/install.sh --test``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common import begin, format_table, write_json

PDF = Path("/usr/share/doc/bash-doc/bashref.pdf")
TEXT_LAYER_PDFS = [PDF, Path("/usr/share/doc/glpk-doc/glpk.pdf")]  # 196 + 177 pages
_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of ``a``.

    >>> edit_distance("kitten", "sitting"), edit_distance("", "abc"), edit_distance("ab", "ab")
    (3, 3, 0)
    """
    import numpy as np

    if not a or not b:
        return max(len(a), len(b))
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    idx = np.arange(len(b) + 1)
    row = idx.copy()
    for i, ch in enumerate(a, start=1):
        cost = (codes != ord(ch)).astype(np.int64)
        tmp = np.empty_like(row)
        tmp[0] = i
        tmp[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(tmp - idx) + idx  # insertions along the row
    return int(row[-1])


def _plain(text: str) -> str:
    return " ".join(text.translate(_FOLD).split())


def ocr_quality(source: bytes, pages: list[int], dpi: int) -> dict:
    from shared_utils.documents.ocr import OcrOptions
    from shared_utils.documents.pdf import parse_document
    from shared_utils.documents.text import normalize_pages
    from tests.fixtures.scans import make_scanned_pdf, page_texts

    scan = make_scanned_pdf(source, pages, dpi=dpi)
    started = time.perf_counter()
    parsed = parse_document(scan, name=f"scan-{dpi}.pdf", ocr=OcrOptions())
    seconds = time.perf_counter() - started
    reference = normalize_pages(page_texts(source, pages))
    errors = chars = 0
    for ref, got in zip(reference, (p.text for p in parsed.pages), strict=True):
        ref, got = _plain(ref), _plain(got)
        errors += edit_distance(ref, got)
        chars += len(ref)
    return {
        "dpi": dpi,
        "pages": len(pages),
        "ocr_pages": len(parsed.report.ocr_pages),
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(pages) / seconds, 3),
        "cer": round(errors / chars, 4),
        "errors": errors,
        "chars": chars,
        "scan_bytes": len(scan),
    }


def ocr_never_needed(source: bytes, rounds: int) -> dict:
    from shared_utils.documents.ocr import OcrOptions
    from shared_utils.documents.pdf import parse_document, parse_pdf

    runs: dict[str, list[float]] = {"no triage (baseline)": [], "OCR off": [], "OCR auto": []}
    ocr_pages = flagged = 0
    parse_pdf(source, name="warm-up.pdf", timeout_s=120)  # start the worker, warm the caches
    labels = list(runs)
    for round_ in range(rounds):
        for label in labels[round_ % 3 :] + labels[: round_ % 3]:  # rotate: no order bias
            started = time.perf_counter()
            if label.startswith("no triage"):
                parse_pdf(source, name="manual.pdf", timeout_s=120)
            else:
                parsed = parse_document(
                    source,
                    name="manual.pdf",
                    timeout_s=120,
                    ocr=OcrOptions(enabled=label == "OCR auto"),
                )
                if label == "OCR auto":
                    ocr_pages += len(parsed.report.ocr_pages)
                    flagged += len(parsed.report.flagged)
            runs[label].append(time.perf_counter() - started)
    ocr_pages //= rounds
    flagged //= rounds
    return {
        "rounds": rounds,
        "ocr_pages": ocr_pages,
        "flagged_pages": flagged,
        "seconds": {k: [round(s, 3) for s in v] for k, v in runs.items()},
        "median_s": {k: round(statistics.median(v), 3) for k, v in runs.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", default="20-23", help="pages of bashref.pdf to scan (a-b)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-scan", action="store_true", help="only the text-layer part")
    args = parser.parse_args()
    machine = begin()
    from shared_utils.documents.ocr import tesseract_version

    first, last = (int(p) for p in args.pages.split("-"))
    pages = list(range(first, last + 1))
    source = PDF.read_bytes()
    print(f"{tesseract_version()}; bashref.pdf pages {args.pages}")
    quality = [] if args.skip_scan else [ocr_quality(source, pages, dpi) for dpi in (150, 300)]
    print(
        format_table(
            ["scan dpi", "pages", "OCR'd", "seconds", "pages/s", "CER"],
            [
                [
                    q["dpi"],
                    q["pages"],
                    q["ocr_pages"],
                    q["seconds"],
                    q["pages_per_s"],
                    f"{q['cer']:.2%}",
                ]
                for q in quality
            ],
        )
    )
    never = {}
    for pdf in TEXT_LAYER_PDFS:
        result = ocr_never_needed(pdf.read_bytes(), args.rounds)
        never[pdf.name] = result
        print(
            f"\n{pdf.name} (text layer): pages OCR'd with OCR on: {result['ocr_pages']}, "
            f"flagged: {result['flagged_pages']}"
        )
        print(
            format_table(
                ["parse", "median s", "all rounds"],
                [
                    [k, result["median_s"][k], " / ".join(map(str, v))]
                    for k, v in result["seconds"].items()
                ],
            )
        )
    path = write_json(
        "ocr",
        {
            "machine": machine,
            "tesseract": tesseract_version(),
            "pages": args.pages,
            "quality": quality,
            "text_layer": never,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
