"""Run the doctests of pure helper modules (parsers, fusion, text normalisation...), and of
the test doubles (the stand-in ollama's OLLAMA_HOST parser and request translation)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import shared_utils
import src
import tests.doubles


def _modules() -> list[str]:
    names = []
    for package in (shared_utils, src, tests.doubles):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return sorted(names)


def _has_doctests(name: str) -> bool:
    try:
        module = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module whose optional dependency is missing has its own tests
        return False
    return bool(doctest.DocTestFinder().find(module)) and any(
        t.examples for t in doctest.DocTestFinder().find(module)
    )


SKIP = ("src.ui", "src.cli", "src.__main__")


@pytest.mark.parametrize(
    "name", [n for n in _modules() if not n.startswith(SKIP) and _has_doctests(n)]
)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
