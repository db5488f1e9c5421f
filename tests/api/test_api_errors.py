"""Every client error is a 4xx with a named ``code`` and a ``hint``, never a 500 and never an
internal path; the bounds (k, JSON size and depth, upload size) hold; keys have scopes."""

from __future__ import annotations

import httpx
import openai
import pytest

from src.api.limits import MAX_JSON_BYTES
from src.schema.requests import MAX_K
from tests.api.conftest import QUESTION
from tests.fixtures.pdfs import make_text_pdf

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": QUESTION}]


def _http(service, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, timeout=120, headers={"authorization": f"Bearer {key or service.key}"}
    )


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["hint"], error
    assert "/tmp" not in response.text and "site-packages" not in response.text
    return error


def test_wrong_types_and_unknown_ids_are_client_errors(service):
    with _http(service) as http:
        _error(
            http.post("/v1/chat/completions", json={"model": ["x"], "messages": ASK}),
            400,
            "InvalidRequest",
        )
        _error(
            http.post("/v1/chat/completions", json={"messages": ASK, "stream": "yes"}),
            400,
            "InvalidRequest",
        )
        _error(
            http.post("/api/ask", json={"question": QUESTION, "history": [1, 2]}),
            400,
            "InvalidRequest",
        )
        _error(http.get("/v1/jobs/987654"), 404, "JobNotFound")
        _error(http.get("/v1/nothing-here"), 404, "RouteNotFound")
        _error(http.put("/v1/search"), 405, "MethodNotAllowed")
        for route, body in (
            ("/v1/search", {"query": "port", "doc_ids": ["nope"]}),
            ("/v1/chat/completions", {"messages": ASK, "olympus": {"doc_ids": ["nope"]}}),
        ):
            error = _error(http.post(route, json=body), 404, "DocumentNotFound")
            assert "nope" in error["message"] and "GET /v1/documents" in error["hint"]


def test_the_short_id_the_cli_prints_works_in_the_api(service):
    with _http(service) as http:
        doc_id = http.get("/v1/documents").json()["data"][0]["id"]
        found = http.post("/v1/search", json={"query": "port", "doc_ids": [doc_id[:12]]})
        assert found.status_code == 200, found.text
        assert {r["doc_id"] for r in found.json()["results"]} == {doc_id}
        passages = http.get(f"/v1/documents/{doc_id[:12]}/passages")
        assert passages.status_code == 200, passages.text


def test_no_key_gets_401_with_a_hint(service):
    with httpx.Client(base_url=service.url) as http:
        error = _error(http.get("/v1/models"), 401, "InvalidApiKey")
    assert "keys create" in error["hint"]


def test_search_k_is_bounded(service):
    with _http(service) as http:
        for k in (MAX_K + 1, 50_000_000, 0, True, "5"):
            error = _error(
                http.post("/v1/search", json={"query": "port", "k": k}), 400, "InvalidRequest"
            )
            assert str(MAX_K) in error["message"] and error["param"] == "k"
        assert (
            len(http.post("/v1/search", json={"query": "port", "k": MAX_K}).json()["results"]) >= 1
        )


def test_json_bodies_are_bounded_in_size_and_depth(service):
    with _http(service) as http:
        deep = b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        _error(
            http.post("/v1/search", content=deep, headers={"content-type": "application/json"}),
            400,
            "InvalidRequest",
        )
        nested: list = []
        for _ in range(40):  # deeper than MAX_JSON_DEPTH, shallow enough to parse
            nested = [nested]
        nested = {"query": "port", "x": nested}
        _error(http.post("/v1/search", json=nested), 400, "InvalidRequest")
        big = {"query": "port", "padding": "x" * (MAX_JSON_BYTES + 10)}
        _error(http.post("/v1/search", json=big), 413, "RequestTooLarge")


def test_upload_that_is_not_a_pdf_is_refused_at_once(service):
    with _http(service) as http:
        response = http.post("/v1/documents", files={"file": ("notes.pdf", b"hello, world")})
    _error(response, 415, "UnsupportedMediaType")


