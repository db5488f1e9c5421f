"""The Chat page: ask questions, watch the answer stream, check its sources.

The conversation is this session's current chat (``src/ui/chat_list.py``), saved for this
browser after every answer; its model and settings come from ``src/ui/chat_settings.py``.
Sources are
drawn as soon as retrieval finishes, before the first token; tokens update a placeholder
one by one. The Stop button (or a new question) makes Streamlit rerun the script, which
interrupts this run at its next element update: the event generator is then closed
(``finally``), which ends generation in the backend, and the partial answer is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st
import structlog

from shared_utils.errors import OlympusError
from src.answer.condense import turns_of
from src.chat_store import title_of
from src.events import (
    BackendSwitchEvent,
    DoneEvent,
    QueueEvent,
    SourcesEvent,
    StatusEvent,
    TokenEvent,
)
from src.protocols import Pipeline
from src.schema.chat import answer_fields
from src.ui import (
    answer_notes,
    chat_list,
    chat_settings,
    claims,
    documents,
    navigation,
    render,
    scope_note,
    state,
    transcript,
    viewer,
)
from src.ui import sources as sources_panel
from src.ui.errors import friendly, show_error

logger = structlog.get_logger(__name__)

PENDING = "chat_pending_question"
SCOPE = "chat_scope"
NO_DOCUMENTS = (
    "No document is indexed yet. Open **Documents** in the menu and drop one or more PDF "
    "files there; you can ask questions as soon as the first one is indexed."
)


def _messages() -> list[dict[str, Any]]:
    return chat_list.current()["messages"]


def _turn_of(index: int) -> int:
    """1-based number of the answer at ``index`` in the message list."""
    return sum(1 for m in _messages()[: index + 1] if m["role"] == "assistant")


# --- rendering of one answer -------------------------------------------------------------------
def _render_sources(sources: list[Any], *, turn: int, question: str, expanded: bool) -> None:
    sources_panel.render_sources(sources, turn=turn, question=question, expanded=expanded)


def _render_message(index: int, msg: dict[str, Any], *, last: bool) -> None:
    if msg["role"] == "user":
        with st.chat_message("user"):
            st.markdown(render.escape_markdown(msg["content"]))
        return
    turn = _turn_of(index)
    with st.chat_message("assistant"):
        sources = msg.get("sources") or []
        st.markdown(render.answer_markdown(msg["content"], turn=turn, n_sources=len(sources)))
        answer_notes.render(msg)
        _render_sources(
            sources, turn=turn, question=msg.get("query") or msg.get("question", ""), expanded=last
        )
        if not msg.get("streaming") and not answer_notes.answered_without_model(msg):
            claims.render_claims(msg, turn=turn)
        if last and msg.get("question"):
            st.button(
                "Regenerate",
                icon=":material/refresh:",
                key=f"regenerate_{turn}",
                on_click=_regenerate,
                type="tertiary",
            )


def _regenerate() -> None:
    msgs = _messages()
    if msgs and msgs[-1]["role"] == "assistant":
        question = msgs[-1].get("question", "")
        del msgs[-1]
        if msgs and msgs[-1]["role"] == "user":
            del msgs[-1]
        st.session_state[PENDING] = question
        chat_list.save()


# --- asking ------------------------------------------------------------------------------------
KEPT_STOPPED = "chat_kept_stopped"  # (chat id, messages) of the stopped answer last saved


def _ask(pipeline: Pipeline, question: str, doc_ids: list[str] | None) -> None:
    """Stream one answer into the page, append the turn to the chat and save it."""
    history = turns_of(_messages())
    msgs = _messages()
    turn = _turn_of(len(msgs) - 1) + 1
    with st.chat_message("user"):
        st.markdown(render.escape_markdown(question))
    msg: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "question": question,
        "sources": [],
        "switches": [],
        "skipped": {},
        "backend": "",
        "timings": {},
        "streaming": True,
    }
    msgs.append({"role": "user", "content": question})
    msgs.append(msg)  # kept (partial) even when the run is stopped
    done = False
    events = None
    with st.chat_message("assistant"):
        status = st.empty()
        stop = st.empty()
        stop.button(
            "Stop",
            icon=":material/stop_circle:",
            key="chat_stop",
            type="secondary",
            help="Stop writing this answer (the part written so far is kept)",
        )
        answer = st.empty()
        notes = st.container()
        sources_box = st.container()
        status.caption(":material/search: Searching your documents...")
        started = time.perf_counter()
        try:
            events = pipeline.ask(
                question,
                history=history,
                doc_ids=doc_ids,
                options=chat_settings.options_for(chat_list.current()),
                owner=documents.owner(),
            )
            view = _View(status, answer, sources_box, turn)
            for event in events:
                if _show(view, msg, event):
                    done = True
                    msg["scope_note"] = scope_note.outside(pipeline, msg, doc_ids)
        except Exception as exc:
            message, hint = friendly(exc)
            if not isinstance(exc, OlympusError):
                logger.exception("ui.ask.failed")
            msg["error"], msg["hint"] = message, hint
            done = True
        finally:
            if events is not None and hasattr(events, "close"):
                events.close()  # stops generation when the user pressed Stop
            msg.pop("streaming", None)
            if not done:
                msg["stopped"] = True
                logger.info("ui.ask.stopped", seconds=round(time.perf_counter() - started, 2))
            chat_list.save()  # also a stopped answer: the partial text is kept
        status.empty()
        stop.empty()
        answer.markdown(
            render.answer_markdown(msg["content"], turn=turn, n_sources=len(msg["sources"]))
        )
        with notes:
            answer_notes.render(msg)
    st.rerun()  # redraw as history, with the Regenerate button under the new answer


@dataclass(frozen=True, slots=True)
class _View:
    """Where one streaming answer is drawn."""

    status: Any
    answer: Any
    sources_box: Any
    turn: int


def _show(view: _View, msg: dict[str, Any], event: Any) -> bool:
    """Draw one event of the answer stream and record it in ``msg``; True for the last one."""
    if isinstance(event, SourcesEvent):
        msg["sources"] = list(event.sources)
        msg["query"] = event.query or msg["question"]
        with view.sources_box:  # collapsed: the answer and Stop stay in view
            _render_sources(msg["sources"], turn=view.turn, question=msg["query"], expanded=False)
        view.status.caption(
            f":material/hourglass_top: Found {len(event.sources)} passages in "
            f"{event.retrieval_ms:.0f} ms; writing the answer..."
        )
    elif isinstance(event, StatusEvent):
        view.status.caption(":material/hourglass_top: " + render.escape_markdown(event.message))
    elif isinstance(event, QueueEvent):
        view.status.caption(
            ":material/groups: Other questions are being answered: "
            + render.escape_markdown(event.message)
        )
    elif isinstance(event, BackendSwitchEvent):
        msg["switches"].append(
            {"from": event.from_backend, "to": event.to_backend, "reason": event.reason}
        )
        view.status.caption(
            f":material/swap_horiz: {render.escape_markdown(event.from_backend)} "
            f"unavailable, switching to {render.escape_markdown(event.to_backend)}..."
        )
    elif isinstance(event, TokenEvent):
        if not msg["content"]:
            view.status.caption(":material/edit_note: Writing the answer...")
        msg["content"] += event.text
        view.answer.markdown(
            render.answer_markdown(msg["content"], turn=view.turn, n_sources=len(msg["sources"]))
            + " ▌"
        )
    elif isinstance(event, DoneEvent):
        _finish(msg, event)
        return True
    return False


def _finish(msg: dict[str, Any], event: DoneEvent) -> None:
    msg.update(answer_fields(event, msg["content"]))
    if event.sources:
        msg["sources"] = list(event.sources)
    state.timings().add_done(
        event.backend_name or event.backend, event.timings, event.prompt_tokens
    )


# --- page --------------------------------------------------------------------------------------
def _scope_selector(documents: list[Any]) -> list[str] | None:
    ids = [d.id for d in documents]
    names = {d.id: d.name for d in documents}
    current = [i for i in st.session_state.get(SCOPE, []) if i in names]
    if current != st.session_state.get(SCOPE):
        st.session_state[SCOPE] = current
    chosen = st.multiselect(
        "Search in",
        ids,
        key=SCOPE,
        format_func=lambda i: names.get(i, i),
        placeholder="All documents",
        help="Limit answers to the chosen documents; leave empty to search everything.",
    )
    return list(chosen) or None


def _toolbar(msgs: list[dict[str, Any]]) -> None:
    left, right = st.columns([1, 1], gap="small")
    with left:
        st.download_button(
            "Download",
            transcript.to_markdown(
                msgs, title=title_of(chat_list.current()), threshold=sources_panel.threshold()
            ),
            file_name=transcript.file_name(),
            mime="text/markdown",
            icon=":material/download:",
            disabled=not msgs,
            type="tertiary",
            on_click="ignore",
        )
    with right:
        st.button(
            "New chat",
            icon=":material/add_comment:",
            on_click=chat_list.start_new,
            disabled=not msgs,
            type="tertiary",
            key="chat_new_below",
        )


def _keep_interrupted(msgs: list[dict[str, Any]]) -> None:
    """Save an answer that Stop (or a new question) cut off, marked stopped. The run that was
    streaming it is interrupted where Streamlit chooses, and its own save may not happen: the
    next run (the one Stop started) keeps the exchange instead, once."""
    last = msgs[-1] if msgs else None
    if last is None or last.get("role") != "assistant":
        return
    if last.pop("streaming", None):
        last["stopped"] = True
    if not last.get("stopped"):
        return
    key = (chat_list.current().get("id"), len(msgs))
    if st.session_state.get(KEPT_STOPPED) != key:
        chat_list.save()
        st.session_state[KEPT_STOPPED] = key


def render_page() -> None:
    st.title("Chat")
    _keep_interrupted(_messages())  # before the sidebar lists the chats: a new one shows
    chat_list.render_sidebar()
    try:
        pipeline = state.pipeline()
        documents = [d for d in pipeline.documents() if getattr(d, "status", "ready") == "ready"]
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="open the document library")
        return
    plan = chat_settings.plan_of(pipeline)
    answering = chat_settings.answering_of(pipeline)
    scope_col, model_col = st.columns([3, 2], vertical_alignment="bottom")
    with scope_col:
        doc_ids = _scope_selector(documents) if documents else None
    with model_col:
        chat_settings.render_picker(chat_list.current(), plan, chat_list.save, answering)
    chat_settings.render_fallback_note(answering)
    chat_list.show_save_error()
    msgs = _messages()
    if not documents:
        st.info(NO_DOCUMENTS, icon=":material/upload_file:")
        st.page_link(navigation.documents_page(), label="Add documents", icon=":material/upload:")
    elif not msgs:
        pages = sum(d.pages for d in documents)
        st.caption(
            f"Ask anything about your {len(documents)} document(s) ({pages} pages). Answers "
            "cite their sources as [n]: click one to see the passage and its page."
        )
    for i, msg in enumerate(msgs):
        _render_message(i, msg, last=i == len(msgs) - 1)
    if msgs:
        _toolbar(msgs)
        viewer.listen_for_citations(
            {
                _turn_of(i): m.get("sources") or []
                for i, m in enumerate(msgs)
                if m["role"] == "assistant"
            }
        )
    viewer.render_open_viewer()
    question = st.chat_input(
        "Ask a question about your documents",
        key="chat_input",
        max_chars=state.settings().max_query_chars,
    )
    question = question or st.session_state.pop(PENDING, None)
    if not question or not str(question).strip():
        return
    question = str(question).strip()
    if not documents:
        msgs.append({"role": "user", "content": question})
        msgs.append(
            {"role": "assistant", "content": NO_DOCUMENTS.replace("**", ""), "question": ""}
        )
        st.rerun()
    _ask(pipeline, question, doc_ids)
