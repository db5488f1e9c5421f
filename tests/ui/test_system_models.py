"""System and Models pages: profile with reasons, health, timings, versions; models, progress."""

from __future__ import annotations

from src.status import StatusFile
from src.ui import state
from tests.ui.conftest import all_text, unescape


def test_system_page_shows_profile_health_and_versions(app_env, make_app, embedder):
    at = make_app("system")
    assert not at.exception
    text = all_text(at)
    for heading in ("Environment", "Components", "Recent answers", "Versions"):
        assert heading in text
    tables = "\n".join(str(t.proto) for t in at.get("table"))
    assert "CPU cores" in tables and "Backend chain" in tables
    assert "streamlit" in tables
    assert at.expander and at.expander[0].label.startswith("Why these choices")


def test_models_page_progress_comes_from_the_status_file(app_env, make_app):
    status = StatusFile(app_env / "status.json")
    status.replace("engine", engine="llamacpp", state="ready", model="qwen2.5-0.5b-instruct")
    status.replace(
        "provisioning",
        phase="download",
        bytes=50 * 1024**2,
        total=200 * 1024**2,
        percent=25.0,
        speed=4 * 1024**2,
        eta_s=37.5,
        model="qwen2.5-0.5b-instruct",
    )
    at = make_app("models")
    assert not at.exception
    bars = at.get("progress")
    assert bars, "a progress bar while the supervisor downloads"
    label = bars[0].proto.text
    assert "50.0 MB of 200.0 MB" in label and "4.0 MB/s" in label and "about 38 s left" in label
    assert "Recommended for this machine" in all_text(at)
    # a refresh (new session) still shows it: it lives in the status file
    status.update("provisioning", phase="ready")
    again = make_app("models")
    assert "is ready" in all_text(again)