def test_upload_is_stopped_at_the_limit_while_it_streams(service):
    """A chunked upload (no Content-Length) past the limit (10 MB here) is stopped when the
    limit is passed: the server answers 413 before the client has sent the rest."""
    sent = {"chunks": 0}
    chunk = b"%PDF-1.4\n" + b"0" * (1024 * 1024 - 9)

    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        yield b"Content-Type: application/pdf\r\n\r\n"
        for _ in range(200):  # 200 MB if nobody stops it
            sent["chunks"] += 1
            yield chunk

    with _http(service) as http:
        try:
            response = http.post(
                "/v1/documents",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
        except httpx.TransportError:  # the server closed the connection after its answer
            response = None
    assert sent["chunks"] < 40, sent
    if response is not None:
        _error(response, 413, "FileTooLarge")


def test_a_read_key_searches_but_cannot_upload_or_delete(service):
    record, secret = service.keys.create("reader", "read")
    assert record.scope == "read"
    with _http(service, secret) as http:
        assert http.post("/v1/search", json={"query": "port"}).status_code == 200
        error = _error(
            http.post("/v1/documents", files={"file": ("a.pdf", make_text_pdf(["x"]))}),
            403,
            "KeyScopeRefused",
        )
        assert "'write'" in error["message"]
        doc_id = http.get("/v1/documents").json()["data"][0]["id"]
        _error(http.delete(f"/v1/documents/{doc_id}"), 403, "KeyScopeRefused")
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key=secret, max_retries=0)
    assert client.models.retrieve("olympus").id == "olympus"


def test_a_key_made_before_scopes_works_as_write(tmp_path):
    import json

    from src.access.keys import KeyStore, _digest

    secret = "olk_" + "a" * 43
    (tmp_path / "api_keys.json").write_text(
        json.dumps(
            [
                {
                    "id": "0ld0",
                    "name": "old",
                    "shown": secret[:10],
                    "sha256": _digest(secret),
                    "created_at": 1.0,
                    "revoked_at": None,
                }
            ]
        )
    )
    assert KeyStore(tmp_path).verify(secret).scope == "write"


def test_keys_create_takes_a_scope_and_lists_it(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {"OLYMPUS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    made = subprocess.run(
        [sys.executable, "-m", "src", "keys", "create", "ci", "--scope", "admin"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0 and "scope admin" in made.stderr, made.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "src", "keys", "list"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "admin" in listed.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "src", "keys", "list", "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (row,) = json.loads(as_json.stdout)
    assert set(row) == {"id", "name", "shown", "created_at", "revoked_at", "scope"}  # no hash
    assert (row["name"], row["scope"], row["revoked_at"]) == ("ci", "admin", None)


def test_health_says_starting_until_the_embedder_is_loaded(service):
    import threading

    from src.access.keys import KeyStore
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from tests.api.conftest import ThreadedServer
    from tests.integration.test_answer import _free_port

    loading = threading.Event()
    warm_up = threading.Thread(target=loading.wait, daemon=True)  # the embedder loading
    warm_up.start()
    app = build_app(
        service.pipeline,
        keys=KeyStore(service.data_dir),
        service_token="t",
        queue=IngestQueue.from_settings(service.settings),
        max_upload_mb=10,
        warm_up=warm_up,
    )
    port = _free_port()
    with ThreadedServer(app, port):
        url = f"http://127.0.0.1:{port}/api/health"
        starting = httpx.get(url)
        assert starting.status_code == 503 and starting.json()["status"] == "starting"
        loading.set()
        warm_up.join(5)
        assert httpx.get(url).json() == {"status": "ok"}


def test_each_error_class_as_the_openai_client_sees_it(service):
    """What a stock client raises for each kind of mistake: the right exception class, a
    named code and a hint."""
    from src.api.limits import MAX_JSON_BYTES

    _, reader = service.keys.create("reader-2", "read")
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.key, max_retries=0)
    cases = [
        (
            openai.BadRequestError,
            "InvalidRequest",
            lambda: client.chat.completions.create(model=["x"], messages=ASK),
        ),
        (
            openai.BadRequestError,
            "UnsupportedParameter",
            lambda: client.chat.completions.create(model="olympus", messages=ASK, n=3),
        ),
        (
            openai.NotFoundError,
            "DocumentNotFound",
            lambda: client.chat.completions.create(
                model="olympus", messages=ASK, extra_body={"olympus": {"doc_ids": ["x"]}}
            ),
        ),
        (openai.NotFoundError, "ModelNotFound", lambda: client.models.retrieve("nope")),
        (
            openai.APIStatusError,
            "RequestTooLarge",
            lambda: client.chat.completions.create(
                model="olympus", messages=[{"role": "user", "content": "x" * MAX_JSON_BYTES}]
            ),
        ),
        (
            openai.PermissionDeniedError,
            "KeyScopeRefused",
            lambda: openai.OpenAI(
                base_url=f"{service.url}/v1", api_key=reader, max_retries=0
            ).delete("/documents/some-id", cast_to=object),
        ),
    ]
    for cls, code, call in cases:
        with pytest.raises(cls) as err:
            call()
        assert err.value.code == code and err.value.body["hint"], (code, err.value.body)
