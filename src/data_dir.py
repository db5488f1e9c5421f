"""``DataDir``: the one place that names the files and folders of the data dir
(``OLYMPUS_DATA_DIR``). Every module asks it for a path instead of joining names, and
DEPLOYMENT.md's data dir row is checked against :meth:`DataDir.entries` by a test.

    >>> DataDir("/data").docstore
    PosixPath('/data/docstore.sqlite3')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import overload


@dataclass(frozen=True)
class Entry:
    """A file or folder of the data dir: its name (a folder's ends in "/") and what it holds."""

    name: str
    holds: str

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @overload
    def __get__(self, obj: None, owner: type) -> Entry: ...

    @overload
    def __get__(self, obj: DataDir, owner: type) -> Path: ...

    def __get__(self, obj: DataDir | None, owner: type) -> Entry | Path:
        return self if obj is None else obj.root / self.name.rstrip("/")


class DataDir:
    """The data dir at ``root``; each attribute below is the path of one of its entries."""

    docstore = Entry("docstore.sqlite3", "documents, chunks, links")
    keywords = Entry("keywords.sqlite3", "the BM25 keyword index")
    milvus = Entry("milvus.db/", "the vectors, in Milvus Lite")
    embedding_record = Entry(
        "embedding.json", "the embedding model and precision the vectors were made with"
    )
    originals = Entry("originals/", "the uploaded PDFs and OCR word boxes, for the page viewer")
    upload_spool = Entry(
        "upload_spool/",
        "uploads the service accepted and has not indexed yet; resumed after a restart",
    )
    ui_upload_spool = Entry(
        "ui_upload_spool/", "uploads queued in the UI, not yet sent to the service"
    )
    chats = Entry("chats/", "saved chats per browser")
    ollama = Entry("ollama/", "Ollama's models")
    models = Entry("models/", "downloaded GGUFs")
    active_model = Entry("active_model.json", "the model chosen with `models use`")
    status = Entry("status.json", "what the supervisor reports to the UI and `doctor`")
    keys = Entry("api_keys.json", "API key hashes")
    secret_key = Entry("secret_key", "signs the sign-in cookie")
    revoked_sign_ins = Entry("revoked_sign_ins.json", "sign-ins ended by signing out")
    service_token = Entry("service.token", "this start's internal token")
    login_throttle = Entry("login_throttle.json", "failed sign-ins per address, for the lockout")
    lock = Entry(
        ".lock", "held by the running `startup.py`, so a second one on the same data dir stops"
    )
    arangodb = Entry("arangodb/", "ArangoDB's files, when it is the store")
    home = Entry("home/", "HOME of the children when the real one is not writable")
    cache = Entry(".cache/", "caches, e.g. Hugging Face's, when the usual ones are not writable")

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def entries(cls) -> list[Entry]:
        """Every entry, in the order above."""
        return [v for v in vars(cls).values() if isinstance(v, Entry)]

    @classmethod
    def described(cls) -> str:
        """The entries as DEPLOYMENT.md's data dir row lists them (a test compares the two)."""
        return ", ".join(f"`{e.name}` ({e.holds})" for e in cls.entries())
