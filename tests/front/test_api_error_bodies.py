"""The front's own answers on /v1 and /api have the API's error body: the same code (the error
class), the same status and a hint, so a client handles one shape whoever refused it."""

from __future__ import annotations

import socket

from starlette.testclient import TestClient

from shared_utils.errors import InvalidApiKey
from src.api.auth import NO_KEY
from src.api.errors import error_dict
from src.front.api_proxy import ApiProxy

FIELDS = {"message", "type", "param", "code", "hint"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(*, public: bool = True, local: bool = True, key: str | None = "k1") -> TestClient:
    proxy = ApiProxy(
        _closed_port(),
        public=public,
        local=lambda _r: local,
        address=lambda _r: "203.0.113.9",
        check=lambda _auth: key,
    )
    return TestClient(proxy)


def test_a_request_from_another_machine_is_refused_with_a_hint_naming_the_setting():
    reply = _client(public=False, local=False).get("/v1/models")
    error = reply.json()["error"]
    assert reply.status_code == 403 and set(error) == FIELDS
    assert error["code"] == "ApiNotPublic" and error["type"] == "permission_error"
    assert "OLYMPUS_API_PUBLIC=true" in error["hint"]


def test_no_key_gets_the_same_body_as_the_api_itself_sends():
    reply = _client(key=None).get("/v1/models")
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert reply.json() == error_dict(InvalidApiKey(NO_KEY))[1]
    assert reply.json()["error"]["hint"]


def test_an_api_that_does_not_answer_is_503_with_a_hint():
    reply = _client().get("/v1/models")
    error = reply.json()["error"]
    assert reply.status_code == 503 and set(error) == FIELDS
    assert error["code"] == "ServiceUnavailable" and "try again" in error["message"]
    assert error["hint"]
