"""The Models page: active model and engine, recommendation, installed models, pull.

Download progress and a failed pull are shown next to the Download buttons (where the user
started it), at the bottom; the top only points there while a download runs.

Download progress is read from the supervisor's status file (section ``provisioning``), not
from the browser session, so it survives a page refresh and shows downloads started by the
supervisor itself. A pull asked for here runs in a background thread of the Streamlit
process (``src/ui/model_tasks.py``) that writes the same section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st
import structlog

from src.ui import admin, identity, model_tasks, render, state
from src.ui.errors import show_error

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

WAS_PULLING = "models_was_pulling"


def _render_active(profile: Profile, status: dict[str, Any]) -> None:
    from src.answer.answering import answering_now
    from src.models.backends import plan_backends

    engine = status.get("engine") or {}
    plan = plan_backends(state.settings(), profile, status=status)
    answering = answering_now(state.settings(), profile)
    engine_name = engine.get("engine") or profile.engine or "-"
    left, right = st.columns(2)
    running = bool(engine.get("state"))
    # the whole name: "source extracts (model X is too small to write)" does not fit a metric
    left.caption("Answering" if running else "Chosen")
    left.markdown(f"**{render.escape_markdown(answering.name or '-')}**")
    right.caption("Engine" if running else "Engine (not running)")
    right.markdown(
        f"**{render.escape_markdown(engine_name)}**"
        + (f" ({render.escape_markdown(str(engine['state']))})" if running else "")
    )
    if answering.note:
        st.warning(render.escape_markdown(answering.note), icon=":material/info:")
    st.caption(
        "Answer backends, in order: " + " → ".join(render.escape_markdown(c) for c in plan.names)
    )
    if not engine:
        st.caption("No supervisor status: start Olympus with `python startup.py` to run an engine.")


def _render_progress() -> None:
    """Live download/import progress from the status file (polled while a pull runs)."""
    prov = state.status_file().typed().provisioning
    phase = prov.phase
    running = phase not in model_tasks.TERMINAL_PHASES
    if st.session_state.get(WAS_PULLING) and not running:
        st.session_state[WAS_PULLING] = False
        st.rerun(scope="app")  # the pull finished: refresh the installed models
    st.session_state[WAS_PULLING] = running
    if not phase or phase == "pending":
        return
    model = render.escape_markdown(prov.model or "model")
    if phase == "ready":
        from src.models.active import read_active
        from src.models.backends import chosen_after_provisioning

        # a model chosen with models use since then answers: this one is news no longer
        if not chosen_after_provisioning(read_active(state.settings()), prov):
            st.success(f"{model} is ready.", icon=":material/check_circle:")
        return
    if phase == "skipped":
        return
    if phase == "failed":
        st.error(
            f"Model download failed: {render.escape_markdown(prov.error or '')}",
            icon=":material/error:",
        )
        return
    total, done = prov.total, prov.bytes
    fraction = min(1.0, done / total) if total else 0.0
    parts = [f"{model}: {render.escape_markdown(phase)}"]
    if total:
        parts.append(f"{render.human_bytes(done)} of {render.human_bytes(total)}")
    if prov.speed:
        parts.append(f"{render.human_bytes(prov.speed)}/s")
    if prov.eta_s is not None:
        parts.append(f"about {render.human_duration(prov.eta_s)} left")
    st.progress(fraction, text=" · ".join(parts))
    if prov.message:
        st.caption(render.escape_markdown(prov.message))


def progress_active() -> bool:
    return model_tasks.pull_running(state.status_file())


def _render_recommendation(profile: Profile) -> None:
    st.subheader("Recommended for this machine")
    try:
        from src.models.catalog import load_catalog

        catalog = load_catalog(state.settings().catalog_path)
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="read the model catalog")
        return
    model_id = profile.model
    try:
        entry = catalog.get(model_id) if model_id else catalog.offline_entry
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="find the recommended model")
        return
    source = entry.repo or f"bundled with the {entry.package} package"
    st.markdown(
        f"**{render.escape_markdown(entry.id)}** ({render.escape_markdown(entry.quant)}, "
        f"{entry.size_gb:g} GB, needs about {entry.ram_gb:g} GB RAM, "
        f"context {entry.context_tokens} tokens) from {render.escape_markdown(source)}. "
        f"Licence: {render.escape_markdown(entry.licence)}."
    )
    reasons = [r for r in profile.reasons if str(r).startswith("model")]
    if reasons:
        with st.expander("Why this model", icon=":material/help:"):
            for reason in reasons:
                st.markdown("- " + render.escape_markdown(str(reason)))
    with st.expander(f"Catalog ({len(catalog.entries)} models)", icon=":material/list:"):
        st.dataframe(
            [
                {
                    "id": e.id,
                    "tier": e.tier,
                    "quant": e.quant,
                    "size GB": e.size_gb,
                    "RAM GB": e.ram_gb,
                    "repo": e.repo or e.package,
                    "licence": e.licence,
                    "gated": e.gated,
                }
                for e in catalog.entries
            ],
            hide_index=True,
            width="stretch",
        )


def _render_installed() -> None:
    st.subheader("Installed models")
    try:
        models = model_tasks.installed_models(state.settings(), state.profile())
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="list the installed models")
        return
    if not models:
        st.caption("No models installed yet.")
        return
    # a table that wraps: long names and paths are shown in full, "active" stays in view
    st.table(
        [
            {
                "name": render.escape_markdown(str(m["name"])),
                "active": "✓" if m["active"] else "",
                "size GB": "-" if m["size GB"] is None else f"{m['size GB']:g}",
                "where": render.escape_markdown(str(m["where"])),
            }
            for m in models
        ],
        hide_index=True,
    )
    names = [str(m.get("name")) for m in models]
    access = identity.access()
    if not access.is_admin:
        admin.explain_admin_only(access, "switch or delete models")
        return
    with st.expander("Use or delete a model", icon=":material/tune:"):
        name = st.selectbox("Model", names, key="models_pick")
        use, delete = st.columns(2)
        if use.button("Use this model", key="models_use", icon=":material/check:"):
            try:
                message = model_tasks.use_model(state.settings(), state.profile(), name, access)
            except Exception as exc:  # noqa: BLE001 - entry point
                show_error(exc, doing="switch the model")
            else:
                _render_used(message or f"Active model: {name}")
        confirm = st.checkbox("Yes, delete it", key="models_delete_confirm")
        if delete.button(
            "Delete", key="models_delete", icon=":material/delete:", disabled=not confirm
        ):
            try:
                model_tasks.delete_model(state.settings(), state.profile(), name, access)
            except Exception as exc:  # noqa: BLE001 - entry point
                show_error(exc, doing="delete the model")
            else:
                st.success(f"Deleted {render.escape_markdown(name)}.", icon=":material/delete:")


def _render_used(message: str) -> None:
    """The choice is recorded; it answers the next question unless a setting chooses the
    model (``src/models/operations.py``), which is then named with what to do."""
    from src.models.operations import overriding_setting

    setting, _, model = overriding_setting(state.settings(), state.profile())
    first = render.escape_markdown(message.split("\n")[0])
    if setting:
        st.warning(
            f"{first}. It does not answer yet: the setting "
            f"{render.escape_markdown(setting)} chooses the model "
            f"({render.escape_markdown(model)}) and takes precedence. Unset "
            f"{render.escape_markdown(setting)} and restart Olympus for this choice to "
            "take effect.",
            icon=":material/warning:",
        )
        return
    st.success(f"{first}. It answers the next question.", icon=":material/check_circle:")


def _recommended_entry(profile: Profile) -> Any:
    from src.models.catalog import load_catalog

    model_id = profile.model
    return load_catalog(state.settings().catalog_path).get(model_id) if model_id else None


def _render_pull_recommended(profile: Profile, access: Any) -> None:
    """One click for the hardware recommendation when another model is answering."""
    try:
        entry = _recommended_entry(profile)
    except Exception:  # noqa: BLE001 - the recommendation section shows catalog errors
        return
    if entry is None or not entry.repo:
        return
    if model_tasks.answering_model(state.settings(), profile) == entry.id:
        return
    offline = model_tasks.hub_unreachable(state.settings())
    if offline:
        st.caption(
            f"The recommended model {render.escape_markdown(entry.id)} is not installed; "
            f"{render.escape_markdown(offline)}, so it cannot be downloaded now."
        )
        return
    if st.button(
        f"Download the recommended model ({entry.id}, {entry.size_gb:g} GB)",
        key="models_pull_recommended",
        icon=":material/download:",
        type="primary",
    ):
        try:
            model_tasks.start_pull(state.settings(), profile, entry.repo, entry.quant, access)
        except Exception as exc:  # noqa: BLE001 - entry point: shown next to the button
            show_error(exc, doing="start the download")
            return
        st.rerun()


def _render_pull() -> None:
    st.subheader("Download a model from the Hugging Face Hub")
    access = identity.access()
    if not access.is_admin:
        admin.explain_admin_only(access, "download models")
        return
    if not access.policy.model_pulls:
        st.caption(
            "Downloading models from the app is off on this Space; set "
            "OLYMPUS_ALLOW_MODEL_PULLS=true in the Space's variables to allow it."
        )
        return
    _render_pull_recommended(state.profile(), access)
    offline = model_tasks.hub_unreachable(state.settings())
    with st.form("models_pull", border=True):
        repo = st.text_input("Repository", placeholder="Qwen/Qwen2.5-1.5B-Instruct-GGUF")
        quant = st.text_input("Quantization or file", placeholder="Q4_K_M")
        submitted = st.form_submit_button(
            "Download", icon=":material/download:", type="primary", disabled=bool(offline)
        )
        if offline:
            st.caption(
                f":material/cloud_off: Download is off: {render.escape_markdown(offline)}. "
                "Reload this page when the server is back online."
            )
    st.caption(
        "The download runs on the server and continues if you close this page; "
        "progress shows below. Gated repos need HF_TOKEN."
    )
    if not submitted:
        return
    try:
        model_tasks.start_pull(state.settings(), state.profile(), repo, quant, access)
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="start the download")
        return
    st.rerun()


def render_page() -> None:
    st.title("Models")
    profile = state.profile()
    status = state.status_file().read()
    _render_active(profile, status)
    if progress_active():
        st.caption(
            ":material/downloading: A model download is running: its progress is at "
            "the bottom of this page."
        )
    _render_recommendation(profile)
    _render_installed()
    _render_pull()
    st.fragment(_render_progress, run_every=1.0 if progress_active() else None)()
