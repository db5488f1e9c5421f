"""What the pages show about the admin role, and the document action that needs it.

Admin actions check the role where they act (``Access.require_admin``), not only by
hiding their buttons: ``delete_document`` here, and ``use_model``, ``delete_model`` and
``start_pull`` in ``model_tasks.py``. A reader calling one directly gets ``Forbidden``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
import structlog

from src.access.roles import Access, admin_hint
from src.protocols import Pipeline

logger = structlog.get_logger(__name__)


def delete_document(pipeline: Pipeline, doc_id: str, access: Access) -> Any:
    """Delete a document from every index (admin only); returns its record."""
    access.require_admin("delete documents")
    record = pipeline.delete_document(doc_id)
    logger.info("ui.document.deleted", doc_id=doc_id, browser=access.browser_id[:8])
    return record


def explain_admin_only(access: Access, what: str) -> None:
    """A caption in place of admin controls: what is reserved and how to get the role."""
    st.caption(f"Only an administrator may {what}. {admin_hint(access.policy)}")
