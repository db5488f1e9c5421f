"""Documents page: upload with progress, per-file errors, duplicates, table, delete."""

from __future__ import annotations

from tests.fixtures.pdfs import SAMPLE_PAGES, make_not_a_pdf, make_text_pdf
from tests.ui.conftest import all_text, wait_for_ingest


def _table_names(at) -> list[str]:
    frames = at.dataframe
    assert frames, "the documents table is shown"
    return list(frames[0].value["Name"])


def test_good_pdf_is_indexed_while_a_bad_one_gets_a_clear_error(app_env, make_app, embedder):
    at = make_app("documents")
    assert "No documents yet" in all_text(at)
    at.file_uploader[0].set_value([
        ("manual.pdf", make_text_pdf(SAMPLE_PAGES), "application/pdf"),
        ("report.pdf", make_not_a_pdf(), "application/pdf"),
    ]).run()
    wait_for_ingest(at)
    text = all_text(at)
    assert "manual.pdf: indexed" in text
    errors = [e.value for e in at.error]
    assert any("report.pdf" in e for e in errors), errors
    assert any(c.value.startswith("How to fix:") for c in at.caption), "the error says how to fix it"
    assert _table_names(at) == ["manual.pdf"]
    row = at.dataframe[0].value.iloc[0]
    assert row["Pages"] == 3 and row["Passages"] >= 1
    assert "1 document(s), 3 pages" in text
    assert not at.exception


def test_reuploading_the_same_file_says_it_is_already_indexed(app_env, make_app, embedder):
    data = make_text_pdf(["Duplicate detection page one.", "Page two of the same file."])
    at = make_app("documents")
    at.file_uploader[0].set_value(("same.pdf", data, "application/pdf")).run()
    wait_for_ingest(at)
    assert "same.pdf: indexed" in all_text(at)
    at.file_uploader[0].set_value(("same-again.pdf", data, "application/pdf")).run()
    wait_for_ingest(at)
    assert "same-again.pdf: already indexed" in all_text(at)
    assert _table_names(at) == ["same.pdf"]


def test_delete_asks_for_confirmation_then_removes_the_document(app_env, make_app, embedder):
    at = make_app("documents")
    at.file_uploader[0].set_value(("gone.pdf", make_text_pdf(["To be deleted."]), "application/pdf")).run()
    wait_for_ingest(at)
    assert _table_names(at) == ["gone.pdf"]
    at.button(key="docs_delete").click().run()
    assert any("from every index" in w.value for w in at.warning), "asks before deleting"
    at.button(key="docs_delete_no").click().run()
    assert _table_names(at) == ["gone.pdf"], "cancel keeps it"
    at.button(key="docs_delete").click().run()
    at.button(key="docs_delete_yes").click().run()
    assert "Deleted gone.pdf" in all_text(at)
    assert "No documents yet" in all_text(at)
