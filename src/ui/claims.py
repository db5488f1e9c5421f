"""The per-claim check under an answer: each cited sentence against the passage it cites.

``src/answer/claims.py`` decides (``check_claims``), once, where the answer is made, and words
the summary; the checks arrive in the done event (``claims``) and are kept with the message.
This module shows them in their three states: ✓ where the cited passage states the claim (with a button that opens the
cited page with the passage highlighted), *not verified* where the passage shares its words
without stating it (the reader judges: the same button), and *not supported*, struck through
as in the answer, with what went wrong (cites a passage that does not say it, or cites
nothing). The downloaded Markdown and the API's done event carry the same verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from src.events import ClaimCheck
from src.service.wire import claim_from_dict, claim_to_dict
from src.ui import render, viewer

_NOTES = {
    "unverified": "Its passage shares these words but does not say this in so many words: "
    "read it to judge.",
    "contradicted": "The passage it cites says something else in these words.",
    "miscited": "The passage it cites does not say this.",
    "uncited": "No source is cited for this.",
}
_ICONS = {
    "supported": ":green[:material/check_circle:]",
    "unverified": ":grey[:material/help:]",
}


def claims_of_message(msg: dict[str, Any]) -> list[ClaimCheck]:
    """The checked claims of an answer message. A chat saved before answers carried their
    checks is checked here, once: the result is kept in the message."""
    if msg.get("claims") is None:
        from src.answer.claims import claims_of

        msg["claims"] = [
            claim_to_dict(c)
            for c in claims_of(str(msg.get("content", "")), msg.get("sources") or [])
        ]
    return [claim_from_dict(c) for c in msg["claims"]]


def render_claims(msg: dict[str, Any], *, turn: int) -> None:
    """An expander listing the answer's claims in their three states, the ones a cited passage
    backs linked to their highlight."""
    from src.answer.claims import listed, summary

    sources: Sequence[Any] = msg.get("sources") or []
    if not msg["content"] or not sources:
        return
    checks = claims_of_message(msg)
    if not checks:
        return
    with st.expander(f"Claims checked: {summary(checks)}", icon=":material/fact_check:"):
        for i, check in enumerate(checks):
            claim = listed(check.sentence)
            text = render.escape_markdown(claim)
            if check.status not in _ICONS:
                st.markdown(f":red[:material/cancel:] ~~{text}~~")
                st.caption(_NOTES.get(check.status, "Not supported by its sources."))
                continue
            st.markdown(f"{_ICONS[check.status]} {text}")
            if check.status in _NOTES:
                st.caption(_NOTES[check.status])
            stated = [n for n in check.stating if n in check.cited]
            number = (stated or list(check.cited))[0]
            scored = sources[number - 1]
            st.button(
                f"See \\[{number}\\] on {scored.chunk.pages}",
                key=f"claim_{turn}_{i}",
                icon=":material/visibility:",
                type="tertiary",
                on_click=viewer.open_source,
                args=(scored,),
                kwargs={"claim": claim},
            )
