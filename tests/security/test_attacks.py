"""Attacks from outside, each against the real ``startup.py`` (front, Streamlit, API) on
loopback, with bounded loops: what a stranger on the Internet tries, and what the owner
must still be able to do."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from src.access.keys import KeyStore
from src.access.session_cookie import COOKIE_NAME, verify
from src.chat_store import ChatStore
from src.settings import load_settings
from tests.front.conftest import cookie_header, placeholder_app, start  # noqa: F401 - fixtures
from tests.front.streamlit_client import run_page_sync
from tests.supervisor.conftest import (  # noqa: F401 - fixtures
    fake_ollama,
    free_port,
    olympus,
    olympus_env,
)

pytestmark = pytest.mark.slow
HTML = {"accept": "text/html"}
PASSWORD = "correct horse"


def _attempt(client: httpx.Client, password: str, address: str) -> httpx.Response:
    return client.post(
        "/_olympus/login",
        data={"password": password, "next": "/"},
        headers={"x-forwarded-for": f"6.6.6.6, {address}"},
    )


def _browser_id(app, cookie_value: str) -> str:
    claims = verify(
        cookie_value,
        (app.data_dir / "secret_key").read_text().strip().encode(),
        now=0.0,
        fingerprint="",
    )
    return claims.browser_id if claims else ""


def test_the_owner_signs_in_after_60_wrong_passwords_from_60_addresses(start):
    app, owner = start(
        OLYMPUS_PASSWORD=PASSWORD,
        OLYMPUS_BEHIND_PROXY="true",
        OLYMPUS_LOGIN_GLOBAL_MAX_FAILURES="20",
        OLYMPUS_LOGIN_MAX_FAILURES="3",
        OLYMPUS_LOGIN_LOCKOUT_S="3",
    )
    assert _attempt(owner, PASSWORD, "192.0.2.10").status_code == 303  # the owner, earlier
    base = f"http://127.0.0.1:{app.port}"

    def stranger(i: int) -> int:
        with httpx.Client(base_url=base, timeout=60) as c:
            return _attempt(c, "hunter2-wrong", f"203.0.{i}.7").status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(stranger, range(60)))
    assert codes.count(401) == 60, codes  # wrong, but never a lockout of anyone else

    # the owner's browser (it signed in here before) is neither refused nor slowed, even
    # from an address the attacker used
    started = time.monotonic()
    again = _attempt(owner, PASSWORD, "203.0.0.7")
    assert again.status_code == 303 and time.monotonic() - started < 20
    # a new browser with the right password gets in too, after a short wait
    with httpx.Client(base_url=base, timeout=60) as fresh:
        assert _attempt(fresh, PASSWORD, "198.51.100.20").status_code == 303
    slowed = [r for r in app.log_records() if r.get("event") == "front.login.slowed"]
    assert slowed, "the global count slows strangers down"

    # one address that keeps guessing is locked out, and the right password works once
    # its lock has passed (Retry-After)
    with httpx.Client(base_url=base, timeout=60) as guesser:
        for _ in range(3):
            _attempt(guesser, "hunter2-wrong", "198.51.100.99")
        locked = _attempt(guesser, PASSWORD, "198.51.100.99")
        assert locked.status_code == 429 and "from your address" in locked.text
        time.sleep(int(locked.headers["retry-after"]))
        assert _attempt(guesser, PASSWORD, "198.51.100.99").status_code == 303
    assert "hunter2-wrong" not in app.log() and PASSWORD not in app.log()


def test_a_lockout_survives_a_restart_and_forwarded_localhost_is_not_local(start):
    env = dict(
        OLYMPUS_PASSWORD=PASSWORD,
        OLYMPUS_BEHIND_PROXY="true",
        OLYMPUS_LOGIN_MAX_FAILURES="2",
        OLYMPUS_LOGIN_LOCKOUT_S="600",
    )
    app, client = start(**env)
    for _ in range(2):
        assert _attempt(client, "hunter2-wrong", "203.0.113.5").status_code == 401
    assert _attempt(client, PASSWORD, "203.0.113.5").status_code == 429
    # the API is loopback-only: a proxied request naming "localhost" or a 127.0.0.1 tail
    # is still someone else's
    for forwarded in ("localhost", "6.6.6.6, 127.0.0.1"):
        r = client.get("/v1/models", headers={"x-forwarded-for": forwarded})
        assert r.status_code == 403, forwarded
    app.stop()
    _restarted, client = start(
        **{**env, "OLYMPUS_DATA_DIR": str(app.data_dir), "OLYMPUS_PORT": str(free_port())}
    )
    locked = _attempt(client, PASSWORD, "203.0.113.5")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 500


def _stall(port: int, path: str, key: str = "") -> socket.socket:
    """A request that announces a 1 GB body and never sends it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    s.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: "
            "application/json\r\nContent-Length: 1000000000\r\n\r\n"
        ).encode()
    )
    return s


