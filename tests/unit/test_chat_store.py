"""Saved chats on disk: atomic private files, limits that lose nothing, search, bad input."""

from __future__ import annotations

import stat

import pytest

from shared_utils.errors import ChatLimit, ChatNotFound
from shared_utils.types import Chunk, ScoredChunk
from src.chat_store import ChatStore, SessionChats, new_chat, title_of


def _chat(question: str, answer: str = "It is 88 days [1].") -> dict:
    chat = new_chat({"model": "extractive", "temperature": 0.3})
    chunk = Chunk("d:000001", "d", 1, "The interval is 88 days.", 2, 2, "flux.pdf")
    chat["messages"] = [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": answer,
            "question": question,
            "sources": [ScoredChunk(chunk, 0.032, {"dense": 1}, 0.71)],
        },
    ]
    return chat


def test_a_saved_chat_comes_back_with_its_passages_and_settings(tmp_path):
    store = ChatStore(tmp_path, "browser-a", max_chats=5, max_bytes=100_000)
    chat = _chat("How often must it be calibrated?")
    store.save(chat)
    again = ChatStore(tmp_path, "browser-a", max_chats=5, max_bytes=100_000).load(chat["id"])
    source = again["messages"][1]["sources"][0]
    assert source.chunk.text == "The interval is 88 days." and source.chunk.pages == "p. 2"
    assert source.similarity == 0.71 and again["settings"]["model"] == "extractive"
    files = list(store.dir.iterdir())
    assert [f.name for f in files] == [f"{chat['id']}.json"], "no temp file left behind"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(store.dir.stat().st_mode) == 0o700


def test_browsers_see_only_their_own_chats(tmp_path):
    mine = ChatStore(tmp_path, "browser-a", max_chats=5, max_bytes=100_000)
    theirs = ChatStore(tmp_path, "browser-b", max_chats=5, max_bytes=100_000)
    mine.save(_chat("Mine?"))
    assert [c["title"] for c in mine.list()] == ["Mine?"] and theirs.list() == []
    with pytest.raises(ChatNotFound):
        theirs.load(mine.list()[0]["id"])


def test_limits_refuse_with_the_setting_named_and_keep_what_was_saved(tmp_path):
    store = ChatStore(tmp_path, "b", max_chats=1, max_bytes=2_000)
    first = _chat("First?")
    store.save(first)
    with pytest.raises(ChatLimit, match="OLYMPUS_MAX_CHATS"):
        store.save(_chat("Second?"))
    first["messages"][1]["content"] = "x" * 5_000
    with pytest.raises(ChatLimit, match="OLYMPUS_MAX_CHAT_KB") as caught:
        store.save(first)
    assert "new chat" in caught.value.hint
    assert store.load(first["id"])["messages"][1]["content"] == "It is 88 days [1]."


def test_search_rename_delete_and_newest_first(tmp_path):
    store = ChatStore(tmp_path, "b", max_chats=10, max_bytes=100_000)
    old, new = _chat("Calibration interval?"), _chat("What does Mr. Fusion burn?", "Peels.")
    store.save(old)
    store.save(new)
    assert [c["id"] for c in store.list()] == [new["id"], old["id"]]
    assert [c["id"] for c in store.list("PEELS")] == [new["id"]], "answers are searched too"
    store.rename(old["id"], "  Flux   maintenance ")
    assert store.list("flux maint")[0]["title"] == "Flux maintenance"
    store.delete(new["id"])
    assert [c["title"] for c in store.list()] == ["Flux maintenance"]


def test_damaged_file_and_bad_ids(tmp_path):
    store = ChatStore(tmp_path, "b", max_chats=10, max_bytes=100_000)
    store.save(_chat("Kept?"))
    (store.dir / "broken0000.json").write_text("{not json")
    assert [c["title"] for c in store.list()] == ["Kept?"], "a damaged file is skipped"
    with pytest.raises(ChatNotFound, match="damaged"):
        store.load("broken0000")
    with pytest.raises(ChatNotFound):
        store.load("../../etc/passwd")


def test_titles_and_the_in_memory_variant():
    assert title_of(new_chat()) == "New chat"
    assert title_of(_chat("word " * 40)).endswith("…")
    chats: dict = {}
    store = SessionChats(chats, max_chats=1, max_bytes=100_000)
    chat = _chat("Only in this tab?")
    store.save(chat)
    assert store.load(chat["id"])["messages"][0]["content"] == "Only in this tab?"
    with pytest.raises(ChatLimit):
        store.save(_chat("One more?"))
    store.delete(chat["id"])
    assert store.list() == []
