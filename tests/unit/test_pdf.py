"""parse_pdf: page numbers, clean text on real manuals, typed errors, a hard deadline."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from shared_utils.documents.parser_process import PdfWorker
from shared_utils.documents.pdf import parse_pdf
from shared_utils.errors import (
    CorruptPdf,
    EmptyPdf,
    EncryptedPdf,
    InvalidDocument,
    NoExtractableText,
    NotAPdf,
    ParseTimeout,
)
from tests.conftest import real_pdf
from tests.fixtures.pdfs import (
    SAMPLE_PAGES,
    make_encrypted_pdf,
    make_image_only_pdf,
    make_not_a_pdf,
    make_pathological_pdf,
    make_text_pdf,
    make_truncated_pdf,
    make_zero_page_pdf,
)

MODES = [pytest.param(None, id="in-process"), pytest.param(30.0, id="worker")]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe]")


@pytest.mark.parametrize("timeout_s", MODES)
def test_text_pdf_pages_numbered_and_cleaned(timeout_s):
    pages = parse_pdf(make_text_pdf(SAMPLE_PAGES), name="manual.pdf", timeout_s=timeout_s)

    assert [p.number for p in pages] == [1, 2, 3]
    assert "example configuration" in pages[0].text  # "exam-\nple" joined
    assert "non-zero exit status" in pages[0].text  # a real hyphen kept
    joined = "\n".join(p.text for p in pages)
    assert "Olympus Test Manual" not in joined  # running header dropped
    assert not re.search(r"^Page \d$", joined, re.M)  # page-number footer dropped
    # Text that looks like markup stays verbatim text (the UI escapes it).
    assert "<script>alert('x')</script>" in pages[1].text
    assert "[the docs](http://example.com/evil)" in pages[1].text


BAD_INPUTS = [
    pytest.param(make_not_a_pdf, NotAPdf, id="not-a-pdf"),
    pytest.param(make_truncated_pdf, CorruptPdf, id="truncated"),
    pytest.param(make_encrypted_pdf, EncryptedPdf, id="encrypted"),
    pytest.param(make_zero_page_pdf, EmptyPdf, id="zero-pages"),
    pytest.param(make_image_only_pdf, NoExtractableText, id="image-only"),
    pytest.param(lambda: b"", NotAPdf, id="empty-file"),
    pytest.param(
        lambda: b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n", CorruptPdf, id="garbage-body"
    ),
]


@pytest.mark.parametrize("timeout_s", MODES)
@pytest.mark.parametrize(("make", "error"), BAD_INPUTS)
def test_bad_input_gives_its_typed_error(make, error, timeout_s):
    with pytest.raises(error) as info:
        parse_pdf(make(), name="bad.pdf", timeout_s=timeout_s)
    assert isinstance(info.value, InvalidDocument)
    assert "bad.pdf" in info.value.message
    assert info.value.hint


def test_scanned_pdf_says_ocr_is_not_available():
    with pytest.raises(NoExtractableText) as info:
        parse_pdf(make_image_only_pdf(), name="scan.pdf", timeout_s=30)
    assert "without OCR" in str(info.value)


def test_truncated_real_manual_is_corrupt(copy_pdf):
    path = copy_pdf("nut_faq")
    data = path.read_bytes()
    with pytest.raises(CorruptPdf):
        parse_pdf(data[: len(data) * 2 // 3], name=path.name, timeout_s=30)


def test_pathological_pdf_is_stopped_at_the_deadline_and_worker_recovers():
    start = time.monotonic()
    with pytest.raises(ParseTimeout) as info:
        parse_pdf(make_pathological_pdf(), name="bomb.pdf", timeout_s=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 60, f"deadline of 1 s not enforced ({elapsed:.1f} s)"  # load-proof
    assert "OLYMPUS_PARSE_TIMEOUT_S" in str(info.value)
    # The killed worker is replaced: the next document parses normally.
    pages = parse_pdf(make_text_pdf(["Still working."]), name="ok.pdf", timeout_s=30)
    assert pages[0].text == "Still working."


def test_worker_crash_is_a_typed_error_not_a_hang():
    # A worker that dies in the middle of a document (as PDFium may on a hostile file).
    crashing = PdfWorker(
        [sys.executable, "-c", "import os, sys; sys.stdin.buffer.read(8); os._exit(3)"]
    )
    with pytest.raises(CorruptPdf, match="crashed"):
        crashing.extract(make_text_pdf(["x"]), name="x.pdf", timeout_s=10)
    crashing.close()


def test_worker_that_died_while_idle_is_replaced():
    worker = PdfWorker()
    try:
        worker.extract(make_text_pdf(["one"]), name="a.pdf", timeout_s=30)
        os.kill(worker.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert worker.extract(make_text_pdf(["two"]), name="b.pdf", timeout_s=30)[0].text == "two"
    finally:
        worker.close()


def test_a_worker_built_directly_has_the_safe_memory_cap():
    from shared_utils.documents.pdf_worker import ParseLimits

    worker = PdfWorker()
    try:
        worker.extract(make_text_pdf(["one"]), name="a.pdf", timeout_s=30)
        limits = Path(f"/proc/{worker.pid}/limits").read_text()
        line = next(row for row in limits.splitlines() if row.startswith("Max address space"))
        assert int(line.split()[3]) == ParseLimits.memory_mb * 1024 * 1024, line
    finally:
        worker.close()


def test_worker_is_reused_between_documents():
    worker = PdfWorker()
    try:
        worker.extract(make_text_pdf(["one"]), name="a.pdf", timeout_s=30)
        pid = worker.pid
        worker.extract(make_text_pdf(["two"]), name="b.pdf", timeout_s=30)
        assert worker.pid == pid is not None
    finally:
        worker.close()
    assert worker.pid is None


def test_real_manual_page_numbers_match_an_independent_parser():
    """The page that pypdf finds a sentence on is the page number we report."""
    from pypdf import PdfReader

    data = real_pdf("bashref").read_bytes()
    needle = "An additional binary operator"
    pages = parse_pdf(data, name="bashref.pdf", timeout_s=60)
    reader = PdfReader(io.BytesIO(data))
    expected = [
        i + 1 for i, page in enumerate(reader.pages[:40]) if needle in (page.extract_text() or "")
    ]
    ours = [p.number for p in pages[:40] if needle in p.text]
    assert expected and ours == expected
    assert len(pages) == len(reader.pages)
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))


@pytest.mark.parametrize("name", ["bashref", "systemtap_beginners", "nut_user_manual", "glpk"])
def test_real_manuals_have_no_glued_words_or_control_chars(name):
    pages = parse_pdf(real_pdf(name).read_bytes(), name=f"{name}.pdf", timeout_s=60)
    text = "\n".join(p.text for p in pages)
    words = re.findall(r"[A-Za-z]+", text)
    glued = [w for w in words if len(w) > 25]
    assert len(words) > 10_000
    assert len(glued) / len(words) < 0.001, glued[:10]
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    assert " the " in text


def test_ligatures_come_out_as_letters_on_glpk():
    pages = parse_pdf(real_pdf("glpk").read_bytes(), name="glpk.pdf", timeout_s=60)
    text = "\n".join(p.text for p in pages)
    assert "significantly reduce the search time" in text  # "signi\x0ccantly" in pypdf
    assert "\ufb01" not in text and "\x0c" not in text


def test_worker_exits_when_its_parent_dies(tmp_path):
    """No orphaned parser process after the application dies mid-document."""
    import subprocess
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    script = (
        f"import sys, os; sys.path.insert(0, {root!r})\n"
        "from shared_utils.documents.parser_process import PdfWorker\n"
        "from tests.fixtures.pdfs import make_text_pdf, make_pathological_pdf\n"
        "import threading, time\n"
        "w = PdfWorker(); w.extract(make_text_pdf(['x']), name='x.pdf', timeout_s=30)\n"
        "print(w.pid, flush=True)\n"
        "threading.Thread(target=w.extract, args=(make_pathological_pdf(),),\n"
        "                 kwargs=dict(name='bomb.pdf', timeout_s=600), daemon=True).start()\n"
        "time.sleep(0.5); os._exit(0)  # killed while the worker is busy in PDFium\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 30  # ends as soon as the worker is gone
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("the parser worker outlived its parent")


def test_an_interrupted_file_never_hands_its_result_to_the_next_file():
    """A progress callback that raises (a cancelled ingest) leaves the file's reply unsent to
    anyone: the next file gets its own pages, not the interrupted one's."""
    from shared_utils.documents.ocr import OcrOptions
    from shared_utils.documents.pdf_worker import ParseLimits

    def cancel(*_args) -> None:
        raise RuntimeError("cancelled")

    worker = PdfWorker()
    try:
        with pytest.raises(RuntimeError, match="cancelled"):
            worker.extract_document(
                make_text_pdf([f"first {n}" for n in range(8)]),
                name="a.pdf",
                timeout_s=60,
                limits=ParseLimits(),
                ocr=OcrOptions(enabled=False),
                progress=cancel,
            )
        pages = worker.extract(make_text_pdf(["second"]), name="b.pdf", timeout_s=60)
        assert [p.text for p in pages] == ["second"]
    finally:
        worker.close()
