"""The System page: environment profile and choices, component health, timings, versions."""

from __future__ import annotations

import platform
import time
from importlib import metadata
from typing import Any

import streamlit as st
import structlog

from src import __version__
from src.access.roles import admin_hint
from src.ui import api_keys, identity, render, state
from src.ui.errors import show_error

logger = structlog.get_logger(__name__)

_PROFILE_ROWS = (
    ("Hugging Face Space", "on_space", lambda v: "yes" if v else "no"),
    ("Container", "in_container", lambda v: "yes" if v else "no"),
    ("CPU cores (effective)", "cpu_cores", lambda v: f"{v:g}"),
    ("Memory (effective)", "memory_bytes", render.human_bytes),
    ("GPU", "gpu_name", lambda v: v or "none"),
    ("Free disk (data dir)", "disk_free_bytes", render.human_bytes),
    ("Engine", "engine", str),
    ("Model (answering)", "model", str),
    ("Recommended for this hardware", "recommended_model", str),
    ("Hardware tier", "tier", str),
    ("Context tokens", "context_tokens", str),
    ("Threads", "threads", str),
    ("First-token timeout", "first_token_timeout_s", lambda v: f"{v:g} s"),
    ("Retrieval top-k", "top_k", str),
    ("Backend chain", "backend_chain", lambda v: " → ".join(v) or "-"),
)
_PACKAGES = (
    "streamlit",
    "pymilvus",
    "milvus-lite",
    "sentence-transformers",
    "torch",
    "pypdfium2",
    "ollama",
    "huggingface-hub",
    "xllamacpp",
)


def _profile_dict() -> dict[str, Any]:
    """The live profile of this process (as the supervisor published it, plus the chain)."""
    from src.answer.answering import answering_now
    from src.models.backends import plan_backends

    prof = state.profile()
    plan = plan_backends(state.settings(), prof)
    # the model row is what answers, as the engine reports it (the same on Chat and Models)
    return {
        **prof.as_dict(),
        "backend_chain": list(plan.names),
        "model": answering_now(state.settings(), prof).name or prof.model,
        "recommended_model": prof.model,
    }


def _render_profile(profile: dict[str, Any]) -> None:
    st.subheader("Environment")
    if not profile:
        st.caption("No environment profile yet (it is detected when Olympus starts).")
        return
    rows = []
    for label, key, fmt in _PROFILE_ROWS:
        if key in profile and profile[key] is not None:
            try:
                value = fmt(profile[key])
            except (TypeError, ValueError):
                value = str(profile[key])
            rows.append({"": label, "value": render.escape_markdown(str(value))})
    st.table(rows, hide_index=True)
    reasons = profile.get("reasons") or []
    if reasons:
        with st.expander(f"Why these choices ({len(reasons)})", icon=":material/help:"):
            for reason in reasons:
                st.markdown("- " + render.escape_markdown(str(reason)))
    st.caption("Every choice can be overridden by its OLYMPUS_* setting (see README).")


