"""The UI, the API, MCP and the CLI hold a Library, a RAGPipeline or a RemotePipeline (the
service over HTTP) and call the same methods on each: a method one of them lacks, or names
differently, breaks a page or a command only in that mode. ``Documents`` and ``Pipeline``
(``src/protocols.py``) are the typed interfaces they share."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from src.library.library import Library
from src.pipeline import RAGPipeline
from src.protocols import Documents, Pipeline
from src.service.client import RemotePipeline

ROOT = Path(__file__).resolve().parents[2]


def _members(protocol: type) -> list[str]:
    names = {
        name
        for klass in protocol.__mro__
        if klass not in (object,)
        for name, member in vars(klass).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    return sorted(names)


METHODS = _members(Documents)
PIPELINE_METHODS = _members(Pipeline)


def _parameters(cls: type, name: str) -> list[tuple[str, object]]:
    params = inspect.signature(getattr(cls, name)).parameters.values()
    return [(p.name, p.kind) for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def _check(cls: type, protocol: type, name: str) -> None:
    assert hasattr(cls, name), f"{cls.__name__} has no {name}"
    declared = inspect.getattr_static(protocol, name)
    if isinstance(declared, property):
        assert isinstance(inspect.getattr_static(cls, name), property), f"{cls.__name__}.{name}"
        return
    assert _parameters(cls, name) == _parameters(protocol, name), f"{cls.__name__}.{name}"


def test_the_interface_lists_what_the_callers_use():
    assert {
        "ingest_file",
        "ingest_bytes",
        "documents",
        "passages",
        "delete_document",
        "search",
        "originals",
        "close",
    } <= set(METHODS)
    assert {"ask", "backends", "answering", "health", "warm_up_in_background"} <= set(
        PIPELINE_METHODS
    ) - set(METHODS)


@pytest.mark.parametrize("cls", [Library, RAGPipeline, RemotePipeline])
@pytest.mark.parametrize("name", METHODS)
def test_every_holder_provides_each_method_with_the_same_parameters(cls, name):
    _check(cls, Documents, name)


@pytest.mark.parametrize("cls", [RAGPipeline, RemotePipeline])
@pytest.mark.parametrize("name", PIPELINE_METHODS)
def test_both_pipelines_answer_through_the_same_methods(cls, name):
    _check(cls, Pipeline, name)


def test_no_layer_holds_the_pipeline_as_any():
    """Every function that takes the pipeline says which interface it calls."""
    untyped = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("src", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bpipeline: (Any|object)\b", line)
    ]
    assert untyped == []