def test_pull_is_refused_while_another_download_runs(app_env, reachable_hub, make_app):
    StatusFile(app_env / "status.json").replace("provisioning", phase="download", bytes=1, total=10)
    at = make_app("models")
    at.text_input[0].input("Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    at.text_input[1].input("Q4_K_M")
    at.form_submit_button[0].click().run()
    assert "already running" in all_text(at)


def test_download_is_off_with_the_reason_when_the_hub_cannot_be_reached(
    app_env, make_app, monkeypatch
):
    """No connection to the Hub (app_env's endpoint is a closed port), or offline mode: the
    Download button is disabled and the page says why; with the Hub reachable it is on."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    at = make_app("models")
    assert at.form_submit_button[0].disabled
    assert "Download is off: the Hugging Face Hub (127.0.0.1) cannot be reached" in all_text(at)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    state.reset()  # settings are read once per process
    at = make_app("models")
    assert at.form_submit_button[0].disabled
    assert "set to work offline (HF_HUB_OFFLINE)" in all_text(at)


def test_download_is_on_when_the_hub_can_be_reached(app_env, reachable_hub, make_app):
    at = make_app("models")
    assert not at.form_submit_button[0].disabled
    assert "Download is off" not in all_text(at)


def test_the_answering_model_is_listed_even_outside_the_models_folder(
    app_env, make_app, monkeypatch, tmp_path
):
    """A GGUF given by OLYMPUS_LLAMACPP_MODEL_PATH, outside DATA_DIR/models: the model that
    answers is in "Installed models", ticked, under its full name."""
    import shutil

    from src.models.model_files import bundled_gguf

    gguf = tmp_path / "elsewhere" / "SmolLM2-135M-Instruct-a-rather-long-file-name.Q4_1.gguf"
    gguf.parent.mkdir()
    shutil.copyfile(bundled_gguf(), gguf)
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.setenv("OLYMPUS_ENGINE", "llamacpp")
    monkeypatch.setenv("OLYMPUS_LLAMACPP_MODEL_PATH", str(gguf))
    at = make_app("models")
    assert not at.exception
    rows = _installed(at).set_index("name")
    assert gguf.name in rows.index, list(rows.index)
    assert bool(rows.loc[gguf.name]["active"]) and rows.loc[gguf.name]["where"] == str(gguf)
    assert [r for r in rows.index if bool(rows.loc[r]["active"])] == [gguf.name]
    assert gguf.name in all_text(at)  # named in full where the page says what answers


def _installed(at):
    """The installed-models table (the one with a 'where' column), as the user reads it."""
    table = next(t.value for t in at.table if "where" in t.value.columns)
    return table.map(lambda v: unescape(v) if isinstance(v, str) else v)


def test_use_a_model_records_it_as_active(app_env, make_app):
    """'Use this model' records it (as `models use` does) and it is shown as active."""
    import json

    at = make_app("models")
    names = list(_installed(at)["name"])
    bundled = next(n for n in names if "smollm2" in n.lower())
    at.selectbox(key="models_pick").set_value(bundled)
    at.button(key="models_use").click().run(timeout=120)
    assert not at.error, [e.value for e in at.error]
    assert "It answers the next question" in all_text(at)
    record = json.loads((app_env / "active_model.json").read_text())
    assert record["name"] == bundled
    again = make_app("models")
    row = _installed(again).set_index("name").loc[bundled]
    assert bool(row["active"]) is True


def test_use_a_model_says_which_setting_overrides_the_choice(app_env, make_app, monkeypatch):
    """OLYMPUS_LLAMACPP_MODEL_PATH chooses the model: 'Use this model' records the choice but
    does not claim it answers the next question; it names the setting and what to do."""
    from src.models.model_files import bundled_gguf

    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.setenv("OLYMPUS_LLAMACPP_MODEL_PATH", str(bundled_gguf()))
    folder = app_env / "models" / "owner--tiny-GGUF"
    folder.mkdir(parents=True)
    (folder / "tiny-q4_k_m.gguf").write_bytes(b"GGUF" + bytes(1024))
    at = make_app("models")
    at.selectbox(key="models_pick").set_value("tiny-q4_k_m.gguf")
    at.button(key="models_use").click().run(timeout=120)
    assert not at.error, [e.value for e in at.error]
    shown = all_text(at)
    assert "It answers the next question" not in shown
    warning = unescape("\n".join(w.value for w in at.warning))
    assert "does not answer yet: the setting OLYMPUS_LLAMACPP_MODEL_PATH chooses" in warning
    assert "Unset OLYMPUS_LLAMACPP_MODEL_PATH and restart" in warning


def test_delete_a_downloaded_model_removes_its_file(app_env, make_app):
    folder = app_env / "models" / "owner--tiny-GGUF"
    folder.mkdir(parents=True)
    gguf = folder / "tiny-q4_k_m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(1024))
    at = make_app("models")
    name = next(n for n in _installed(at)["name"] if "tiny" in n.lower())
    at.selectbox(key="models_pick").set_value(name)
    at.checkbox(key="models_delete_confirm").check().run()
    at.button(key="models_delete").click().run(timeout=120)
    assert not at.error, [e.value for e in at.error]
    assert "Deleted" in all_text(at) and not gguf.exists()
    assert not any("tiny" in n.lower() for n in _installed(make_app("models"))["name"])


def test_the_offline_fallback_is_named_the_same_on_chat_models_and_system(
    app_env, make_app, monkeypatch
):
    """The recommended model could not be downloaded and SmolLM2 serves: every page says so,
    and names what answers: the source extracts, since the 135M model is too small to write."""
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    StatusFile(app_env / "status.json").replace(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-instruct",
        notes=["Hub unreachable"],
    )
    for page in (None, "models", "system"):
        at = make_app(page)
        assert not at.exception
        warnings = unescape("\n".join(w.value for w in at.warning))
        assert (
            "Answering now: source extracts (model smollm2-135m-instruct is too small to "
            "write), because"
        ) in warnings, page
        assert "could not be downloaded" in warnings, page


def test_a_model_chosen_after_the_fallback_is_said_to_be_the_users_choice(
    app_env, make_app, monkeypatch
):
    """After the offline fallback the user picks a model with `models use`: the Models page
    says it was chosen so, not that the recommended one failed, nor that the fallback is
    ready."""
    import time

    from src.models.active import write_active

    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    StatusFile(app_env / "status.json").replace(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-offline",
        notes=["Hub unreachable"],
    )
    time.sleep(0.01)
    write_active(state.settings(), name="qwen2.5-coder.gguf", path=str(app_env / "q.gguf"))
    at = make_app("models")
    assert not at.exception
    warnings = unescape("\n".join(w.value for w in at.warning))
    assert "chosen with python -m src models use" in warnings
    assert "could not be downloaded" not in warnings
    assert "smollm2-135m-offline is ready" not in unescape(all_text(at))


def test_an_optional_backend_that_is_not_configured_is_not_a_problem(
    app_env, make_app, monkeypatch
):
    monkeypatch.setenv("OLYMPUS_BACKENDS", "hf_inference,extractive")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("OLYMPUS_HF_TOKEN", raising=False)
    at = make_app("system")
    tables = "\n".join(str(t.proto) for t in at.get("table"))
    assert "not set up" in tables and "problem" not in tables


def test_the_recommended_model_is_one_click_away_unless_the_server_is_offline(
    app_env, reachable_hub, make_app, monkeypatch
):
    """Another model answers than the recommendation: a Download button names it (not clicked:
    no network in tests); with HF_HUB_OFFLINE the page says why it cannot be downloaded."""
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    StatusFile(app_env / "status.json").replace(
        "engine", engine="llamacpp", state="ready", model="/m/SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    at = make_app("models")
    button = at.button(key="models_pull_recommended")
    assert button.label.startswith("Download the recommended model (")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from src.ui import state

    state.reset()
    offline = make_app("models")
    assert not [b for b in offline.button if b.key == "models_pull_recommended"]
    assert "set to work offline (HF_HUB_OFFLINE)" in all_text(offline)
