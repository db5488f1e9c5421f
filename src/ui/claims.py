"""The per-claim check under an answer: each cited sentence against the passage it cites.

``src/answer/claims.py`` decides (``check_claims``); this module shows it. A supported claim gets a
button that opens the cited page with the passage highlighted; a claim that its sources do not
support is marked, with what went wrong (cites a passage that does not say it, or cites
nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from src.ui import render, viewer

_NOTES = {
    "miscited": "The passage it cites does not say this.",
    "uncited": "No source is cited for this.",
}


def render_claims(answer: str, sources: Sequence[Any], *, turn: int) -> None:
    """An expander listing the answer's claims, supported ones linked to their highlight."""
    from src.answer.citations import strip_markers
    from src.answer.claims import check_claims

    if not answer or not sources:
        return
    checks = [c for c in check_claims(answer, sources) if c.status != "no_claim"]
    if not checks:
        return
    supported = sum(c.status == "supported" for c in checks)
    label = f"Claims checked: {supported} of {len(checks)} supported by the cited passage"
    with st.expander(label, icon=":material/fact_check:"):
        for i, check in enumerate(checks):
            text = render.escape_markdown(strip_markers(check.sentence))
            if check.status == "supported":
                number = check.best if check.best in check.cited else check.cited[0]
                scored = sources[number - 1]
                st.markdown(f":green[:material/check_circle:] {text}")
                st.button(f"See \\[{number}\\] on {scored.chunk.pages}", key=f"claim_{turn}_{i}",
                          icon=":material/visibility:", type="tertiary",
                          on_click=viewer.open_source, args=(scored,),
                          kwargs={"claim": strip_markers(check.sentence)})
            else:
                st.markdown(f":orange[:material/error:] {text}")
                st.caption(_NOTES.get(check.status, "Not supported by its sources."))
