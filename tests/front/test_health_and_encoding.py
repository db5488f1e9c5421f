"""The front answers what was asked: a compressed body only to a client that accepts one,
and ``/healthz`` is its own health (front, Streamlit, API), not a Streamlit page (a
probe must see the front's own health)."""

from __future__ import annotations

import gzip
import http.client
import json
import time

from starlette.testclient import TestClient

from src.front.app import build_app
from src.front.config import FrontConfig
from tests.supervisor.conftest import free_port


def _get(port: int, path: str, **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
    """GET with exactly these headers (http.client adds no Accept-Encoding when told so)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name.replace("_", "-"), value)
    conn.endheaders()
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply, body


def test_gzip_only_when_asked_and_healthz_reports_the_parts(start):
    app, _client = start()
    # A page as curl fetches it (no Accept-Encoding): plain HTML (Streamlit compresses its
    # pages whenever asked, and the front used to ask for every client); a browser that
    # accepts gzip gets gzip.
    plain_reply, plain = _get(app.port, "/documents")
    assert plain_reply.status == 200 and plain_reply.getheader("content-encoding") is None
    assert b"<html" in plain.lower(), "gzip bytes sent to a client that did not ask"
    zipped_reply, zipped = _get(app.port, "/documents", accept_encoding="gzip, deflate")
    assert zipped_reply.getheader("content-encoding") == "gzip"
    assert gzip.decompress(zipped) == plain

    deadline = time.monotonic() + 120  # the API opens the library before it listens
    while True:
        health, body = _get(app.port, "/healthz")
        assert health.status == 200 and health.getheader("content-type") == "application/json"
        report = json.loads(body)  # the front's own report, not Streamlit's page
        assert report["status"] == "ok" and report["front"] == "ok", report
        assert report["streamlit"] == "ok", report
        if report["api"] == "ok" or time.monotonic() > deadline:
            break
        assert report["api"] in {"starting", "unreachable"}, report
        time.sleep(0.5)
    assert report["api"] == "ok", report


def test_healthz_is_503_naming_streamlit_when_it_does_not_answer(settings):
    # nothing listens on either port; a password is set, and no sign-in is needed for this
    settings = settings.model_copy(update={"password": "correct horse"})
    config = FrontConfig.from_settings(settings, upstream_port=free_port(), secret=b"k" * 32)
    with TestClient(build_app(config, api_port=free_port()), base_url="http://localhost") as c:
        reply = c.get("/healthz")
    assert reply.status_code == 503
    assert reply.json() == {
        "status": "unavailable",
        "front": "ok",
        "streamlit": "unreachable",
        "api": "unreachable",
    }
