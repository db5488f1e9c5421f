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
    at.file_uploader[0].set_value(
        [
            ("manual.pdf", make_text_pdf(SAMPLE_PAGES), "application/pdf"),
            ("report.pdf", make_not_a_pdf(), "application/pdf"),
        ]
    ).run()
    wait_for_ingest(at)
    text = all_text(at)
    assert "manual.pdf: indexed" in text
    errors = [e.value for e in at.error]
    assert any("report.pdf" in e for e in errors), errors
    assert any(c.value.startswith("How to fix:") for c in at.caption), (
        "the error says how to fix it"
    )
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
    at.file_uploader[0].set_value(
        ("gone.pdf", make_text_pdf(["To be deleted."]), "application/pdf")
    ).run()
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


def test_how_the_pages_were_read_is_never_cut_off(app_env, make_app, embedder):
    """The Read column holds the short form next to Pages ("all text layer"); what is unusual
    (OCR'd, flagged pages, invisible text left out) is also written out in full under the
    table, where no cell width cuts it."""
    from src.ui import state
    from tests.fixtures.pdfs import make_hidden_text_pdf

    state.pipeline().ingest_bytes(make_text_pdf(SAMPLE_PAGES), "plain.pdf")
    state.pipeline().ingest_bytes(make_hidden_text_pdf(), "hidden.pdf")
    at = make_app("documents")
    table = at.dataframe[0].value.set_index("Name")
    assert list(at.dataframe[0].value.columns[:3]) == ["Name", "Pages", "Read"]
    assert table.loc["plain.pdf"]["Read"] == "all text layer"
    assert "invisible text left out" in table.loc["hidden.pdf"]["Read"]
    captions = [c.value for c in at.caption if "hidden.pdf" in c.value]
    assert len(captions) == 1 and "1 pages: 1 text layer" in captions[0].replace("\\", "")
    assert "pieces of invisible text left out" in captions[0]
    assert not [c.value for c in at.caption if "plain.pdf" in c.value], "nothing unusual to say"


def test_an_upload_is_a_job_of_the_services_queue_for_this_session_only(
    app_env, make_app, embedder
):
    """One queue: the page hands the file to the service and shows the service's job."""
    from src.service.upload_jobs import RemoteJobs
    from src.ui import state

    at = make_app("documents")
    at.file_uploader[0].set_value(
        ("mine.pdf", make_text_pdf(["Only mine."]), "application/pdf")
    ).run()
    wait_for_ingest(at)
    queue = state.ingest_queue()
    assert isinstance(queue, RemoteJobs)
    session = at.session_state["docs_upload_owner"]
    served = queue.remote.upload_jobs(session=session)
    assert [(j["name"], j["state"]) for j in served] == [("mine.pdf", "added")]
    assert queue.remote.upload_jobs(session="another-browser") == []
    assert not (app_env / "ui_upload_spool").exists(), "the UI keeps no queue of its own"
    assert "mine.pdf: indexed" in all_text(at)


def test_while_the_service_is_down_the_page_keeps_its_jobs(
    app_env, make_app, embedder, service_api
):
    at = make_app("documents")
    at.file_uploader[0].set_value(
        ("kept.pdf", make_text_pdf(["Kept in view."]), "application/pdf")
    ).run()
    wait_for_ingest(at)
    from src.ui import state

    queue, session = state.ingest_queue(), at.session_state["docs_upload_owner"]
    service_api.stop()  # a crash or restart of the API process
    # what the page's job panel draws from (the page itself waits a minute for the service)
    assert [(j.name, j.state) for j in queue.jobs(session)] == [("kept.pdf", "added")]
    assert not queue.active(session)
