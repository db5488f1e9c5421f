"""Saved chats: one JSON file per chat under ``DATA_DIR/chats/<browser>/``.

``<browser>`` is a hash of the browser id (the signed cookie's, ``src/ui/identity.py``), so a
browser sees only its own chats and the id never names a path. Files are written atomically
(temp file, fsync, rename) with mode 0600. Limits: ``OLYMPUS_MAX_CHATS`` chats per browser and
``OLYMPUS_MAX_CHAT_KB`` per chat; both are refused with ``ChatLimit`` saying what to do, and
nothing already saved is lost.

A chat is a dict: ``id``, ``title``, ``created_at``, ``updated_at``, ``settings`` (model,
temperature, answer length) and ``messages`` (as the Chat page keeps them; sources are
``ScoredChunk`` objects in memory and plain dicts, passage text included, on disk). Its shape
on disk is ``src/schema/chat.py:SavedChat``: every write and read goes through it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from shared_utils.atomic import atomic_write_bytes
from shared_utils.errors import ChatLimit, ChatNotFound
from shared_utils.types import Chunk, ScoredChunk
from src.schema.chat import SavedChat

logger = structlog.get_logger(__name__)

_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
TITLE_CHARS = 80
_summaries: dict[tuple[str, int, int], tuple[dict[str, Any], str]] = {}  # process-wide cache


def new_chat(settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """An empty chat (not saved until it has a message)."""
    now = time.time()
    return {
        "id": secrets.token_urlsafe(9),
        "title": "",
        "created_at": now,
        "updated_at": now,
        "settings": dict(settings or {}),
        "messages": [],
    }


def title_of(chat: dict[str, Any]) -> str:
    """The chat's title, or its first question, shortened."""
    if chat.get("title"):
        return str(chat["title"])
    first = next((m["content"] for m in chat.get("messages", []) if m.get("role") == "user"), "")
    text = " ".join(str(first).split())
    return (text[: TITLE_CHARS - 1] + "…" if len(text) > TITLE_CHARS else text) or "New chat"


def _source_to_dict(scored: Any) -> dict[str, Any]:
    if isinstance(scored, dict):
        return scored
    return {
        "chunk": asdict(scored.chunk),
        "score": scored.score,
        "ranks": dict(scored.ranks),
        "similarity": scored.similarity,
    }


def _source_from_dict(data: Any) -> Any:
    if not isinstance(data, dict) or "chunk" not in data:
        return data
    return ScoredChunk(
        Chunk(**data["chunk"]),
        float(data.get("score") or 0.0),
        dict(data.get("ranks") or {}),
        data.get("similarity"),
    )


def _encode(chat: dict[str, Any]) -> bytes:
    messages = [
        {**m, "sources": [_source_to_dict(s) for s in m.get("sources") or []]}
        if m.get("sources")
        else dict(m)
        for m in chat.get("messages", [])
    ]
    saved = SavedChat.model_validate({**chat, "messages": messages})
    return saved.model_dump_json(exclude_unset=True, fallback=str).encode()


def _decode(raw: bytes) -> dict[str, Any]:
    chat = SavedChat.model_validate_json(raw).model_dump(exclude_unset=True)
    for m in chat.get("messages", []):
        if m.get("sources"):
            m["sources"] = [_source_from_dict(s) for s in m["sources"]]
        m.pop("streaming", None)  # a run that died mid-answer: shown as stopped
    return chat


def carry_over(root: Path, old_browser_id: str, new_browser_id: str) -> bool:
    """Give the chats of ``old_browser_id`` to ``new_browser_id`` (at sign-in, when the
    browser gets a new id). False when there was nothing to move or the new one has chats."""
    old, new = (Path(root) / _folder(b) for b in (old_browser_id, new_browser_id))
    if not old.is_dir() or new.exists():
        return False
    try:
        old.rename(new)
    except OSError as exc:
        logger.warning("chats.carry_over_failed", error=str(exc))
        return False
    return True


def _folder(browser_id: str) -> str:
    return hashlib.sha256(browser_id.encode()).hexdigest()[:32]


