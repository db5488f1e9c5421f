"""StreamingBackend owns the sequence; a new HTTP backend is a short class plus one registry
line, and reaches users through the chain with its model and its typed errors."""

from __future__ import annotations

import pytest

from shared_utils.errors import BackendUnavailable, GenerationInterrupted
from shared_utils.generation import registry
from shared_utils.generation.base import Delta, GenerationOptions, Message, StreamingBackend


class Client:
    def __init__(self, pieces, fail_at=None):
        self.pieces, self.fail_at, self.closed = pieces, fail_at, False

    def chat(self):
        for i, piece in enumerate(self.pieces):
            if i == self.fail_at:
                raise ConnectionResetError("peer went away")
            yield piece

    def close(self):
        self.closed = True


class Echo(StreamingBackend):
    """The whole of a new backend: five hooks."""

    name, label = "echo", "Echo server"

    def __init__(self, pieces=("Port ", "3493 [1]."), fail_at=None, done=True, model=""):
        self.client = Client(list(pieces), fail_at)
        self.done, self.model = done, model

    def _ping(self, timeout):
        return "echo 1.0"

    def _open(self, options):
        return self.client

    def _deltas(self, client, messages, options):
        for piece in client.chat():
            yield Delta(piece)
        if self.done:
            yield Delta("", done=True, stats={"completion_tokens": 2.0})

    def _map_error(self, exc, *, started):
        kind = GenerationInterrupted if started else BackendUnavailable
        return kind(f"echo failed: {exc}")


OPTIONS = GenerationOptions()
MESSAGES = [Message("user", "Which port?")]


def test_the_base_class_streams_closes_and_maps_errors_at_one_point():
    ok = Echo()
    assert ok.generate(MESSAGES, options=OPTIONS) == "Port 3493 [1]."
    assert ok.client.closed and ok.health() == {"ok": True, "detail": "echo 1.0"}
    mid = Echo(fail_at=1)
    with pytest.raises(GenerationInterrupted, match="peer went away"):
        mid.generate(MESSAGES, options=OPTIONS)
    assert mid.client.closed  # closed on failure too
    with pytest.raises(BackendUnavailable, match="echo failed"):
        Echo(fail_at=0).generate(MESSAGES, options=OPTIONS)  # nothing said: the next answers
    with pytest.raises(BackendUnavailable, match="ended the stream before finishing"):
        Echo(pieces=(), done=False).generate(MESSAGES, options=OPTIONS)
    with pytest.raises(GenerationInterrupted, match="ended the stream"):
        Echo(done=False).generate(MESSAGES, options=OPTIONS)  # cut off mid-answer: kept, said


def test_a_new_backend_needs_one_registry_line_to_answer(monkeypatch, data_dir):
    from src.answer.answerer import Answerer
    from src.settings import load_settings
    from tests.unit.test_answer import FakeLibrary

    monkeypatch.setitem(
        registry.BACKENDS, "echo", lambda settings, model="", **_: Echo(model=model)
    )
    settings = load_settings(data_dir=data_dir, backends="echo")
    done = list(Answerer.from_settings(settings, library=FakeLibrary()).ask("Which port?"))[-1]
    assert (done.backend_name, done.answer.startswith("Port 3493")) == ("echo", True)
