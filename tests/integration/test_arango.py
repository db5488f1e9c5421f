"""Olympus on a real ArangoDB: runs when OLYMPUS_ARANGO_URL points at one (skipped here)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.fixtures.pdfs import make_text_pdf

ARANGO_URL = os.environ.get("OLYMPUS_ARANGO_URL", "")
ARANGO_PASSWORD = os.environ.get("OLYMPUS_ARANGO_PASSWORD", "")

pytestmark = [
    pytest.mark.arango,
    pytest.mark.skipif(not ARANGO_URL, reason="no ArangoDB here: set OLYMPUS_ARANGO_URL"),
]


@pytest.fixture
def arango_library(data_dir):
    from src.library.library import Library
    from src.settings import load_settings

    db_name = f"olympus_it_{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        data_dir=data_dir,
        arango_url=ARANGO_URL,
        arango_password=ARANGO_PASSWORD,
        arango_db=db_name,
        keyword_index="arango",
    )
    library = Library.open(settings)
    yield library
    library.close()
    from arango import ArangoClient

    ArangoClient(hosts=ARANGO_URL).db("_system", "root", ARANGO_PASSWORD).delete_database(
        db_name, ignore_missing=True
    )


def test_ingest_search_and_delete_on_arangodb(arango_library):
    pdf = make_text_pdf(
        ["Introduction to the appliance.", "The flux capacitor needs 1.21 gigawatts."]
    )
    result = arango_library.ingest_bytes(pdf, "flux.pdf")
    time.sleep(1.5)  # ArangoSearch commits its view about once a second
    hits = arango_library.search("how much power does the flux capacitor need").results
    assert hits and hits[0].chunk.page_start <= 2 <= hits[0].chunk.page_end
    arango_library.delete_document(result.doc.id)
    assert arango_library.documents() == []


def test_wrong_password_is_a_clear_error(data_dir):
    from shared_utils.errors import StoreUnavailable
    from src.library.library import Library
    from src.settings import load_settings

    settings = load_settings(
        data_dir=data_dir, arango_url=ARANGO_URL, arango_password="wrong-" + ARANGO_PASSWORD
    )
    with pytest.raises(StoreUnavailable, match="credentials"):
        Library.open(settings)