def _health_rows(health: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Rows for the health table: component, OK/problem, detail.

    An optional backend that is not configured is "not set up" (grey), not a red problem.

    >>> _health_rows({"milvus": {"ok": True, "detail": "3 chunks"}})
    [{'component': 'milvus', 'status': ':green[ok]', 'detail': '3 chunks'}]
    >>> _health_rows({"hf_inference": {"ok": False, "set_up": False, "detail": "x"}})[0]["status"]
    ':gray[not set up]'
    """
    rows = []
    for name, info in health.items():
        ok = bool(info.get("ok"))
        detail = info.get("detail") or ", ".join(
            f"{k}: {v}" for k, v in info.items() if k not in ("ok", "detail", "set_up")
        )
        status = (
            ":green[ok]"
            if ok
            else (":gray[not set up]" if info.get("set_up") is False else ":red[problem]")
        )
        rows.append(
            {
                "component": render.escape_markdown(name),
                "status": status,
                "detail": render.escape_markdown(str(detail)),
            }
        )
    return rows


def _render_fallback_note() -> None:
    """The same note as on Chat and Models when a small fallback model serves."""
    try:
        note = state.pipeline().answering().note
    except Exception:  # noqa: BLE001 - the components table shows the failure
        return
    if note:
        st.warning(render.escape_markdown(note), icon=":material/info:")


def _render_health() -> None:
    st.subheader("Components")
    _render_fallback_note()
    status = state.status_file().typed()
    rows = []
    engine = status.engine if "engine" in status.model_fields_set else None
    if engine is not None:
        detail = ", ".join(x for x in (engine.engine, engine.model, engine.url) if x)
        if engine.last_error:
            detail += f" - last error: {engine.last_error}"
        if engine.restarts:
            detail += f" - restarts: {engine.restarts}"
        state_text = render.escape_markdown(engine.state or "?")
        rows.append(
            {
                "component": "engine",
                "status": f":green[{state_text}]"
                if engine.state == "ready"
                else f":orange[{state_text}]",
                "detail": render.escape_markdown(detail),
            }
        )
    try:
        rows += _health_rows(state.pipeline().health())
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="check the components")
    if rows:
        st.table(rows, hide_index=True)
    if engine is None:
        st.caption("No supervisor status: this app was not started by `python startup.py`.")


def _render_timings() -> None:
    st.subheader("Recent answers")
    log = state.timings()
    summary = log.summary()
    if not summary:
        st.caption("No answers yet in this process. Ask something on the Chat page.")
        return
    st.dataframe(summary, hide_index=True, width="stretch")
    recent = [
        {
            "when": time.strftime("%H:%M:%S", time.localtime(r.at)),
            "backend": r.backend,
            "retrieval": _shown(r.retrieval_ms, "ms"),
            "first token": _shown(r.first_token_ms, "s"),
            "tokens/s": _shown(r.tokens_per_s, ""),
            "prompt tokens": r.prompt_tokens,
        }
        for r in log.records()[:10]
    ]
    with st.expander("Last answers", icon=":material/timer:"):
        st.dataframe(recent, hide_index=True, width="stretch")


def _shown(value: float | None, unit: str) -> str:
    """Timings as a person reads them.

    >>> _shown(431.1672, "ms"), _shown(2345.6, "s"), _shown(7.8912, ""), _shown(None, "ms")
    ('431 ms', '2.3 s', '7.9', '-')
    """
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "s":
        return f"{value / 1000:.1f} s"
    return f"{value:.1f}"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _render_versions() -> None:
    st.subheader("Versions")
    rows = [
        {"": "Olympus", "version": __version__},
        {"": "Python", "version": platform.python_version()},
    ]
    rows += [{"": name, "version": _version(name)} for name in _PACKAGES]
    st.table(
        [{k: render.escape_markdown(v) for k, v in row.items()} for row in rows], hide_index=True
    )
    st.caption(f"{platform.system()} {platform.machine()} · data dir {state.settings().data_dir}")


def _render_access() -> None:
    """Who this browser is here, and how to enable what is off."""
    st.subheader("Access")
    access = identity.access()
    policy = access.policy
    role = {"admin": "administrator", "reader": "reader"}.get(access.role, "not signed in")
    st.write(f"This browser: **{role}**" + (" (signed in)." if access.signed_in else "."))
    if not access.is_admin:
        st.info(admin_hint(policy), icon=":material/admin_panel_settings:")
    if policy.on_space and not policy.model_pulls:
        st.caption(
            "Model downloads from the app are off on this Space "
            "(OLYMPUS_ALLOW_MODEL_PULLS=true turns them on)."
        )


def render_page() -> None:
    st.title("System")
    _render_access()
    api_keys.render(identity.access())
    try:
        profile = _profile_dict()
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="detect the environment")
        profile = {}
    _render_profile(profile)
    _render_health()
    _render_timings()
    _render_versions()
