"""Reading vs administering (a signed-in reader must not delete the library): admin actions
check the role where they act, and a Space without an admin password refuses them and says how
to enable them."""

from __future__ import annotations

import pytest

from src.access.roles import Access, Forbidden, Policy
from src.ui import admin, model_tasks, state
from tests.fixtures.pdfs import make_text_pdf
from tests.ui.conftest import all_text, wait_for_ingest


@pytest.fixture
def space(app_env, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/olympus")
    monkeypatch.setenv("SPACE_HOST", "someone-olympus.hf.space")
    return app_env


def test_a_reader_cannot_delete_a_document_even_by_calling_the_action(space, make_app, embedder):
    at = make_app("documents")
    at.file_uploader[0].set_value(
        ("kept.pdf", make_text_pdf(["Readers may upload."]), "application/pdf")
    ).run()
    wait_for_ingest(at)
    text = all_text(at)
    assert "kept.pdf: indexed" in text
    assert "Only an administrator may delete documents" in text
    assert "OLYMPUS_ADMIN_PASSWORD" in text
    assert not [b for b in at.button if b.key == "docs_delete"], "no delete button for readers"

    pipeline = state.pipeline()
    doc = pipeline.documents()[0]
    reader = Access(
        role="reader",
        browser_id="b",
        signed_in=True,
        policy=Policy(password="p", admin_password="a", on_space=True),
    )
    with pytest.raises(Forbidden) as err:
        admin.delete_document(pipeline, doc.id, reader)
    assert "Sign in as administrator" in err.value.hint
    assert [d.name for d in pipeline.documents()] == ["kept.pdf"], "nothing was deleted"


def test_a_space_without_admin_password_refuses_and_says_how(space, make_app):
    at = make_app("system")
    text = all_text(at)
    assert "This browser: **reader**" in text
    assert "add the secret OLYMPUS_ADMIN_PASSWORD in the Space's settings" in text
    at.switch_page("src/ui/pages/models.py").run()
    text = all_text(at)
    assert "Only an administrator may download models" in text
    assert not at.text_input, "no pull form"
    settings = state.settings()
    with pytest.raises(Forbidden, match="Only an administrator may download models"):
        model_tasks.start_pull(
            settings,
            state.profile(),
            "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
            "",
            Access(
                role="reader",
                browser_id="b",
                signed_in=False,
                policy=Policy.from_settings(settings),
            ),
        )
    assert model_tasks.pull_running(state.status_file()) is False, "nothing started"


def test_model_pulls_are_off_on_a_space_unless_enabled(space, monkeypatch, make_app):
    monkeypatch.setenv("OLYMPUS_ADMIN_PASSWORD", "admin pw")
    admin_access = Access(
        role="admin",
        browser_id="b",
        signed_in=True,
        policy=Policy(admin_password="admin pw", on_space=True, model_pulls=False),
    )
    with pytest.raises(Forbidden) as err:
        model_tasks.start_pull(
            state.settings(), None, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "", admin_access
        )
    assert "OLYMPUS_ALLOW_MODEL_PULLS=true" in err.value.hint


def test_a_bare_machine_without_passwords_keeps_everyone_admin(app_env, make_app):
    at = make_app("system")
    assert "administrator" in all_text(at)
    assert "OLYMPUS_ADMIN_PASSWORD" not in all_text(at)
