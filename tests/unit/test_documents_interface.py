"""The UI, the API, MCP and the CLI hold a Library, a RAGPipeline or a RemotePipeline (the
service over HTTP) and call the same methods on each: a method one of them lacks, or names
differently, breaks a page or a command only in that mode."""

from __future__ import annotations

import inspect

import pytest

from src.library.library import Documents, Library
from src.pipeline import RAGPipeline
from src.service.client import RemotePipeline

METHODS = [name for name, member in vars(Documents).items()
           if not name.startswith("_") and (callable(member) or isinstance(member, property))]


def _parameters(cls: type, name: str) -> list[tuple[str, object]]:
    params = inspect.signature(getattr(cls, name)).parameters.values()
    return [(p.name, p.kind) for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def test_the_interface_lists_what_the_callers_use():
    assert {"ingest_file", "ingest_bytes", "documents", "passages", "delete_document", "search",
            "originals", "close"} <= set(METHODS)


@pytest.mark.parametrize("cls", [Library, RAGPipeline, RemotePipeline])
@pytest.mark.parametrize("name", METHODS)
def test_every_holder_provides_each_method_with_the_same_parameters(cls, name):
    assert hasattr(cls, name), f"{cls.__name__} has no {name}"
    if isinstance(vars(Documents)[name], property):
        assert isinstance(inspect.getattr_static(cls, name), property), f"{cls.__name__}.{name}"
        return
    assert _parameters(cls, name) == _parameters(Documents, name), f"{cls.__name__}.{name}"