def _answer(s: socket.socket, wait_s: float) -> bytes:
    s.settimeout(wait_s)
    try:
        return s.recv(200)
    except TimeoutError:
        return b""


def test_a_keyed_request_answers_while_110_bodies_stall(start):
    app, client = start()
    app.wait_status(lambda s: s.get("api", {}).get("state") == "ready", 60, "API ready")
    store = KeyStore(app.data_dir)
    (_, staller_key), (_, good_key) = store.create("staller"), store.create("good")
    unkeyed = [_stall(app.port, "/v1/chat/completions") for _ in range(110)]
    try:
        for s in unkeyed[:20]:  # the 401 comes at once, before any body
            assert s.recv(200).startswith(b"HTTP/1.1 401"), "refused before the body"
        keyed = [_stall(app.port, "/v1/chat/completions", staller_key) for _ in range(20)]
        started = time.monotonic()
        r = httpx.get(
            f"http://127.0.0.1:{app.port}/v1/models",
            timeout=60,
            headers={"authorization": f"Bearer {good_key}"},
        )
        elapsed = time.monotonic() - started
        print(f"keyed request while 110 bodies stall: {elapsed:.2f} s")
        assert r.status_code == 200 and elapsed < 30, (r.status_code, elapsed)
        time.sleep(2)
        assert len([s for s in keyed if _answer(s, 0.05).startswith(b"HTTP/1.1 429")]) == 4, (
            "at most 16 at once per client and key"
        )
    finally:
        for s in unkeyed + locals().get("keyed", []):
            s.close()
    time.sleep(1)
    log = app.log()
    assert "Traceback" not in log and "ClientDisconnect" not in log
    gone = [r for r in app.log_records() if r.get("event") == "front.api_client_gone"]
    assert gone, "a client that goes away is one log line"


def test_a_client_that_trickles_its_headers_is_cut_off(start):
    from src.front.server import HEADER_TIMEOUT_S

    app, client = start()
    s = socket.create_connection(("127.0.0.1", app.port), timeout=HEADER_TIMEOUT_S * 4)
    try:
        started = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(int(HEADER_TIMEOUT_S * 3)):  # one header line a second, never the end
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            time.sleep(1)
        assert time.monotonic() - started < HEADER_TIMEOUT_S * 3, "the front closed it"
    finally:
        s.close()
    assert client.get("/_olympus/health").status_code == 200


