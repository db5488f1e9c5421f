"""The per-claim check under an answer: each cited sentence against the passage it cites.

``src/answer/claims.py`` decides (``check_claims``), once, where the answer is made; the checks
arrive in the done event (``claims``) and are kept with the message; this module shows them. A supported claim gets a
button that opens the cited page with the passage highlighted; a claim that its sources do not
support is marked, with what went wrong (cites a passage that does not say it, or cites
nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from src.events import ClaimCheck
from src.service.wire import claim_from_dict, claim_to_dict
from src.ui import render, viewer

_NOTES = {
    "miscited": "The passage it cites does not say this.",
    "uncited": "No source is cited for this.",
}


def claims_of_message(msg: dict[str, Any]) -> list[ClaimCheck]:
    """The checked claims of an answer message. A chat saved before answers carried their
    checks is checked here, once: the result is kept in the message."""
    if msg.get("claims") is None:
        from src.answer.claims import claims_of

        msg["claims"] = [claim_to_dict(c)
                         for c in claims_of(msg["content"], msg.get("sources") or [])]
    return [claim_from_dict(c) for c in msg["claims"]]


def render_claims(msg: dict[str, Any], *, turn: int) -> None:
    """An expander listing the answer's claims, supported ones linked to their highlight."""
    from src.answer.citations import strip_markers

    sources: Sequence[Any] = msg.get("sources") or []
    if not msg["content"] or not sources:
        return
    checks = claims_of_message(msg)
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
