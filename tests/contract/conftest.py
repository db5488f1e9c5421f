"""The document-store contract suite runs against every factory in STORE_FACTORIES.

A factory takes a fresh temp dir and returns an empty, open store, or calls pytest.skip when
its server is not reachable. The ArangoDB helper adds ``STORE_FACTORIES["arango"]`` here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from shared_utils.stores.base import DocumentStore


def _sqlite(tmp: Path) -> DocumentStore:
    from shared_utils.stores.sqlite import SQLiteDocumentStore

    return SQLiteDocumentStore(tmp / "docstore.sqlite3")


# Read before the autouse fixture clears OLYMPUS_* variables for the tests themselves.
ARANGO_URL = os.environ.get("OLYMPUS_ARANGO_URL", "")
ARANGO_USER = os.environ.get("OLYMPUS_ARANGO_USER", "root")
ARANGO_PASSWORD = os.environ.get("OLYMPUS_ARANGO_PASSWORD", "")


def _arango(tmp: Path) -> DocumentStore:
    """A real ArangoDB, one throw-away database per test (named after its temp dir)."""
    if not ARANGO_URL:
        pytest.skip("no ArangoDB here: set OLYMPUS_ARANGO_URL to run the contract against it")
    from shared_utils.stores.arango import ArangoDocumentStore, connect

    name = "olympus_test_" + hashlib.sha1(str(tmp).encode()).hexdigest()[:12]
    db = connect(ARANGO_URL, name, ARANGO_USER, ARANGO_PASSWORD)
    _ARANGO_DBS.add(name)
    return ArangoDocumentStore(db)


_ARANGO_DBS: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _drop_arango_test_databases():
    yield
    if ARANGO_URL and _ARANGO_DBS:
        from arango import ArangoClient

        sys_db = ArangoClient(hosts=ARANGO_URL).db("_system", ARANGO_USER, ARANGO_PASSWORD)
        for name in _ARANGO_DBS:
            sys_db.delete_database(name, ignore_missing=True)


STORE_FACTORIES: dict[str, Callable[[Path], DocumentStore]] = {
    "sqlite": _sqlite,
    "arango": _arango,
}

# Marks per factory.
STORE_MARKS: dict[str, list] = {"arango": [pytest.mark.arango]}


@pytest.fixture(
    params=[pytest.param(name, marks=STORE_MARKS.get(name, [])) for name in STORE_FACTORIES]
)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path):
    """Opens stores of one kind over the same location (to test reopening)."""
    opened: list[DocumentStore] = []
    factory = STORE_FACTORIES[request.param]

    def _open() -> DocumentStore:
        store = factory(tmp_path)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory) -> DocumentStore:
    return store_factory()
