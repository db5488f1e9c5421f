"""How the CLI decides between the running service and its own stores: a service
that answers is used; while startup.py holds the data dir but its service does not answer
yet, the command waits for it (never opening the stores beside it) or fails saying what to
do; with no startup.py on the data dir it works in-process.

The supervisor is the real data dir lock (``DataDirLock``), the status the real status file;
the service is a loopback HTTP server whose readiness URL the test switches on."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared_utils.errors import AlreadyRunning, ServiceStarting
from src.access.keys import new_service_token
from src.service.client import RemotePipeline
from src.service.discovery import connect, look, running_service
from src.settings import load_settings
from src.status import StatusFile
from src.supervisor.lock import DataDirLock, held


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's name
        ready = self.server.ready and self.path == "/api/health"  # type: ignore[attr-defined]
        self.send_response(200 if ready else 503)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def service():
    """A loopback server whose /api/health answers 200 once ``.ready`` is set."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.ready = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data")


class FakeClock:
    """time.monotonic/time.sleep stand-ins; ``on_sleep`` runs at each sleep (the world moves)."""

    def __init__(self, on_sleep=lambda now: None) -> None:
        self.now = 0.0
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s
        self.on_sleep(self.now)


def _publish(settings, **api) -> None:
    StatusFile(settings.status_path).replace("api", **api)


@pytest.fixture
def supervisor(settings):
    """What startup.py does first: lock the data dir, reset the status, a fresh token."""
    lock = DataDirLock(settings.data_dir).acquire()
    StatusFile(settings.status_path).replace(
        "supervisor", pid=1, started=time.time(), state="starting"
    )
    new_service_token(settings.data_dir)
    yield lock
    lock.release()


def test_no_supervisor_and_no_service_means_in_process_without_waiting(settings):
    said: list[str] = []
    clock = FakeClock()
    assert connect(settings, say=said.append, clock=clock.clock, sleep=clock.sleep) is None
    assert said == [] and clock.now == 0.0


def test_a_ready_service_is_used_at_once(settings, service):
    service.ready = True
    new_service_token(settings.data_dir)
    _publish(settings, state="ready", url=service.url)  # e.g. a service the tests run alone
    said: list[str] = []
    remote = connect(settings, say=said.append)
    try:
        assert isinstance(remote, RemotePipeline) and remote.url == service.url
        assert said == []
    finally:
        remote.close()


def test_while_the_service_starts_the_command_waits_for_it_saying_so_once(
    settings, service, supervisor
):
    _publish(settings, state="starting", url=service.url)

    def world(now: float) -> None:  # the library is open after 5 s
        if now >= 5.0 and not service.ready:
            service.ready = True
            StatusFile(settings.status_path).update("api", state="ready")

    clock, said = FakeClock(world), []
    remote = connect(settings, say=said.append, clock=clock.clock, sleep=clock.sleep)
    remote.close()
    assert isinstance(remote, RemotePipeline)
    assert 5.0 <= clock.now < 6.0
    [line] = said
    assert "starting" in line and "waiting up to 90 s" in line


def test_a_service_that_does_not_come_up_fails_with_what_to_do(settings, service, supervisor):
    _publish(settings, state="restarting", url=service.url)
    clock = FakeClock()
    with pytest.raises(ServiceStarting) as err:
        connect(settings, wait_s=30, clock=clock.clock, sleep=clock.sleep)
    assert clock.now >= 30
    assert "not ready after 30 s" in err.value.message
    assert "restarting" in err.value.message
    assert "startup.py" in err.value.hint and "run the command again" in err.value.hint


def test_without_a_wait_a_starting_service_fails_at_once(settings, service, supervisor):
    """What doctor does: report the starting service, open nothing."""
    said: list[str] = []
    with pytest.raises(ServiceStarting, match="not ready yet"):
        connect(settings, wait_s=0, say=said.append)
    assert said == []


def test_a_ready_left_by_the_previous_run_is_not_trusted(settings, service):
    """The last run's service said ready at this URL (something answers there); the new
    supervisor has not started its own service yet, so the command must wait."""
    service.ready = True
    _publish(settings, state="ready", url=service.url)
    time.sleep(0.01)
    with DataDirLock(settings.data_dir):  # then startup.py starts again
        StatusFile(settings.status_path).replace("supervisor", started=time.time())
        assert look(settings).state == ""
        assert running_service(settings) is None
        with pytest.raises(ServiceStarting):
            connect(settings, wait_s=0)


def test_when_the_supervisor_goes_away_while_waiting_the_command_works_in_process(
    settings, supervisor
):
    _publish(settings, state="starting", url="http://127.0.0.1:9")

    def world(now: float) -> None:  # the API failed; startup.py stops and frees the data dir
        if now >= 2.0:
            supervisor.release()

    clock, said = FakeClock(world), []
    assert connect(settings, say=said.append, clock=clock.clock, sleep=clock.sleep) is None
    assert 2.0 <= clock.now < 3.0
    assert len(said) == 2 and "opening the library here" in said[1]


def test_a_service_whose_token_cannot_be_read_is_not_bypassed(settings, service, supervisor):
    """Another user (or a lost token): the service owns the stores, so the command fails
    saying whose command to run, instead of opening the stores itself."""
    service.ready = True
    _publish(settings, state="ready", url=service.url)
    (settings.data_dir / "service.token").unlink()
    with pytest.raises(ServiceStarting, match="cannot be read") as err:
        connect(settings)
    assert "user that runs startup.py" in err.value.hint


def test_held_sees_a_supervisor_and_does_not_stop_one_from_starting(tmp_path):
    data = tmp_path / "data"
    assert not held(data)  # no lock file yet
    with DataDirLock(data):
        assert held(data)
        with pytest.raises(AlreadyRunning):
            DataDirLock(data).acquire()
    assert not held(data)
    # CLIs probing often while startup.py takes the lock: startup.py still gets it (without
    # the retry in DataDirLock, some of these acquires meet a probe and fail)
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            held(data)
            time.sleep(0.00005)

    probing = threading.Thread(target=probe)
    probing.start()
    try:
        for _ in range(3000):
            DataDirLock(data).acquire().release()
    finally:
        stop.set()
        probing.join()
