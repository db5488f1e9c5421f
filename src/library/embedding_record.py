"""Which embedding built a library's vectors, so queries are embedded the same way.

Vectors of different models (or of the same model at another precision) are not
comparable. ``embedding.json`` in the data dir records the model and precision the stored
vectors were made with:

- an empty library takes the configured embedding (and records it);
- a library with documents keeps its recorded embedding: with ``OLYMPUS_EMBEDDING_PRECISION``
  left at ``auto`` a different precision follows the library (logged), while an explicitly
  set precision or another model that disagrees raises :class:`EmbeddingMismatch`, whose
  hint says how to fix it;
- a library written before this record existed was embedded in fp32 by the configured model;
- an unreadable record is an error (it is not guessed), saying how to restore it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from shared_utils.atomic import atomic_write_text
from shared_utils.embeddings import BUNDLED_MODEL_NAMES
from shared_utils.errors import EmbeddingMismatch
from src.data_dir import DataDir
from src.settings import Settings

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EmbeddingChoice:
    model: str
    precision: str

    def same_model(self, other: EmbeddingChoice) -> bool:
        return _canonical(self.model) == _canonical(other.model)


def _canonical(model: str) -> str:
    return "bundled:all-MiniLM-L6-v2" if model in BUNDLED_MODEL_NAMES else model


def read_record(data_dir: Path) -> EmbeddingChoice | None:
    """The recorded embedding of ``data_dir`` (None: no record). An unreadable record is an
    :class:`EmbeddingMismatch`: guessing could embed queries unlike the stored vectors."""
    path = DataDir(data_dir).embedding_record
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return EmbeddingChoice(model=str(raw["model"]), precision=str(raw["precision"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingMismatch(
            f"{path} is unreadable ({type(exc).__name__}: {exc}), so it is unknown how the "
            "stored vectors were embedded",
            hint='Restore it, e.g. {"model": "<OLYMPUS_EMBEDDING_MODEL>", "precision": '
            '"int8"} (or "fp32"), or delete it if the library has no documents.',
        ) from exc


def write_record(data_dir: Path, choice: EmbeddingChoice) -> None:
    """Write the record atomically (a crash leaves the old one or the new one)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        DataDir(data_dir).embedding_record, json.dumps(asdict(choice), indent=2) + "\n"
    )


def choose_embedding(settings: Settings, *, has_documents: bool) -> EmbeddingChoice:
    """The embedding to use for ``settings.data_dir`` (see the module docstring)."""
    wanted = EmbeddingChoice(settings.embedding_model, settings.resolved_embedding_precision)
    record = read_record(settings.data_dir)
    if not has_documents:
        if record != wanted:
            write_record(settings.data_dir, wanted)
        return wanted
    if record is None:  # vectors from before the record existed: fp32, the configured model
        record = EmbeddingChoice(settings.embedding_model, "fp32")
        write_record(settings.data_dir, record)
    if not record.same_model(wanted):
        raise EmbeddingMismatch(
            f"the documents in {settings.data_dir} were embedded with {record.model!r}, "
            f"but OLYMPUS_EMBEDDING_MODEL is {settings.embedding_model!r}",
            hint=f"Set OLYMPUS_EMBEDDING_MODEL={record.model} again, or use a new "
            "OLYMPUS_DATA_DIR (or remove every document) and ingest the PDFs again.",
        )
    if record.precision != wanted.precision:
        if settings.embedding_precision != "auto":
            raise EmbeddingMismatch(
                f"the documents in {settings.data_dir} were embedded in {record.precision}, "
                f"but OLYMPUS_EMBEDDING_PRECISION is {settings.embedding_precision}",
                hint=f"Set OLYMPUS_EMBEDDING_PRECISION=auto (or {record.precision}) to keep "
                "this library, or use a new OLYMPUS_DATA_DIR (or remove every "
                "document) and ingest the PDFs again.",
            )
        logger.info(
            "embedding_record.following_library",
            precision=record.precision,
            configured=wanted.precision,
        )
    return EmbeddingChoice(settings.embedding_model, record.precision)