def test_a_cookie_replayed_after_sign_out_is_refused(start):
    app, client = start(OLYMPUS_PASSWORD=PASSWORD)
    client.get("/_olympus/login")
    planted = client.cookies.get(COOKIE_NAME) or ""
    client.get("/", headers=HTML)  # the front hands out a browser id before sign-in
    planted = client.cookies.get(COOKIE_NAME) or planted
    settings = load_settings(data_dir=app.data_dir)
    old_id = _browser_id(app, planted)
    if old_id:
        chats = ChatStore.for_browser(settings, old_id)
        chats.dir.mkdir(parents=True)
        (chats.dir / "chat-before-sign-in.json").write_text("{}")
    r = client.post("/_olympus/login", data={"password": PASSWORD, "next": "/"})
    assert r.status_code == 303
    signed_in = client.cookies.get(COOKIE_NAME)
    new_id = _browser_id(app, signed_in)
    assert new_id and new_id != old_id, "a new browser id at sign-in (no fixation)"
    if old_id:
        carried = ChatStore.for_browser(settings, new_id).dir / "chat-before-sign-in.json"
        assert carried.exists(), "that browser's chats are carried over"
    copy = cookie_header(client)
    assert client.get("/", headers=HTML).status_code == 200
    client.get("/_olympus/logout")
    with httpx.Client(base_url=f"http://127.0.0.1:{app.port}") as thief:
        replay = thief.get("/", headers={**HTML, "cookie": copy})
        assert replay.status_code == 303 and "/_olympus/login" in replay.headers["location"]
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus):
        run_page_sync(ws_url=f"ws://127.0.0.1:{app.port}/_stcore/stream", cookie=copy)


def test_a_second_browser_cannot_resume_a_first_browsers_session(start):
    app, first = start(OLYMPUS_PASSWORD=PASSWORD)
    base = f"http://127.0.0.1:{app.port}"
    ws = f"ws://127.0.0.1:{app.port}/_stcore/stream"
    first.post("/_olympus/login", data={"password": PASSWORD, "next": "/"})
    mine = run_page_sync(ws_url=ws, cookie=cookie_header(first))
    first_id = _browser_id(app, first.cookies.get(COOKIE_NAME))
    assert f"first={first_id}" in mine.text and mine.session_id
    # the owner's own reconnect resumes its session
    again = run_page_sync(ws_url=ws, cookie=cookie_header(first), session_id=mine.session_id)
    assert f"first={first_id}" in again.text
    with httpx.Client(base_url=base) as second:  # another reader, signed in too
        second.post("/_olympus/login", data={"password": PASSWORD, "next": "/"})
        second_id = _browser_id(app, second.cookies.get(COOKIE_NAME))
        ride = run_page_sync(ws_url=ws, cookie=cookie_header(second), session_id=mine.session_id)
        assert ride.session_id != mine.session_id, "a fresh session, not the first one"
        assert f"first={second_id}" in ride.text and first_id not in ride.text
        # and Streamlit itself, reached directly with the first session's id: that
        # session's state is emptied for the other browser, never shown to it
        internal = int(app.env["OLYMPUS_STREAMLIT_PORT"])
        direct = run_page_sync(
            ws_url=f"ws://127.0.0.1:{internal}/_stcore/stream",
            cookie=cookie_header(second),
            session_id=mine.session_id,
        )
        assert f"first={second_id}" in direct.text and first_id not in direct.text
    refused = [r for r in app.log_records() if r.get("event") == "front.websocket_resume_refused"]
    assert refused


def _put(client: httpx.Client, session_id: str, name: str, data: bytes, **headers: str):
    xsrf = client.cookies.get("_streamlit_xsrf", "")
    return client.put(
        f"/_stcore/upload_file/{session_id}/file-{name}",
        files={"UploadedFile": (name, data, "application/octet-stream")},
        headers={"x-xsrftoken": xsrf, **headers},
    )


def _while_connected(ws_url: str, cookie: str, xsrf: str, fn):
    """``fn(session_id)`` while a browser keeps its session's websocket open."""
    import asyncio

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    async def go():
        async with connect(
            ws_url,
            subprotocols=["streamlit", xsrf or "none"],
            additional_headers={"Cookie": cookie},
            max_size=None,
        ) as ws:
            back = BackMsg()
            back.rerun_script.query_string = ""
            await ws.send(back.SerializeToString())
            async for data in ws:
                msg = ForwardMsg.FromString(data)
                if msg.HasField("new_session"):
                    return await asyncio.to_thread(fn, msg.new_session.initialize.session_id)

    return asyncio.run(asyncio.wait_for(go(), 120))


