"""The notes under an answer: stopped or failed, scope, fallback badge with its reasons,
quality notes (tiny-model extract, stopped loop, unsupported sentences), the summary line
(backend, model, timings), dropped sources and an interrupted answer."""

from __future__ import annotations

from typing import Any

import streamlit as st

from src.answer.answering import credit
from src.ui import render as md
from src.ui.errors import show_message


def answered_without_model(msg: dict[str, Any]) -> bool:
    """A refusal or a canned reply (nothing indexed, nothing found): no model or extract."""
    return msg.get("backend_name", msg.get("backend")) == "none"


def _summary_line(msg: dict[str, Any]) -> str:
    t = msg.get("timings") or {}
    if answered_without_model(msg):
        first = (
            "Not answered from the documents: no model was asked"
            if msg.get("mode") == "abstained"
            else "No model was asked"
        )
        parts = [first]
    else:
        who = credit(
            msg.get("answered_by") or "",
            backend=msg.get("backend") or "?",
            model=msg.get("model") or "",
            mode=msg.get("mode") or "",
        )
        parts = [f"Answered by **{md.escape_markdown(who)}**"]
    if isinstance(t.get("retrieval_ms"), (int, float)):
        parts.append(f"retrieval {t['retrieval_ms']:.0f} ms")
    if (
        isinstance(t.get("first_token_ms"), (int, float))
        and msg.get("backend_name") != "extractive"
    ):
        if t.get("first_text_ms", t["first_token_ms"]) < t["first_token_ms"]:  # evidence first
            parts.append(f"first text {t['first_text_ms'] / 1000:.1f} s")
        parts.append(f"first token {t['first_token_ms'] / 1000:.1f} s")
    if isinstance(t.get("tokens_per_s"), (int, float)) and msg.get("backend_name") != "extractive":
        parts.append(f"{t['tokens_per_s']:.1f} tokens/s")
    if isinstance(t.get("total_ms"), (int, float)):
        parts.append(f"total {t['total_ms'] / 1000:.1f} s")
    return " · ".join(parts)


def render(msg: dict[str, Any]) -> None:
    """Status line, fallback badge with reasons, truncation and interruption notes."""
    # "streaming" still set while history is drawn: a newer run (Stop, a new question)
    # superseded the one writing it; that run marks it stopped once it notices.
    if msg.get("stopped") or msg.get("streaming"):
        st.caption(":material/stop_circle: Stopped. Regenerate to get a full answer.")
    if msg.get("error"):
        show_message(msg["error"], msg.get("hint") or "")
    if msg.get("scope_note"):
        st.caption(":material/travel_explore: " + md.escape_markdown(msg["scope_note"]))
    if not msg.get("backend"):
        return
    if msg.get("fallback_note"):
        st.caption(":material/info: " + md.escape_markdown(msg["fallback_note"]))
    reasons = [f"{s['from']} → {s['to']}: {s['reason']}" for s in msg.get("switches", [])]
    switched = {s["from"] for s in msg.get("switches", [])}
    reasons += [
        f"{name} skipped: {why}"
        for name, why in (msg.get("skipped") or {}).items()
        if name not in switched and _before(name, msg.get("backend_name", ""), msg.get("chain", ()))
    ]
    extractive = msg.get("backend_name") == "extractive" or msg.get("mode") == "extract"
    if reasons or extractive:
        label = f"Fallback: {msg['backend']}" if reasons else "Extractive answer"
        st.badge(label, icon=":material/swap_horiz:", color="orange")
        if extractive:  # what answered, and why, is the summary line's ("answered_by")
            st.caption("No language model's text is shown: these are the most relevant passages.")
        for reason in reasons:
            st.caption(md.escape_markdown(reason))
    _render_quality_notes(msg)
    st.caption(_summary_line(msg))
    if msg.get("dropped_sources"):
        st.caption(
            f"{msg['dropped_sources']} lower-ranked source(s) did not fit the model's context "
            "and were left out of the prompt."
        )
    if msg.get("interrupted"):
        st.warning(
            "The answer was cut off: "
            + md.escape_markdown(msg.get("interrupt_reason") or "the engine stopped")
            + ". Regenerate to retry.",
            icon=":material/warning:",
        )


def _render_quality_notes(msg: dict[str, Any]) -> None:
    """Why the extract was shown (tiny model), a stopped loop, claims no source supports."""
    if msg.get("mode_reason") and msg.get("mode") in ("extract", "model+extract", "extract+model"):
        st.caption(":material/info: " + md.escape_markdown(msg["mode_reason"]))
    if msg.get("loop_stopped"):
        st.caption(
            ":material/info: The model started repeating itself; the answer was stopped there."
        )
    unsupported = msg.get("unsupported") or []
    if unsupported:
        st.caption(
            f":material/warning: {len(unsupported)} sentence(s) of this answer are not supported "
            "by any source (their citations were removed): "
            + md.escape_markdown(" / ".join(unsupported)[:300])
        )


def _before(name: str, answered_by: str, chain: Any) -> bool:
    """Whether backend ``name`` comes before ``answered_by`` in the answer's chain (so its skip
    made this a fallback answer). Backends after the one that answered do not matter."""
    chain = list(chain or ())
    if name not in chain or answered_by not in chain:
        return True
    return chain.index(name) < chain.index(answered_by)
