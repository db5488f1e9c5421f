"""The supervisor's order, restarts, backoff and shutdown, driven by a fake clock and fake
processes (no sleeping, no real children). Real processes are in the other test files."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from src.settings import load_settings
from src.status import StatusFile
from src.supervisor import Supervisor
from src.supervisor.backoff import RestartPolicy
from tests.supervisor.conftest import REPO


@dataclass
class FakeProfile:
    engine: str = "ollama"
    port: int = 8501
    address: str = "127.0.0.1"
    threads: int = 2
    context_tokens: int = 4096
    parallel_answers: int = 3
    answer_queue: int = 12
    model: str = "tiny"


class FakeProcess:
    def __init__(self, name: str, pid: int, spec) -> None:
        self.name, self.pid, self.spec = name, pid, spec
        self.code: int | None = None
        self.stopped = False

    def poll(self):
        return self.code

    def stop(self, grace_s: float) -> int:
        self.stopped = True
        if self.code is None:
            self.code = -15
        return self.code


@dataclass
class World:
    """Fake time, processes and readiness; ``script`` runs at fake times during sleeps."""

    now: float = 0.0
    spawned: list[tuple[float, FakeProcess]] = field(default_factory=list)
    ready: set[str] = field(default_factory=set)  # child names whose ready_url answers
    hung: set[int] = field(default_factory=set)  # pids alive but no longer answering
    script: list[tuple[float, object]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    sup: Supervisor | None = None

    def spawn(self, spec):
        proc = FakeProcess(spec.name, 1000 + len(self.spawned), spec)
        self.spawned.append((self.now, proc))
        self.events.append(f"start {spec.name}")
        orig_stop = proc.stop

        def stop(grace_s: float, _orig=orig_stop, _p=proc) -> int:
            if _p.code is None:
                self.events.append(f"stop {_p.name}")
            return _orig(grace_s)

        proc.stop = stop  # type: ignore[method-assign]
        return proc

    def probe(self, url: str) -> bool:
        return any(
            p.spec.ready_url == url
            and p.name in self.ready
            and p.code is None
            and p.pid not in self.hung
            for _, p in self.spawned
        )

    def sleep(self, dt: float) -> None:
        self.now += dt
        time.sleep(0.0005)  # let the provisioning thread run
        while self.script and self.script[0][0] <= self.now:
            _, action = self.script.pop(0)
            action(self)  # type: ignore[operator]
        if self.now > 10_000:
            raise AssertionError("the supervisor never stopped")

    def procs(self, name: str) -> list[FakeProcess]:
        return [p for _, p in self.spawned if p.name == name]

    def stop_at(self, t: float, sig: int = signal.SIGTERM) -> None:
        self.script.append((t, lambda w: w.sup.request_stop(sig)))
        self.script.sort(key=lambda item: item[0])

    def at(self, t: float, action) -> None:
        self.script.append((t, action))
        self.script.sort(key=lambda item: item[0])


def make(
    world: World,
    data_dir: Path,
    profile=None,
    provision=None,
    warm_up=None,
    busy_ports=(),
    arangod=None,
    **overrides,
):
    values = dict(
        restart_backoff_s=1,
        restart_backoff_max_s=8,
        restart_max=4,
        restart_window_s=100,
        engine_ready_timeout_s=20,
    )
    settings = load_settings(data_dir=data_dir, **{**values, **overrides})
    calls = []

    def default_provision(settings, profile, *, progress, status=None):
        calls.append(profile)
        return None

    sup = Supervisor(
        settings,
        detect=lambda s: profile or FakeProfile(),
        provision=provision or default_provision,
        arangod=arangod or (lambda s: None),
        spawn=world.spawn,
        probe=world.probe,
        clock=lambda: world.now,
        wall=lambda: 1_700_000_000 + world.now,
        sleep=world.sleep,
        environ={"HOME": str(data_dir)},
        tick_s=0.5,
        warm_up=warm_up,
        port_open=lambda host, port: port in busy_ports,
    )
    world.sup = sup
    return sup, StatusFile(settings.status_path), calls


def test_engine_first_then_streamlit_then_provisioning_then_clean_stop(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, calls = make(w, data_dir)
    w.stop_at(30)
    assert sup.run() == 143
    assert w.events == [
        "start engine",
        "start api",
        "start streamlit",
        "start front",
        "stop front",
        "stop streamlit",
        "stop api",
        "stop engine",
    ]
    assert len(calls) == 1 and calls[0].model == "tiny"
    engine_argv = w.procs("engine")[0].spec.argv
    assert engine_argv[-1] == "serve"
    env = w.procs("engine")[0].spec.env
    assert env["OLLAMA_HOST"].startswith("127.0.0.1:")
    assert env["OLLAMA_CONTEXT_LENGTH"] == "4096"
    assert env["OLLAMA_NUM_PARALLEL"] == "3"  # the profile's slots, one owner
    assert env["OLLAMA_MODELS"].startswith(str(data_dir.resolve()))
    st = status.read()
    assert st["supervisor"]["state"] == "stopped" and st["supervisor"]["exit_code"] == 143
    assert st["engine"]["state"] == "stopped" and st["streamlit"]["state"] == "stopped"
    # the front has the public port and proxies to Streamlit, which listens on loopback only
    front, ui = w.procs("front")[0].spec, w.procs("streamlit")[0].spec
    assert front.argv[front.argv.index("--port") + 1] == "8501"
    internal = front.argv[front.argv.index("--upstream-port") + 1]
    assert ui.argv[ui.argv.index("--server.port") + 1] == internal != "8501"
    assert ui.argv[ui.argv.index("--server.address") + 1] == "127.0.0.1"
    assert st["provisioning"]["phase"] == "ready"
    assert st["profile"]["engine"] == "ollama"


def test_sigint_exits_130(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, _, _ = make(w, data_dir)
    w.stop_at(5, signal.SIGINT)
    assert sup.run() == 130


def test_streamlit_waits_for_the_engine_only_briefly_and_the_engine_keeps_its_deadline(data_dir):
    w = World(ready={"api", "streamlit", "front"})  # the engine never answers
    sup, status, calls = make(w, data_dir)
    seen: dict[str, object] = {}
    w.at(2, lambda w: seen.setdefault("streamlit@2", bool(w.procs("streamlit"))))
    w.at(19, lambda w: seen.setdefault("engine@19", status.section("engine")["state"]))
    w.stop_at(25)
    sup.run()
    assert seen["streamlit@2"] is False  # the engine got its head start
    assert [p.name for _, p in w.spawned[1:3]] == ["api", "streamlit"]
    assert 3 <= w.spawned[2][0] <= 4  # then the UI started without waiting any longer
    assert seen["engine@19"] == "starting"  # the engine still had until its 20 s deadline
    eng = status.section("engine")
    assert "not ready within 20 s" in eng["last_error"]
    assert calls == []  # nothing to import into an Ollama that is not up


def test_crashed_engine_restarts_with_exponential_backoff_then_stays_down(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)

    def crash(w: World) -> None:
        live = [p for p in w.procs("engine") if p.code is None]
        if live:
            live[0].code = 1

    for t in (10, 11.5, 14, 19, 28):  # kill whatever engine runs at these times
        w.at(t, crash)
    w.stop_at(60)
    assert sup.run() == 143
    starts = [t for t, p in w.spawned if p.name == "engine"]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(starts)]
    # 1st crash at 10 -> restart 1 s later; then 2 s, 4 s; the 4th crash in the window: down
    assert len(starts) == 4, starts
    assert [round(s) for s in starts[1:]] == [11, 14, 18]
    assert gaps[0] >= 1
    eng = status.section("engine")
    assert eng["state"] == "stopped" or eng["state"] == "down"
    assert sup.slots["engine"].state == "down"
    assert eng["restarts"] == 3
    assert "exited with code 1" in eng["last_error"]
    assert len(w.procs("streamlit")) == 1  # the UI kept running, the chain falls back


def test_streamlit_is_restarted_when_it_dies(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)
    w.at(10, lambda w: setattr(w.procs("streamlit")[0], "code", -9))
    w.stop_at(20)
    sup.run()
    assert len(w.procs("streamlit")) == 2
    assert status.section("streamlit")["restarts"] == 1
    assert "killed by SIGKILL" in status.section("streamlit")["last_error"]


def test_streamlit_that_keeps_dying_brings_the_supervisor_down_with_code_1(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)

    def crash(w: World) -> None:
        for p in w.procs("streamlit"):
            if p.code is None:
                p.code = 1

    for t in range(5, 60):
        w.at(t, crash)
    w.stop_at(500)
    assert sup.run() == 1
    sv = status.section("supervisor")
    assert sv["state"] == "failed" and "streamlit keeps failing" in sv["error"]
    assert w.procs("engine")[0].stopped


def test_llamacpp_engine_waits_for_the_model_while_the_ui_comes_up(data_dir, tmp_path):
    gguf = tmp_path / "m.gguf"
    gate = threading.Event()

    def provision(settings, profile, *, progress, status=None):
        gate.wait(5)
        return gguf

    warmed = []

    def warm_up(url: str, timeout_s: float) -> float:
        warmed.append(url)
        return 0.25

    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(
        w,
        data_dir,
        profile=FakeProfile(engine="llamacpp"),
        provision=provision,
        warm_up=warm_up,
        llamacpp_port=8123,
    )
    seen = {}
    w.at(
        3,
        lambda w: seen.update(
            state=status.section("engine")["state"], names=[p.name for _, p in w.spawned]
        ),
    )
    w.at(4, lambda w: gate.set())
    w.stop_at(40)
    sup.run()
    assert seen == {"state": "waiting_for_model", "names": ["api", "streamlit", "front"]}
    engine = w.procs("engine")[0]
    assert engine.spec.argv[1:6] == ["-m", "src", "engine", "serve", "--model"]
    assert engine.spec.argv[6] == str(gguf)
    assert "--ctx" in engine.spec.argv and "--threads" in engine.spec.argv
    argv = engine.spec.argv
    assert argv[argv.index("--parallel") + 1] == "3"  # the profile's slots
    assert engine.spec.ready_url.endswith("/health")
    for _ in range(100):  # the provisioning thread finishes in real time
        if status.section("provisioning").get("phase") == "ready":
            break
        time.sleep(0.02)
    prov = status.section("provisioning")
    assert prov["phase"] == "ready" and prov["warm_up_s"] == 0.25
    assert prov["model_path"] == str(gguf)
    assert warmed == ["http://127.0.0.1:8123"]


def test_provisioning_failure_is_published_not_swallowed(data_dir):
    from shared_utils.errors import NetworkUnavailable

    def provision(settings, profile, *, progress, status=None):
        raise NetworkUnavailable("huggingface.co unreachable")

    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir, provision=provision)
    w.at(5, lambda w: time.sleep(0.05))
    w.stop_at(10)
    sup.run()
    prov = status.section("provisioning")
    assert prov["phase"] == "failed"
    assert "unreachable" in prov["error"] and "keeps using models" in prov["error"]


def test_no_engine_means_no_child_and_no_provisioning(data_dir):
    w = World(ready={"api", "streamlit", "front"})
    sup, status, calls = make(w, data_dir, profile=FakeProfile(engine="none"))
    w.stop_at(5)
    sup.run()
    assert [p.name for _, p in w.spawned] == ["api", "streamlit", "front"]
    assert status.section("engine")["state"] == "disabled"
    assert status.section("provisioning")["phase"] == "skipped"
    assert calls == []


def test_external_ollama_is_not_started(data_dir):
    w = World(ready={"api", "streamlit", "front"})
    sup, status, _calls = make(w, data_dir, ollama_host="http://gpu-box:11434")
    w.stop_at(5)
    sup.run()
    assert [p.name for _, p in w.spawned] == ["api", "streamlit", "front"]
    assert status.section("engine")["state"] == "external"
    assert status.section("engine")["url"] == "http://gpu-box:11434"


# --- the restart policy alone --------------------------------------------------------------------
def test_backoff_doubles_and_is_capped():
    p = RestartPolicy(base_s=1, max_s=5, max_failures=100, window_s=1000)
    assert [p.record_failure(t).delay_s for t in range(6)] == [1, 2, 4, 5, 5, 5]


def test_failures_outside_the_window_are_forgotten():
    p = RestartPolicy(base_s=1, max_s=60, max_failures=3, window_s=10)
    assert not p.record_failure(0).give_up
    assert not p.record_failure(1).give_up
    assert not p.record_failure(20).give_up  # the first two fell out of the window
    assert p.record_failure(21).give_up is False
    assert p.record_failure(22).give_up  # 3 failures within 10 s


def test_a_long_healthy_run_resets_the_delay():
    p = RestartPolicy(base_s=1, max_s=60, max_failures=10, window_s=10)
    p.record_start(0)
    assert p.record_failure(1).delay_s == 1
    p.record_start(2)
    assert p.record_failure(3).delay_s == 2
    p.record_start(4)
    assert p.record_failure(100).delay_s == 1  # ran 96 s > window: starts over


def test_zero_restarts_allowed_means_down_at_first_failure():
    p = RestartPolicy(base_s=1, max_s=60, max_failures=0, window_s=10)
    assert p.record_failure(0).give_up


def test_an_engine_that_stays_down_is_reported_in_provisioning_too(data_dir):
    w = World(ready={"api", "streamlit", "front"})
    sup, status, calls = make(w, data_dir, restart_max=1)  # fails once: down
    w.at(1, lambda w: setattr(w.procs("engine")[0], "code", 2))
    w.stop_at(10)
    sup.run()
    assert sup.slots["engine"].state == "down"
    prov = status.section("provisioning")
    assert prov["phase"] == "failed" and "engine is down (exited with code 2)" in prov["error"]
    assert calls == []


def test_an_internal_error_still_stops_the_children(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)

    def boom(w: World) -> None:
        raise RuntimeError("bug in a tick")

    w.at(5, boom)
    assert sup.run() == 1
    assert all(p.stopped for _, p in w.spawned)
    assert "internal error: RuntimeError: bug in a tick" in status.section("supervisor")["error"]


def test_a_hung_engine_is_restarted_after_a_minute_of_silence(data_dir):
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)
    w.at(100, lambda w: w.hung.add(w.procs("engine")[0].pid))  # alive, no longer answering
    seen = {}
    w.at(150, lambda w: seen.setdefault("engines@150", len(w.procs("engine"))))
    w.at(250, lambda w: seen.setdefault("state@250", w.sup.slots["engine"].state))
    w.stop_at(260)
    sup.run()
    assert seen["engines@150"] == 1  # a short silence is tolerated
    engines = w.procs("engine")
    assert len(engines) == 2
    assert engines[0].stopped
    assert 150 < w.spawned[4][0] < 175  # 4 missed checks, 15 s apart, then the 1 s backoff
    eng = status.section("engine")
    assert "stopped answering" in eng["last_error"] and "4 checks in a row" in eng["last_error"]
    assert seen["state@250"] == "ready"


def test_children_share_the_supervisors_working_dir_and_absolute_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, _, _ = make(
        w,
        Path("relative-data"),
        profile=FakeProfile(engine="llamacpp"),
        llamacpp_model_path=str(tmp_path / "m.gguf"),
        warm_up=lambda u, t: 0.0,
    )
    w.stop_at(5)
    sup.run()
    for _, proc in w.spawned:
        assert proc.spec.cwd is None  # inherits the supervisor's, where a .env would be read
        assert proc.spec.env["OLYMPUS_DATA_DIR"] == str(tmp_path / "relative-data")
        assert proc.spec.env["PYTHONPATH"].split(":")[0] == str(REPO)
    assert (tmp_path / "relative-data" / "status.json").exists()


def test_an_ollama_already_running_on_the_port_is_used_not_fought(data_dir):
    w = World(ready={"api", "streamlit", "front"})
    sup, status, calls = make(w, data_dir, busy_ports={11434})
    w.stop_at(5)
    sup.run()
    assert [p.name for _, p in w.spawned] == ["api", "streamlit", "front"]
    eng = status.section("engine")
    assert eng["state"] == "external" and eng["url"] == "http://127.0.0.1:11434"
    assert len(calls) == 1  # the model is provisioned into that Ollama


def test_a_busy_llamacpp_port_is_reported_with_the_fix(data_dir, tmp_path):
    w = World(ready={"api", "streamlit", "front"})
    sup, status, _ = make(
        w,
        data_dir,
        profile=FakeProfile(engine="llamacpp"),
        busy_ports={8123},
        llamacpp_port=8123,
        llamacpp_model_path=str(tmp_path / "m.gguf"),
    )
    w.stop_at(5)
    sup.run()
    assert [p.name for _, p in w.spawned] == ["api", "streamlit", "front"]
    eng = status.section("engine")
    assert eng["state"] == "down"
    assert "port 8123 is already in use" in eng["last_error"]
    assert "OLYMPUS_LLAMACPP_PORT" in eng["last_error"]


def test_a_busy_public_port_stops_the_start_before_any_child(data_dir):
    from shared_utils.errors import PortInUse

    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, calls = make(w, data_dir, busy_ports={8501})
    with pytest.raises(PortInUse, match=r"port 8501 is already in use.*OLYMPUS_PORT"):
        sup.run()
    assert w.spawned == [] and calls == []
    assert status.section("supervisor")["state"] == "failed"
    sup2, _, _ = make(w, data_dir)  # the data dir is not left locked
    w.stop_at(w.now + 5)
    assert sup2.run() == 143


def test_port_open_sees_a_real_listener():
    import socket

    from src.supervisor.readiness import port_open

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_open("127.0.0.1", port)
    assert not port_open("127.0.0.1", port)


def test_local_arangod_starts_first_and_the_app_is_pointed_at_it(data_dir):
    from src.supervisor.arangod import arangod_spec

    w = World(ready={"arangod", "engine", "api", "streamlit", "front"})
    spec = lambda s: arangod_spec(s, which=lambda name: "/usr/sbin/arangod")  # noqa: E731
    sup, _status, _ = make(w, data_dir, arangod=spec)
    w.stop_at(30)
    assert sup.run() == 143
    assert w.events[0] == "start arangod" and w.events[-1] == "stop arangod"
    arangod_env = w.procs("arangod")[0].spec.env
    assert arangod_env["HOME"] == str(data_dir)  # the base environment is kept
    assert "ARANGODB_OVERRIDE_DETECTED_TOTAL_MEMORY" in arangod_env
    app_env = w.procs("streamlit")[0].spec.env
    assert app_env["OLYMPUS_ARANGO_URL"] == "http://127.0.0.1:8529"


def test_models_use_restarts_the_llamacpp_engine_with_the_new_file(data_dir, tmp_path):
    """`python -m src models use NAME` writes active_model.json; the supervisor serves that
    file on its next tick (the engine loads one GGUF), with no restart of Olympus."""
    first, second = tmp_path / "first.gguf", tmp_path / "second.gguf"
    chosen = {"path": first}
    w = World(ready={"engine", "api", "streamlit"})
    sup, status, _ = make(
        w,
        data_dir,
        profile=FakeProfile(engine="llamacpp"),
        provision=lambda s, p, **kw: first,
        warm_up=lambda url, t: 0.1,
    )
    sup._local_model = lambda settings, profile: chosen["path"]

    def use_second(w):
        chosen["path"] = second
        (data_dir / "active_model.json").write_text(f'{{"name": "second", "path": "{second}"}}')

    w.at(10, use_second)
    w.stop_at(30)
    sup.run()
    served = [p.spec.argv[p.spec.argv.index("--model") + 1] for p in w.procs("engine")]
    assert served == [str(first), str(second)]
    assert w.procs("engine")[0].stopped  # the old engine was stopped, not left running
    assert status.section("engine")["model"] == str(second)


def test_the_api_owns_the_stores_and_the_ui_and_the_front_are_told_where_it_is(data_dir):
    """The API starts before Streamlit; Streamlit gets its URL and this start's token (so it
    opens no store itself); the front forwards to its port; the CLI finds the token."""
    from src.access.keys import read_service_token

    w = World(ready={"engine", "api", "streamlit", "front"})
    sup, status, _ = make(w, data_dir)
    w.at(10, lambda w: setattr(w.procs("api")[0], "code", -9))  # the API crashes once
    w.stop_at(30)
    assert sup.run() == 143
    first, second = w.procs("api")
    assert first.spec.argv[-2:] == second.spec.argv[-2:]  # restarted on the same port
    port = first.spec.argv[first.spec.argv.index("--port") + 1]
    token = first.spec.env["OLYMPUS_SERVICE_TOKEN"]
    assert token and token == read_service_token(data_dir)
    ui = w.procs("streamlit")[0].spec.env
    assert ui["OLYMPUS_SERVICE_URL"] == f"http://127.0.0.1:{port}"
    assert ui["OLYMPUS_SERVICE_TOKEN"] == token
    front = w.procs("front")[0].spec.argv
    assert front[front.index("--api-port") + 1] == port
    assert len(w.procs("streamlit")) == 1  # the UI kept running while the API restarted
    assert status.section("api")["restarts"] == 1
    assert (data_dir / "service.token").stat().st_mode & 0o077 == 0