class ChatStore:
    """The saved chats of one browser. Thread-safe per file (atomic rename)."""

    def __init__(self, root: Path, browser_id: str, *, max_chats: int, max_bytes: int) -> None:
        self.dir = Path(root) / _folder(browser_id)
        self.max_chats = max_chats
        self.max_bytes = max_bytes

    @classmethod
    def for_browser(cls, settings: Any, browser_id: str) -> ChatStore:
        return cls(
            settings.data.chats,
            browser_id,
            max_chats=settings.max_chats,
            max_bytes=settings.max_chat_kb * 1024,
        )

    def _path(self, chat_id: str) -> Path:
        if not _ID.match(chat_id or ""):
            raise ChatNotFound(f"{chat_id!r} is not a chat id.")
        return self.dir / f"{chat_id}.json"

    def list(self, search: str = "") -> list[dict[str, Any]]:
        """Summaries (id, title, updated_at, questions), newest first; ``search`` matches the
        title and every question and answer, case-insensitively. Titles are distinct
        (:func:`distinct_titles`)."""
        found = [
            self._summary(path) for path in (self.dir.glob("*.json") if self.dir.is_dir() else ())
        ]
        return _listing([(dict(s), h) for s, h in found if s is not None], search)

    def _summary(self, path: Path) -> tuple[dict[str, Any] | None, str]:
        """(summary, searchable text) of one file, cached while its mtime and size stay."""
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
            if key not in _summaries:
                if len(_summaries) > 10_000:
                    _summaries.clear()  # stale versions of edited chats pile up otherwise
                chat = _decode(path.read_bytes())
                _summaries[key] = (_summary_of(chat), _haystack(chat))
            return _summaries[key]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            logger.warning("chats.unreadable", file=path.name, error=str(exc))
            return None, ""

    def load(self, chat_id: str) -> dict[str, Any]:
        try:
            return _decode(self._path(chat_id).read_bytes())
        except FileNotFoundError:
            raise ChatNotFound("This chat no longer exists.") from None
        except (ValueError, TypeError) as exc:
            raise ChatNotFound(f"This chat's file is damaged ({exc}).") from None

    def save(self, chat: dict[str, Any]) -> None:
        """Write ``chat`` atomically; raises ChatLimit (nothing changed) past a limit."""
        path = self._path(chat["id"])
        data = _encode({**chat, "updated_at": time.time()})
        if len(data) > self.max_bytes:
            raise ChatLimit(
                f"This chat has grown past {self.max_bytes // 1024} KB (OLYMPUS_MAX_CHAT_KB), so "
                "the last answer is shown but not saved.",
                hint="Start a new chat (sidebar) to keep saving; export this one to keep it.",
            )
        if not path.exists() and len(list(self.dir.glob("*.json"))) >= self.max_chats:
            raise ChatLimit(
                f"This browser already has {self.max_chats} saved chats (OLYMPUS_MAX_CHATS), so "
                "this one is not saved."
            )
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(path, data, mode=0o600, fsync=True, prefix=".chat-")
        chat["updated_at"] = json.loads(data)["updated_at"]

    def rename(self, chat_id: str, title: str) -> dict[str, Any]:
        chat = self.load(chat_id)
        chat["title"] = " ".join(title.split())[:TITLE_CHARS]
        self.save(chat)
        return chat

    def delete(self, chat_id: str) -> None:
        self._path(chat_id).unlink(missing_ok=True)
        logger.info("chats.deleted", chat=chat_id)


def _summary_of(chat: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": chat["id"],
        "title": title_of(chat),
        "created_at": float(chat.get("created_at") or 0),
        "updated_at": float(chat.get("updated_at") or 0),
        "questions": sum(m.get("role") == "user" for m in chat["messages"]),
    }


def distinct_titles(summaries: list[dict[str, Any]]) -> None:
    """Give chats that share a title (the same first question, or a rename) a number, in
    the order they were started: "Backups", "Backups (2)", "Backups (3)".

    >>> chats = [{"title": "Backups", "created_at": 2}, {"title": "Backups", "created_at": 1}]
    >>> distinct_titles(chats); [c["title"] for c in chats]
    ['Backups (2)', 'Backups']
    """
    taken = {str(c["title"]).casefold() for c in summaries}
    seen: set[str] = set()
    for chat in sorted(summaries, key=lambda c: (c.get("created_at") or 0, c.get("id", ""))):
        base = str(chat["title"])
        if base.casefold() not in seen:
            seen.add(base.casefold())
            continue
        n = 2
        while f"{base} ({n})".casefold() in taken | seen:
            n += 1
        chat["title"] = f"{base} ({n})"
        seen.add(chat["title"].casefold())


def _listing(found: list[tuple[dict[str, Any], str]], search: str) -> list[dict[str, Any]]:
    """Summaries with distinct titles (numbered over all chats, so a search does not renumber
    them), those matching ``search``, newest first."""
    distinct_titles([summary for summary, _ in found])
    needle = search.strip().lower()
    out = [summary for summary, haystack in found if not needle or needle in haystack]
    return sorted(out, key=lambda c: c["updated_at"], reverse=True)


def _haystack(chat: dict[str, Any]) -> str:
    parts = [str(chat.get("title") or "")]
    parts += [str(m.get("content") or "") for m in chat.get("messages", [])]
    return "\n".join(parts).lower()


class SessionChats(ChatStore):
    """The same interface kept in a dict (``st.session_state``): for a browser without the
    front's cookie, whose session id does not outlive the session, so nothing is written."""

    def __init__(self, chats: dict[str, bytes], *, max_chats: int, max_bytes: int) -> None:
        self._chats = chats
        self.max_chats = max_chats
        self.max_bytes = max_bytes

    def list(self, search: str = "") -> list[dict[str, Any]]:
        chats = [_decode(raw) for raw in self._chats.values()]
        return _listing([(_summary_of(c), _haystack(c)) for c in chats], search)

    def load(self, chat_id: str) -> dict[str, Any]:
        if chat_id not in self._chats:
            raise ChatNotFound("This chat no longer exists.")
        return _decode(self._chats[chat_id])

    def save(self, chat: dict[str, Any]) -> None:
        data = _encode({**chat, "updated_at": time.time()})
        if len(data) > self.max_bytes or (
            chat["id"] not in self._chats and len(self._chats) >= self.max_chats
        ):
            raise ChatLimit("This chat is too long (or there are too many) to keep.")
        self._chats[chat["id"]] = data
        chat["updated_at"] = json.loads(data)["updated_at"]

    def delete(self, chat_id: str) -> None:
        self._chats.pop(chat_id, None)
