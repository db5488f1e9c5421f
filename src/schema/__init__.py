"""The one typed schema of what crosses a process or the disk, a pydantic model per shape.

- ``answer.py``   passages, citations, the answer (the ``done`` event) and the streamed events
- ``library.py``  documents, search results, ingest jobs
- ``plans.py``    the backend chain and what answers the next question
- ``requests.py`` the bodies of ``POST /api/ask`` and ``POST /v1/search``
- ``chat_completion.py`` the body of OpenAI's ``POST /v1/chat/completions``
- ``errors.py``   the error body every API error sends
- ``chat.py``     a saved chat and its messages (``DATA_DIR/chats/``)
- ``status.py``   the sections of ``DATA_DIR/status.json``
- ``reports.py``  what ``keys list``, ``models list`` and ``doctor`` print with ``--json``

``src/service/wire.py`` converts between these and the in-process objects (``src/events.py``,
``shared_utils/types.py``); the API, the CLI's ``--json``, the remote client and the UI all go
through it, and docs/api.md's schema section is generated from the models
(``scripts/schema_docs.py``). Readers ignore fields they do not know and fill the ones an older
writer did not send, so old saved chats, old ``status.json`` files and old clients still load.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Base of every schema model: unknown fields are ignored when read (an older or newer
    writer wrote them); a model is a value (frozen)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
