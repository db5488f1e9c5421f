"""The supervisor: boots the appliance in a fixed order and keeps it up.

validate settings (done by the caller) -> lock the data dir -> detect the profile -> the
public port must be free (else ``PortInUse``, exit 2) -> start the engine (``ollama serve``, or
llama.cpp via ``python -m src engine serve``, or none) -> wait until it answers (its deadline
is ``engine_ready_timeout_s``; the UI waits at most ``ENGINE_HEAD_START_S`` for it) -> start
the service API (``python -m src.api``, which owns the stores) and at once Streamlit (told the
API's URL and token; its pages wait for the service while it opens the library) -> start the
front on the public port (allowed hosts, sign-in; it proxies to Streamlit on a loopback port)
-> provision the model in a background thread, publishing progress -> watch: restart crashed
children with backoff -> on SIGTERM/SIGINT stop the front, Streamlit, the API, then the
engine, each with a grace period, then SIGKILL; exit 143/130.

Where the engine is llama.cpp and no model file is configured, the model path comes from
provisioning: Streamlit starts first, the status says the engine waits for the model, and
the engine starts as soon as the file is known.

Clock, sleep, HTTP probe and process factory are constructor arguments, so the watch loop
and backoff are tested without sleeping. Children are only started from the thread that
calls ``run()`` (PR_SET_PDEATHSIG is tied to the forking thread).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.errors import OlympusError, PortInUse
from src.access.keys import new_service_token
from src.access.session_cookie import load_secret
from src.settings import Settings, child_environ, minimal_environ
from src.status import StatusFile
from src.supervisor import children, provisioner
from src.supervisor.arangod import arangod_spec
from src.supervisor.backoff import RestartPolicy
from src.supervisor.engine import EngineControl
from src.supervisor.lock import DataDirLock
from src.supervisor.process import (
    Child,
    ChildSpec,
    ProcessFactory,
    kill_strays,
    reap_strays,
    set_child_subreaper,
)
from src.supervisor.provisioner import Provisioner
from src.supervisor.publisher import StatusPublisher
from src.supervisor.readiness import Probe, free_port, http_ok, port_open
from src.supervisor.slot import Slot

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}
STOP_ORDER = ("front", "streamlit", "api", "engine", "arangod")
# The API opens the stores before it answers (~1-3 s; a loaded 2-core box is slower). The UI
# does not wait for it: until it answers, the pages say the library is opening.
API_READY_TIMEOUT_S = 120.0
STREAMLIT_READY_TIMEOUT_S = 60.0  # it answers in ~1-3 s; a loaded 2-core box can be slow
# The UI waits for the engine at most this long: Ollama answers in well under a second, but
# llama.cpp answers only once the model is loaded, and the UI must come up in seconds.
ENGINE_HEAD_START_S = 3.0


class Supervisor(EngineControl):
    def __init__(
        self,
        settings: Settings,
        *,
        detect: Callable[[Settings], Profile] | None = None,
        provision: Callable[..., Any] | None = None,
        arangod: Callable[[Settings], ChildSpec | None] | None = None,
        spawn: ProcessFactory = Child.start,
        probe: Probe = http_ok,
        live_probe: Probe | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
        tick_s: float = 0.1,
        subreaper: bool = False,
        warm_up: Callable[[str, float], float] | None = None,
        port_open: Callable[[str, int], bool] = port_open,
        local_model: Callable[[Settings, Profile], Path | None] | None = None,
    ) -> None:
        self.settings = settings
        self._detect = detect or provisioner.detect_profile
        self._provision = provision or provisioner.provision
        self._arangod = arangod or arangod_spec
        self.spawn = spawn
        self.probe = probe
        # liveness probes of ready children get a longer timeout than start-up polling
        self.live_probe = live_probe or (
            functools.partial(http_ok, timeout_s=2.0) if probe is http_ok else probe
        )
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.environ = dict(environ) if environ is not None else child_environ()
        self.tick_s = tick_s
        self._warm_up = warm_up
        self.port_open = port_open
        self._local_model = local_model or provisioner.local_model_path
        self._active_stamp: float | None = None  # mtime of active_model.json last seen
        self.subreaper = subreaper  # adopt orphaned grandchildren, kill leftovers on exit
        self.status = StatusPublisher(StatusFile(settings.status_path), clock=clock)
        self.slots: dict[str, Slot] = {}
        self.profile: Profile | None = None
        self._env: dict[str, str] = {}
        self._signal: int | None = None
        self._fatal = ""
        self._models: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._provisioner: threading.Thread | None = None
        self._engine_ready = threading.Event()
        self._t0 = 0.0

    # --- entry -----------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for sig in EXIT_CODES:
            signal.signal(sig, lambda signum, _frame: self.request_stop(signum))

    def request_stop(self, signum: int) -> None:
        """Ask the main loop to shut down (safe to call from a signal handler)."""
        if self._signal is None:
            self._signal = signum

    def run(self) -> int:
        """Boot, watch until a signal or a fatal failure, shut down. Returns the exit code."""
        lock = DataDirLock(self.settings.data_dir).acquire()
        subreaper = self.subreaper and set_child_subreaper()
        try:
            return self._run()
        finally:
            if subreaper:
                kill_strays(set())
            lock.release()

    # --- the fixed order -------------------------------------------------------------------------
    def _run(self) -> int:
        s = self.settings
        self._t0 = self.clock()
        self.status.reset(os.getpid(), self.wall())
        logger.info("supervisor starting", pid=os.getpid(), data_dir=str(s.data_dir))
        try:
            self.profile = self._detect(s)
            self.status.profile(self.profile)
            self._check_public_port()
            self._env = children.child_env(s, self.environ)
            # every child knows the address the front binds (the sign-in policy depends on it)
            self._env["OLYMPUS_ADDRESS"] = self.profile.address
            self._start_arangod()
            self._start_engine()
            self._wait_while_starting(ENGINE_HEAD_START_S)
            if self._signal is None:
                self._start_ui()
                self.status.section("supervisor")(state="running")
                self._maybe_start_provisioning()
                self._watch()
        except PortInUse as exc:  # found before anything started: exit 2 with its one line
            self.status.section("supervisor")(state="failed", exit_code=2, error=exc.message)
            raise
        except OlympusError as exc:
            logger.error("supervisor failed", error=exc.message, hint=exc.hint)
            self._fatal = str(exc)
        except Exception as exc:
            logger.exception("supervisor crashed")
            self._fatal = f"internal error: {type(exc).__name__}: {exc}"
        return self._shutdown()

    def _check_public_port(self) -> None:
        """Found before anything starts (else the front would crash-loop for half a minute)."""
        host, port = children.public_port(self.settings, self.detected)
        if self.port_open(host, port):
            raise PortInUse(
                f"port {port} is already in use by another program; stop it or "
                f"set OLYMPUS_PORT to a free port (e.g. OLYMPUS_PORT={port + 1})"
            )

    def _start_ui(self) -> None:
        """The service API (it owns the stores), Streamlit on a loopback port (it reaches the
        stores through the API), and the front on the public port before both."""
        s = self.settings
        secret = load_secret(s.data_dir, s.secret_key)  # created once here, before both read it
        api = children.api_spec(self._env, s.api_port or free_port(), new_service_token(s.data_dir))
        self._start("api", api, fatal=True, ready_timeout_s=API_READY_TIMEOUT_S)
        internal = s.streamlit_port or free_port()
        self._start(
            "streamlit",
            children.streamlit_spec(
                s, self.detected, children.ui_env(self._env, api, s, secret), internal
            ),
            fatal=True,
            ready_timeout_s=STREAMLIT_READY_TIMEOUT_S,
        )
        api_port = int(api.url.rsplit(":", 1)[1])
        self._start(
            "front",
            children.front_spec(s, self.detected, self._env, internal, api_port),
            fatal=True,
            ready_timeout_s=STREAMLIT_READY_TIMEOUT_S,
        )

    def _start_arangod(self) -> None:
        spec = self._arangod(self.settings)
        if spec is not None:
            spec = dataclasses.replace(spec, env={**minimal_environ(base=self._env), **spec.env})
            self._start("arangod", spec)
            self._env["OLYMPUS_ARANGO_URL"] = spec.url  # the app reaches the local arangod

    def _start(
        self,
        name: str,
        spec: ChildSpec,
        *,
        fatal: bool = False,
        ready_timeout_s: float | None = None,
    ) -> Slot:
        s = self.settings
        policy = RestartPolicy(
            base_s=s.restart_backoff_s,
            max_s=s.restart_backoff_max_s,
            max_failures=s.restart_max,
            window_s=s.restart_window_s,
        )
        slot = Slot(
            spec,
            spawn=self.spawn,
            policy=policy,
            probe=self.probe,
            ready_timeout_s=ready_timeout_s or s.engine_ready_timeout_s,
            grace_s=s.grace_period_s,
            publish=self.status.section(name),
            fatal=fatal,
            live_probe=self.live_probe,
        )
        self.slots[name] = slot
        slot.start(self.clock())
        return slot

    def _wait_while_starting(self, limit_s: float) -> None:
        """Block (ticking) until no child is still starting, or ``limit_s`` has passed.

        The engine keeps its own deadline (OLYMPUS_ENGINE_READY_TIMEOUT_S) after the limit;
        only the UI stops waiting for it.
        """
        started = self.clock()
        while self._signal is None and any(sl.state == "starting" for sl in self.slots.values()):
            if self.clock() - started >= limit_s:
                logger.info(
                    "engine still loading; starting the UI now, the engine keeps its deadline",
                    waited_s=round(self.clock() - started, 2),
                    deadline_s=self.settings.engine_ready_timeout_s,
                )
                return
            self._tick()
            self.sleep(self.tick_s)

    # --- watching --------------------------------------------------------------------------------
    def _watch(self) -> None:
        next_reap = self.clock()
        while self._signal is None and not self._fatal:
            self._tick()
            if os.getpid() == 1 and self.clock() >= next_reap:  # PID 1 in a container
                reap_strays({sl.process.pid for sl in self.slots.values() if sl.process})
                next_reap = self.clock() + 5.0
            self.sleep(self.tick_s)

    def _tick(self) -> None:
        now = self.clock()
        while not self._models.empty():
            self._on_model(self._models.get())
        self._follow_active_model()
        for name, slot in list(self.slots.items()):
            before = slot.state
            slot.tick(now)
            if slot.state == "ready" and before != "ready":
                self._on_ready(name, slot)
            elif name == "engine" and slot.state != "ready":
                self._engine_ready.clear()
                if slot.state == "down" and before != "down" and self._provisioner is None:
                    self.status.section("provisioning")(
                        phase="failed",
                        error=f"not provisioned: the engine is down ({slot.last_error})",
                    )
            if slot.state == "down" and slot.fatal:
                self._fatal = f"{name} keeps failing: {slot.last_error}"
                logger.error("giving up", child=name, error=slot.last_error)

    def _on_ready(self, name: str, slot: Slot) -> None:
        slot.publish(ready_at_s=round(self.clock() - self._t0, 3))
        if name == "engine":
            self._engine_ready.set()
            self._maybe_start_provisioning()

    # --- provisioning ----------------------------------------------------------------------------
    def _maybe_start_provisioning(self) -> None:
        """Provision once: at once for llama.cpp/external engines, after readiness for Ollama."""
        if self._provisioner is not None or "streamlit" not in self.slots:
            return
        engine = self.slots.get("engine")
        if self.detected.engine == "none" or not self.settings.auto_provision:
            self._provisioner = threading.Thread()  # nothing to do, ever
            reason = (
                "no engine" if self.detected.engine == "none" else "OLYMPUS_AUTO_PROVISION=false"
            )
            self.status.section("provisioning")(phase="skipped", error="", message=reason)
            return
        if self.detected.engine == "ollama" and engine is not None and engine.state != "ready":
            return  # importing into Ollama needs it answering; retried when it is ready
        self._provisioner = Provisioner(
            self.settings,
            self.detected,
            provision=self._provision,
            publisher=self.status,
            on_model=self._models.put,
            engine_url=self._wait_engine_url,
            clock=self.clock,
            t0=self._t0,
            warm_up=self._warm_up,
        )
        self._provisioner.start()

    def _wait_engine_url(self, timeout_s: float) -> str | None:
        """(Provisioning thread) wait until the engine is ready; its URL, or None."""
        if self._engine_ready.wait(timeout_s) and "engine" in self.slots:
            return self.slots["engine"].spec.url
        return None

    # --- shutdown --------------------------------------------------------------------------------
    def _shutdown(self) -> int:
        sig = self._signal
        code = EXIT_CODES.get(signal.Signals(sig), 128 + sig) if sig else (1 if self._fatal else 0)
        self.status.section("supervisor")(state="stopping")
        logger.info(
            "supervisor stopping",
            signal=signal.Signals(sig).name if sig else None,
            reason=self._fatal or None,
        )
        for name in STOP_ORDER:
            if name in self.slots:
                self.slots[name].stop()
        if self._provisioner is not None and self._provisioner.is_alive():
            # A half-done download must not look like one still running (the UI would refuse
            # new pulls); the next start resumes it.
            self.status.section("provisioning")(
                phase="failed",
                error="Olympus stopped before the model was ready; it resumes at the next start.",
            )
        self.status.section("supervisor")(
            state="failed" if self._fatal and not sig else "stopped",
            exit_code=code,
            error=self._fatal,
        )
        logger.info("supervisor stopped", exit_code=code)
        return code
