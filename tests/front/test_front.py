"""The front on the public port, against a real ``startup.py``: allowed hosts, sign-in with
the signed cookie, session-id reuse, password-guessing limits (what a
stranger who finds the public port tries first)."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.front.conftest import cookie_header
from tests.front.streamlit_client import run_page_sync

HTML = {"accept": "text/html"}


def _ws(app) -> str:
    return f"ws://127.0.0.1:{app.port}/_stcore/stream"


def _refused(status: int, **kwargs) -> str:
    with pytest.raises(InvalidStatus) as err:
        run_page_sync(**kwargs)
    assert err.value.response.status_code == status
    return bytes(err.value.response.body).decode()


def test_a_foreign_host_is_refused_on_http_and_websocket(start):
    app, client = start(OLYMPUS_ALLOWED_HOSTS="olympus.lan")
    r = client.get("/", headers={"host": "attacker.example"})
    assert r.status_code == 400 and "attacker.example" in r.text
    assert "OLYMPUS_ALLOWED_HOSTS" in r.text
    body = _refused(400, ws_url=_ws(app), host="attacker.example", origin="http://attacker.example")
    assert "attacker.example" in body
    # a page on another site cannot open the websocket either (cross-site hijacking)
    _refused(400, ws_url=_ws(app), origin="http://attacker.example")
    for host in ("localhost", "127.0.0.1", "olympus.lan"):
        assert client.get("/", headers={"host": f"{host}:{app.port}"}).status_code == 200, host
    run = run_page_sync(ws_url=_ws(app), host="olympus.lan", cookie=cookie_header(client))
    assert "role=admin" in run.text, "no password on a bare machine: everyone administers"
    log = [r for r in app.log_records() if r.get("event") == "front.host_refused"]
    assert log and log[0]["host"] == "attacker.example"


def test_sign_in_keeps_the_deep_link_and_a_reload_does_not_ask_again(start):
    app, client = start(OLYMPUS_PASSWORD="correct horse")
    r = client.get("/documents", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/_olympus/login?next=/documents"
    form = client.get(r.headers["location"])
    assert form.status_code == 200 and 'name="password"' in form.text
    assert client.get("/_stcore/health").status_code == 200, "probes need no sign-in"
    assert client.get("/static/anything.js").status_code == 401
    _refused(403, ws_url=_ws(app), cookie=cookie_header(client))

    r = client.post("/_olympus/login", data={"password": "correct horse", "next": "/documents"})
    assert r.status_code == 303 and r.headers["location"] == "/documents"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    for _ in range(2):  # the page, then a reload: no password asked again
        page = client.get("/documents", headers=HTML)
        assert page.status_code == 200 and "<html" in page.text.lower()
    browser = run_page_sync(
        ws_url=_ws(app),
        cookie=cookie_header(client),
        xsrf=client.cookies.get("_streamlit_xsrf", ""),
    )
    assert "role=admin" in browser.text

    r = client.get("/_olympus/logout")
    assert r.status_code == 303
    assert client.get("/documents", headers=HTML).status_code == 303, "signed out"


def test_a_reused_session_id_without_the_cookie_gets_no_rights(start):
    app, owner = start(OLYMPUS_PASSWORD="correct horse")
    owner.post("/_olympus/login", data={"password": "correct horse", "next": "/"})
    owner.get("/", headers=HTML)
    run = run_page_sync(
        ws_url=_ws(app), cookie=cookie_header(owner), xsrf=owner.cookies.get("_streamlit_xsrf", "")
    )
    assert "role=admin" in run.text and run.session_id
    # another client presents the owner's session id (it shows in upload URLs) but not the
    # owner's cookie: the front refuses it before Streamlit
    with httpx.Client(base_url=f"http://127.0.0.1:{app.port}") as stranger:
        stranger.get("/", headers=HTML)
        _refused(403, ws_url=_ws(app), session_id=run.session_id, cookie=cookie_header(stranger))
    # and Streamlit itself checks the cookie on every run: reached directly, the same
    # session id without the cookie gets the sign-in page, not the owner's rights
    internal = int(app.env["OLYMPUS_STREAMLIT_PORT"])
    direct = run_page_sync(
        ws_url=f"ws://127.0.0.1:{internal}/_stcore/stream", session_id=run.session_id
    )
    assert "protected" in direct.text and "role=" not in direct.text


def test_password_guessing_is_limited_per_address_and_slowed_globally(start):
    app, client = start(
        OLYMPUS_PASSWORD="correct horse",
        OLYMPUS_BEHIND_PROXY="true",
        OLYMPUS_LOGIN_MAX_FAILURES="3",
        OLYMPUS_LOGIN_GLOBAL_MAX_FAILURES="5",
        OLYMPUS_LOGIN_LOCKOUT_S="600",
    )

    def attempt(password: str, address: str) -> httpx.Response:
        return client.post(
            "/_olympus/login",
            data={"password": password, "next": "/"},
            headers={"x-forwarded-for": f"6.6.6.6, {address}"},
        )

    for _ in range(3):
        assert attempt("hunter2-wrong", "203.0.113.1").status_code == 401
    locked = attempt("correct horse", "203.0.113.1")
    assert locked.status_code == 429 and "from your address" in locked.text
    assert int(locked.headers["retry-after"]) > 500
    assert attempt("correct horse", "203.0.113.2").status_code == 303, "others still sign in"
    client.cookies.clear()
    assert attempt("hunter2-wrong", "203.0.113.3").status_code == 401
    assert attempt("hunter2-wrong", "203.0.113.4").status_code == 401  # 5 failures in the window
    # the global count slows strangers down but never refuses the right password
    assert attempt("correct horse", "203.0.113.5").status_code == 303
    assert [r for r in app.log_records() if r.get("event") == "front.login.slowed"]
    failures = [r for r in app.log_records() if r.get("event") == "front.login.failed"]
    assert [r["address"] for r in failures][:3] == ["203.0.113.1"] * 3
    assert "hunter2-wrong" not in app.log() and "correct horse" not in app.log()
