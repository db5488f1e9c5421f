"""The original PDFs, kept content-addressed in the data dir for the page viewer.

``<data_dir>/originals/<sha256>.pdf`` holds the uploaded bytes (the document id is their
sha256, so the same file is stored once) and ``<sha256>.words.json`` the word boxes of the
pages that were OCR'd. They are written during the store step of an ingest and deleted with
the document, also when an ingest is rolled back or recovered after a crash.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import structlog

from shared_utils.atomic import atomic_write_bytes
from shared_utils.documents.render import Box, Word
from shared_utils.errors import DocumentNotFound, StoreUnavailable

logger = structlog.get_logger(__name__)

_ID_RE = re.compile(r"^[0-9a-f]{64}$")


class Originals:
    """Original PDFs and OCR word boxes by document id (thread-safe: atomic renames)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, doc_id: str, suffix: str) -> Path:
        if not _ID_RE.match(doc_id):
            raise DocumentNotFound(f"{doc_id!r} is not a document id")
        return self.root / f"{doc_id}{suffix}"

    # --- writes ------------------------------------------------------------------------------
    def put(self, doc_id: str, data: bytes, words: dict[int, list[Word]] | None = None) -> None:
        """Store the PDF bytes (and OCR word boxes); atomic per file."""
        self._write(self._path(doc_id, ".pdf"), data)
        if words:
            self._put_words(doc_id, words)

    def add_words(self, doc_id: str, words: dict[int, list[Word]]) -> None:
        """Add word boxes of pages OCR'd after the document was stored."""
        self._put_words(doc_id, {**self.words(doc_id), **words})

    def _put_words(self, doc_id: str, words: dict[int, list[Word]]) -> None:
        payload = {
            str(page): [[w.text, w.box.x0, w.box.y0, w.box.x1, w.box.y1] for w in page_words]
            for page, page_words in words.items()
        }
        self._write(
            self._path(doc_id, ".words.json"), json.dumps(payload, separators=(",", ":")).encode()
        )

    def _write(self, path: Path, data: bytes) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data, prefix=".tmp-")  # .tmp-: what sweep() removes
        except OSError as exc:
            raise StoreUnavailable(
                f"Cannot store the original PDF in {self.root}: {exc}",
                hint="Check free disk space and permissions of the data dir.",
            ) from exc

    def delete(self, doc_id: str) -> None:
        for suffix in (".pdf", ".words.json"):
            self._path(doc_id, suffix).unlink(missing_ok=True)

    def sweep(self, keep: set[str]) -> list[str]:
        """Delete originals of documents not in ``keep`` (left by a crash); their ids."""
        if not self.root.is_dir():
            return []
        gone = []
        for path in self.root.iterdir():
            doc_id = path.name.split(".", 1)[0]
            if path.name.startswith(".tmp-") or (_ID_RE.match(doc_id) and doc_id not in keep):
                path.unlink(missing_ok=True)
                gone.append(doc_id)
        if gone:
            logger.warning("originals.swept", files=len(gone))
        return gone

    # --- reads -------------------------------------------------------------------------------
    def has(self, doc_id: str) -> bool:
        return self._path(doc_id, ".pdf").is_file()

    def read(self, doc_id: str) -> bytes:
        try:
            return self._path(doc_id, ".pdf").read_bytes()
        except FileNotFoundError:
            raise DocumentNotFound(
                "The original PDF of this document is not stored",
                hint="It was added before Olympus kept originals: delete it and add it again "
                "to see its pages.",
            ) from None

    def words(self, doc_id: str) -> dict[int, list[Word]]:
        """OCR word boxes by page number ({} when no page was OCR'd)."""
        try:
            raw = json.loads(self._path(doc_id, ".words.json").read_text())
        except FileNotFoundError:
            return {}
        return {int(page): [Word(w[0], Box(*w[1:5])) for w in words] for page, words in raw.items()}

    def stored_bytes(self, doc_id: str) -> int:
        """Bytes on disk for this document's original and word boxes."""
        total = 0
        for suffix in (".pdf", ".words.json"):
            with contextlib.suppress(FileNotFoundError):
                total += self._path(doc_id, suffix).stat().st_size
        return total
