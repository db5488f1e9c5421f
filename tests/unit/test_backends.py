"""src/models/backends.py: one owner for which backends answer, in which order, with which model.

The precedence is documented there and in README: explicit setting > `models use` record >
what provisioning made ready > the profile's catalog choice.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from shared_utils.errors import UnknownBackend
from src.answer.answerer import Answerer
from src.models.active import write_active
from src.models.backends import default_order, plan_backends
from src.models.profile import detect
from src.settings import load_settings
from src.status import StatusFile
from tests.doubles.ollama_server import OllamaDouble
from tests.unit.test_answer import FakeLibrary

CATALOG_CHOICE = "qwen2.5-0.5b-instruct:q4_k_m"


@pytest.fixture
def ollama_profile(data_dir):
    profile = detect(load_settings(data_dir=data_dir, engine="ollama"))
    return dataclasses.replace(profile, model="qwen2.5-0.5b-instruct", ollama_model=CATALOG_CHOICE)


def test_chain_follows_the_engine_and_yields_to_the_setting(data_dir, ollama_profile):
    s = load_settings(data_dir=data_dir)
    assert plan_backends(s, ollama_profile).names == ("ollama", "hf_inference", "extractive")
    llama = dataclasses.replace(ollama_profile, engine="llamacpp")
    assert plan_backends(s, llama).names == default_order("llamacpp")
    explicit = load_settings(data_dir=data_dir, backends="hf_inference")
    plan = plan_backends(explicit, ollama_profile)
    assert plan.names == ("hf_inference", "extractive")  # the safety net always ends it
    assert any("OLYMPUS_BACKENDS" in r for r in plan.reasons)
    with pytest.raises(UnknownBackend) as info:
        plan.forced("gpt-9")
    assert "ollama" in str(info.value) and "extractive" in str(info.value)


def test_ollama_model_precedence(data_dir, ollama_profile):
    s = load_settings(data_dir=data_dir)
    status = StatusFile(s.status_path)
    assert plan_backends(s, ollama_profile).model("ollama") == CATALOG_CHOICE
    # provisioning fell back to the bundled model: that is what answers, and it is said
    status.update(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-offline",
        ollama_model="smollm2:135m",
        notes=["Hub unreachable"],
    )
    plan = plan_backends(s, ollama_profile)
    assert plan.model("ollama") == "smollm2:135m"
    assert "smollm2-135m-offline" in plan.fallback_note and "models pull" in plan.fallback_note
    # `models use` after provisioning wins
    time.sleep(0.01)
    write_active(s, name="mine:q8", ollama_model="mine:q8")
    assert plan_backends(s, ollama_profile).model("ollama") == "mine:q8"
    # ... unless provisioning ran after it and served something else (the record's model gone)
    time.sleep(0.01)
    status.update("provisioning", phase="ready", source="present", ollama_model="other:1b")
    assert plan_backends(s, ollama_profile).model("ollama") == "other:1b"
    # a catalog id recorded by `models use` maps to its Ollama name
    time.sleep(0.01)
    write_active(s, name="qwen2.5-1.5b-instruct", model="qwen2.5-1.5b-instruct")
    assert plan_backends(s, ollama_profile).model("ollama") == "qwen2.5-1.5b-instruct:q4_k_m"
    # the explicit setting beats everything
    explicit = load_settings(data_dir=data_dir, ollama_model="pinned:7b")
    plan = plan_backends(explicit, ollama_profile)
    assert plan.model("ollama") == "pinned:7b"
    assert any("OLYMPUS_OLLAMA_MODEL" in r for r in plan.reasons)


def test_llamacpp_model_is_the_file_the_engine_serves(data_dir, ollama_profile):
    s = load_settings(data_dir=data_dir)
    llama = dataclasses.replace(ollama_profile, engine="llamacpp")
    StatusFile(s.status_path).update(
        "engine", engine="llamacpp", model="/x/SmolLM2-135M-Instruct-Q4_1.gguf"
    )
    plan = plan_backends(s, llama)
    assert plan.model("llamacpp") in {"smollm2-135m-offline", "SmolLM2-135M-Instruct-Q4_1.gguf"}
    StatusFile(s.status_path).update("engine", model="/x/my-own.gguf")
    assert plan_backends(s, llama).model("llamacpp") == "my-own.gguf"


def test_models_use_switches_the_next_answer_without_a_restart(data_dir, ollama_profile):
    """The provisioned model answers; after `models use` the very next question goes to the
    other model, through the same Answerer (no restart), and the answer names its model."""
    s = load_settings(data_dir=data_dir, first_token_timeout_s=10)
    with OllamaDouble(models=[CATALOG_CHOICE, "second:1b"]) as ollama:
        s = s.model_copy(update={"ollama_host": ollama.url})
        answerer = Answerer.from_settings(s, library=FakeLibrary(), profile=ollama_profile)
        first = list(answerer.ask("Which port does upsd use?"))[-1]
        assert (first.backend_name, first.model) == ("ollama", CATALOG_CHOICE)
        write_active(s, name="second:1b", ollama_model="second:1b")
        second = list(answerer.ask("Which port does upsd use?"))[-1]
        assert (second.backend_name, second.model) == ("ollama", "second:1b")
        chats = ollama.requests_to("/api/chat")
        assert [r.body["model"] for r in chats[-2:]] == [CATALOG_CHOICE, "second:1b"]


def test_a_model_chosen_with_models_use_is_not_called_a_fallback(data_dir, ollama_profile):
    """After the offline fallback, `models use` picks another model: the note says the user
    chose it, not that the recommended model could not be downloaded."""
    s = load_settings(data_dir=data_dir)
    StatusFile(s.status_path).update(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-offline",
        ollama_model="smollm2:135m",
        notes=["Hub unreachable"],
    )
    assert "could not be downloaded" in plan_backends(s, ollama_profile).fallback_note
    time.sleep(0.01)
    write_active(s, name="qwen2.5-coder-1.5b.gguf", path="/m/qwen2.5-coder-1.5b.gguf")
    plan = plan_backends(s, ollama_profile)
    assert plan.fallback == () and "could not be downloaded" not in plan.fallback_note
    assert "qwen2.5-coder-1.5b.gguf" in plan.fallback_note
    assert "chosen with python -m src models use" in plan.fallback_note
    assert plan.forced("extractive").fallback_note == ""  # this question overrides the choice