def test_streamlits_upload_endpoint_takes_only_pdfs_of_the_allowed_size(start):
    from tests.fixtures.pdfs import make_text_pdf

    app, reader = start(
        OLYMPUS_PASSWORD=PASSWORD,
        OLYMPUS_ADMIN_PASSWORD="admin " + PASSWORD,
        OLYMPUS_MAX_UPLOAD_MB="1",
        OLYMPUS_SESSION_QUEUE_MB="2",
    )
    ws = f"ws://127.0.0.1:{app.port}/_stcore/stream"
    reader.post("/_olympus/login", data={"password": PASSWORD, "next": "/"})
    reader.get("/_stcore/health")  # Streamlit sets its XSRF cookie here
    pdf = make_text_pdf(["A page about the upsd daemon."])

    def attacks(session_id: str) -> None:
        first = _put(reader, session_id, "manual.pdf", pdf)
        assert first.status_code in (200, 204), first.text
        assert _put(reader, session_id, "notes.txt", b"hello " * 1000).status_code == 415
        assert _put(reader, session_id, "fake.pdf", b"MZ" + b"\0" * 4000).status_code == 415
        too_big = _put(reader, session_id, "big.pdf", b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
        assert too_big.status_code == 413 and "OLYMPUS_MAX_UPLOAD_MB" in too_big.text
        padded = b"%PDF-1.4\n" + b"0" * 900_000  # just under the file limit, three times: 2 MB
        codes = [
            _put(reader, session_id, f"p{i}.pdf", padded + bytes([i])).status_code for i in range(3)
        ]
        assert codes[-1] == 429 and set(codes[:-1]) <= {200, 204}, codes
        with httpx.Client(base_url=f"http://127.0.0.1:{app.port}") as other:  # another reader
            other.post("/_olympus/login", data={"password": PASSWORD, "next": "/"})
            other.get("/_stcore/health")
            assert _put(other, session_id, "manual.pdf", pdf).status_code == 403
            # Streamlit's metrics are for administrators only
            assert other.get("/_stcore/metrics").status_code == 403
            other.post("/_olympus/login", data={"password": "admin " + PASSWORD, "next": "/"})
            assert other.get("/_stcore/metrics").status_code != 403

    _while_connected(ws, cookie_header(reader), reader.cookies.get("_streamlit_xsrf", ""), attacks)


def test_a_container_start_without_a_password_serves_only_the_sign_in_page(data_dir, capsys):
    """The real front app as a container start builds it (bound to 0.0.0.0, no password),
    driven in-process so nothing listens beyond loopback; Streamlit's port is closed, so a
    request the front lets through answers 502, one it keeps out 303/401."""
    from starlette.testclient import TestClient

    from src.access.session_cookie import load_secret
    from src.front.app import build_app
    from src.front.config import FrontConfig

    settings = load_settings(data_dir=data_dir, address="0.0.0.0")
    config = FrontConfig.from_settings(
        settings, upstream_port=free_port(), secret=load_secret(data_dir)
    )
    assert config.policy.closed and config.door is not None
    config.door.announce("0.0.0.0", 8501)
    logged = capsys.readouterr()
    assert f"/_olympus/login?token={config.door.token}" in logged.out + logged.err
    with TestClient(build_app(config), base_url="http://localhost") as stranger:
        page = stranger.get("/", headers=HTML, follow_redirects=False)
        assert page.status_code == 303 and "/_olympus/login" in page.headers["location"]
        for path in ("/documents", "/_stcore/metrics", "/static/app.js"):
            assert stranger.get(path, follow_redirects=False).status_code in (303, 401), path
        form = stranger.get("/_olympus/login")
        assert "no password yet" in form.text and "OLYMPUS_PASSWORD" in form.text
        wrong = stranger.get("/_olympus/login?token=guess", follow_redirects=False)
        assert wrong.status_code == 401
    with TestClient(build_app(config), base_url="http://localhost") as admin:
        r = admin.get(f"/_olympus/login?token={config.door.token}", follow_redirects=False)
        assert r.status_code == 303
        assert admin.get("/", headers=HTML, follow_redirects=False).status_code == 502, (
            "signed in: through to Streamlit"
        )
    with TestClient(build_app(config), base_url="http://localhost") as late:
        again = late.get(f"/_olympus/login?token={config.door.token}", follow_redirects=False)
        assert again.status_code == 401, "the token works once"
    # loopback-only stays password-free
    local = FrontConfig.from_settings(
        load_settings(data_dir=data_dir, address="127.0.0.1"), upstream_port=1, secret=b"k" * 40
    )
    assert not local.policy.closed and local.door is None


def _api_pid(app) -> int:
    from pathlib import Path

    from tests.supervisor.conftest import descendants

    for pid in descendants(app.proc.pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"src.api" in cmd:
            return pid
    raise AssertionError("no API process")


def test_an_accepted_upload_survives_kill_9_of_the_api(start):
    import os
    import signal

    from tests.fixtures.pdfs import make_text_pdf
    from tests.supervisor.conftest import wait_for

    app, _ = start()
    app.wait_status(lambda s: s.get("api", {}).get("state") == "ready", 60, "API ready")
    _, key = KeyStore(app.data_dir).create("uploader", scope="write")
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{app.port}",
        timeout=60,
        headers={"authorization": f"Bearer {key}"},
    )
    spool = app.data_dir / "upload_spool"
    names = [f"manual-{i}.pdf" for i in range(4)]
    jobs = {}
    for i, name in enumerate(names):
        pages = [
            f"Manual {i}, page {p}: the upsd daemon listens on TCP port {3490 + i}. " * 20
            for p in range(6)
        ]
        r = api.post(
            "/v1/documents", files={"file": (name, make_text_pdf(pages), "application/pdf")}
        )
        assert r.status_code == 202, r.text
        jobs[name] = r.json()["job"]["id"]
    pending = {int(p.stem) for p in spool.glob("*.json")}  # accepted, not indexed yet
    os.kill(_api_pid(app), signal.SIGKILL)
    assert pending, "some uploads were still waiting when the API died"

    def answered(job_id: int):
        try:
            r = api.get(f"/v1/jobs/{job_id}")
        except httpx.TransportError:
            return None
        return (
            r.json()["job"]
            if r.status_code == 200 and r.json()["job"]["state"] in ("added", "duplicate")
            else None
        )

    for job_id in pending:  # the same job ids answer after the restart, and finish
        done = wait_for(lambda job_id=job_id: answered(job_id), 240, f"job {job_id}", 1.0)
        assert done["doc_id"]
    listed = {d["name"] for d in api.get("/v1/documents").json()["data"]}
    assert set(names) <= listed, "every accepted upload is in the library"
    assert not list(spool.glob("*.pdf")), "indexed uploads leave the spool"
    # cancelling removes a waiting upload from the disk too
    big = make_text_pdf(["cancel me " * 200] * 30)
    first = api.post("/v1/documents", files={"file": ("a.pdf", big, "application/pdf")})
    second = api.post("/v1/documents", files={"file": ("b.pdf", big + b" ", "application/pdf")})
    job_id = second.json()["job"]["id"]
    assert job_id > max(jobs.values()), "ids keep counting across the restart"
    assert (spool / f"{job_id}.pdf").exists()
    assert api.delete(f"/v1/jobs/{job_id}").json()["cancelled"]
    assert not (spool / f"{job_id}.pdf").exists()
    assert first.status_code == 202
    api.close()
